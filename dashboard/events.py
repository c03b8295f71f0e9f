"""The full event log: filter by country, vendor and kind; download as CSV.

Built on the model's event frame (:func:`privmarket.dashboard.core.event_frame`):
the filters match its columns (a country or vendor is either the actor or the
target of an event), and the sentence is the model's own rendering.

Example
-------
>>> import pandas as pd
>>> f = pd.DataFrame({"quarter": [1, 2], "label": ["Q1 2015", "Q2 2015"],
...     "kind": ["demand", "ban"], "actor": ["Eastria", "Eastria"],
...     "target": ["Open", "Aegis"], "sentence": ["a", "b"]})
>>> list(filter_events(f, vendor="Aegis")["sentence"])
['b']
>>> list(filter_events(f, country="Eastria", kind="demand")["sentence"])
['a']
"""

from __future__ import annotations

import html
import re

import pandas as pd
import solara

ANY = "any"
#: Rows drawn in the page at once (the CSV holds them all).
SHOWN = 400


def filter_events(
    events: pd.DataFrame, country: str = ANY, vendor: str = ANY, kind: str = ANY
) -> pd.DataFrame:
    """The events that involve ``country`` and ``vendor`` and are of ``kind`` (``"any"``: all)."""
    keep = pd.Series(True, index=events.index)
    for name in (country, vendor):
        if name and name != ANY:
            keep &= (events["actor"] == name) | (events["target"] == name)
    if kind and kind != ANY:
        keep &= events["kind"] == kind
    return events[keep]


def safe_stem(name: str) -> str:
    """A file name stem made from a name (a scenario's, a run's): letters, digits, ``.-_`` only.

    >>> safe_stem("../../etc/passwd seed 3")
    'etc-passwd-seed-3'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return stem[:80] or "events"


def events_csv(events: pd.DataFrame) -> bytes:
    """The events as CSV (UTF-8), the columns as shown."""
    return events.to_csv(index=False).encode("utf-8")


def table_html(events: pd.DataFrame, limit: int = SHOWN) -> str:
    e = html.escape
    rows = events.iloc[::-1].head(limit)
    body = "".join(
        f'<tr data-kind="{e(k)}"><td>{e(label)}</td><td>{e(k)}</td><td>{e(s)}</td></tr>'
        for label, k, s in zip(rows["label"], rows["kind"], rows["sentence"], strict=True)
    )
    return (
        '<table class="pm-events"><thead><tr><th>quarter</th><th>kind</th><th>what happened</th>'
        f"</tr></thead><tbody>{body}</tbody></table>"
    )


@solara.component
def EventLog(events: pd.DataFrame, countries: list[str], vendors: list[str], file_stem: str):
    """Every event of the run so far, newest first, with filters and a CSV download."""
    country, set_country = solara.use_state(ANY)
    vendor, set_vendor = solara.use_state(ANY)
    kind, set_kind = solara.use_state(ANY)
    kinds = sorted(set(events["kind"])) if len(events) else []
    # a filter left from another run (other names) shows everything
    country = country if country in countries else ANY
    vendor = vendor if vendor in vendors else ANY
    kind = kind if kind in kinds else ANY
    chosen = filter_events(events, country, vendor, kind)
    with solara.Row(style={"flex-wrap": "wrap", "gap": "8px", "align-items": "center"}):
        solara.Select(
            "Country", value=country, values=[ANY, *countries], on_value=set_country, dense=True
        )
        solara.Select(
            "Vendor", value=vendor, values=[ANY, *vendors], on_value=set_vendor, dense=True
        )
        solara.Select("Kind", value=kind, values=[ANY, *kinds], on_value=set_kind, dense=True)
        solara.FileDownload(
            events_csv(chosen),
            filename=f"{safe_stem(file_stem)}-events.csv",
            label=f"Download CSV ({len(chosen)} events)",
        )
    shown = min(len(chosen), SHOWN)
    solara.Text(
        f"{len(chosen)} of {len(events)} events"
        + (f"; the newest {shown} are listed, the CSV holds all" if len(chosen) > SHOWN else ""),
        classes=["pm-hint", "pm-events-count"],
    )
    solara.HTML(tag="div", unsafe_innerHTML=table_html(chosen), classes=["pm-events-table"])

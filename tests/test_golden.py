"""Every shipped scenario gives the numbers it gave before the core was restructured.

``tests/golden/*.json.gz`` were written by ``tests/golden/make_golden.py`` from
the code before the restructure (commit "Golden outputs of every shipped
scenario..."). The restructure promised bit-identical outputs: the per-quarter
table, the per-cell counts, the summary and the event log (each event's kind,
parties, quarter and figures) must match exactly, for seeds 0-2.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from privmarket.sim.events import EventLog
from privmarket.sim.model import MarketModel
from privmarket.sim.vocabulary import SEVERITY_LABELS, Event, EventKind

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.json.gz"))

#: Columns renamed since the files were written: old name -> new name.
RENAMED = {".country_exits": ".countries_left"}


def _new_name(col: str) -> str:
    for old, new in RENAMED.items():
        if col.endswith(old) and "." in col[: -len(old) + 1]:
            return col[: -len(old)] + new
    return col


def _same(a, b) -> bool:
    if isinstance(a, str) and a in ("nan", "inf", "-inf"):
        a = float(a)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def old_sentence(e: Event) -> str:
    """An event worded as the code before the restructure worded it (details and all),
    so that the stored sentences check every figure the events carry."""
    a, t = e.actor, e.target
    k = e.kind
    if k is EventKind.DEMAND:
        what = (
            f"the government of {a} demands {SEVERITY_LABELS[e.band]} ({e.severity:.2f}) to "
            f"{', '.join(e.segments)} traffic from {t}; deadline {e.deadline}"
        )
    elif k is EventKind.ANSWER:
        what = f"{a} answers {t}: {e.answer}"
    elif k is EventKind.ACCESS_GRANTED:
        what = f"{a} grants {t} access to {', '.join(e.segments)} traffic"
    elif k is EventKind.WITHDRAW_FEATURE:
        what = f"{a} withdraws a privacy feature in {t} (local stance now {e.local_stance:.2f})"
    elif k is EventKind.BAN:
        what = f"{a} bans {t} (banned after refusing; gain {e.gain:.2f} > cost {e.cost:.2f})"
    elif k is EventKind.BACKDOWN:
        what = f"{a} backs down: {t}'s demand dropped; gain {e.gain:.2f} <= cost {e.cost:.2f}"
    elif k is EventKind.PARTIAL_DEAL:
        what = (
            f"{a} settles with {t}: accepted partial access; "
            f"gain left {e.gain:.2f} <= cost {e.cost:.2f}"
        )
    elif k is EventKind.COUNTRY_EXIT:
        what = f"{a} leaves {t}"
    else:
        what = f"{a} leaves the handset market: {e.reason}"
    return f"{e.label}: {what}"


@pytest.mark.parametrize("path", FILES, ids=[p.name.removesuffix(".json.gz") for p in FILES])
def test_outputs_are_bit_identical(path: Path) -> None:
    old = json.loads(gzip.decompress(path.read_bytes()))
    m = MarketModel(scenario=old["scenario"], rng=old["seed"]).run()
    table = m.table()
    for col, values in old["table"].items():
        new = table[_new_name(col)].tolist()
        bad = [i for i, (a, b) in enumerate(zip(values, new, strict=True)) if not _same(a, b)]
        assert not bad, f"{col}: quarter {bad[0]}: {values[bad[0]]!r} before, {new[bad[0]]!r} now"
    assert m.results.installed[: m.quarter + 1].tolist() == old["installed"]
    assert m.results.sales[: m.quarter + 1].tolist() == old["sales"]
    readable = m.table()[[f"{g.name}.readable_share" for g in m.government_list]]
    assert readable.to_numpy().tolist() == old["readable"]
    summary = m.summary()
    for k, v in old["summary"].items():
        assert _same(v, summary[k]), f"summary {k}: {v!r} before, {summary[k]!r} now"
    log: EventLog = m.events
    assert [old_sentence(e) for e in log] == old["sentences"]
    frame = m.event_frame()
    for i, row in enumerate(old["events"]):
        assert frame.loc[i, "quarter"] == row["quarter"]
        assert frame.loc[i, "label"] == row["label"]
        assert frame.loc[i, "event"] == row["event"]
        assert (frame.loc[i, "actor"], frame.loc[i, "target"]) == (row["actor"], row["target"])
        demand = frame.loc[i, "demand"]
        assert (None if demand is None or demand is pd_na() else int(demand)) == row["demand"]


def pd_na():
    import pandas as pd

    return pd.NA

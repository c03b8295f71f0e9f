"""The live page's views as plain functions of a model's state.

Charts are Vega-Lite specs with rows (:mod:`privmarket.dashboard.charts`); the
status line, vendor table, world view and event feed are small HTML fragments
styled by :mod:`privmarket.dashboard.theme`. Nothing here knows about Solara,
so each piece is tested on its own.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex

from privmarket.dashboard import charts
from privmarket.dashboard.core import ACTIVE, BANNED, EXITED, open_demands, presence

#: The live page's charts, by the key used in CSS classes and tests.
CHART_KINDS = ("shares", "cash", "profit", "trust", "enforcement", "exposure")

ENFORCEMENT_SERIES = (
    ("demands", "demands"),
    ("bans", "bans"),
    ("backdowns", "back-downs"),
    ("deals", "partial deals"),
    ("country_exits", "country exits"),
    ("vendor_failures", "vendor failures"),
)


def vendor_color(i: int) -> str:
    return charts.color(i)


def reading(model: Any):
    """A context in which the model is not stepped (its lock, if it has one)."""
    lock = getattr(model, "lock", None)
    return lock if lock is not None else contextlib.nullcontext()


# ----------------------------------------------------------------- charts
def chart_spec(kind: str, model: Any) -> dict[str, Any]:
    """The Vega-Lite spec of one live chart (built once per model)."""
    p = model.params
    vendors = [v.name for v in p.vendors]
    horizon = int(p.quarters)
    if kind == "shares":
        return charts.line_spec(
            "Market share by vendor",
            "share (%)",
            vendors,
            horizon,
            measures=("installed base", "unit sales"),
            y_domain=(0, 100),
        )
    if kind == "cash":
        return charts.line_spec(
            "Cash by vendor",
            "cash (US$ bn)",
            vendors,
            horizon,
            value_format=",.2f",
            zero_rule=True,
        )
    if kind == "profit":
        return charts.line_spec(
            "Quarterly profit: total and from handsets",
            "profit (US$ M)",
            vendors,
            horizon,
            measures=("total", "handsets"),
            value_format=",.0f",
            zero_rule=True,
        )
    if kind == "trust":
        return charts.line_spec(
            "Privacy trust by vendor",
            "trust (0-1)",
            vendors,
            horizon,
            y_domain=(0, 1),
            value_format=".2f",
        )
    if kind == "enforcement":
        names = [label for _, label in ENFORCEMENT_SERIES]
        return charts.line_spec(
            "Demands, bans, back-downs and exits (cumulative)",
            "count",
            names,
            horizon,
            step=True,
            value_format=",.0f",
        )
    if kind == "exposure":
        countries = [c.name for c in p.countries]
        return charts.line_spec(
            "Privacy exposure: users their own government can read",
            "readable (%)",
            ["all users", *countries],
            horizon,
            muted=countries,
            colors=[charts.PALETTE[1], *["#9a9a9a"] * len(countries)],
        )
    raise KeyError(f"unknown chart {kind!r}; known: {', '.join(CHART_KINDS)}")


def chart_note(kind: str, model: Any) -> str:
    """A line under a chart that says how to read it (empty for most charts)."""
    if kind == "profit":
        return (
            f"Dashed: profit from handsets alone. A vendor leaves the handset market after "
            f"{model.params.loss_quarters} quarters in a row of handset losses, even while "
            "services keep its total profit positive."
        )
    return ""


def _vendor(figure: str, scale: float = 1.0, only_alive: bool = False):
    def value(rec: dict, vendor: str, measure: str) -> float | None:
        v = rec["vendors"][vendor]
        if only_alive and not v["alive"]:
            return None
        return v[figure] * scale

    return value


def chart_rows(kind: str, model: Any, history: Sequence[dict[str, Any]]) -> list[dict]:
    """The rows of one live chart, from the model's per-quarter records."""
    p = model.params
    vendors = [v.name for v in p.vendors]
    if kind == "shares":

        def share(rec, vendor, measure):
            v = rec["vendors"][vendor]
            if measure == "installed base":
                return 100 * v["installed_share"]
            # quarter 0 has no sales yet: the sales line starts at quarter 1
            return 100 * v["sales_share"] if rec["quarter"] > 0 else None

        return charts.long_rows(history, vendors, share, ("installed base", "unit sales"))
    if kind == "cash":
        return charts.long_rows(history, vendors, _vendor("cash", 0.001))
    if kind == "profit":

        def profit(rec, vendor, measure):
            v = rec["vendors"][vendor]
            if rec["quarter"] == 0 or (not v["alive"] and v["profit"] == 0):
                return None
            return v["profit"] if measure == "total" else v["handset_profit"]

        return charts.long_rows(history, vendors, profit, ("total", "handsets"))
    if kind == "trust":
        return charts.long_rows(history, vendors, _vendor("trust"))
    if kind == "enforcement":
        labels = dict((label, col) for col, label in ENFORCEMENT_SERIES)
        return charts.long_rows(history, list(labels), lambda rec, s, m: rec.get(labels[s], 0.0))
    if kind == "exposure":
        countries = [c.name for c in p.countries]

        def readable(rec, series, measure):
            if series == "all users":
                return 100 * rec["exposure"]
            return 100 * rec["readable"][series]

        return charts.long_rows(history, ["all users", *countries], readable)
    raise KeyError(f"unknown chart {kind!r}; known: {', '.join(CHART_KINDS)}")


# ------------------------------------------------------------ world view
def _heat_table(steps: int = 101) -> list[tuple[str, str]]:
    cividis = colormaps["cividis"]
    out = []
    for i in range(steps):
        r, g, b, _ = cividis(i / (steps - 1))
        # relative luminance (sRGB, linearised): black text on the light end, white on the dark
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        out.append((to_hex((r, g, b)), "#000000" if luminance > 0.179 else "#ffffff"))
    return out


_HEAT = _heat_table()


def heat(share: float) -> tuple[str, str]:
    """Background (cividis, in 1% steps) and a readable text colour for a share in [0, 1]."""
    return _HEAT[round(100 * min(max(float(share), 0.0), 1.0))]


def world_state(model: Any) -> list[dict[str, Any]]:
    """One record per country: its government's stance and each vendor's status there.

    A vendor's ``status`` in a country is ``"failed"`` (left the market
    everywhere), ``"banned"``, ``"exited"``, ``"access"`` (present, the
    government can read all of its users' traffic), ``"partial"`` (present, some
    segments readable) or ``"present"``.
    """
    shares = model.country_shares()  # (countries, vendors)
    readable = model.readable_share()
    out = []
    for c, gov in enumerate(model.government_list):
        vendors = []
        for v in model.vendor_list:
            where = presence(v)[c]
            if not v.alive:
                status = "failed"
            elif where == BANNED:
                status = "banned"
            elif where == EXITED:
                status = "exited"
            elif v.access[c].all():
                status = "access"
            elif v.access[c].any():
                status = "partial"
            else:
                status = "present" if where == ACTIVE else "absent"
            segs = [
                s
                for s, on in zip(("consumer", "enterprise", "government"), v.access[c], strict=True)
                if on
            ]
            vendors.append(
                dict(
                    name=v.name,
                    index=v.index,
                    status=status,
                    share=float(shares[c, v.index]),
                    access=segs,
                    withdrawn=bool(v.local_stance[c] < v.stance - 1e-9),
                )
            )
        out.append(
            dict(
                name=gov.name,
                appetite=float(gov.appetite),
                rule_of_law=float(gov.rule_of_law),
                readable=float(readable[c]),
                open_demands=open_demands(model, gov),
                vendors=vendors,
            )
        )
    return out


_STATUS_TEXT = {
    "present": "present",
    "partial": "partial access granted",
    "access": "access granted",
    "exited": "left the country",
    "banned": "banned",
    "failed": "left the market",
    "absent": "absent",
}
_MARKS = {"access": "&#9679;", "partial": "&#9680;", "banned": "&#10005;"}


def world_html(countries: Sequence[dict[str, Any]]) -> str:
    """A tile per country: readable share (cividis), local shares, and a badge per vendor."""
    e = html.escape
    tiles = []
    for c in countries:
        bar = "".join(
            f'<span class="pm-seg" style="width:{100 * v["share"]:.2f}%;'
            f'background:{vendor_color(v["index"])}" '
            f'title="{e(v["name"])} {100 * v["share"]:.0f}%"></span>'
            for v in c["vendors"]
            if v["share"] > 0
        )
        badges = []
        for v in c["vendors"]:
            st = v["status"]
            mark = _MARKS.get(st, "")
            extra = " (feature withdrawn)" if v["withdrawn"] else ""
            tip = f"{v['name']}: {_STATUS_TEXT[st]}{extra}"
            if v["access"]:
                tip += " to " + ", ".join(v["access"]) + " traffic"
            badges.append(
                f'<span class="pm-badge pm-{st}" data-vendor="{e(v["name"])}" '
                f'data-status="{st}" style="--c:{vendor_color(v["index"])}" title="{e(tip)}">'
                f"{e(v['name'])}{' ' + mark if mark else ''}</span>"
            )
        bg, fg = heat(c["readable"])
        n = c["open_demands"]
        demand = f" &middot; <b>{n} open demand{'s' if n != 1 else ''}</b>" if n else ""
        tiles.append(
            f'<div class="pm-tile" data-country="{e(c["name"])}" style="border-left-color:{bg}">'
            f'<div class="pm-tile-head"><b>{e(c["name"])}</b>'
            f'<span class="pm-heat" style="background:{bg};color:{fg}">'
            f"{100 * c['readable']:.0f}% readable</span></div>"
            f'<div class="pm-tile-sub">appetite {c["appetite"]:.2f} &middot; rule of law '
            f"{c['rule_of_law']:.2f}{demand}</div>"
            f'<div class="pm-bar">{bar}</div>'
            f'<div class="pm-badges">{"".join(badges)}</div></div>'
        )

    def sample(status: str, text: str) -> str:
        return f'<span class="pm-badge pm-{status}" style="--c:#5b7fa6">{text}</span>'

    scale = "".join(
        f'<span class="pm-heat" style="background:{heat(x)[0]};color:{heat(x)[1]}">{100 * x:.0f}%</span>'
        for x in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    legend = (
        '<div class="pm-legend">Share of users the government can read: '
        f"{scale}. Bar: local installed shares. "
        + " ".join(
            [
                sample("present", "present"),
                sample("partial", "partial access &#9680;"),
                sample("access", "full access &#9679;"),
                sample("banned", "banned &#10005;"),
                sample("exited", "left"),
                sample("failed", "failed"),
            ]
        )
        + "</div>"
    )
    return f'<div class="pm-world">{"".join(tiles)}</div>{legend}'


# ------------------------------------------------------------- event feed
_KIND_CLASS = {
    "demand": "demand",
    "ban": "ban",
    "access granted": "access",
    "partial deal": "access",
    "withdraw feature": "access",
    "back-down": "backdown",
    "country exit": "exit",
    "vendor failure": "failure",
}


def feed_html(events: pd.DataFrame, last: int = 12) -> str:
    """The newest ``last`` events, newest first (``events`` from :func:`core.event_frame`)."""
    if events.empty:
        return '<div class="pm-feed"><i>No events yet: press Step or Play.</i></div>'
    newest = events.tail(last).iloc[::-1]
    e = html.escape
    lis = "".join(
        f'<li class="pm-ev-{_KIND_CLASS.get(kind, "other")}" data-kind="{e(kind)}">'
        f'<span class="pm-q">{e(label)}</span> {e(sentence)}</li>'
        for label, kind, sentence in zip(
            newest["label"], newest["kind"], newest["sentence"], strict=True
        )
    )
    return f'<div class="pm-feed"><ol>{lis}</ol></div>'


# ------------------------------------------------------------- vendor table
def vendor_rows(model: Any) -> list[dict[str, Any]]:
    """Per vendor: its settings and where it stands now."""
    inst, sales = model.installed_share(), model.sales_share()
    rows = []
    n_c = len(model.government_list)
    for v in model.vendor_list:
        rows.append(
            dict(
                name=v.name,
                index=v.index,
                stance=float(v.stance),
                strategy=v.spec.strategy,
                installed_share=float(inst[v.index]),
                sales_share=float(sales[v.index]),
                cash=float(v.cash),
                profit=float(v.profit),
                handset_profit=float(v.handset_profit),
                losing_streak=int(getattr(v, "losing_streak", 0)),
                trust=float(v.trust),
                served=int(v.countries_served),
                banned=int((presence(v) == BANNED).sum()),
                access=int(v.access.any(axis=1).sum()),
                countries=n_c,
                status="active"
                if v.alive
                else f"left in {model.quarter_label(v.exit_quarter or model.quarter)}",
                reason=getattr(v, "exit_reason", None) or "",
            )
        )
    return rows


_STRATEGY_SHORT = {"expected_value": "exp. value"}


def vendors_html(rows: Sequence[dict[str, Any]], loss_quarters: int | None = None) -> str:
    """The vendor table: settings, shares, money (total and handset profit), trust, presence."""
    e = html.escape
    streak_title = (
        f"handset losses in a row; {loss_quarters} in a row and the vendor leaves the market"
        if loss_quarters
        else "handset losses in a row"
    )
    head = (
        "<thead><tr><th>vendor</th><th>stance</th><th>strategy</th><th>installed</th>"
        "<th>sales</th><th>cash $bn</th><th>profit $M</th>"
        '<th title="profit from handsets alone (device revenue less unit and fixed costs), '
        'the figure the viability rule watches">handset $M</th>'
        f'<th title="{e(streak_title)}">losses</th><th>trust</th>'
        '<th title="countries where it sells / is banned / gives the government access">'
        "sells &middot; banned &middot; access</th></tr></thead>"
    )
    body = []
    for r in rows:
        left = r["status"] != "active"
        why = f": {r['reason']}" if left and r.get("reason") else ""
        name = e(r["name"]) + (
            f' <span class="pm-left">({e(r["status"] + why)})</span>' if left else ""
        )
        strategy = _STRATEGY_SHORT.get(r["strategy"], r["strategy"].replace("_", " "))
        streak = f"{r['losing_streak']}" + (f"/{loss_quarters}" if loss_quarters else "")
        hp = r["handset_profit"]
        body.append(
            f'<tr data-vendor="{e(r["name"])}"{' class="pm-gone"' if left else ""}>'
            f'<td class="pm-vname"><span class="pm-swatch" '
            f'style="background:{vendor_color(r["index"])}"></span>{name}</td>'
            f'<td class="pm-stance">{r["stance"]:.2f}</td><td>{e(strategy)}</td>'
            f'<td class="pm-installed">{100 * r["installed_share"]:.1f}%</td>'
            f"<td>{100 * r['sales_share']:.1f}%</td>"
            f"<td>{r['cash'] / 1000:,.2f}</td>"
            f'<td class="pm-profit">{r["profit"]:,.0f}</td>'
            f'<td class="pm-handset{" pm-neg" if hp < 0 else ""}">{hp:,.0f}</td>'
            f'<td class="pm-streak">{streak}</td>'
            f"<td>{r['trust']:.2f}</td>"
            f"<td>{r['served']}/{r['countries']} &middot; {r['banned']} &middot; {r['access']}</td>"
            "</tr>"
        )
    return f'<div class="pm-table-wrap"><table class="pm-vendors">{head}<tbody>{"".join(body)}</tbody></table></div>'


def status_line(model: Any) -> str:
    """E.g. ``Quarter 5 of 40 (Q1 2016) · 4 vendors active · exposure 3.1% · HHI 3,050``."""
    p = model.params
    label = model.quarter_label(model.quarter) if model.quarter else "start"
    alive = sum(v.alive for v in model.vendor_list)
    share = model.installed_share()
    hhi = float(((100 * np.asarray(share)) ** 2).sum())
    done = "" if model.running else " · run complete"
    return (
        f"Quarter {model.quarter} of {p.quarters} ({label}) · {alive} of "
        f"{len(model.vendor_list)} vendors active · exposure {100 * model.exposure():.1f}% · "
        f"HHI {hhi:,.0f}{done}"
    )

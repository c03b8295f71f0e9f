"""The live page's figures and views, as plain functions of a model's state.

Figures are matplotlib :class:`~matplotlib.figure.Figure` objects built without
``pyplot`` (safe in a server with one thread per session); the world view and
the event feed are small HTML fragments. Nothing here knows about Solara, so
each piece is tested on its own.
"""

from __future__ import annotations

import contextlib
import html
import io
import re
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from privmarket.sim.vocabulary import Presence

ACTIVE, EXITED, BANNED = Presence.ACTIVE, Presence.EXITED, Presence.BANNED

# Vendor colours by vendor index (tab10 without its red, kept for bans and exposure).
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
)
BAN_RED = "#d62728"
FIG_W, FIG_H, DPI = 5.6, 3.1, 100
_RC = {"font.size": 8.5, "axes.titlesize": 9.5, "legend.fontsize": 7.5}  # sizes in points


def vendor_color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def vendor_names(table: pd.DataFrame) -> list[str]:
    return [c.rsplit(".", 1)[0] for c in table.columns if c.endswith(".installed_share")]


# ------------------------------------------------------------ table cache
_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def reading(model: Any):
    """A context in which the model is not stepped (its lock, if it has one)."""
    lock = getattr(model, "lock", None)
    return lock if lock is not None else contextlib.nullcontext()


def table_of(model: Any) -> pd.DataFrame:
    """``model.table()``, computed once per quarter and shared by all figures.

    Keyed by the model object (weakly), so two sessions never share an entry.
    """
    with reading(model):
        key = (model.quarter, len(model.datacollector.model_vars.get("quarter", ())))
        hit = _TABLES.get(model)
        if hit is not None and hit[0] == key:
            return hit[1]
        table = model.table()
        _TABLES[model] = (key, table)
        return table


# ---------------------------------------------------------------- figures
def nice_ceil(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``x`` (> 0)."""
    if x <= 0:
        return 0.0
    exp = 10 ** np.floor(np.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= x * (1 - 1e-12):
            return float(m * exp)
    return float(10 * exp)


def fixed(lo: float, hi: float):
    """A y-limit policy: always ``(lo, hi)``."""
    return lambda data_lo, data_hi, current: (lo, hi)


def grow(floor_hi: float = 1.0, cap: float | None = None, headroom: float = 1.3):
    """A y-limit policy that keeps its limits while the data fit, else grows them.

    Limits change rarely, so the axes (the costly part of a redraw) are drawn
    again only when the data leave them.
    """

    def policy(data_lo: float, data_hi: float, current):
        if current is not None:
            lo, hi = current
            if lo <= data_lo and data_hi <= hi:
                return current
        hi = max(floor_hi, nice_ceil(data_hi * headroom)) if data_hi > 0 else floor_hi
        lo = -nice_ceil(-data_lo * headroom) if data_lo < 0 else 0.0
        if cap is not None:
            hi = min(hi, cap)
        return (lo, hi)

    return policy


class Chart:
    """A figure for the live page that redraws fast.

    The axes, ticks, titles and legend (most of the drawing cost) are drawn
    once into a background image and again only when an axis limit changes;
    each update restores that background and draws just the data lines on top
    (Agg blitting), then encodes the PNG. ``chart.figure`` is an ordinary
    matplotlib figure for saving.
    """

    def __init__(self, title: str, horizon: int | None, rows: int = 1) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.figure = Figure(figsize=(FIG_W, FIG_H), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = list(self.figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0])
        self.figure.subplots_adjust(left=0.13, right=0.79, top=0.88, bottom=0.15, hspace=0.14)
        self.figure.suptitle(title, fontsize=_RC["axes.titlesize"], x=0.13, ha="left")
        for ax in self.axes:
            ax.grid(True, color="0.92", lw=0.6)
            ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(5))
            ax.spines[["top", "right"]].set_visible(False)
            ax.tick_params(labelsize=_RC["font.size"] - 0.5)
        self.axes[-1].set_xlabel("quarter", fontsize=_RC["font.size"])
        self.horizon = horizon or 0
        self.series: list[tuple[Any, Any, Any, int]] = []  # (axes, line, y(table), first row)
        self.policies: dict[int, Any] = {}
        self.legend_items: list[tuple[Any, str]] = []
        self._limits: tuple | None = None
        self._background = None

    def line(self, ax, y, label: str | None = None, start: int = 0, step: bool = False, **style):
        """Add a data line: ``y(table)`` gives its values (from row ``start`` on)."""
        from matplotlib.lines import Line2D

        if step:
            style.setdefault("drawstyle", "steps-post")
        (artist,) = ax.plot([], [], **style)
        self.series.append((ax, artist, y, start))
        if label is not None:
            proxy = Line2D([], [], **{k: v for k, v in style.items() if k != "drawstyle"})
            self.legend_items.append((proxy, label))
        return artist

    def limits(self, ax, policy) -> None:
        self.policies[id(ax)] = policy

    def legend(self) -> None:
        if self.legend_items:
            handles, labels = zip(*self.legend_items, strict=True)
            self.figure.legend(
                handles,
                labels,
                loc="upper left",
                bbox_to_anchor=(0.80, 0.88),
                frameon=False,
                fontsize=_RC["legend.fontsize"],
            )

    def update(self, table: pd.DataFrame) -> bool:
        """Set the lines' data from ``table``; True if an axis limit changed."""
        q = table["quarter"].to_numpy(dtype=float)
        last = int(np.nanmax(q)) if np.isfinite(q).any() else 0
        xlim = (0, max(last, self.horizon, 1))
        spans: dict[int, list[float]] = {}
        for ax, artist, y, start in self.series:
            values = np.asarray(y(table), dtype=float)[start:]
            artist.set_data(q[start:], values)
            finite = values[np.isfinite(values)]
            if len(finite):
                lo_hi = spans.setdefault(id(ax), [np.inf, -np.inf])
                lo_hi[0] = min(lo_hi[0], float(finite.min()))
                lo_hi[1] = max(lo_hi[1], float(finite.max()))
        current = dict(self._limits[1]) if self._limits else {}
        ylims = {}
        for ax in self.axes:
            policy = self.policies.get(id(ax), grow())
            lo, hi = spans.get(id(ax), [0.0, 0.0])
            ylims[id(ax)] = policy(lo, hi, current.get(id(ax)))
        limits = (xlim, tuple(sorted(ylims.items())))
        changed = limits != self._limits
        if changed:
            for ax in self.axes:
                ax.set_xlim(*xlim)
                ax.set_ylim(*ylims[id(ax)])
            self._limits = limits
        return changed

    def png(self, table: pd.DataFrame) -> bytes:
        """Update from ``table`` and return the PNG, redrawing the axes only if needed."""
        import PIL.Image

        changed = self.update(table)
        lines = [artist for _, artist, _, _ in self.series]
        if changed or self._background is None:
            for artist in lines:
                artist.set_visible(False)
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            for artist in lines:
                artist.set_visible(True)
        else:
            self.canvas.restore_region(self._background)
        for ax, artist, _, _ in self.series:
            ax.draw_artist(artist)
        w, h = self.canvas.get_width_height()
        image = PIL.Image.frombuffer("RGBA", (w, h), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buf = io.BytesIO()
        image.save(buf, format="png", compress_level=1)
        return buf.getvalue()


def shares_chart(table: pd.DataFrame, horizon: int | None = None) -> Chart:
    """Installed-base share (solid) and unit-sales share (dashed) by vendor, in %."""
    ch = Chart("Market share by vendor (solid: installed, dashed: sales)", horizon)
    (ax,) = ch.axes
    for i, v in enumerate(vendor_names(table)):
        c = vendor_color(i)
        ch.line(ax, lambda t, v=v: 100 * t[f"{v}.installed_share"], v, color=c, lw=1.8)
        # Quarter 0 has no sales yet: the sales line starts at quarter 1.
        ch.line(ax, lambda t, v=v: 100 * t[f"{v}.sales_share"], start=1, color=c, lw=1.0, ls="--")
    ax.set_ylabel("share (%)", fontsize=_RC["font.size"])
    ch.limits(ax, fixed(0, 100))
    ch.legend()
    return ch


def cash_chart(table: pd.DataFrame, horizon: int | None = None) -> Chart:
    """Cash (US$ bn) above, quarterly profit (US$ M) below, by vendor."""
    ch = Chart("Cash and quarterly profit", horizon, rows=2)
    a, b = ch.axes
    for i, v in enumerate(vendor_names(table)):
        c = vendor_color(i)
        ch.line(a, lambda t, v=v: t[f"{v}.cash"] / 1000, v, color=c, lw=1.6)
        ch.line(b, lambda t, v=v: t[f"{v}.profit"], start=1, color=c, lw=1.2)
    for ax in (a, b):
        ax.axhline(0, color="0.5", lw=0.8)
    a.set_ylabel("cash (US$ bn)", fontsize=_RC["font.size"])
    b.set_ylabel("profit (US$ M)", fontsize=_RC["font.size"])
    ch.limits(a, grow(floor_hi=1.0))
    ch.limits(b, grow(floor_hi=10.0))
    ch.legend()
    return ch


def trust_chart(table: pd.DataFrame, horizon: int | None = None) -> Chart:
    """Global privacy trust T by vendor."""
    ch = Chart("Privacy trust by vendor", horizon)
    (ax,) = ch.axes
    for i, v in enumerate(vendor_names(table)):
        ch.line(ax, lambda t, v=v: t[f"{v}.trust"], v, color=vendor_color(i), lw=1.6)
    ax.set_ylabel("trust T", fontsize=_RC["font.size"])
    ch.limits(ax, fixed(0, 1.02))
    ch.legend()
    return ch


ENFORCEMENT_SERIES = (
    ("demands", "demands", "#555555"),
    ("bans", "bans", BAN_RED),
    ("backdowns", "back-downs", "#2ca02c"),
    ("deals", "partial deals", "#ff7f0e"),
    ("country_exits", "country exits", "#9467bd"),
    ("vendor_failures", "failures", "#000000"),
)


def enforcement_chart(table: pd.DataFrame, horizon: int | None = None) -> Chart:
    """Cumulative demands, bans, back-downs, partial deals, exits and vendor failures."""
    ch = Chart("Demands, bans, back-downs and exits (cumulative)", horizon)
    (ax,) = ch.axes
    for col, label, color in ENFORCEMENT_SERIES:
        if col in table:
            ch.line(ax, lambda t, col=col: t[col], label, step=True, color=color, lw=1.5)
    ax.set_ylabel("count", fontsize=_RC["font.size"])
    ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
    ch.limits(ax, grow(floor_hi=10.0))
    ch.legend()
    return ch


def exposure_chart(table: pd.DataFrame, horizon: int | None = None) -> Chart:
    """Share of all users their own government can read (thick), and per country (thin)."""
    ch = Chart("Privacy exposure: users their own government can read", horizon)
    (ax,) = ch.axes
    per_country = [c for c in table.columns if c.endswith(".readable_share")]
    for col in per_country:
        ch.line(ax, lambda t, col=col: 100 * t[col], color="0.75", lw=0.8)
    ch.line(ax, lambda t: 100 * t["privacy_exposure"], "all users", color=BAN_RED, lw=2.0)
    if per_country:
        from matplotlib.lines import Line2D

        ch.legend_items.append((Line2D([], [], color="0.75", lw=0.8), "each country"))
    ax.set_ylabel("readable (%)", fontsize=_RC["font.size"])
    ch.limits(ax, grow(floor_hi=5.0, cap=100.0))
    ch.legend()
    return ch


#: The live page's charts, by the key used in CSS classes and tests.
CHARTS = {
    "shares": shares_chart,
    "cash": cash_chart,
    "trust": trust_chart,
    "enforcement": enforcement_chart,
    "exposure": exposure_chart,
}


def figure(kind: str, table: pd.DataFrame, horizon: int | None = None) -> Figure:
    """One of the live page's figures, drawn in full from a per-quarter table."""
    chart = CHARTS[kind](table, horizon)
    chart.update(table)
    return chart.figure


def png(fig: Figure) -> bytes:
    """A figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


# ------------------------------------------------------------ world view
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
            if not v.alive:
                status = "failed"
            elif v.presence[c] == BANNED:
                status = "banned"
            elif v.presence[c] == EXITED:
                status = "exited"
            elif v.access[c].all():
                status = "access"
            elif v.access[c].any():
                status = "partial"
            else:
                status = "present" if v.presence[c] == ACTIVE else "absent"
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
                open_demands=len(model.open_demands(gov.country)),
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


def world_html(countries: Sequence[dict[str, Any]]) -> str:
    """A tile per country: a stacked bar of local shares and a badge per vendor."""
    e = html.escape
    tiles = []
    for c in countries:
        bar = "".join(
            f'<span class="pm-seg" style="width:{100 * v["share"]:.2f}%;'
            f'background:{vendor_color(v["index"])}" title="{e(v["name"])} {100 * v["share"]:.0f}%"></span>'
            for v in c["vendors"]
            if v["share"] > 0
        )
        badges = []
        for v in c["vendors"]:
            st = v["status"]
            col = vendor_color(v["index"])
            mark = {"access": "&#9679;", "partial": "&#9680;", "banned": "&#10005;"}.get(st, "")
            extra = " (feature withdrawn)" if v["withdrawn"] else ""
            tip = f"{v['name']}: {_STATUS_TEXT[st]}{extra}"
            if v["access"]:
                tip += " to " + ", ".join(v["access"]) + " traffic"
            badges.append(
                f'<span class="pm-badge pm-{st}" data-vendor="{e(v["name"])}" '
                f'data-status="{st}" style="--c:{col}" title="{e(tip)}">'
                f"{e(v['name'])}{' ' + mark if mark else ''}</span>"
            )
        heat = min(1.0, c["readable"])
        demand = (
            f" &middot; <b>{c['open_demands']} open demand{'s' if c['open_demands'] != 1 else ''}</b>"
            if c["open_demands"]
            else ""
        )
        tiles.append(
            f'<div class="pm-tile" data-country="{e(c["name"])}" '
            f'style="background:rgba(214,39,40,{0.06 + 0.5 * heat:.3f})">'
            f'<div class="pm-tile-head"><b>{e(c["name"])}</b>'
            f"<span>{100 * c['readable']:.0f}% readable</span></div>"
            f'<div class="pm-tile-sub">appetite {c["appetite"]:.2f} &middot; rule of law '
            f"{c['rule_of_law']:.2f}{demand}</div>"
            f'<div class="pm-bar">{bar}</div>'
            f'<div class="pm-badges">{"".join(badges)}</div></div>'
        )

    def sample(status: str, text: str) -> str:
        return f'<span class="pm-badge pm-{status}" style="--c:#5b7fa6">{text}</span>'

    legend = (
        '<div class="pm-legend">Tile colour: share of users the government can read; '
        "bar: local installed shares. "
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


WORLD_CSS = """
.pm-world { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 6px; }
.pm-tile { border: 1px solid #ccc; border-radius: 6px; padding: 5px 6px; font-size: 12px; }
.pm-tile-head { display: flex; justify-content: space-between; gap: 4px; }
.pm-tile-sub { color: #555; font-size: 11px; margin: 1px 0 3px; }
.pm-bar { display: flex; height: 8px; border-radius: 3px; overflow: hidden; background: #eee; }
.pm-seg { display: block; height: 100%; }
.pm-badges { display: flex; flex-wrap: wrap; gap: 3px; margin-top: 4px; }
.pm-badge { border-radius: 9px; padding: 0 6px; font-size: 11px; line-height: 17px;
  border: 1.5px solid var(--c); white-space: nowrap; }
.pm-present { background: var(--c); color: #fff; }
.pm-partial { background: color-mix(in srgb, var(--c) 35%, white); color: #111;
  border-style: dashed; }
.pm-access { background: #fff; color: #111; border: 2px dashed var(--c); font-weight: 600; }
.pm-banned { background: #fff; color: #d62728; border-color: #d62728; text-decoration: line-through; }
.pm-exited { background: #fff; color: #888; border-style: dotted; }
.pm-failed { background: #eee; color: #999; border-color: #bbb; text-decoration: line-through; }
.pm-legend { color: #555; font-size: 11px; margin-top: 6px; line-height: 20px; }
.pm-feed { max-height: 300px; overflow-y: auto; font-size: 12.5px; }
.pm-feed ol { list-style: none; padding-left: 0; margin: 0; }
.pm-feed li { padding: 2px 0 2px 8px; border-left: 3px solid #ddd; margin-bottom: 2px; }
.pm-feed li .pm-q { color: #666; font-variant-numeric: tabular-nums; margin-right: 4px; }
.pm-ev-demand { border-left-color: #555 !important; }
.pm-ev-ban { border-left-color: #d62728 !important; background: #fdecec; }
.pm-ev-access { border-left-color: #ff7f0e !important; }
.pm-ev-backdown { border-left-color: #2ca02c !important; }
.pm-ev-exit, .pm-ev-failure { border-left-color: #000 !important; background: #f3f3f3; }
.pm-vendors { border-collapse: collapse; font-size: 12.5px; width: 100%; }
.pm-vendors th, .pm-vendors td { padding: 2px 6px; text-align: right; border-bottom: 1px solid #eee; }
.pm-vendors th:first-child, .pm-vendors td:first-child { text-align: left; }
.pm-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
.pm-status { font-size: 15px; margin-bottom: 4px; }
.pm-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr));
  gap: 12px; align-items: start; width: 100%; }
.pm-box { background: white !important; border: 1px solid #e0e0e0 !important;
  border-radius: 6px !important; padding: 8px; min-width: 0; }
/* Mesa's "Model Parameters" card stays empty (the settings are in their own card): hide it. */
.v-card:has(> .v-card__text > .v-sheet:empty) { display: none; }
.pm-figure { padding: 4px; }
.pm-vendors td { white-space: nowrap; }
.pm-status-view { overflow-x: auto; }
.pm-gone td { color: #999; }
.pm-left { font-size: 11px; }
"""


# ------------------------------------------------------------- event feed
_SEGMENTS_RE = re.compile(r"^(?P<what>[^()]+?)\s*(\([\d.]+\))?\s*to (?P<segs>.+) traffic$")


def _and(items: Sequence[str]) -> str:
    items = [i.strip() for i in items if i.strip()]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def event_sentence(row: dict[str, Any]) -> str:
    """One event in plain words, without its quarter label (the model's one renderer)."""
    s = str(row["sentence"])
    return s[:1].lower() + s[1:].removesuffix(".")


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


def feed_items(rows: Sequence[dict[str, Any]], last: int = 60) -> list[tuple[str, str, str]]:
    """``(label, sentence, kind)`` for the newest ``last`` events, newest first."""
    out = []
    for r in list(rows)[-last:][::-1]:
        out.append((str(r["label"]), str(r["sentence"]), _KIND_CLASS.get(r["event"], "")))
    return out


def feed_html(rows: Sequence[dict[str, Any]], last: int = 60) -> str:
    items = feed_items(rows, last)
    if not items:
        return '<div class="pm-feed"><i>No events yet: press Step or Play.</i></div>'
    lis = "".join(
        f'<li class="pm-ev-{k}"><span class="pm-q">{html.escape(label)}</span> {html.escape(s)}</li>'
        for label, s, k in items
    )
    more = len(rows) - len(items)
    tail = f'<div style="color:#777">... and {more} earlier events</div>' if more > 0 else ""
    return f'<div class="pm-feed"><ol>{lis}</ol>{tail}</div>'


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
                trust=float(v.trust),
                served=int(v.countries_served),
                banned=int((v.presence == BANNED).sum()),
                access=int(v.access.any(axis=1).sum()),
                countries=n_c,
                status="active"
                if v.alive
                else f"left in {model.quarter_label(v.exit_quarter or model.quarter)}",
            )
        )
    return rows


_STRATEGY_SHORT = {"expected_value": "exp. value"}


def vendors_html(rows: Sequence[dict[str, Any]]) -> str:
    """The vendor table: settings, shares, money, trust, and where each sells."""
    e = html.escape
    head = (
        "<tr><th>vendor</th><th>stance</th><th>strategy</th><th>installed</th><th>sales</th>"
        "<th>cash $bn</th><th>profit $M</th><th>trust</th>"
        '<th title="countries where it sells / is banned / gives the government access">'
        "sells &middot; banned &middot; access</th></tr>"
    )
    body = []
    for r in rows:
        left = r["status"] != "active"
        name = e(r["name"]) + (f' <span class="pm-left">({e(r["status"])})</span>' if left else "")
        strategy = _STRATEGY_SHORT.get(r["strategy"], r["strategy"].replace("_", " "))
        body.append(
            f'<tr data-vendor="{e(r["name"])}"{' class="pm-gone"' if left else ""}>'
            f'<td><span class="pm-swatch" style="background:{vendor_color(r["index"])}"></span>'
            f'{name}</td><td class="pm-stance">{r["stance"]:.2f}</td><td>{e(strategy)}</td>'
            f"<td>{100 * r['installed_share']:.1f}%</td><td>{100 * r['sales_share']:.1f}%</td>"
            f"<td>{r['cash'] / 1000:.2f}</td><td>{r['profit']:.0f}</td><td>{r['trust']:.2f}</td>"
            f"<td>{r['served']}/{r['countries']} &middot; {r['banned']} &middot; {r['access']}</td>"
            "</tr>"
        )
    return f'<table class="pm-vendors">{head}{"".join(body)}</table>'


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

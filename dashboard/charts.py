"""The Vega-Lite charts of both pages: specs and the rows they draw.

A spec is built once per run (it names the vendors and the horizon); the rows
change every quarter. Lines carry a colour from a colour-blind-safe palette
(Okabe and Ito's, without black and yellow first, every colour at least 3:1
against both the light and the dark background), and end in a marker of a
shape of their own beside their name (names of lines ending close together
are moved apart), so no line is told apart by colour alone; a second
measure of the same series is dashed. Maps use viridis. Hovering a chart
shows the values of every series at that quarter.

Example
-------
>>> spec = line_spec("Privacy trust by vendor", "trust (0-1)", ["Aegis", "Open"], 40, y_domain=(0, 1))
>>> spec["data"], spec["layer"][0]["mark"]["type"]
({'name': 'rows'}, 'line')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Okabe-Ito, reordered: the first four are >= 3:1 against white and against #1e1e1e.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#999999",
)
SHAPES = (
    "circle",
    "square",
    "triangle-up",
    "diamond",
    "cross",
    "triangle-down",
    "triangle-right",
    "triangle-left",
)
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
HEIGHT = 200
#: The most series a hover tooltip lists (a world of 1,000 countries lists the total only).
TOOLTIP_SERIES = 16


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _key(i: int) -> str:
    # Pivoted series become fields; names may hold dots or spaces, so fields are indexed.
    return f"s{i}"


def _base(title: str, subtitle: str | None = None, height: int = HEIGHT) -> dict[str, Any]:
    head: dict[str, Any] = {"text": title, "anchor": "start", "fontSize": 13}
    if subtitle:
        head["subtitle"] = subtitle
        head["subtitleFontSize"] = 11
    return {
        "$schema": SCHEMA,
        "data": {"name": "rows"},
        "width": "container",
        "height": height,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "background": "transparent",
        "title": head,
        "config": {
            "axis": {"labelFontSize": 11, "titleFontSize": 11, "grid": True, "gridOpacity": 0.35},
            "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "top"},
            "view": {"stroke": None},
        },
    }


def line_spec(
    title: str,
    y_title: str,
    series: Sequence[str],
    horizon: int,
    *,
    measures: Sequence[str] = (),
    y_domain: tuple[float, float] | None = None,
    step: bool = False,
    colors: Sequence[str] | None = None,
    subtitle: str | None = None,
    value_format: str = ",.1f",
    zero_rule: bool = False,
    muted: Sequence[str] = (),
) -> dict[str, Any]:
    """Lines of ``value`` over ``q`` (quarter), one per ``series`` (and ``measure``).

    Rows: ``{"q", "when", "series", "measure", "key", "value"}`` (see
    :func:`long_rows`). ``measures`` are drawn solid, dashed, dotted in that
    order; ``muted`` series are thin grey lines without markers or labels.
    """
    colors = list(colors or [color(i) for i in range(len(series))])
    spec_height = HEIGHT  # the plot's height: the names are moved apart in its pixels
    shown = [s for s in series if s not in muted]
    keys = _keys(series, measures)
    x = {
        "field": "q",
        "type": "quantitative",
        "title": "quarter",
        "scale": {"domain": [0, max(1, horizon)], "nice": False, "zero": True},
        "axis": {"format": "d", "tickMinStep": 1},
    }
    y: dict[str, Any] = {"field": "value", "type": "quantitative", "title": y_title}
    if y_domain is not None:
        y["scale"] = {"domain": list(y_domain), "nice": False}
    col = {
        "field": "series",
        "type": "nominal",
        "title": None,
        "scale": {"domain": list(series), "range": colors},
        "legend": None,
    }
    shape = {
        "field": "series",
        "type": "nominal",
        "scale": {
            "domain": list(series),
            "range": [SHAPES[i % len(SHAPES)] for i in range(len(series))],
        },
        "legend": None,
    }
    line_mark: dict[str, Any] = {"type": "line", "strokeWidth": 2, "clip": True}
    if step:
        line_mark["interpolate"] = "step-after"
    not_muted = {"filter": {"not": {"field": "series", "oneOf": list(muted)}}} if muted else None
    line_enc: dict[str, Any] = {"y": y, "color": col, "detail": {"field": "key"}}
    if measures:
        line_enc["strokeDash"] = {
            "field": "measure",
            "type": "nominal",
            "title": None,
            "scale": {"domain": list(measures), "range": [[1, 0], [6, 3], [2, 2]][: len(measures)]},
            "legend": {"orient": "top", "symbolStrokeColor": "#888"},
        }
    # each series' last point (of its first measure) carries its marker and name
    ends: list[dict[str, Any]] = [
        {"joinaggregate": [{"op": "max", "field": "q", "as": "last"}], "groupby": ["key"]},
        {"filter": "datum.q === datum.last"},
    ]
    if measures:
        ends.append({"filter": {"field": "measure", "equal": measures[0]}})
    layers: list[dict[str, Any]] = []
    if zero_rule:
        layers.append(
            {
                "data": {"values": [{"zero": 0}]},
                "mark": {"type": "rule", "color": "#888", "strokeWidth": 1},
                "encoding": {"y": {"field": "zero", "type": "quantitative"}},
            }
        )
    if muted:
        layers.append(
            {
                "transform": [{"filter": {"field": "series", "oneOf": list(muted)}}],
                "mark": {"type": "line", "strokeWidth": 0.8, "color": "#9a9a9a", "clip": True},
                "encoding": {"y": y, "detail": {"field": "key"}},
            }
        )
    layers += [
        {
            "transform": [not_muted] if not_muted else [],
            "mark": line_mark,
            "encoding": line_enc,
        },
        {
            # a marker of the series' own shape at its end, beside its name
            "transform": [*ends, *([not_muted] if not_muted else [])],
            "mark": {"type": "point", "filled": True, "size": 60, "opacity": 1, "clip": False},
            "encoding": {"y": y, "color": col, "shape": shape},
        },
        {
            # the name beside the marker, moved apart from its neighbours' names
            "transform": [
                *_label_domain(y_domain),
                *ends,
                *([not_muted] if not_muted else []),
                *_dodged_labels(spec_height),
            ],
            "mark": {
                "type": "text",
                "align": "left",
                "dx": 7,
                "fontSize": 11,
                "fontWeight": "bold",
            },
            "encoding": {
                "y": {**y, "field": "label_at"},
                "text": {"field": "series", "type": "nominal"},
                "color": col,
            },
        },
        _hover_layer(keys, series, measures, value_format, muted),
    ]
    spec = _base(title, subtitle, height=spec_height)
    spec["encoding"] = {"x": x}
    spec["layer"] = layers
    # room for the names at the lines' ends, and on the left for wide axis labels (thousands),
    # which the fit to the container does not always leave
    spec["padding"] = {
        "left": 28,
        "top": 5,
        "bottom": 5,
        "right": 6 + 7 * max((len(s) for s in shown), default=0),
    }
    return spec


#: The least distance between two names at the lines' ends, in pixels: 11 px text and a
#: gap that stays wide enough when the scale rounds its domain outward to nice values.
LABEL_GAP = 16


def _label_domain(y_domain: tuple[float, float] | None) -> list[dict[str, Any]]:
    """The y scale's domain as fields ``_lo`` and ``_hi`` of every row (before the ends' filter).

    A given domain as it is; otherwise the rows' range with zero in it, as
    Vega-Lite's default scale has it (before rounding to nice values, which only
    widens it and so only widens the gaps between the names).
    """
    if y_domain is not None:
        lo, hi = (float(v) for v in y_domain)
        return [{"calculate": repr(lo), "as": "_lo"}, {"calculate": repr(hi), "as": "_hi"}]
    return [
        {
            "joinaggregate": [
                {"op": "min", "field": "value", "as": "_min"},
                {"op": "max", "field": "value", "as": "_max"},
            ]
        },
        {"calculate": "min(datum._min, 0)", "as": "_lo"},
        {"calculate": "max(datum._max, 0)", "as": "_hi"},
    ]


def _dodged_labels(height: int, gap: int = LABEL_GAP) -> list[dict[str, Any]]:
    """Transforms giving each end's name a height ``label_at`` at least ``gap`` px from the next.

    Two lines ending close together (two vendors with nearly the same profit)
    would print their names over each other. In pixels from the bottom, with
    the ends sorted by value (``i`` = 0, 1, ...), the lowest positions at
    least ``gap`` apart and no lower than the values are ``p_i = gap * i +
    max_{j <= i}(v_j - gap * j)``, a running maximum (Vega's window
    transform). Then ``min(p_i, height - gap * (n - 1 - i))`` keeps the top
    name inside the plot and the gaps as they were. ``label_at`` is that
    height in the value's units, so it takes the same scale as the lines.
    """
    h, g = float(height), float(gap)
    span = "max(datum._hi - datum._lo, 1e-12)"
    order = [{"field": "_px", "order": "ascending"}, {"field": "series", "order": "ascending"}]
    return [
        {"calculate": f"(datum.value - datum._lo) / {span} * {h}", "as": "_px"},
        {"window": [{"op": "row_number", "as": "_n"}], "sort": order},
        {"joinaggregate": [{"op": "count", "as": "_count"}]},
        {"calculate": f"datum._px - {g} * (datum._n - 1)", "as": "_shifted"},
        {
            "window": [{"op": "max", "field": "_shifted", "as": "_floor"}],
            "sort": order,
            "frame": [None, 0],
        },
        {
            "calculate": (
                f"min(datum._floor + {g} * (datum._n - 1), {h} - {g} * (datum._count - datum._n))"
            ),
            "as": "_label_px",
        },
        {"calculate": f"datum._lo + datum._label_px / {h} * {span}", "as": "label_at"},
    ]


def _keys(series: Sequence[str], measures: Sequence[str]) -> dict[tuple[str, str], str]:
    ms = list(measures) or [""]
    return {(s, m): _key(i * len(ms) + j) for i, s in enumerate(series) for j, m in enumerate(ms)}


def _hover_layer(keys, series, measures, value_format, muted) -> dict[str, Any]:
    tip: list[dict[str, Any]] = [{"field": "when", "type": "nominal", "title": "quarter"}]
    listed = [(s, m) for (s, m) in keys if s not in muted]
    listed += [(s, m) for (s, m) in keys if s in muted]
    for s, m in listed[:TOOLTIP_SERIES]:
        tip.append(
            {
                "field": keys[(s, m)],
                "type": "quantitative",
                "title": f"{s} {m}".strip(),
                "format": value_format,
            }
        )
    # One full-height band per quarter, a quarter wide: the pointer is always over
    # exactly one, so no nearest-point search (a Voronoi diagram Vega would rebuild
    # on every redraw) is needed to find the quarter under it.
    return {
        "transform": [
            {"pivot": "key", "value": "value", "groupby": ["q", "when"]},
            {"calculate": "datum.q - 0.5", "as": "band_from"},
            {"calculate": "datum.q + 0.5", "as": "band_to"},
        ],
        "mark": {"type": "rect", "color": "#888", "clip": True},
        "encoding": {
            "x": {"field": "band_from", "type": "quantitative", "title": "quarter"},
            "x2": {"field": "band_to"},
            "opacity": {"condition": {"param": "hover", "empty": False, "value": 0.18}, "value": 0},
            "tooltip": tip,
        },
        "params": [
            {
                "name": "hover",
                "select": {
                    "type": "point",
                    "fields": ["q"],
                    "on": "mouseover",
                    "clear": "mouseout",
                },
            }
        ],
    }


def long_rows(
    history: Sequence[Mapping[str, Any]],
    series: Sequence[str],
    value,
    measures: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Rows for :func:`line_spec` from per-quarter records.

    ``value(record, series, measure)`` gives a number, or ``None`` where the
    series has no value that quarter (then nothing is drawn there). A
    record's rows never change once made, so a chart can keep the rows of past
    quarters and add only the new quarter's.
    """
    keys = _keys(series, measures)
    ms = list(measures) or [""]
    out: list[dict[str, Any]] = []
    for rec in history:
        for s in series:
            for m in ms:
                v = value(rec, s, m)
                if v is None or not math.isfinite(v):
                    continue
                out.append(
                    {
                        "q": rec["quarter"],
                        "when": rec["when"],
                        "series": s,
                        "measure": m,
                        "key": keys[(s, m)],
                        "value": round(float(v), 6),
                    }
                )
    return out


# ------------------------------------------------------------ explorer charts
def heatmap_spec(title: str, x_title: str, y_title: str, value_title: str, share: bool) -> dict:
    """A survival map: cells of ``value`` over ``x`` (across) and ``y`` (up), viridis.

    Rows: ``{"x", "y", "xo", "yo", "value", "n"}`` (``xo``/``yo`` order the levels).
    """
    spec = _base(title, height=300)
    spec["autosize"] = {"type": "fit", "contains": "padding"}
    scale = {"scheme": "viridis"}
    if share:
        scale["domain"] = [0, 100]
    encoding = {
        "x": {"field": "x", "type": "ordinal", "title": x_title, "sort": {"field": "xo"}},
        "y": {
            "field": "y",
            "type": "ordinal",
            "title": y_title,
            "sort": {"field": "yo", "order": "descending"},
        },
    }
    tooltip = [
        {"field": "x", "title": x_title},
        {"field": "y", "title": y_title},
        {"field": "value", "title": value_title, "format": ",.1f"},
        {"field": "n", "title": "runs", "format": "d"},
    ]
    spec["encoding"] = encoding
    spec["layer"] = [
        {
            "mark": {"type": "rect", "stroke": "#8888", "strokeWidth": 0.5},
            "encoding": {
                "color": {
                    "field": "value",
                    "type": "quantitative",
                    "title": value_title,
                    "scale": scale,
                    "legend": {"orient": "right", "gradientLength": 180},
                },
                "tooltip": tooltip,
            },
        },
        {
            "mark": {"type": "text", "fontSize": 13, "fontWeight": "bold"},
            "encoding": {
                "text": {"field": "value", "type": "quantitative", "format": ".0f"},
                # viridis is dark at its low end: white figures there, black above the middle
                "color": {"condition": {"test": "datum.light", "value": "black"}, "value": "white"},
                "tooltip": tooltip,
            },
        },
    ]
    return spec


def bars_spec(
    title: str, x_title: str, measures: Sequence[str], subtitle: str | None = None
) -> dict:
    """Horizontal bars per parameter (one per measure), with interval whiskers where given.

    Rows: ``{"parameter", "order", "measure", "value", "lo", "hi"}``.
    """
    spec = _base(title, subtitle, height=40)
    spec["height"] = {"step": 16}
    spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    colors = [color(i) for i in range(len(measures))]
    y = {"field": "parameter", "type": "nominal", "title": None, "sort": {"field": "order"}}
    offset = {"field": "measure", "type": "nominal", "scale": {"domain": list(measures)}}
    col = {
        "field": "measure",
        "type": "nominal",
        "title": None,
        "scale": {"domain": list(measures), "range": colors},
        "legend": {"orient": "top"} if len(measures) > 1 else None,
    }
    tip = [
        {"field": "parameter", "title": "parameter"},
        {"field": "measure", "title": "measure"},
        {"field": "value", "format": ".3f", "title": "value"},
        {"field": "lo", "format": ".3f", "title": "interval from"},
        {"field": "hi", "format": ".3f", "title": "interval to"},
    ]
    spec["encoding"] = {"y": y, "yOffset": offset}
    spec["layer"] = [
        {
            "mark": {"type": "bar", "height": {"band": 0.9}},
            "encoding": {
                "x": {"field": "value", "type": "quantitative", "title": x_title},
                "color": col,
                "tooltip": tip,
            },
        },
        {
            "transform": [{"filter": "isValid(datum.lo)"}],
            "mark": {"type": "rule", "color": "#777"},
            "encoding": {"x": {"field": "lo", "type": "quantitative"}, "x2": {"field": "hi"}},
        },
        {
            "mark": {"type": "text", "align": "left", "dx": 4, "fontSize": 11},
            "encoding": {
                "x": {"field": "value", "type": "quantitative"},
                "text": {"field": "value", "type": "quantitative", "format": ".2f"},
            },
        },
    ]
    return spec


def histogram_spec(title: str, x_title: str, group: str) -> dict:
    """Two overlaid histograms (all runs in grey, the chosen group in colour) and the group mean.

    Rows: ``{"lo", "hi", "count", "which"}`` and one ``{"mean"}`` row for the rule.
    """
    spec = _base(title, height=220)
    col = {
        "field": "which",
        "type": "nominal",
        "title": None,
        "scale": {"domain": ["all runs", group], "range": ["#9a9a9a", PALETTE[0]]},
        "legend": {"orient": "top"},
    }
    spec["layer"] = [
        {
            "transform": [{"filter": "isValid(datum.lo)"}],
            "mark": {"type": "bar", "opacity": 0.85, "binSpacing": 1},
            "encoding": {
                "x": {
                    "field": "lo",
                    "type": "quantitative",
                    "title": x_title,
                    "bin": {"binned": True},
                },
                "x2": {"field": "hi"},
                "y": {"field": "count", "type": "quantitative", "title": "runs", "stack": None},
                "color": col,
                "tooltip": [
                    {"field": "which", "title": "runs"},
                    {"field": "lo", "format": ",.3g", "title": "from"},
                    {"field": "hi", "format": ",.3g", "title": "to"},
                    {"field": "count", "title": "count"},
                ],
            },
        },
        {
            "transform": [{"filter": "isValid(datum.mean)"}],
            "mark": {"type": "rule", "strokeDash": [6, 3], "strokeWidth": 2, "color": PALETTE[1]},
            "encoding": {
                "x": {"field": "mean", "type": "quantitative"},
                "tooltip": [{"field": "mean", "format": ",.3g", "title": "group mean"}],
            },
        },
    ]
    return spec

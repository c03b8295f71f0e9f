"""Standard figures of one run, drawn from its per-quarter table (matplotlib).

Each function takes the table of :meth:`privmarket.sim.model.MarketModel.table`
(or the ``quarters.parquet`` a run wrote) and returns a ``matplotlib.figure.Figure``.
They never call ``pyplot`` themselves, so they are safe in servers and threads;
give them a figure made by ``pyplot`` (``fig=plt.figure()``) to have
``plt.show()`` show it, as :meth:`MarketModel.plot` does. The x-axis is the
calendar (the table's ``date`` column).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def vendor_names(table: pd.DataFrame) -> list[str]:
    """Vendor names, in order, from the table's ``<vendor>.installed_share`` columns."""
    return [c.split(".")[0] for c in table.columns if c.endswith(".installed_share")]


# Colour-blind-safe qualitative colours (Okabe & Ito 2008), with a marker each so
# that lines differ by more than colour.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _x(table: pd.DataFrame) -> pd.Series:
    """Calendar dates when the table has them (a CSV read back gives text), else quarters."""
    if "date" in table:
        return pd.to_datetime(table["date"])
    return table["quarter"]


def _style(i: int, n_points: int) -> dict:
    return dict(
        color=COLOURS[i % len(COLOURS)],
        marker=MARKERS[i % len(MARKERS)],
        markevery=max(1, n_points // 8),
        markersize=4,
    )


def _finish_x(ax, table: pd.DataFrame) -> None:
    if "date" in table:
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        ax.set_xlabel("quarter")


def _lines(ax, table: pd.DataFrame, figure: str, scale: float = 1.0) -> None:
    x = _x(table)
    for i, v in enumerate(vendor_names(table)):
        ax.plot(x, scale * table[f"{v}.{figure}"], label=v, **_style(i, len(x)))
    _finish_x(ax, table)


def plot_shares(ax, table: pd.DataFrame, figure: str = "installed_share") -> None:
    _lines(ax, table, figure, 100)
    ax.set_ylabel("installed share (%)" if figure == "installed_share" else "sales share (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize="small", loc="best")


def plot_bands(ax, runs: pd.DataFrame, figure: str = "installed_share", level: float = 0.9):
    """Each vendor's ``figure`` over many runs of one scenario (rows of every run's
    table, told apart by a ``draw`` column): the median run and the central band."""
    q = (1 - level) / 2
    by = "date" if "date" in runs else "quarter"
    names = [c.removesuffix(f".{figure}") for c in runs.columns if c.endswith(f".{figure}")]
    for i, v in enumerate(names):
        g = runs.groupby(by)[f"{v}.{figure}"]
        mid, low, high = g.median(), g.quantile(q), g.quantile(1 - q)
        x = pd.to_datetime(mid.index) if by == "date" else mid.index
        style = _style(i, len(x))
        ax.plot(x, mid.to_numpy(), label=v, **style)
        ax.fill_between(x, low.to_numpy(), high.to_numpy(), color=style["color"], alpha=0.2)
    _finish_x(ax, runs)


def plot_cash(ax, table: pd.DataFrame) -> None:
    _lines(ax, table, "cash", 1 / 1000)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylabel("cash (US$ bn)")


def plot_trust(ax, table: pd.DataFrame) -> None:
    _lines(ax, table, "trust")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("privacy trust T")


def plot_demands(ax, table: pd.DataFrame) -> None:
    x = _x(table)
    for i, (col, label) in enumerate(
        [
            ("demands", "demands"),
            ("bans", "bans"),
            ("backdowns", "back-downs"),
            ("deals", "partial deals"),
            ("country_exits", "country exits"),
        ]
    ):
        ax.step(x, table[col], where="post", label=label, **_style(i, len(x)))
    ax.set_ylabel("cumulative count")
    _finish_x(ax, table)
    ax.legend(fontsize="small", loc="upper left")


def plot_exposure(ax, table: pd.DataFrame) -> None:
    ax.plot(_x(table), 100 * table["privacy_exposure"], color=COLOURS[5])
    ax.set_ylabel("users readable by own govt (%)")
    _finish_x(ax, table)
    ax.set_ylim(0, max(5.0, 110 * float(table["privacy_exposure"].max())))


def _figure(fig: Figure | None, size: tuple[float, float]) -> Figure:
    if fig is None:
        return Figure(figsize=size, layout="constrained")
    fig.set_size_inches(*size)
    return fig


#: A panel of a standard figure: how to draw it on an axes from the table, and its title.
Panel = tuple[Callable[[Axes, pd.DataFrame], None], str]


def _panels(
    table: pd.DataFrame,
    fig: Figure | None,
    size: tuple[float, float],
    grid: tuple[int, int],
    panels: Sequence[Panel],
) -> tuple[Figure, list[Axes]]:
    """A figure of ``size`` inches with a ``grid`` of panels, each drawn and titled.

    Every standard figure is laid out the same way; this is that layout, once.
    The axes are returned in reading order, for a figure to add to (a legend).
    """
    fig = _figure(fig, size)
    axes = list(np.ravel(fig.subplots(*grid)))
    for ax, (draw, title) in zip(axes, panels, strict=True):
        draw(ax, table)
        ax.set_title(title)
    return fig, axes


def shares_figure(table: pd.DataFrame, fig: Figure | None = None) -> Figure:
    panels: list[Panel] = [
        (partial(plot_shares, figure="installed_share"), "Installed base"),
        (partial(plot_shares, figure="sales_share"), "Unit sales"),
    ]
    return _panels(table, fig, (9, 3.6), (1, 2), panels)[0]


def cash_trust_figure(table: pd.DataFrame, fig: Figure | None = None) -> Figure:
    fig, (_, trust) = _panels(
        table, fig, (9, 3.6), (1, 2), [(plot_cash, "Cash"), (plot_trust, "Trust")]
    )
    trust.legend(fontsize="small")
    return fig


def demands_figure(table: pd.DataFrame, fig: Figure | None = None) -> Figure:
    panels: list[Panel] = [
        (plot_demands, "Demands and enforcement"),
        (plot_exposure, "Privacy exposure"),
    ]
    return _panels(table, fig, (9, 3.6), (1, 2), panels)[0]


def overview(
    table: pd.DataFrame, events: pd.DataFrame | None = None, fig: Figure | None = None
) -> Figure:
    """Four panels: shares, cash, trust, demands and bans."""
    panels: list[Panel] = [
        (plot_shares, "Installed share"),
        (plot_cash, "Cash"),
        (plot_trust, "Trust"),
        (plot_demands, "Demands and enforcement"),
    ]
    return _panels(table, fig, (10, 7), (2, 2), panels)[0]

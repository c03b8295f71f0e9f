"""Standard figures of one run, drawn from its per-quarter table (matplotlib).

Each function takes the table of :meth:`sim.model.MarketModel.table` (or the
``quarters.parquet`` a run wrote) and returns a ``matplotlib.figure.Figure``; it
never calls ``pyplot``, so it is safe in servers and threads.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure


def vendor_names(table: pd.DataFrame) -> list[str]:
    """Vendor names, in order, from the table's ``<vendor>.installed_share`` columns."""
    return [c.split(".")[0] for c in table.columns if c.endswith(".installed_share")]


def _x(table: pd.DataFrame) -> pd.Series:
    return table["quarter"]


def plot_shares(ax, table: pd.DataFrame, figure: str = "installed_share") -> None:
    for v in vendor_names(table):
        ax.plot(_x(table), 100 * table[f"{v}.{figure}"], label=v)
    ax.set_ylabel("installed share (%)" if figure == "installed_share" else "sales share (%)")
    ax.set_xlabel("quarter")
    ax.set_ylim(0, 100)
    ax.legend(fontsize="small", loc="best")


def plot_cash(ax, table: pd.DataFrame) -> None:
    for v in vendor_names(table):
        ax.plot(_x(table), table[f"{v}.cash"] / 1000, label=v)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylabel("cash (US$ bn)")
    ax.set_xlabel("quarter")


def plot_trust(ax, table: pd.DataFrame) -> None:
    for v in vendor_names(table):
        ax.plot(_x(table), table[f"{v}.trust"], label=v)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("privacy trust T")
    ax.set_xlabel("quarter")


def plot_demands(ax, table: pd.DataFrame) -> None:
    for col, label in [
        ("demands", "demands"),
        ("bans", "bans"),
        ("backdowns", "back-downs"),
        ("deals", "partial deals"),
        ("country_exits", "country exits"),
    ]:
        ax.step(_x(table), table[col], where="post", label=label)
    ax.set_ylabel("cumulative count")
    ax.set_xlabel("quarter")
    ax.legend(fontsize="small", loc="upper left")


def plot_exposure(ax, table: pd.DataFrame) -> None:
    ax.plot(_x(table), 100 * table["privacy_exposure"], color="crimson")
    ax.set_ylabel("users readable by own govt (%)")
    ax.set_xlabel("quarter")
    ax.set_ylim(0, max(5.0, 110 * float(table["privacy_exposure"].max())))


def shares_figure(table: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    a, b = fig.subplots(1, 2)
    plot_shares(a, table, "installed_share")
    a.set_title("Installed base")
    plot_shares(b, table, "sales_share")
    b.set_title("Unit sales")
    return fig


def cash_trust_figure(table: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    a, b = fig.subplots(1, 2)
    plot_cash(a, table)
    a.set_title("Cash")
    plot_trust(b, table)
    b.set_title("Trust")
    b.legend(fontsize="small")
    return fig


def demands_figure(table: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    a, b = fig.subplots(1, 2)
    plot_demands(a, table)
    a.set_title("Demands and enforcement")
    plot_exposure(b, table)
    b.set_title("Privacy exposure")
    return fig


def overview(table: pd.DataFrame, events: pd.DataFrame | None = None) -> Figure:
    """Four panels: shares, cash, trust, demands and bans."""
    fig = Figure(figsize=(10, 7), layout="constrained")
    (a, b), (c, d) = fig.subplots(2, 2)
    plot_shares(a, table)
    a.set_title("Installed share")
    plot_cash(b, table)
    b.set_title("Cash")
    plot_trust(c, table)
    c.set_title("Trust")
    plot_demands(d, table)
    d.set_title("Demands and enforcement")
    return fig

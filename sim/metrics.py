"""What a run reports: small named reporters, per-quarter tallies and the event log.

Market-wide figures are Mesa model reporters; per-vendor and per-government
figures are agent-type reporters over the few vendor and government agents
(never per-user reporters: over a million users they would double the step cost
and grow memory without bound). Per-country and per-segment tallies are kept in
preallocated arrays in :class:`Tallies`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from privmarket.sim.model import MarketModel

EVENT_KINDS = (
    "demand",
    "answer",
    "access granted",
    "withdraw feature",
    "ban",
    "back-down",
    "partial deal",
    "country exit",
    "vendor failure",
)


@dataclass
class EventLog:
    """Every demand, answer, ban, back-down, exit and failure, with its quarter."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        quarter: int,
        label: str,
        event: str,
        actor: str,
        target: str,
        details: str,
        demand: int | None = None,
    ) -> None:
        self.rows.append(
            dict(
                quarter=quarter,
                label=label,
                event=event,
                actor=actor,
                target=target,
                details=details,
                demand=demand,
            )
        )

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self) -> pd.DataFrame:
        cols = ["quarter", "label", "event", "actor", "target", "details", "demand"]
        df = pd.DataFrame(self.rows, columns=cols)
        df["demand"] = df["demand"].astype("Int64")
        return df

    def sentences(self, last: int | None = None) -> list[str]:
        """The log in plain words, newest last."""
        rows = self.rows if last is None else self.rows[-last:]
        return [describe_event(r) for r in rows]


def describe_event(r: dict[str, Any]) -> str:
    """One event as a sentence for the dashboard's feed."""
    e, a, t, d = r["event"], r["actor"], r["target"], r["details"]
    what = {
        "demand": f"the government of {a} demands {d.split(';')[0]} from {t};"
        f"{d.split(';', 1)[1] if ';' in d else ''}",
        "answer": f"{a} answers {t}: {d}",
        "access granted": f"{a} grants {t} access {d}",
        "withdraw feature": f"{a} withdraws a privacy feature in {t} ({d})",
        "ban": f"{a} bans {t} ({d})",
        "back-down": f"{a} backs down: {t}'s {d}",
        "partial deal": f"{a} settles with {t}: {d}",
        "country exit": f"{a} leaves {t}",
        "vendor failure": f"{a} leaves the handset market: {d}",
    }.get(e, f"{a} {e} {t} {d}")
    return f"{r['label']}: {what}"


class Tallies:
    """Per-quarter arrays over (quarter, vendor, country, segment), preallocated.

    ``installed`` and ``sales`` hold simulated users; multiply by ``scale`` for
    real users. Row 0 is the initial state. Arrays grow (doubling) if the model is
    stepped past the planned number of quarters.
    """

    def __init__(self, quarters: int, n_vendors: int, n_countries: int) -> None:
        shape = (quarters + 1, n_vendors, n_countries, 3)
        self.installed = np.zeros(shape, dtype=np.int32)
        self.sales = np.zeros(shape, dtype=np.int32)
        self.readable = np.zeros((quarters + 1, n_countries), dtype=np.float64)
        self.n = 0

    def record(
        self, t: int, installed: np.ndarray, sales: np.ndarray, readable: np.ndarray
    ) -> None:
        if t >= len(self.installed):
            grow = len(self.installed)
            for name in ("installed", "sales", "readable"):
                a = getattr(self, name)
                setattr(self, name, np.concatenate([a, np.zeros_like(a[:grow])]))
        self.installed[t] = installed
        self.sales[t] = sales
        self.readable[t] = readable
        self.n = max(self.n, t + 1)


def hhi(shares: np.ndarray) -> float:
    """Herfindahl-Hirschman index in points (0..10,000) from shares summing to 1."""
    return float(((100.0 * np.asarray(shares)) ** 2).sum())


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total (zeros if the total is zero)."""
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts, dtype=np.float64)


def reported_figures(m: MarketModel) -> dict[str, Any]:
    """The shares the reporters read, computed once per state of the model.

    One data collection asks for the installed and sales shares once per vendor
    and the readable share once per government (and HHI and exposure besides):
    20 and more recomputations of the same few figures, 0.18 ms a quarter at
    100k users, most of data collection. They are computed once and reused while
    the installed and sales tallies and every vendor's access are unchanged
    (compared by content, so any change is seen).
    """
    token = (
        m.quarter,
        m.installed.tobytes(),
        m.sales.tobytes(),
        b"".join(v.access.tobytes() for v in m.vendor_list),
    )
    cached = getattr(m, "_reported_figures", None)
    if cached is not None and cached[0] == token:
        return cached[1]
    installed = m.installed_share()
    figures = {
        "installed_share": installed,
        "hhi": hhi(installed),
        "sales_share": m.sales_share(),
        "readable_share": m.readable_share(),
        "exposure": m.exposure(),
    }
    m._reported_figures = (token, figures)
    return figures


def model_reporters() -> dict[str, Any]:
    """Market-wide reporters (names are the columns of the per-quarter table)."""
    return {
        "quarter": lambda m: m.quarter,
        "label": lambda m: m.quarter_label(m.quarter),
        "active_vendors": lambda m: sum(v.alive for v in m.vendor_list),
        "hhi": lambda m: reported_figures(m)["hhi"],
        "sales_hhi": lambda m: hhi(reported_figures(m)["sales_share"]),
        "privacy_exposure": lambda m: reported_figures(m)["exposure"],
        "consumer_welfare": lambda m: m.welfare,
        "users": lambda m: m.population.n * m.scale,
        "choosers": lambda m: m.choosers * m.scale,
        "demands": lambda m: sum(g.demands_made for g in m.government_list),
        "bans": lambda m: sum(g.bans for g in m.government_list),
        "backdowns": lambda m: sum(g.backdowns for g in m.government_list),
        "deals": lambda m: sum(g.deals for g in m.government_list),
        "country_exits": lambda m: sum(v.exits for v in m.vendor_list),
        "vendor_failures": lambda m: sum(not v.alive for v in m.vendor_list),
    }


#: Per-vendor reporters: attribute names of :class:`agents.vendor.Vendor` or callables.
VENDOR_REPORTERS: dict[str, Any] = {
    "name": "name",
    "installed": lambda v: v.model.installed_users(v.index),
    "installed_share": lambda v: float(reported_figures(v.model)["installed_share"][v.index]),
    "units": lambda v: v.units * v.model.scale,
    "sales_share": lambda v: float(reported_figures(v.model)["sales_share"][v.index]),
    "revenue": "revenue",
    "device_revenue": "device_revenue",
    "service_revenue": "service_revenue",
    "costs": "costs",
    "profit": "profit",
    "handset_profit": "handset_profit",
    "cash": "cash",
    "trust": "trust",
    "ecosystem": "q",
    "countries_served": "countries_served",
    "countries_with_access": lambda v: int(v.access.any(axis=1).sum()),
    "demands_received": "demands_received",
    "complied": "complied",
    "negotiated": "negotiated",
    "refused": "refused",
    "withdrawn": "withdrawn",
    "country_exits": "exits",
    "bans_suffered": "bans_suffered",
    "alive": "alive",
}

#: Per-government reporters.
GOVERNMENT_REPORTERS: dict[str, Any] = {
    "name": "name",
    "demands_made": "demands_made",
    "bans": "bans",
    "backdowns": "backdowns",
    "deals": "deals",
    "readable_share": lambda g: float(reported_figures(g.model)["readable_share"][g.country]),
}

#: Vendor figures copied into the wide per-quarter table as ``<vendor>.<figure>``.
WIDE_VENDOR_FIGURES = (
    "installed",
    "installed_share",
    "units",
    "sales_share",
    "revenue",
    "profit",
    "handset_profit",
    "cash",
    "trust",
    "ecosystem",
    "countries_served",
    "countries_with_access",
    "demands_received",
    "complied",
    "negotiated",
    "refused",
    "withdrawn",
    "country_exits",
    "bans_suffered",
    "alive",
)


def quarter_table(model: MarketModel) -> pd.DataFrame:
    """One row per quarter: market figures, then ``<vendor>.<figure>`` columns."""
    from privmarket.agents.government import Government
    from privmarket.agents.vendor import Vendor

    dc = model.datacollector
    market = dc.get_model_vars_dataframe().reset_index(drop=True)
    vend = dc.get_agenttype_vars_dataframe(Vendor).reset_index()
    wide = vend.pivot(index="Step", columns="name", values=list(WIDE_VENDOR_FIGURES))
    order = [v.name for v in model.vendor_list]
    wide = wide.reindex(columns=pd.MultiIndex.from_product([WIDE_VENDOR_FIGURES, order]))
    wide.columns = [f"{v}.{fig}" for fig, v in wide.columns]
    wide = wide[[f"{v}.{fig}" for v in order for fig in WIDE_VENDOR_FIGURES]]
    gov = dc.get_agenttype_vars_dataframe(Government).reset_index()
    gwide = gov.pivot(index="Step", columns="name", values="readable_share")
    gwide = gwide[[g.name for g in model.government_list]]
    gwide.columns = [f"{c}.readable_share" for c in gwide.columns]
    out = pd.concat([market, wide.reset_index(drop=True), gwide.reset_index(drop=True)], axis=1)
    for col in out.columns:
        if col.endswith(".alive"):
            out[col] = out[col].astype(bool)
    return out


def headline(model: MarketModel) -> dict[str, Any]:
    """End-of-run summary figures (JSON-ready), used by the CLI and the sweep runner."""
    inst = model.installed_share()
    sales = model.sales_share()
    out: dict[str, Any] = {
        "quarters": model.quarter,
        "active_vendors": int(sum(v.alive for v in model.vendor_list)),
        "hhi": hhi(inst),
        "privacy_exposure": model.exposure(),
        "consumer_welfare": float(model.welfare),
        "demands": int(sum(g.demands_made for g in model.government_list)),
        "bans": int(sum(g.bans for g in model.government_list)),
        "backdowns": int(sum(g.backdowns for g in model.government_list)),
        "deals": int(sum(g.deals for g in model.government_list)),
        "country_exits": int(sum(v.exits for v in model.vendor_list)),
    }
    for v in model.vendor_list:
        out[f"{v.name}.installed_share"] = float(inst[v.index])
        out[f"{v.name}.sales_share"] = float(sales[v.index])
        out[f"{v.name}.cash"] = float(v.cash)
        out[f"{v.name}.trust"] = float(v.trust)
        out[f"{v.name}.alive"] = bool(v.alive)
        out[f"{v.name}.countries_served"] = int(v.countries_served)
        out[f"{v.name}.countries_with_access"] = int(v.access.any(axis=1).sum())
        out[f"{v.name}.bans_suffered"] = int(v.bans_suffered)
        out[f"{v.name}.exit_quarter"] = v.exit_quarter
    return out

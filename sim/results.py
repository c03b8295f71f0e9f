"""What a run reports: one record per quarter, kept in arrays preallocated for the run.

At the end of every quarter (and once at the start) the model makes one
:class:`QuarterRecord`; :class:`Results` stores it in typed numpy arrays, one
row per quarter, sized for the whole run. Mesa's DataCollector reporters, the
per-quarter table, the long (tidy) frame, the run's summary and the dashboard
all read these records, so no figure is computed in two places.

Figures are in real users and US$ millions; the per-cell counts ``installed``
and ``sales`` are in simulated users (multiply by ``scale[country]`` for real users).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from privmarket.sim.vocabulary import SEGMENTS


class Figure(NamedTuple):
    """One figure a run records each quarter."""

    whose: str  # "market" (one value), "vendor" (one per vendor), "government" (one per country)
    dtype: str
    description: str


#: Every figure a run records, by name. The names are one namespace: they are also
#: the reporter names of Mesa's DataCollector, and ``mesa.batch_run`` merges the
#: market's, the vendors' and the governments' into one row; one table keeps a
#: name from standing twice.
FIGURES: dict[str, Figure] = {
    # market-wide
    "active_vendors": Figure("market", "int64", "vendors still in the handset market"),
    "hhi": Figure("market", "float64", "Herfindahl-Hirschman index of installed shares (0-10,000)"),
    "sales_hhi": Figure(
        "market", "float64", "Herfindahl-Hirschman index of the quarter's sales shares"
    ),
    "privacy_exposure": Figure(
        "market", "float64", "share of all users on platforms their government can read"
    ),
    "consumer_welfare": Figure("market", "float64", "mean logit log-sum of the quarter's choosers"),
    "users": Figure("market", "float64", "users (real)"),
    "choosers": Figure("market", "float64", "users who chose a device this quarter (real)"),
    "demands": Figure("market", "int64", "demands made so far, all governments"),
    "bans": Figure("market", "int64", "bans imposed so far, all governments"),
    "backdowns": Figure("market", "int64", "demands dropped so far, all governments"),
    "deals": Figure("market", "int64", "partial deals accepted so far, all governments"),
    "bans_lifted": Figure("market", "int64", "bans lifted so far, all governments"),
    "country_exits": Figure("market", "int64", "countries left so far, all vendors"),
    "vendor_failures": Figure("market", "int64", "vendors that have left the handset market"),
    # per vendor
    "installed": Figure("vendor", "float64", "users on its devices (real)"),
    "installed_share": Figure("vendor", "float64", "share of all users"),
    "units": Figure("vendor", "float64", "devices sold this quarter (real)"),
    "sales_share": Figure("vendor", "float64", "share of this quarter's devices sold"),
    "revenue": Figure("vendor", "float64", "revenue this quarter, US$M"),
    "device_revenue": Figure("vendor", "float64", "device revenue this quarter, US$M"),
    "service_revenue": Figure("vendor", "float64", "services revenue this quarter, US$M"),
    "costs": Figure("vendor", "float64", "costs this quarter, US$M"),
    "profit": Figure("vendor", "float64", "profit this quarter, US$M (devices and services)"),
    "handset_profit": Figure(
        "vendor",
        "float64",
        "handset profit this quarter, US$M (devices less all costs; the viability rule reads it)",
    ),
    "cash": Figure("vendor", "float64", "cash, US$M"),
    "trust": Figure("vendor", "float64", "global privacy trust (0-1)"),
    "ecosystem": Figure("vendor", "float64", "ecosystem strength (0-1)"),
    "countries_served": Figure("vendor", "int64", "countries where it sells"),
    "countries_with_access": Figure(
        "vendor", "int64", "countries whose government can read some of its traffic"
    ),
    "demands_received": Figure("vendor", "int64", "demands received so far"),
    "complied": Figure("vendor", "int64", "demands complied with so far"),
    "negotiated": Figure("vendor", "int64", "demands negotiated so far"),
    "refused": Figure("vendor", "int64", "demands refused so far"),
    "withdrawn": Figure("vendor", "int64", "privacy features withdrawn so far"),
    "countries_left": Figure("vendor", "int64", "countries it has left so far"),
    "bans_suffered": Figure("vendor", "int64", "bans suffered so far"),
    "alive": Figure("vendor", "bool", "still in the handset market"),
    # per government
    "demands_made": Figure("government", "int64", "demands made so far"),
    "bans_imposed": Figure("government", "int64", "bans imposed so far"),
    "demands_dropped": Figure("government", "int64", "demands dropped (back-downs) so far"),
    "deals_accepted": Figure("government", "int64", "partial deals accepted so far"),
    "lifted_bans": Figure("government", "int64", "bans it has lifted so far"),
    "readable_share": Figure(
        "government", "float64", "share of its users on platforms it can read"
    ),
}


def _figures_of(whose: str) -> dict[str, tuple[str, str]]:
    """The market's, each vendor's or each government's figures, in table order:
    name -> (dtype, description)."""
    return {n: (f.dtype, f.description) for n, f in FIGURES.items() if f.whose == whose}


#: Market-wide, per-vendor and per-government figures: name -> (dtype, description).
MARKET_FIGURES = _figures_of("market")
VENDOR_FIGURES = _figures_of("vendor")
GOVERNMENT_FIGURES = _figures_of("government")


@dataclass(frozen=True)
class QuarterRecord:
    """Everything recorded of one quarter (quarter 0 is the initial state)."""

    quarter: int
    market: dict[str, Any]
    vendor: dict[str, np.ndarray]  # each (vendors,)
    government: dict[str, np.ndarray]  # each (countries,)
    installed: np.ndarray  # (vendors, countries, segments) simulated users
    sales: np.ndarray  # (vendors, countries, segments) simulated users
    readable: np.ndarray  # (countries, segments) simulated users their government can read
    exit_quarter: tuple[int | None, ...]  # per vendor: quarter it left the market


class Results:
    """Per-quarter arrays for one run, preallocated for ``horizon`` quarters.

    ``market[name]`` has shape (quarters + 1,), ``vendor[name]`` (quarters + 1,
    vendors), ``government[name]`` (quarters + 1, countries); ``installed`` and
    ``sales`` (quarters + 1, vendors, countries, segments), ``readable`` (quarters
    + 1, countries, segments). Row 0 is the state
    before the first quarter.
    """

    def __init__(
        self,
        horizon: int,
        vendor_names: Sequence[str],
        country_names: Sequence[str],
        labels: Sequence[str],
        dates: Sequence[pd.Timestamp],
        scale: np.ndarray,
    ) -> None:
        rows, n_v, n_c = horizon + 1, len(vendor_names), len(country_names)
        self.horizon = horizon
        self.vendor_names = list(vendor_names)
        self.country_names = list(country_names)
        self.labels = list(labels)
        self.dates = list(dates)
        self.scale = np.asarray(scale, dtype=np.float64)  # real users per simulated, by country
        self.market = {k: np.zeros(rows, dtype=d) for k, (d, _) in MARKET_FIGURES.items()}
        self.vendor = {k: np.zeros((rows, n_v), dtype=d) for k, (d, _) in VENDOR_FIGURES.items()}
        self.government = {
            k: np.zeros((rows, n_c), dtype=d) for k, (d, _) in GOVERNMENT_FIGURES.items()
        }
        self.installed = np.zeros((rows, n_v, n_c, len(SEGMENTS)), dtype=np.int32)
        self.sales = np.zeros((rows, n_v, n_c, len(SEGMENTS)), dtype=np.int32)
        self.readable = np.zeros((rows, n_c, len(SEGMENTS)), dtype=np.int32)
        self.exit_quarter: tuple[int | None, ...] = (None,) * n_v
        self.n = 0  # rows recorded
        self.latest: QuarterRecord | None = None

    def record(self, rec: QuarterRecord) -> None:
        t = rec.quarter
        for k, v in rec.market.items():
            self.market[k][t] = v
        for k, v in rec.vendor.items():
            self.vendor[k][t] = v
        for k, v in rec.government.items():
            self.government[k][t] = v
        self.installed[t] = rec.installed
        self.sales[t] = rec.sales
        self.readable[t] = rec.readable
        self.exit_quarter = rec.exit_quarter
        self.n = max(self.n, t + 1)
        self.latest = rec

    # ----------------------------------------------------------- tables
    def table(self) -> pd.DataFrame:
        """One row per quarter: market figures, ``<vendor>.<figure>``, ``<country>.<figure>``.

        Every numeric column has a numeric dtype (``alive`` columns are bool).
        """
        n = self.n
        cols: dict[str, Any] = {
            "quarter": np.arange(n, dtype=np.int64),
            "label": pd.array(self.labels[:n], dtype="string"),
            "date": pd.DatetimeIndex(self.dates[:n]),
        }
        cols.update({k: self.market[k][:n] for k in MARKET_FIGURES})
        for i, v in enumerate(self.vendor_names):
            cols.update({f"{v}.{k}": self.vendor[k][:n, i] for k in VENDOR_FIGURES})
        for j, c in enumerate(self.country_names):
            cols.update({f"{c}.{k}": self.government[k][:n, j] for k in GOVERNMENT_FIGURES})
        return pd.DataFrame(cols)

    def frame(self) -> pd.DataFrame:
        """The run as a long, typed frame: one row per quarter, entity and figure.

        Columns: ``quarter``, ``label``, ``date`` (start of the calendar quarter),
        ``kind`` ("market", "vendor", "government"), ``entity``, ``country`` and
        ``segment`` (for figures by country and segment; missing otherwise),
        ``figure`` and ``value`` (float). Per vendor, country and segment it holds
        ``installed_users``, ``units_sold`` (real users) and, per government and
        segment, ``readable_users``. Ready for seaborn or Altair as it is.
        """
        n = self.n
        q = np.arange(n)
        parts = []

        def block(kind: str, entity, figure: str, values, country=None, segment=None):
            parts.append(
                pd.DataFrame(
                    {
                        "quarter": q,
                        "kind": kind,
                        "entity": entity,
                        "country": country,
                        "segment": segment,
                        "figure": figure,
                        "value": np.asarray(values, dtype=np.float64),
                    }
                )
            )

        for k in MARKET_FIGURES:
            block("market", "market", k, self.market[k][:n])
        for i, v in enumerate(self.vendor_names):
            for k in VENDOR_FIGURES:
                block("vendor", v, k, self.vendor[k][:n, i])
        for j, c in enumerate(self.country_names):
            for k in GOVERNMENT_FIGURES:
                block("government", c, k, self.government[k][:n, j])
        for i, v in enumerate(self.vendor_names):
            for j, c in enumerate(self.country_names):
                for s, seg in enumerate(SEGMENTS):
                    inst = self.installed[:n, i, j, s] * self.scale[j]
                    sold = self.sales[:n, i, j, s] * self.scale[j]
                    block("vendor", v, "installed_users", inst, c, seg)
                    block("vendor", v, "units_sold", sold, c, seg)
        for j, c in enumerate(self.country_names):
            for s, seg in enumerate(SEGMENTS):
                readable = self.readable[:n, j, s] * self.scale[j]
                block("government", c, "readable_users", readable, c, seg)
        df = pd.concat(parts, ignore_index=True)
        labels = np.asarray(self.labels[:n], dtype=object)
        dates = pd.DatetimeIndex(self.dates[:n])
        df.insert(1, "label", pd.array(labels[df["quarter"].to_numpy()], dtype="string"))
        df.insert(2, "date", dates[df["quarter"].to_numpy()])
        for col in ("kind", "entity", "country", "segment", "figure"):
            df[col] = df[col].astype("category")
        return df

    def summary(self) -> dict[str, Any]:
        """Headline figures of the last recorded quarter (JSON-ready)."""
        t = self.n - 1
        m = self.market
        out: dict[str, Any] = {
            "quarters": t,
            "active_vendors": int(m["active_vendors"][t]),
            "hhi": float(m["hhi"][t]),
            "privacy_exposure": float(m["privacy_exposure"][t]),
            "consumer_welfare": float(m["consumer_welfare"][t]),
            "demands": int(m["demands"][t]),
            "bans": int(m["bans"][t]),
            "backdowns": int(m["backdowns"][t]),
            "deals": int(m["deals"][t]),
            "country_exits": int(m["country_exits"][t]),
        }
        v = self.vendor
        for i, name in enumerate(self.vendor_names):
            out[f"{name}.installed_share"] = float(v["installed_share"][t, i])
            out[f"{name}.sales_share"] = float(v["sales_share"][t, i])
            out[f"{name}.cash"] = float(v["cash"][t, i])
            out[f"{name}.trust"] = float(v["trust"][t, i])
            out[f"{name}.alive"] = bool(v["alive"][t, i])
            out[f"{name}.countries_served"] = int(v["countries_served"][t, i])
            out[f"{name}.countries_with_access"] = int(v["countries_with_access"][t, i])
            out[f"{name}.bans_suffered"] = int(v["bans_suffered"][t, i])
            out[f"{name}.exit_quarter"] = self.exit_quarter[i]
        return out


def hhi(shares: np.ndarray) -> float:
    """Herfindahl-Hirschman index in points (0..10,000) from shares summing to 1."""
    return float(((100.0 * np.asarray(shares)) ** 2).sum())


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts as shares of their total (zeros if the total is zero)."""
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts, dtype=np.float64)

"""Governments: one per country. They demand access, and enforce at the deadline.

A government demands access from a vendor with a hazard that rises with its
surveillance appetite, with the vendor's local visibility (its local share,
weighted toward enterprise and government users) and with the concessions the
vendor has made to other governments (states cite each other's deals). At the
deadline it compares its gain from access with the domestic cost of losing the
vendor, and bans, backs down, or accepts a partial deal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from privmarket.agents.vendor import Vendor
    from privmarket.sim.model import MarketModel


class Answer(StrEnum):
    """The five answers a vendor can give to a demand."""

    COMPLY = "comply"
    NEGOTIATE = "negotiate"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"
    EXIT = "exit"


class Outcome(StrEnum):
    """How a demand ended."""

    OPEN = "open"
    COMPLIED = "complied"
    DEAL = "partial deal"
    BANNED = "banned"
    DROPPED = "dropped"
    EXITED = "exited"


def severity_label(severity: float) -> str:
    """Plain words for a severity in [0, 1]."""
    if severity < 1 / 3:
        return "targeted lawful intercept"
    if severity < 2 / 3:
        return "broad interception"
    return "bulk access"


@dataclass
class Demand:
    """A government's demand for access to a vendor's users' traffic in its country."""

    id: int
    country: int
    vendor: int
    segments: np.ndarray  # bool[3]: consumer, enterprise, government traffic asked
    severity: float
    made: int  # quarter made
    deadline: int  # quarter of enforcement
    scripted: bool = False
    answer: Answer | None = None
    granted: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=bool))
    outcome: Outcome = Outcome.OPEN

    @property
    def is_open(self) -> bool:
        return self.outcome is Outcome.OPEN


class Government(mesa.Agent):
    """The government of one country.

    Attributes
    ----------
    country : int
        Index of its country.
    appetite, rule_of_law, ban_tolerance, income : float
        From :class:`sim.params.CountrySpec`.
    demands_made, bans, backdowns, deals : int
        Running totals.
    """

    def __init__(self, model: MarketModel, country: int) -> None:
        super().__init__(model)
        spec = model.params.countries[country]
        self.country = country
        self.name = spec.name
        self.appetite = spec.appetite
        self.rule_of_law = spec.rule_of_law
        self.ban_tolerance = spec.ban_tolerance
        self.income = spec.income
        self.open: list[Demand] = []
        self.cooldown_until = np.zeros(len(model.params.vendors), dtype=np.int64)
        self.demands_made = 0
        self.bans = 0
        self.backdowns = 0
        self.deals = 0

    # --- 1. demands -------------------------------------------------------
    def issue_demands(self) -> None:
        """Make this quarter's demands: scripted ones, then drawn ones."""
        m = self.model
        p = m.params
        for sd in m.scripted_demands_for(m.quarter, self.country):
            v = m.vendor_index(sd.vendor)
            if m.vendor_list[v].is_active_in(self.country):
                self._demand(v, np.array(sd.segments, bool), sd.severity, sd.deadline, True)
        if not p.endogenous_demands or self.appetite <= 0:
            return
        for vendor in m.vendor_list:
            v = vendor.index
            # One draw per vendor in a fixed order keeps the random stream, and so
            # the run, identical whatever happens to other vendors.
            u = m.rng.random()
            if not vendor.is_active_in(self.country) or vendor.access[self.country].all():
                continue
            if self.has_open_demand(v) or m.quarter < self.cooldown_until[v]:
                continue
            if u >= self.demand_probability(vendor):
                continue
            sev = float(
                np.clip(
                    self.appetite * (1 - 0.7 * self.rule_of_law)
                    + 0.3 * self.appetite
                    + p.severity_noise * m.rng.standard_normal(),
                    0.0,
                    1.0,
                )
            )
            segments = self._segments_for(sev) & ~vendor.access[self.country]
            if segments.any():
                self._demand(v, segments, sev, p.deadline_quarters, False)

    def demand_probability(self, vendor: Vendor) -> float:
        """Chance of a demand to ``vendor`` this quarter (see docs/ODD.md, Submodels)."""
        p = self.model.params
        vis = p.visibility_floor + self.model.weighted_share(vendor.index, self.country)
        cites = vendor.concessions_elsewhere(self.country)
        hazard = p.demand_rate * self.appetite * vis * (1 + p.contagion * cites)
        return 1.0 - math.exp(-hazard)

    @staticmethod
    def _segments_for(severity: float) -> np.ndarray:
        # Low severity: lawful intercept of consumer traffic; middle: consumer and
        # enterprise; high: everything including government users' traffic.
        if severity < 1 / 3:
            return np.array([True, False, False])
        if severity < 2 / 3:
            return np.array([True, True, False])
        return np.array([True, True, True])

    def _demand(
        self, v: int, segments: np.ndarray, severity: float, deadline: int, scripted: bool
    ) -> None:
        m = self.model
        d = Demand(
            id=m.next_demand_id(),
            country=self.country,
            vendor=v,
            segments=segments,
            severity=severity,
            made=m.quarter,
            deadline=m.quarter + deadline,
            scripted=scripted,
        )
        self.open.append(d)
        self.demands_made += 1
        m.vendor_list[v].receive(d)
        asked = ", ".join(
            s
            for s, on in zip(("consumer", "enterprise", "government"), segments, strict=True)
            if on
        )
        m.log(
            "demand",
            self.name,
            m.vendor_list[v].name,
            f"{severity_label(severity)} ({severity:.2f}) to {asked} traffic; "
            f"deadline {m.quarter_label(d.deadline)}",
            demand=d.id,
        )

    def has_open_demand(self, v: int) -> bool:
        return any(d.vendor == v for d in self.open)

    # --- 3. enforcement ---------------------------------------------------
    def gain_from_access(self, d: Demand) -> float:
        """What this government expects to gain by enforcing ``d`` (dimensionless)."""
        m = self.model
        vendor = m.vendor_list[d.vendor]
        w = np.asarray(m.params.segment_weights)
        asked = float(w[d.segments].sum()) or 1.0
        missing = float(w[d.segments & ~d.granted].sum()) / asked
        value = self.appetite * d.severity * missing * vendor.local_stance[self.country]
        if d.granted.any():
            # Something was conceded: the government values the deal it has.
            value *= 1 - m.params.partial_deal_value
        return value

    def cost_of_losing(self, v: int) -> float:
        """Domestic cost of banning vendor ``v``: users who must switch, weighted."""
        p = self.model.params
        share = self.model.weighted_share(v, self.country)
        return p.ban_cost_weight * share * self.income * (1 - self.ban_tolerance)

    def enforce(self) -> None:
        """Settle every open demand whose deadline has come."""
        m = self.model
        still_open = []
        for d in self.open:
            vendor = m.vendor_list[d.vendor]
            if not d.is_open:
                continue
            if not vendor.is_active_in(self.country):
                d.outcome = Outcome.EXITED
                continue
            if m.quarter < d.deadline:
                still_open.append(d)
                continue
            gain, cost = self.gain_from_access(d), self.cost_of_losing(d.vendor)
            if gain > cost:
                d.outcome = Outcome.BANNED
                self.bans += 1
                m.ban(d.vendor, self.country)
                m.log(
                    "ban",
                    self.name,
                    vendor.name,
                    f"banned after refusing; gain {gain:.2f} > cost {cost:.2f}",
                    demand=d.id,
                )
            elif d.granted.any():
                d.outcome = Outcome.DEAL
                self.deals += 1
                m.log(
                    "partial deal",
                    self.name,
                    vendor.name,
                    f"accepted partial access; gain left {gain:.2f} <= cost {cost:.2f}",
                    demand=d.id,
                )
            else:
                d.outcome = Outcome.DROPPED
                self.backdowns += 1
                m.log(
                    "back-down",
                    self.name,
                    vendor.name,
                    f"demand dropped; gain {gain:.2f} <= cost {cost:.2f}",
                    demand=d.id,
                )
            self.cooldown_until[d.vendor] = m.quarter + m.params.deadline_quarters + 2
            vendor.learn(d)
        self.open = still_open

    def close(self, d: Demand) -> None:
        """Remove a demand settled by the vendor's own answer (compliance or exit)."""
        if d in self.open:
            self.open.remove(d)

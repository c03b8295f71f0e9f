"""Governments: one per country. They decide whom to ask for access, and what to do
when a deadline comes.

A government demands access from a vendor with a hazard that rises with its
surveillance appetite, with the vendor's local visibility (its local share,
weighted toward enterprise and government users) and with the concessions the
vendor has made to other governments (states cite each other's deals). At the
deadline it compares its gain from access with the domestic cost of losing the
vendor, and bans, backs down, or accepts a partial deal. The model applies what
it decides (``MarketModel.step``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import mesa
import numpy as np

from privmarket.agents.valuation import (
    ban_probability,
    cost_of_losing,
    gain_from_access,
    lift_probability,
)
from privmarket.sim.market_view import MarketView, VendorView
from privmarket.sim.params import CountrySpec, ScriptedDemand
from privmarket.sim.vocabulary import N_SEGMENTS, Demand, Outcome, severity_band


@dataclass(frozen=True)
class DemandDraft:
    """A demand a government has decided to make; the model numbers, records and
    delivers it."""

    vendor: int
    segments: np.ndarray  # bool[3]
    severity: float
    deadline: int  # quarters until enforcement
    scripted: bool


@dataclass(frozen=True)
class Verdict:
    """What a government decides when a demand's deadline comes (or when it reviews a ban).

    ``outcome`` is BANNED, DEAL or DROPPED, with the gain and cost it weighed; or
    EXITED when the vendor is no longer there to enforce against (settled with no
    decision).
    """

    outcome: Outcome
    gain: float = math.nan
    cost: float = math.nan


class Government(mesa.Agent):
    """The government of one country.

    Attributes
    ----------
    country : int
        Index of its country.
    appetite, rule_of_law, ban_tolerance, income : float
        From :class:`privmarket.sim.params.CountrySpec`.
    demands_made, bans_imposed, demands_dropped, deals_accepted, lifted_bans : int
        Running totals.
    """

    def __init__(self, model: mesa.Model, spec: CountrySpec, country: int, n_vendors: int) -> None:
        super().__init__(model)
        self.spec = spec
        self.country = country
        self.name = spec.name
        self.appetite = spec.appetite
        self.rule_of_law = spec.rule_of_law
        self.ban_tolerance = spec.ban_tolerance
        self.income = spec.income
        # The first quarter in which it may ask each vendor again.
        self.cooldown_until = np.zeros(n_vendors, dtype=np.int64)
        self.demands_made = 0
        self.bans_imposed = 0
        self.demands_dropped = 0
        self.deals_accepted = 0
        self.lifted_bans = 0

    # --- 1. demands -------------------------------------------------------
    def propose_demands(
        self, market: MarketView, scripted: Sequence[ScriptedDemand], open_to: set[int]
    ) -> list[DemandDraft]:
        """This quarter's demands: the scripted ones, then those drawn from its appetite.

        ``open_to`` holds the vendors it already has an open demand with.
        """
        p = market.params
        vendors = market.vendor_list
        index = {v.name: v.index for v in vendors}
        drafts: list[DemandDraft] = []
        for sd in scripted:
            v = index[sd.vendor]
            if vendors[v].is_active_in(self.country):
                drafts.append(
                    DemandDraft(v, np.array(sd.segments, bool), sd.severity, sd.deadline, True)
                )
        if not p.endogenous_demands or self.appetite <= 0:
            self.demands_made += len(drafts)
            return drafts
        asked = open_to | {d.vendor for d in drafts}
        for vendor in vendors:
            v = vendor.index
            # One draw per vendor in a fixed order keeps the random stream, and so
            # the run, identical whatever happens to other vendors.
            u = market.rng.random()
            if not vendor.is_active_in(self.country) or vendor.access[self.country].all():
                continue
            if v in asked or market.quarter < self.cooldown_until[v]:
                continue
            if u >= self.demand_probability(vendor, market):
                continue
            sev = self.draw_severity(market)
            segments = self.segments_for(sev, p.severity_bands) & ~vendor.access[self.country]
            if segments.any():
                drafts.append(DemandDraft(v, segments, sev, p.deadline_quarters, False))
                asked.add(v)
        self.demands_made += len(drafts)
        return drafts

    def demand_probability(self, vendor: VendorView, market: MarketView) -> float:
        """Chance of a demand to ``vendor`` this quarter (see docs/ODD.md, Submodels)."""
        p = market.params
        vis = p.visibility_floor + market.weighted_share(vendor.index, self.country)
        cites = vendor.concessions_elsewhere(self.country)
        hazard = p.demand_rate * self.appetite * vis * (1 + p.contagion * cites)
        return 1.0 - math.exp(-hazard)

    def draw_severity(self, market: MarketView) -> float:
        """A demand's severity: rising with appetite, restrained by rule of law, with noise."""
        p = market.params
        a = self.appetite
        raw = (
            a * (1 - p.severity_law_restraint * self.rule_of_law)
            + p.severity_appetite_floor * a
            + p.severity_noise * market.rng.standard_normal()
        )
        return float(np.clip(raw, 0.0, 1.0))

    @staticmethod
    def segments_for(severity: float, cuts: tuple[float, ...]) -> np.ndarray:
        """Tiers a demand of this severity asks for: a targeted intercept asks for
        consumer traffic, broad interception adds enterprise traffic, bulk access
        asks for everything including government users' traffic."""
        return np.arange(N_SEGMENTS) <= severity_band(severity, cuts)

    # --- 3. enforcement ---------------------------------------------------
    def verdict(self, demand: Demand, market: MarketView) -> Verdict | None:
        """What it does about ``demand`` now: ``None`` until the deadline comes."""
        vendor = market.vendor_list[demand.vendor]
        if not vendor.is_active_in(self.country):
            return Verdict(Outcome.EXITED)
        if market.quarter < demand.deadline:
            return None
        p = market.params
        gain = gain_from_access(
            self.appetite, demand, vendor.local_stance[self.country], market.params
        )
        # A ban blocks the service the demand was about: its cost is the disruption
        # to that service's users (weighted toward business and state users).
        share = market.weighted_share(demand.vendor, self.country, demand.segments)
        cost = cost_of_losing(share, self.spec, p)
        # A logit on gain against cost (a sharp threshold at temperature 0, when no
        # draw is made, so the random stream is the same as a rule's).
        chance = ban_probability(gain, cost, p)
        banned = chance >= 1.0 if p.decision_temperature <= 0 else market.rng.random() < chance
        if banned:
            return Verdict(Outcome.BANNED, gain, cost)
        if demand.granted.any():
            return Verdict(Outcome.DEAL, gain, cost)
        return Verdict(Outcome.DROPPED, gain, cost)

    def lifts_ban(self, gain: float, cost: float, market: MarketView) -> bool:
        """Whether this quarter's review lifts a ban it imposed weighing ``gain`` against
        ``cost`` (no draw is made when bans are never reviewed)."""
        if market.params.ban_review_rate <= 0:
            return False
        chance = lift_probability(gain, cost, self.rule_of_law, market.params)
        lifted = market.rng.random() < chance
        if lifted:
            self.lifted_bans += 1
        return lifted

    def settled(self, demand: Demand, outcome: Outcome, quarter: int, cooldown: int) -> None:
        """Remember a demand this government settled, and wait before asking again."""
        if outcome is Outcome.BANNED:
            self.bans_imposed += 1
        elif outcome is Outcome.DEAL:
            self.deals_accepted += 1
        elif outcome is Outcome.DROPPED:
            self.demands_dropped += 1
        self.cooldown_until[demand.vendor] = quarter + cooldown

"""Vendors: privacy stance, market presence, accounts, ecosystem, trust and viability.

A vendor decides (how to answer a demand, whether its handset business is still
viable) and keeps its own state; the model applies what follows from its
decisions and from the governments' (see ``MarketModel.step``).
"""

from __future__ import annotations

from typing import Protocol

import mesa
import numpy as np

from privmarket.agents.valuation import trust_cost
from privmarket.sim.market_view import MarketView
from privmarket.sim.params import Params, VendorSpec
from privmarket.sim.vocabulary import Answer, Demand, Presence

#: US$M in a US$bn: R&D is booked in US$M, its effect is per US$bn.
US_M_PER_BN = 1000.0


class DecisionRule(Protocol):
    """How a vendor answers demands (see :mod:`privmarket.agents.strategies`)."""

    name: str

    def choose(self, vendor: Vendor, demand: Demand, market: MarketView) -> str: ...

    def learn(self, vendor: Vendor, demand: Demand, reward: float, market: MarketView) -> None: ...


def _answer_count(answer: Answer) -> property:
    """A read-only count of the times a vendor has given ``answer``.

    The counts live in one place, ``Vendor.answers_given`` (which also counts
    answers added later); each reported figure is a view of one entry.
    """

    def count(vendor: Vendor) -> int:
        return vendor.answers_given.get(answer, 0)

    return property(count, doc=f"Demands answered {answer.value!r} so far.")


class Vendor(mesa.Agent):
    """A phone vendor.

    State follows docs/ODD.md (section 2): home country, privacy stance ``stance``, ecosystem
    strength ``ecosystem``, prices per segment, costs, ``cash``, presence per
    country, global privacy ``trust``, per-country local stance (lowered by
    withdrawing a feature) and, per country and segment, whether it has granted
    that government access.

    Money is in US$ millions. The last quarter's figures (revenue, profit,
    units, ...) are attributes, so Mesa's DataCollector can report them.
    """

    def __init__(
        self,
        model: mesa.Model,
        spec: VendorSpec,
        index: int,
        n_countries: int,
        strategy: DecisionRule,
    ) -> None:
        super().__init__(model)
        self.spec = spec
        self.index = index
        self.stance = spec.stance
        self.ecosystem = spec.ecosystem
        self.price = np.asarray(spec.price, dtype=np.float64)
        self.cash = spec.cash
        # Trust starts at the stance: users believe what a vendor says of itself
        # until its actions say otherwise.
        self.trust = spec.stance
        self.strategy = strategy
        self.presence = np.full(n_countries, Presence.ACTIVE, dtype=np.int8)
        # Tiers a government has blocked (a ban blocks the service its demand was about:
        # the messenger in Saudi Arabia, the enterprise servers in Pakistan).
        self.blocked = np.zeros((n_countries, 3), dtype=bool)
        self.local_stance = np.full(n_countries, spec.stance, dtype=np.float64)
        self.access = np.zeros((n_countries, 3), dtype=bool)
        # Tiers whose traffic it can read (holds the keys to): a dated, technical fact.
        self.readable = np.asarray(spec.readable, dtype=bool)
        self.alive = True
        self.exit_reason: str | None = None
        self.exit_quarter: int | None = None
        self.losing_streak = 0
        self.concessions = np.zeros(n_countries, dtype=np.int64)  # per country conceded to
        # Running totals and the last quarter's figures (reported by the DataCollector).
        self.demands_received = 0
        # Answers given, by answer name (new kinds of answer are counted too).
        self.answers_given: dict[str, int] = {}
        self.countries_left = 0
        self.bans_suffered = 0
        self.revenue = self.device_revenue = self.service_revenue = 0.0
        self.costs = self.profit = self.handset_profit = 0.0
        self.units = 0.0
        self.installed = 0.0

    # --- identity: fixed facts, read from the spec (only state is copied) ---
    @property
    def name(self) -> str:
        """Label shown in outputs."""
        return self.spec.name

    @property
    def home(self) -> int:
        """Index of its home country."""
        return self.spec.home

    # --- presence ---------------------------------------------------------
    def is_active_in(self, country: int) -> bool:
        """Sells in ``country`` (perhaps with some tiers blocked)."""
        # .item() gives a Python int: comparing a numpy scalar with the enum is slow,
        # and governments ask this of every vendor every quarter.
        return self.alive and self.presence.item(country) == Presence.ACTIVE

    def serves(self, country: int) -> np.ndarray:
        """(segments,) bool: the tiers it sells to in ``country`` now."""
        return self.is_active_in(country) & ~self.blocked[country]

    @property
    def countries_served(self) -> int:
        return int((self.presence == Presence.ACTIVE).sum()) if self.alive else 0

    @property
    def countries_with_access(self) -> int:
        return int(self.access.any(axis=1).sum())

    def concessions_elsewhere(self, country: int) -> int:
        """Concessions made to governments other than ``country``'s (public, citable)."""
        return int(self.concessions.sum() - self.concessions[country])

    # --- 2. deciding an answer --------------------------------------------
    def receive(self, demand: Demand) -> None:
        """A demand is delivered (counted even if the vendor leaves before answering)."""
        self.demands_received += 1

    def answer(self, demand: Demand, market: MarketView) -> str:
        """The answer this vendor's decision rule gives to ``demand``."""
        return self.strategy.choose(self, demand, market)

    def answered(self, answer: str) -> None:
        self.answers_given[answer] = self.answers_given.get(answer, 0) + 1

    # Counts of the standard answers, reported as figures by these names.
    complied = _answer_count(Answer.COMPLY)
    negotiated = _answer_count(Answer.NEGOTIATE)
    refused = _answer_count(Answer.REFUSE)
    withdrawn = _answer_count(Answer.WITHDRAW)

    # --- what the market values of this vendor, as its rules read them ---
    def local_value(self, country: int, market: MarketView) -> float:
        """What ``country`` is worth to it a quarter, US$M (>= 0): last quarter's margin
        there, grown with the market it expects there (a vendor values a market that is
        growing fast, as India's was in 2010, more than its last quarter shows)."""
        margin = max(0.0, float(market.local_margin(self.index, country)))
        return margin * market.market_growth(country)

    def privacy_stake(self, market: MarketView) -> float:
        """Quarterly gross margin owed to privacy-minded users, US$M (expected figures
        before the first quarter, last quarter's after), grown with the world market."""
        margin = max(0.0, market.gross_margin(self.index)) * market.privacy_dependence(self.index)
        return margin * market.market_growth()

    # --- changes that follow from answers and verdicts (applied by the model)
    def grant(
        self, country: int, segments: np.ndarray, severity: float, weight: float, params: Params
    ) -> np.ndarray:
        """Open ``segments`` to ``country``'s government; trust falls everywhere
        (:func:`privmarket.agents.valuation.trust_cost`). Returns the segments newly opened.
        """
        new = segments & ~self.access[country]
        drop = self.grant_trust_cost(country, segments, severity, weight, params)
        self.access[country] |= segments
        if new.any():
            self.concessions[country] += 1
            self.trust = max(0.0, self.trust - drop)
        return new

    def grant_trust_cost(
        self, country: int, segments: np.ndarray, severity: float, weight: float, params: Params
    ) -> float:
        """Trust that opening ``segments`` to ``country`` would cost; tiers already open
        there cost nothing (:func:`privmarket.agents.valuation.trust_cost`)."""
        new = segments & ~self.access[country]
        return trust_cost(new, self.readable, severity, weight, params)

    def gain_trust(self, amount: float) -> None:
        """A public refusal or exit: privacy-minded users believe it a little more (or,
        where the public sides with the government, less: ``amount`` below 0)."""
        self.trust = min(1.0, max(0.0, self.trust + amount))

    def withdraw_feature(self, country: int, cut: float) -> float:
        """Withdraw a privacy feature in ``country`` only; returns the local stance left."""
        self.local_stance[country] *= 1 - cut
        return float(self.local_stance[country])

    def leave_country(self, country: int) -> None:
        self.presence[country] = Presence.EXITED
        self.countries_left += 1

    def banned_in(self, country: int, tiers: np.ndarray) -> None:
        """A government blocks ``tiers`` of its service; blocking every tier bans it."""
        self.blocked[country] |= tiers
        if self.blocked[country].all():
            self.presence[country] = Presence.BANNED
        self.bans_suffered += 1

    def ban_lifted(self, country: int) -> None:
        self.blocked[country] = False
        if self.presence[country] == Presence.BANNED:
            self.presence[country] = Presence.ACTIVE

    def leave_market(self, reason: str, quarter: int) -> None:
        """Leave the handset market everywhere (its users switch as devices come due)."""
        self.alive = False
        self.exit_reason = reason
        self.exit_quarter = quarter

    # --- 5. accounts ------------------------------------------------------
    def book(
        self,
        device_revenue: float,
        unit_costs: float,
        service_revenue: float,
        units: float,
        installed: float,
    ) -> None:
        """Book a quarter: revenue less unit, fixed, per-country and R&D costs."""
        s = self.spec
        overheads = s.fixed_cost + s.country_cost * self.countries_served + s.rd_spend
        self.device_revenue = device_revenue
        self.service_revenue = service_revenue
        self.revenue = device_revenue + service_revenue
        self.costs = unit_costs + overheads
        self.handset_profit = device_revenue - unit_costs - overheads
        self.profit = self.revenue - self.costs
        self.cash += self.profit
        self.units = units
        self.installed = installed

    def book_services_only(self, service_revenue: float, installed: float) -> None:
        """Book a quarter out of the handset market: no phones sold and no handset
        overheads, but the service fees of the users still on its devices (they
        leave as their devices come due). The real secure maker earned US$1.3bn
        from software and services in the year it stopped making phones
        (docs/cases.md, vendor finances)."""
        self.device_revenue = 0.0
        self.service_revenue = service_revenue
        self.revenue = service_revenue
        self.costs = self.handset_profit = 0.0
        self.profit = service_revenue
        self.cash += service_revenue
        self.units = 0.0
        self.installed = installed

    # --- 6. ecosystem and trust ------------------------------------------
    def update_ecosystem(self, installed_share: float, params: Params) -> None:
        """Ecosystem strength moves toward its installed-base share (developers follow
        users), plus what R&D buys.

        The target is ``share ** ecosystem_exponent``: with an exponent below 1,
        developers' returns to a larger base diminish (a guess; with 1, the strength
        chases the share itself and the market tips to one platform in a few years).
        """
        p = params
        target = installed_share**p.ecosystem_exponent
        rd = p.rd_effect * self.spec.rd_spend / US_M_PER_BN
        self.ecosystem = _unit(self.ecosystem + p.ecosystem_rate * (target - self.ecosystem) + rd)

    def update_trust(self, params: Params) -> None:
        """Trust drifts back toward the stance, less so the more governments can read.

        Falls are booked when access is granted (:meth:`grant`); here users slowly
        forget, but not that the vendor has opened its traffic somewhere.
        """
        share_open = float(self.access.any(axis=1).mean())
        target = self.stance * (1.0 - params.access_trust_cap * share_open)
        self.trust += params.trust_recovery * (target - self.trust)
        self.trust = _unit(self.trust)

    # --- 7. viability -----------------------------------------------------
    def viability(self, params: Params) -> str | None:
        """Why this vendor must leave the handset market now, or ``None``.

        It leaves at once when cash runs out, and after ``loss_quarters`` losing
        quarters in handsets in a row even with cash in the bank: the real secure
        maker stopped making phones in September 2016 with cash still positive
        (docs/cases.md). A platform that stands for many makers does not leave:
        its makers come and go.
        """
        if not self.alive or self.spec.many_makers:
            return None
        self.losing_streak = self.losing_streak + 1 if self.handset_profit < 0 else 0
        if self.cash < 0:
            return "cash ran out"
        if self.losing_streak >= params.loss_quarters:
            return f"handset losses for {self.losing_streak} quarters in a row"
        return None


def _unit(x: float) -> float:
    """``x`` held to [0, 1] (a plain-float clip: numpy's costs microseconds on a scalar)."""
    return min(max(float(x), 0.0), 1.0)

"""Vendors: privacy stance, market presence, accounts, ecosystem, trust and viability."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from privmarket.agents.government import Answer, Demand, Outcome
from privmarket.agents.strategies import feasible_answers, make_strategy, reward_of

if TYPE_CHECKING:
    from privmarket.sim.model import MarketModel

# Presence of a vendor in a country.
ACTIVE, EXITED, BANNED = 0, 1, 2
PRESENCE_NAMES = {ACTIVE: "active", EXITED: "exited", BANNED: "banned"}


class Vendor(mesa.Agent):
    """A phone vendor.

    State follows DESIGN.md: home country, privacy stance ``stance``, ecosystem
    strength ``q``, prices per segment, costs, ``cash``, presence per country,
    global privacy ``trust``, per-country local stance (lowered by withdrawing a
    feature) and per country and segment whether it has granted access.

    Money is in US$ millions. Per-quarter figures of the last quarter (revenue,
    profit, units, ...) are attributes so that Mesa's DataCollector can report
    them directly.
    """

    def __init__(self, model: MarketModel, index: int) -> None:
        super().__init__(model)
        spec = model.params.vendors[index]
        n_c = len(model.params.countries)
        self.spec = spec
        self.index = index
        self.name = spec.name
        self.home = spec.home
        self.stance = spec.stance
        self.q = spec.ecosystem
        self.price = np.asarray(spec.price, dtype=np.float64)
        self.cash = spec.cash
        self.trust = spec.stance
        self.strategy = make_strategy(spec.strategy)
        self.presence = np.full(n_c, ACTIVE, dtype=np.int8)
        self.local_stance = np.full(n_c, spec.stance, dtype=np.float64)
        self.access = np.zeros((n_c, 3), dtype=bool)
        self.alive = True
        self.exit_reason: str | None = None
        self.exit_quarter: int | None = None
        self.losing_streak = 0
        self.inbox: list[Demand] = []
        self.concessions = np.zeros(n_c, dtype=np.int64)  # per country where conceded
        # Running totals and last quarter's figures (reported by the DataCollector).
        self.demands_received = 0
        self.complied = 0
        self.negotiated = 0
        self.refused = 0
        self.withdrawn = 0
        self.exits = 0
        self.bans_suffered = 0
        self.revenue = self.device_revenue = self.service_revenue = 0.0
        self.costs = self.profit = self.handset_profit = 0.0
        self.units = 0.0
        self.installed = 0.0

    # --- presence ---------------------------------------------------------
    def is_active_in(self, country: int) -> bool:
        return self.alive and self.presence[country] == ACTIVE

    @property
    def countries_served(self) -> int:
        return int((self.presence == ACTIVE).sum()) if self.alive else 0

    def concessions_elsewhere(self, country: int) -> int:
        """Concessions made to governments other than ``country``'s (public, citable)."""
        return int(self.concessions.sum() - self.concessions[country])

    # --- 2. answering demands --------------------------------------------
    def receive(self, demand: Demand) -> None:
        self.inbox.append(demand)
        self.demands_received += 1

    def negotiable(self, demand: Demand) -> np.ndarray:
        """Segments a negotiated deal would open: the consumer tier, if asked."""
        granted = np.zeros(3, dtype=bool)
        granted[0] = bool(demand.segments[0])
        return granted

    def answer_demands(self) -> None:
        """Answer every new demand through the strategy (model step 2)."""
        m = self.model
        for d in self.inbox:
            if not self.is_active_in(d.country):
                continue
            answer = self.strategy.choose(self, d)
            if answer not in feasible_answers(self):
                raise RuntimeError(f"{self.strategy.name} chose infeasible {answer}")
            d.answer = answer
            self._apply(d, answer)
            m.log(
                "answer",
                self.name,
                m.government_list[d.country].name,
                f"{answer.value}",
                demand=d.id,
            )
        self.inbox = []

    def _apply(self, d: Demand, answer: Answer) -> None:
        m = self.model
        c = d.country
        gov = m.government_list[c]
        if answer is Answer.COMPLY:
            self._grant(d, d.segments.copy())
            d.outcome = Outcome.COMPLIED
            gov.close(d)
            self.complied += 1
            self.strategy.learn(self, d, reward_of(self, d))
        elif answer is Answer.NEGOTIATE:
            granted = self.negotiable(d)
            if granted.any():
                self._grant(d, granted, weight=0.5)
            self.negotiated += 1
        elif answer is Answer.REFUSE:
            self.trust = min(1.0, self.trust + m.params.trust_gain_refuse)
            self.refused += 1
        elif answer is Answer.WITHDRAW:
            self.local_stance[c] *= 1 - m.params.withdraw_cut
            self.withdrawn += 1
            m.log(
                "withdraw feature",
                self.name,
                gov.name,
                f"local stance now {self.local_stance[c]:.2f}",
                demand=d.id,
            )
        elif answer is Answer.EXIT:
            self.trust = min(1.0, self.trust + m.params.trust_gain_refuse)
            d.outcome = Outcome.EXITED
            gov.close(d)
            self.exits += 1
            m.exit_country(self.index, c)
            self.strategy.learn(self, d, reward_of(self, d))

    def _grant(self, d: Demand, segments: np.ndarray, weight: float = 1.0) -> None:
        """Open the given segments in the demand's country; trust falls everywhere."""
        c = d.country
        new = segments & ~self.access[c]
        self.access[c] |= segments
        d.granted = d.granted | segments
        if new.any():
            self.concessions[c] += 1
            # Full access to all three tiers costs the whole trust_loss; one tier a third.
            drop = weight * self.trust_loss(d.severity) * float(new.sum()) / 3
            self.trust = max(0.0, self.trust - drop)
            self.model.log(
                "access granted",
                self.name,
                self.model.government_list[c].name,
                "to "
                + ", ".join(
                    s
                    for s, on in zip(("consumer", "enterprise", "government"), new, strict=True)
                    if on
                )
                + " traffic",
                demand=d.id,
            )

    def trust_loss(self, severity: float) -> float:
        """Trust lost by granting full access for a demand of this severity."""
        return self.model.params.trust_loss_comply * (0.3 + 0.7 * severity)

    def learn(self, demand: Demand) -> None:
        """A demand was settled by the government: pass the reward to the strategy."""
        if demand.outcome is Outcome.BANNED:
            self.bans_suffered += 1
        self.strategy.learn(self, demand, reward_of(self, demand))

    # --- values the strategies weigh -------------------------------------
    def local_value(self, country: int) -> float:
        """Last quarter's contribution of ``country`` to profit, US$M (>= 0)."""
        return max(0.0, float(self.model.local_margin[self.index, country]))

    def privacy_dependence(self) -> float:
        """Share of its users' attraction owed to privacy (0..1), from last quarter."""
        return float(self.model.privacy_dependence[self.index])

    def privacy_stake(self) -> float:
        """Quarterly gross margin owed to privacy-minded users, US$M."""
        gross = self.revenue - self.model.unit_costs[self.index]
        return max(0.0, gross) * self.privacy_dependence()

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

    # --- 6. ecosystem and trust ------------------------------------------
    def update_ecosystem(self, installed_share: float) -> None:
        """q moves toward its installed-base share (developers follow users), plus R&D.

        The target is ``share ** ecosystem_exponent``: with an exponent below 1,
        developers' returns to a larger base diminish (a guess; with 1, q chases
        the share itself and the market tips to one platform in a few years).
        """
        p = self.model.params
        target = installed_share**p.ecosystem_exponent
        rd = p.rd_effect * self.spec.rd_spend / 1000.0
        self.q = float(np.clip(self.q + p.ecosystem_rate * (target - self.q) + rd, 0, 1))

    def update_trust(self) -> None:
        """Trust drifts back toward the stance; falls are booked when access is granted."""
        p = self.model.params
        target = self.stance * (1.0 - 0.5 * float(self.access.any(axis=1).mean()))
        self.trust += p.trust_recovery * (target - self.trust)
        self.trust = float(np.clip(self.trust, 0.0, 1.0))

    # --- 7. viability -----------------------------------------------------
    def check_viability(self) -> None:
        """Leave at once when cash runs out; after ``k`` losing quarters in handsets."""
        if not self.alive:
            return
        p = self.model.params
        self.losing_streak = self.losing_streak + 1 if self.handset_profit < 0 else 0
        if self.cash < 0:
            self.model.fail(self.index, "cash ran out")
        elif self.losing_streak >= p.loss_quarters:
            self.model.fail(
                self.index, f"handset losses for {self.losing_streak} quarters in a row"
            )

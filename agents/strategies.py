"""How vendors answer government demands: pluggable decision rules.

A decision rule is any object with ``choose(vendor, demand, market) -> answer``
and ``learn(vendor, demand, reward, market)``. Three ship with the model:

* :class:`Principled`: a stance threshold. Never build access at or above it
  (refuse, or withdraw the feature locally when that alone averts a ban),
  negotiate a partial deal at or above half of it, comply below.
* :class:`ExpectedValue`: weigh local profit at stake (times the chance of a
  ban) against global revenue owed to privacy-minded users (times the trust an
  answer would cost), and take the best answer.
* :class:`Adaptive`: learn the value of each answer from the outcomes of past
  demands (an epsilon-greedy bandit with a constant learning rate).

A vendor that cannot read its users' traffic (stance 1) cannot comply or hand
over partial access: :func:`privmarket.agents.answers.feasible_answers` removes
those options for every rule.

To add a rule, subclass :class:`Strategy` and decorate it with
:func:`register_strategy`.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from privmarket.agents.answers import feasible_answers, is_reversible
from privmarket.agents.valuation import (
    ban_probability,
    cost_of_losing,
    deal_for,
    gain_from_access,
    legal_exposure,
)
from privmarket.agents.vendor import Vendor
from privmarket.sim.market_view import MarketView
from privmarket.sim.vocabulary import STRATEGY_NAMES, Answer, Demand, Outcome, StrategyName


class Strategy:
    """Base class: a rule that answers demands and, optionally, learns."""

    name: ClassVar[str] = "base"

    def choose(self, vendor: Vendor, demand: Demand, market: MarketView) -> str:
        raise NotImplementedError  # pragma: no cover - abstract

    def learn(self, vendor: Vendor, demand: Demand, reward: float, market: MarketView) -> None:
        """Called when a demand is settled, with the realised reward (US$M)."""


def _stakes(vendor: Vendor, demand: Demand, market: MarketView) -> tuple[float, float]:
    """The government's gain from enforcing ``demand`` as it stands, and its cost of
    losing the vendor: what a vendor that knows the government's rule foresees."""
    p = market.params
    c = demand.country
    gain = gain_from_access(p.countries[c].appetite, demand, vendor.local_stance[c], p)
    share = market.weighted_share(vendor.index, c, demand.segments)
    return gain, cost_of_losing(share, p.countries[c], p)


def stake_in_country(vendor: Vendor, demand: Demand, market: MarketView) -> float:
    """What the demand's country is worth to the vendor over its horizon, US$M."""
    return vendor.local_value(demand.country, market) * market.params.ev_horizon


def _gain_if(vendor: Vendor, demand: Demand, market: MarketView, **change) -> float:
    """The government's gain if the vendor's answer changed what it has (``granted``)
    or the local stance (``local_stance``)."""
    p = market.params
    c = demand.country
    stance = change.get("local_stance", vendor.local_stance[c])
    return gain_from_access(
        p.countries[c].appetite, demand, stance, p, granted=change.get("granted")
    )


class Principled(Strategy):
    """Never build access at or above the stance threshold; below it, deal.

    At or above ``threshold`` the vendor refuses, except when it foresees a ban
    (the government's gain exceeds its cost of losing the vendor) that
    withdrawing the feature in that country alone would avert: then it withdraws
    the feature rather than build access (as a vendor did in the United Kingdom
    in 2025), if it has one to withdraw. Between half the threshold and the
    threshold it negotiates a partial deal; below half it complies.
    """

    name = StrategyName.PRINCIPLED

    def choose(self, vendor: Vendor, demand: Demand, market: MarketView) -> str:
        ok = feasible_answers(vendor, demand)
        if vendor.stance >= vendor.spec.threshold or Answer.COMPLY not in ok:
            gain, cost = _stakes(vendor, demand, market)
            c = demand.country
            withdrawn = _gain_if(
                vendor,
                demand,
                market,
                local_stance=vendor.local_stance[c] * (1 - market.params.withdraw_cut),
            )
            if gain > cost >= withdrawn and vendor.local_stance[c] > 0 and Answer.WITHDRAW in ok:
                return Answer.WITHDRAW
            return Answer.REFUSE
        if vendor.stance >= vendor.spec.threshold / 2:
            return Answer.NEGOTIATE if Answer.NEGOTIATE in ok else Answer.REFUSE
        return Answer.COMPLY


class ExpectedValue(Strategy):
    """Weigh each answer's expected value over the next ``ev_horizon`` quarters, and choose
    by a logit over those values.

    value(answer) = - P(ban | answer) * local value
                    - trust it costs * privacy stake
                    - legal exposure (refusing a lawful order)
                    (+ the answer's own certain losses: exit loses the local value,
                    withdrawing loses the local privacy-minded users).

    The vendor knows the government's rule: the chance of a ban is the
    government's own (:func:`privmarket.agents.valuation.ban_probability`).
    Money is valued from expected figures before the first quarter and from last
    quarter's after. The choice is a logit over the values relative to what is
    at stake, with the shared ``decision_temperature``: at 0 the best value
    always wins (ties go to refuse, negotiate, withdraw, comply, exit).
    """

    name = StrategyName.EXPECTED_VALUE

    def values(self, vendor: Vendor, demand: Demand, market: MarketView) -> dict[str, float]:
        p = market.params
        c = demand.country
        country = p.countries[c]
        local = stake_in_country(vendor, demand, market)
        stake = vendor.privacy_stake(market) * p.ev_horizon
        full, cost = _stakes(vendor, demand, market)

        def p_ban(gain: float) -> float:
            return ban_probability(gain, cost, p)

        sev = demand.severity
        values: dict[str, float] = {
            Answer.COMPLY: -vendor.grant_trust_cost(c, demand.segments, sev, 1.0, p) * stake,
            Answer.REFUSE: p.trust_gain_refuse * stake
            - p_ban(full) * local
            - legal_exposure(country.rule_of_law, sev, local, p),
            Answer.WITHDRAW: -p_ban(
                _gain_if(
                    vendor,
                    demand,
                    market,
                    local_stance=vendor.local_stance[c] * (1 - p.withdraw_cut),
                )
            )
            * local
            - local * market.privacy_dependence(vendor.index) * p.withdraw_cut,
            Answer.EXIT: p.trust_gain_refuse * stake - local,
        }
        deal = deal_for(demand, vendor.readable, p)
        if deal.granted.any():
            values[Answer.NEGOTIATE] = (
                -vendor.grant_trust_cost(c, deal.granted, deal.severity, deal.weight, p) * stake
                - p_ban(_gain_if(vendor, demand, market, granted=deal.granted)) * local
            )
        ok = feasible_answers(vendor, demand)
        return {a: v for a, v in values.items() if a in ok}

    def choose(self, vendor: Vendor, demand: Demand, market: MarketView) -> str:
        values = self.values(vendor, demand, market)
        # Ties go to the first in this order: refusing is the default of a vendor
        # that gains nothing by conceding.
        order = [
            a
            for a in (Answer.REFUSE, Answer.NEGOTIATE, Answer.WITHDRAW, Answer.COMPLY, Answer.EXIT)
            if a in values
        ]
        p = market.params
        t = p.decision_temperature
        if t <= 0 or len(order) == 1:
            return max(order, key=lambda a: values[a])
        # What is at stake in the country sets the scale: its value to the vendor
        # over the horizon. A choice is then as noisy for a small vendor weighing
        # millions as for a large one weighing billions, and an answer that would
        # cost far more than the country is worth (building a back door its users
        # worldwide would fear) does not flatten the choice among the others.
        scale = stake_in_country(vendor, demand, market) or max(abs(v) for v in values.values())
        if scale <= 0:
            return max(order, key=lambda a: values[a])
        z = np.array([values[a] for a in order]) / (t * scale)
        w = np.exp(z - z.max())
        u = market.rng.random() * w.sum()
        return order[min(int(np.searchsorted(np.cumsum(w), u, side="right")), len(order) - 1)]


class Adaptive(Strategy):
    """Learn the value of each answer from settled demands (epsilon-greedy bandit).

    Estimates start at zero; with chance ``exploration`` the vendor tries a random
    feasible answer it could take back, otherwise the best estimate. When a
    demand settles, the estimate for the answer given moves toward the realised
    reward by ``learning_rate``. An irreversible answer (leaving the country) is
    never tried to learn what it is worth: it is valued by what the vendor knows
    it would lose (:class:`ExpectedValue`'s value for it). Draws use the model's
    generator.
    """

    name = StrategyName.ADAPTIVE

    def __init__(self) -> None:
        self.estimates: dict[str, float] = {}
        self.tries: dict[str, int] = {}

    def choose(self, vendor: Vendor, demand: Demand, market: MarketView) -> str:
        ok = feasible_answers(vendor, demand)
        explorable = [a for a in ok if is_reversible(a)] or list(ok)
        rng = market.rng
        if rng.random() < market.params.exploration:
            return explorable[int(rng.integers(len(explorable)))]
        # Untried answers first (optimism), then the best estimate; ties by order.
        untried = [a for a in explorable if self.tries.get(a, 0) == 0]
        if untried:
            return untried[0]
        known = ExpectedValue().values(vendor, demand, market)

        def estimate(a: str) -> float:
            if is_reversible(a):
                return self.estimates.get(a, 0.0)
            return known.get(a, -math.inf)

        return max(ok, key=estimate)

    def learn(self, vendor: Vendor, demand: Demand, reward: float, market: MarketView) -> None:
        if demand.answer is None:
            return
        a = demand.answer
        self.tries[a] = self.tries.get(a, 0) + 1
        old = self.estimates.get(a, 0.0)
        self.estimates[a] = old + market.params.learning_rate * (reward - old)


STRATEGIES: dict[str, type[Strategy]] = {s.name: s for s in (Principled, ExpectedValue, Adaptive)}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Make a strategy class available by its ``name`` to ``VendorSpec.strategy``.

    Usable as a decorator::

        @register_strategy
        class AlwaysExit(Strategy):
            name = "always_exit"
            def choose(self, vendor, demand, market):
                return Answer.EXIT
    """
    STRATEGIES[cls.name] = cls
    STRATEGY_NAMES.add(cls.name)
    return cls


def make_strategy(name: str) -> Strategy:
    """A new strategy object by name."""
    try:
        return STRATEGIES[name]()
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; allowed: {sorted(STRATEGIES)}") from None


def realised_value(vendor: Vendor, demand: Demand, market: MarketView) -> float:
    """What a settled demand was worth to the vendor, US$M over its horizon.

    A ban or an exit loses the country's margin; access granted loses the trust it
    cost when it was granted (:attr:`Demand.trust_lost`: a deal's at the severity users
    judge it by, nothing for a tier already open); a public refusal or exit wins a
    little trust.
    """
    p = market.params
    local = stake_in_country(vendor, demand, market)
    stake = vendor.privacy_stake(market) * p.ev_horizon
    r = 0.0
    if demand.outcome in (Outcome.BANNED, Outcome.EXITED):
        r -= local
    r -= demand.trust_lost * stake
    if demand.answer in (Answer.REFUSE, Answer.EXIT):
        r += p.trust_gain_refuse * stake
    return r

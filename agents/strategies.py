"""How vendors answer government demands: pluggable rules.

A strategy is any object with ``choose(vendor, demand) -> Answer`` and
``learn(vendor, demand, reward)``. Three ship with the model:

* :class:`Principled`: a stance threshold. Never build access at or above it
  (refuse, or withdraw the feature locally when that alone averts a ban),
  negotiate a partial deal at or above half of it, comply below.
* :class:`ExpectedValue`: weigh local profit at stake (times the chance of a
  ban) against global revenue owed to privacy-minded users (times the trust an
  answer would cost), and take the best answer.
* :class:`Adaptive`: learn the value of each answer from the outcomes of past
  demands (an epsilon-greedy bandit with a constant learning rate).

A vendor that cannot read its users' traffic (stance 1) cannot comply or hand
over partial access: :func:`feasible_answers` removes those options for every
strategy.

To add a rule, subclass :class:`Strategy` and register it in :data:`STRATEGIES`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from privmarket.agents.government import Answer, Demand, Outcome

if TYPE_CHECKING:
    from privmarket.agents.vendor import Vendor

ALL_ANSWERS: tuple[Answer, ...] = tuple(Answer)


def feasible_answers(vendor: Vendor) -> tuple[Answer, ...]:
    """Answers open to ``vendor``: one that cannot decrypt can only refuse, withdraw or exit."""
    if vendor.stance >= 1.0:
        return (Answer.REFUSE, Answer.WITHDRAW, Answer.EXIT)
    return ALL_ANSWERS


class Strategy:
    """Base class: a rule that answers demands and, optionally, learns."""

    name: ClassVar[str] = "base"

    def choose(self, vendor: Vendor, demand: Demand) -> Answer:
        raise NotImplementedError  # pragma: no cover - abstract

    def learn(self, vendor: Vendor, demand: Demand, reward: float) -> None:
        """Called when a demand is settled, with the realised reward (US$M)."""


class Principled(Strategy):
    """Never build access at or above the stance threshold; below it, deal.

    At or above ``threshold`` the vendor refuses, except when it foresees a ban
    (the government's gain exceeds its cost of losing the vendor) that
    withdrawing the feature in that country alone would avert: then it withdraws
    the feature rather than build access (as a vendor did in the United Kingdom
    in 2025). Between half the threshold and the threshold it negotiates a
    partial deal; below half it complies.
    """

    name = "principled"

    def choose(self, vendor: Vendor, demand: Demand) -> Answer:
        ok = feasible_answers(vendor)
        if vendor.stance >= vendor.spec.threshold or Answer.COMPLY not in ok:
            gov = vendor.model.government_list[demand.country]
            gain, cost = gov.gain_from_access(demand), gov.cost_of_losing(vendor.index)
            withdrawn = gain * (1 - vendor.model.params.withdraw_cut)
            if gain > cost >= withdrawn and vendor.local_stance[demand.country] > 0:
                return Answer.WITHDRAW
            return Answer.REFUSE
        if vendor.stance >= vendor.spec.threshold / 2:
            return Answer.NEGOTIATE
        return Answer.COMPLY


class ExpectedValue(Strategy):
    """Take the answer with the highest expected value over the next ``ev_horizon`` quarters.

    value(answer) = - P(ban | answer) * local value
                    - trust cost(answer) * privacy stake
                    (+ the answer's own certain losses: exit loses the local value,
                    withdrawing loses the local privacy-minded users).

    The vendor knows the government's rule (complete information): the chance of
    a ban is a logistic in the margin between the government's gain and its cost,
    so that near the threshold the vendor hedges.
    """

    name = "expected_value"
    #: Width of the logistic on (gain - cost); a guess standing for the vendor's
    #: uncertainty about the government's resolve.
    uncertainty: ClassVar[float] = 0.1

    def values(self, vendor: Vendor, demand: Demand) -> dict[Answer, float]:
        m = vendor.model
        p = m.params
        gov = m.government_list[demand.country]
        local = vendor.local_value(demand.country) * p.ev_horizon
        stake = vendor.privacy_stake() * p.ev_horizon
        cost = gov.cost_of_losing(vendor.index)

        def p_ban(gain: float) -> float:
            return 1.0 / (1.0 + math.exp(-(gain - cost) / self.uncertainty))

        full = gov.appetite * demand.severity * vendor.local_stance[demand.country]
        granted = vendor.negotiable(demand)
        w = np.asarray(p.segment_weights)
        asked = float(w[demand.segments].sum()) or 1.0
        frac = float(w[granted].sum()) / asked
        gain_neg = full * (1 - frac) * (1 - p.partial_deal_value) if granted.any() else full
        withdrawn_stance = vendor.local_stance[demand.country] * (1 - p.withdraw_cut)
        gain_wd = gov.appetite * demand.severity * withdrawn_stance
        loss = vendor.trust_loss(demand.severity)
        values = {
            Answer.COMPLY: -loss * stake,
            Answer.NEGOTIATE: -loss * frac * 0.5 * stake - p_ban(gain_neg) * local,
            Answer.REFUSE: p.trust_gain_refuse * stake - p_ban(full) * local,
            Answer.WITHDRAW: -p_ban(gain_wd) * local
            - local * vendor.privacy_dependence() * p.withdraw_cut,
            Answer.EXIT: p.trust_gain_refuse * stake - local,
        }
        return {a: values[a] for a in feasible_answers(vendor)}

    def choose(self, vendor: Vendor, demand: Demand) -> Answer:
        values = self.values(vendor, demand)
        # Ties go to the first in this order: refusing is the default of a vendor
        # that gains nothing by conceding.
        order = (Answer.REFUSE, Answer.NEGOTIATE, Answer.WITHDRAW, Answer.COMPLY, Answer.EXIT)
        return max((a for a in order if a in values), key=lambda a: values[a])


class Adaptive(Strategy):
    """Learn the value of each answer from settled demands (epsilon-greedy bandit).

    Estimates start at zero; with chance ``exploration`` the vendor tries a random
    feasible answer, otherwise the best estimate. When a demand settles, the
    estimate for the answer given moves toward the realised reward by
    ``learning_rate``. Draws use the model's generator.
    """

    name = "adaptive"

    def __init__(self) -> None:
        self.q: dict[Answer, float] = dict.fromkeys(ALL_ANSWERS, 0.0)
        self.tries: dict[Answer, int] = dict.fromkeys(ALL_ANSWERS, 0)

    def choose(self, vendor: Vendor, demand: Demand) -> Answer:
        ok = feasible_answers(vendor)
        rng = vendor.model.rng
        if rng.random() < vendor.model.params.exploration:
            return ok[int(rng.integers(len(ok)))]
        # Untried answers first (optimism), then the best estimate; ties by order.
        untried = [a for a in ok if self.tries[a] == 0]
        if untried:
            return untried[0]
        return max(ok, key=lambda a: self.q[a])

    def learn(self, vendor: Vendor, demand: Demand, reward: float) -> None:
        if demand.answer is None:
            return
        a = demand.answer
        self.tries[a] += 1
        self.q[a] += vendor.model.params.learning_rate * (reward - self.q[a])


STRATEGIES: dict[str, type[Strategy]] = {s.name: s for s in (Principled, ExpectedValue, Adaptive)}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Make a strategy class available by its ``name`` to ``VendorSpec.strategy``.

    Usable as a decorator::

        @register_strategy
        class AlwaysExit(Strategy):
            name = "always_exit"
            def choose(self, vendor, demand):
                return Answer.EXIT
    """
    STRATEGIES[cls.name] = cls
    return cls


def make_strategy(name: str) -> Strategy:
    """A new strategy object by name."""
    try:
        return STRATEGIES[name]()
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; allowed: {sorted(STRATEGIES)}") from None


def reward_of(vendor: Vendor, demand: Demand) -> float:
    """Realised value of a settled demand for the vendor, US$M over its horizon."""
    p = vendor.model.params
    local = vendor.local_value(demand.country) * p.ev_horizon
    stake = vendor.privacy_stake() * p.ev_horizon
    r = 0.0
    if demand.outcome in (Outcome.BANNED, Outcome.EXITED):
        r -= local
    if demand.granted.any():
        r -= vendor.trust_loss(demand.severity) * stake * float(demand.granted.mean())
    if demand.answer in (Answer.REFUSE, Answer.EXIT):
        r += p.trust_gain_refuse * stake
    return r

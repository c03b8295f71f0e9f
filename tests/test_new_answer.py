"""A newcomer adds a sixth kind of answer without touching the model (docs/architecture.md).

The answer here is "delay": the vendor asks for more time, which moves the
demand's deadline one quarter on; nothing else changes. It is registered with
``register_answer``, given by a decision rule registered with
``register_strategy``, and used in a real run.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from privmarket.agents.answers import (
    ANSWERS,
    AnswerEffect,
    AnswerType,
    feasible_answers,
    register_answer,
    unregister_answer,
)
from privmarket.agents.strategies import STRATEGIES, Strategy, register_strategy
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ScriptedDemand
from privmarket.sim.scenarios import get_scenario
from privmarket.sim.vocabulary import STRATEGY_NAMES, Answer, Demand, Presence

from .conftest import small_world


def _delay(vendor, demand, params) -> AnswerEffect:
    demand.deadline += 1  # one more quarter before the government decides
    return AnswerEffect()


class Staller(Strategy):
    """Always asks for more time."""

    name = "test_staller"

    def choose(self, vendor, demand, market):
        return "delay"


@pytest.fixture
def delay_answer() -> Iterator[None]:
    register_answer(AnswerType("delay", needs_reading=False, apply=_delay))
    register_strategy(Staller)
    yield
    unregister_answer("delay")
    STRATEGIES.pop(Staller.name)
    STRATEGY_NAMES.discard(Staller.name)


def refusal_world(strategy: str):
    # A small vendor a harsh government bans when the deadline comes.
    return small_world(
        vendors=[
            dict(name="Big", initial_share=0.9, stance=0.3),
            dict(name="Target", initial_share=0.1, stance=0.95, strategy=strategy),
        ],
        countries=[dict(name="Home", appetite=1.0, ban_tolerance=0.0), dict(name="Away")],
        scripted_demands=[
            ScriptedDemand(quarter=1, country=0, vendor="Target", severity=1.0, deadline=1)
        ],
        quarters=6,
        # a ban costs the government little and its rule is sharp: refusing is banned
        ban_cost_weight=0.5,
        decision_temperature=0.0,
        ban_review_rate=0.0,
    )


def vendor_of(
    stance: float, readable: tuple[bool, bool, bool] = (True, True, True), optional: bool = True
):
    """A real vendor of a small world, with this stance and these readable tiers, and
    (``optional``) a privacy feature it could withdraw in one country."""
    params = small_world(
        vendors=[
            dict(
                name="Asked",
                initial_share=0.5,
                stance=stance,
                readable=readable,
                optional_feature=optional,
            ),
            dict(name="Other", initial_share=0.5, stance=0.3),
        ]
    )
    return MarketModel(params, rng=0).vendor_list[0]


def demand_for(segments: tuple[bool, bool, bool] = (True, True, True)) -> Demand:
    """A demand of the first country to the first vendor for these tiers."""
    asked = np.array(segments, dtype=bool)
    return Demand(id=1, country=0, vendor=0, segments=asked, severity=1.0, made=1, deadline=2)


def test_a_sixth_answer_is_registered_and_used_in_a_run(delay_answer) -> None:
    # it needs no reading: open even to a vendor that cannot read anything
    assert "delay" in ANSWERS and "delay" in feasible_answers(vendor_of(1.0), demand_for())
    m = MarketModel(refusal_world(Staller.name), rng=1).run()
    events = m.event_frame()
    answer = events.query("event == 'answer'").iloc[0]
    assert answer["answer"] == "delay" and answer["quarter"] == 1
    assert answer["sentence"] == "Target answers Home: delay."
    target = m.vendor_list[1]
    assert target.answers_given == {"delay": 1}
    # the ban comes a quarter later than it would for a refusal
    ban = events.query("event == 'ban'").iloc[0]
    assert ban["quarter"] == 3
    assert target.presence[0] == Presence.BANNED

    refused = MarketModel(refusal_world("principled"), rng=1).run()
    first = refused.event_frame().query("event in ['answer', 'ban']")
    assert first.iloc[0]["answer"] == Answer.REFUSE
    assert first.iloc[1]["quarter"] == 2


def test_the_built_in_answers_cannot_be_removed_and_extras_go(delay_answer) -> None:
    with pytest.raises(ValueError, match="built-in"):
        unregister_answer("refuse")
    unregister_answer("delay")
    assert "delay" not in ANSWERS
    register_answer(AnswerType("delay", needs_reading=False, apply=_delay))


def test_an_answer_that_needs_reading_is_not_open_to_a_vendor_that_cannot_read() -> None:
    every_tier = demand_for()
    closed, nearly = vendor_of(1.0), vendor_of(0.99)
    for answer in (Answer.COMPLY, Answer.NEGOTIATE):
        assert answer not in feasible_answers(closed, every_tier)
        assert answer in feasible_answers(nearly, every_tier)
    assert Answer.REFUSE in feasible_answers(closed, every_tier)
    # a deal hands over only tiers the vendor can read; compliance may mean
    # building access to the others
    keys_held_by_users = vendor_of(0.5, readable=(False, True, True))
    consumer_only = demand_for((True, False, False))
    assert Answer.NEGOTIATE not in feasible_answers(keys_held_by_users, consumer_only)
    assert Answer.COMPLY in feasible_answers(keys_held_by_users, consumer_only)
    assert Answer.NEGOTIATE in feasible_answers(keys_held_by_users, every_tier)


def test_only_a_vendor_with_an_optional_feature_can_withdraw_one() -> None:
    demand = demand_for()
    assert Answer.WITHDRAW in feasible_answers(vendor_of(0.9), demand)
    without = vendor_of(0.9, optional=False)
    assert Answer.WITHDRAW not in feasible_answers(without, demand)
    assert Answer.REFUSE in feasible_answers(without, demand)


def answers_in(case: str, vendor: str, strategy: str, optional: bool) -> set[str]:
    """Every answer ``vendor`` gives in ``case`` over four seeds, under ``strategy``,
    with or without an opt-in privacy feature to withdraw."""
    seen: set[str] = set()
    updates = {
        f"vendors.{vendor}.strategy": strategy,
        f"vendors.{vendor}.optional_feature": optional,
    }
    for seed in range(4):
        m = MarketModel(case, rng=seed, n_users=1500, **updates).run()
        seen |= set(m.event_frame().query("event == 'answer'")["answer"])
    return seen


CASES_WITH_WITHDRAWALS = [
    ("uk-2025", "Apple", "expected_value"),
    ("pakistan-2015", "BlackBerry", "principled"),
]


@pytest.mark.parametrize(("case", "vendor", "strategy"), CASES_WITH_WITHDRAWALS)
def test_a_vendor_with_a_feature_to_withdraw_withdraws_it(case, vendor, strategy) -> None:
    assert Answer.WITHDRAW in answers_in(case, vendor, strategy, optional=True)


@pytest.mark.parametrize(("case", "vendor", "_"), CASES_WITH_WITHDRAWALS)
@pytest.mark.parametrize("strategy", ["principled", "expected_value", "adaptive"])
def test_no_rule_withdraws_a_feature_the_vendor_does_not_have(case, vendor, _, strategy) -> None:
    # The same cases without an opt-in feature: no rule gives that answer, and every
    # run ends (the model raises if a rule chooses an answer not open to the vendor).
    given = answers_in(case, vendor, strategy, optional=False)
    assert given and Answer.WITHDRAW not in given


def test_the_real_cases_say_which_vendor_had_a_feature_to_withdraw() -> None:
    # Apple's opt-in encrypted backups existed in 2025 (withdrawn in the United
    # Kingdom), not in 2016; the secure maker's security was its product.
    def has(case: str, vendor: str) -> bool:
        (spec,) = [v for v in get_scenario(case).params.vendors if v.name == vendor]
        return spec.optional_feature

    assert has("uk-2025", "Apple")
    assert not has("us-2016", "Apple")
    for case in ("pakistan-2015", "uae-2010", "saudi-2010", "india-2010-2013"):
        assert not has(case, "BlackBerry")

"""Behaviour of the mechanisms, each in a small fixed world."""

from __future__ import annotations

import numpy as np
import pytest

from privmarket.agents.strategies import Strategy, register_strategy
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, ScriptedDemand
from privmarket.sim.vocabulary import Answer, Outcome, Presence
from tests.conftest import small_world


def demand(vendor, quarter=1, country=0, segments=(True, True, True), severity=0.95, deadline=1):
    return ScriptedDemand(
        quarter=quarter,
        country=country,
        vendor=vendor,
        segments=segments,
        severity=severity,
        deadline=deadline,
    )


@pytest.mark.parametrize("strategy", ["principled", "expected_value", "adaptive"])
def test_stance_one_never_complies(strategy):
    # Every government wants everything, often; a vendor that cannot read its
    # users' traffic must never grant access, whatever its strategy.
    params = small_world(
        vendors=[
            dict(name="Sealed", stance=1.0, initial_share=0.5, strategy=strategy, threshold=1.0),
            dict(name="Other", stance=0.2, initial_share=0.5),
        ],
        countries=[dict(name=f"C{i}", appetite=1.0, rule_of_law=0.0) for i in range(4)],
        endogenous_demands=True,
        demand_rate=5.0,
        quarters=20,
    )
    for seed in range(3):
        m = MarketModel(params, rng=seed).run()
        sealed = m.vendor_list[0]
        assert sealed.demands_received > 0
        assert sealed.complied == 0 and sealed.negotiated == 0
        assert not sealed.access.any()
        answers = m.event_frame().query("event == 'answer' and actor == 'Sealed'")["answer"]
        assert set(answers) <= {Answer.REFUSE, Answer.WITHDRAW, Answer.EXIT}


def refusal_world(small_share: float, **kw):
    # One country, a high-appetite government with weak rule of law; the vendor
    # under demand refuses (principled, stance above threshold).
    return small_world(
        vendors=[
            dict(
                name="Target",
                stance=0.9,
                strategy="principled",
                threshold=0.5,
                initial_share=small_share,
            ),
            dict(name="Rest", stance=0.3, initial_share=1 - small_share),
        ],
        countries=[dict(name="Home", appetite=0.95, rule_of_law=0.1, ban_tolerance=0.5)],
        scripted_demands=[demand("Target", segments=(True, True, True))],
        **kw,
    )


def test_small_refusing_vendor_is_banned():
    m = MarketModel(refusal_world(0.03), rng=1).run(3)
    target = m.vendor_list[0]
    events = m.event_frame()
    assert (events.query("event == 'answer'")["answer"] == "refuse").all()
    assert target.presence[0] == Presence.BANNED
    assert target.bans_suffered == 1
    assert m.government_list[0].bans_imposed == 1
    # its users were forced to switch at once: none left on it
    assert m.installed[target.index].sum() == 0


def test_vendor_with_most_enterprise_users_sees_demand_dropped():
    # Same government, same demand; but now the vendor holds most enterprise users,
    # so banning it costs the state more than access would gain.
    m = MarketModel(refusal_world(0.9), rng=1)
    ent = m.installed[:, 0, 1]
    assert ent[0] / ent.sum() > 0.5
    m.run(3)
    target = m.vendor_list[0]
    assert target.presence[0] == Presence.ACTIVE
    assert m.government_list[0].demands_dropped == 1
    assert m.government_list[0].bans_imposed == 0
    assert "back-down" in set(m.event_frame()["event"])


@pytest.mark.parametrize(
    "readable,opened",
    [
        # it can read every tier: a deal keeps the most sensitive one back
        ((True, True, True), [True, True, False]),
        # it holds the keys of the consumer tier only (the secure maker's servers)
        ((True, False, False), [True, False, False]),
    ],
)
def test_negotiation_opens_what_the_vendor_can_read(readable, opened):
    params = small_world(
        vendors=[
            dict(
                name="Tiered",
                stance=0.5,
                strategy="principled",
                threshold=0.8,
                initial_share=0.5,
                readable=readable,
            ),
            dict(name="Rest", stance=0.3, initial_share=0.5),
        ],
        scripted_demands=[demand("Tiered", segments=(True, True, True))],
    )
    m = MarketModel(params, rng=0).run(3)
    v = m.vendor_list[0]
    assert v.negotiated == 1
    assert v.access[0].tolist() == opened
    readable_users = m.readable()[v.index, 0]
    assert all((readable_users[s] > 0) == opened[s] for s in range(3))


def test_compliance_lowers_trust_and_privacy_sensitive_choice_elsewhere():
    # The same world twice, same seed: in one, the vendor complies with a demand in
    # Home (stance below its threshold); in the other it refuses. Compare the
    # vendor's trust and its share among enterprise and government users (the
    # privacy-sensitive segments) in Away, where no demand was made.
    def world(threshold):
        return small_world(
            vendors=[
                dict(
                    name="V",
                    stance=0.4,
                    strategy="principled",
                    threshold=threshold,
                    initial_share=0.5,
                ),
                dict(name="W", stance=0.4, strategy="principled", threshold=0.0, initial_share=0.5),
            ],
            countries=[
                dict(name="Home", appetite=0.2, rule_of_law=0.9),
                dict(name="Away", appetite=0.0),
            ],
            scripted_demands=[demand("V", segments=(True, True, True), severity=1.0)],
            n_users=20000,
            hazard=0.5,
            privacy_salience=3.0,
            trust_recovery=0.0,
        )

    diffs = []
    for seed in range(5):
        comply = MarketModel(world(1.0), rng=seed).run(6)  # stance 0.4 < threshold / 2: complies
        refuse = MarketModel(world(0.1), rng=seed).run(6)
        assert comply.vendor_list[0].complied == 1 and refuse.vendor_list[0].refused == 1
        assert comply.vendor_list[0].trust < refuse.vendor_list[0].trust
        sens = lambda m: m.installed[0, 1, 1:].sum() / m.installed[:, 1, 1:].sum()  # noqa: E731
        diffs.append(sens(refuse) - sens(comply))
    assert np.mean(diffs) > 0.03
    assert sum(d > 0 for d in diffs) >= 4


def test_loss_making_vendor_leaves_and_users_move():
    params = small_world(
        vendors=[
            dict(name="Doomed", fixed_cost=50_000, cash=1e9, initial_share=0.5),
            dict(name="Fine", initial_share=0.5),
        ],
        loss_quarters=3,
        hazard=0.3,
    )
    m = MarketModel(params.with_updates({"quarters": 15}), rng=2).run(3)
    doomed = m.vendor_list[0]
    assert not doomed.alive
    assert doomed.exit_quarter == 3
    assert "losses" in doomed.exit_reason
    assert doomed.cash > 0  # left with cash in the bank, like the 2016 exit
    before = m.installed[0].sum()
    m.run(12)
    assert m.installed[0].sum() < 0.1 * before  # users moved as devices came due
    assert m.sales[0].sum() == 0


def test_cash_out_means_immediate_exit():
    params = small_world(
        vendors=[
            dict(name="Broke", fixed_cost=5_000, cash=100, initial_share=0.5),
            dict(name="Fine", initial_share=0.5),
        ],
        loss_quarters=10,
    )
    m = MarketModel(params, rng=0).run(1)
    assert not m.vendor_list[0].alive
    assert m.vendor_list[0].exit_reason == "cash ran out"


def test_small_closed_platform_loses_share_without_any_government():
    # No government at all: a small platform loses share through contacts and
    # ecosystem feedback; with both effects switched off it does not.
    def world(b_contacts, b_ecosystem):
        return small_world(
            vendors=[
                dict(name="Small", initial_share=0.1, ecosystem=0.3, stance=0.5),
                dict(name="Large1", initial_share=0.45, ecosystem=0.3, stance=0.5),
                dict(name="Large2", initial_share=0.45, ecosystem=0.3, stance=0.5),
            ],
            countries=[dict(name="A", appetite=0.0), dict(name="B", appetite=0.0)],
            b_contacts=b_contacts,
            b_ecosystem=b_ecosystem,
            ecosystem_exponent=1.0,
            n_users=10000,
            quarters=24,
            hazard=0.2,
        )

    with_effects = [
        MarketModel(world(3.0, 3.0), rng=s).run().installed_share()[0] for s in range(3)
    ]
    without = [MarketModel(world(0.0, 0.0), rng=s).run().installed_share()[0] for s in range(3)]
    assert np.mean(with_effects) < 0.05
    assert np.mean(without) > 0.08


class AlwaysExit(Strategy):
    """A test rule: leave any country that makes a demand."""

    name = "test_always_exit"

    def choose(self, vendor, demand, market):
        return Answer.EXIT


def test_exit_answer_removes_vendor_from_country_and_custom_strategies_plug_in():
    register_strategy(AlwaysExit)
    params = small_world(
        vendors=[
            dict(name="Leaver", strategy="test_always_exit", initial_share=0.5),
            dict(name="Rest", initial_share=0.5),
        ],
        scripted_demands=[demand("Leaver", country=0)],
    )
    m = MarketModel(params, rng=5).run(1)
    v = m.vendor_list[0]
    assert v.countries_left == 1
    assert v.presence.tolist() == [Presence.EXITED, Presence.ACTIVE]
    assert m.installed[v.index, 0].sum() == 0  # its users in Home switched at once
    assert m.installed[v.index, 1].sum() > 0  # still sells in Away
    assert v.trust > v.stance - 1e-12  # a public exit does not cost trust
    assert "country exit" in set(m.event_frame()["event"])


def test_unknown_strategy_is_rejected():
    with pytest.raises(ParameterError, match="unknown strategy 'nope'.*allowed"):
        small_world(vendors=[dict(name="X", strategy="nope")])


def test_contagion_raises_demand_propensity_elsewhere():
    params = small_world(
        vendors=[
            dict(name="V", stance=0.2, strategy="principled", initial_share=0.5),
            dict(name="W", initial_share=0.5),
        ],
        countries=[dict(name="A", appetite=0.5), dict(name="B", appetite=0.5)],
        scripted_demands=[demand("V", country=0)],
        contagion=2.0,
    )
    m = MarketModel(params, rng=0)
    b = m.government_list[1]
    before = b.demand_probability(m.vendor_list[0], m)
    m.run(1)
    assert m.vendor_list[0].complied == 1
    assert m.vendor_list[0].concessions_elsewhere(1) == 1
    after = b.demand_probability(m.vendor_list[0], m)
    assert after > before * 1.5


def test_demand_outcomes_are_logged():
    m = MarketModel(refusal_world(0.03), rng=1).run(3)
    ev = m.event_frame()
    d = ev.query("event == 'demand'").iloc[0]
    assert d["actor"] == "Home" and d["target"] == "Target"
    assert d["deadline"].startswith("Q") and d["severity"] >= 0
    assert {"demand", "answer", "ban"} <= set(ev["event"])
    sentence = m.events.sentences()[0]
    assert sentence.startswith("Q1 2015: The government of Home demands")
    assert Outcome.BANNED.value == "banned"

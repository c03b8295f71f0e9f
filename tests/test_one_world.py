"""One world, many cases: shared world parameters, one vendor one spec, indices mapped
the one way, decisions under uncertainty, a growing market and bans with a duration."""

from __future__ import annotations

import math
import tomllib
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from privmarket.agents.answers import ANSWERS
from privmarket.agents.strategies import ExpectedValue, realised_value, stake_in_country
from privmarket.agents.user_market import (
    choice_probabilities,
    ecosystem_utility,
    privacy_dependence,
)
from privmarket.agents.valuation import (
    ban_probability,
    deal_severity,
    lift_probability,
    trust_cost,
)
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, Params
from privmarket.sim.scenarios import (
    VENDOR_BEHAVIOUR,
    appetite_from_rank,
    get_scenario,
    income_from_gdp,
    list_scenarios,
    load_scenario,
    rule_of_law_from_percentile,
    vendor_specs,
)
from privmarket.sim.vocabulary import Answer, Demand, EventKind, Outcome, Presence

from .conftest import small_world

FOLDER = Path(str(files("privmarket.sim.scenarios")))
REAL = [n for n in list_scenarios() if n != "baseline"]


# ------------------------------------------------------ shared world parameters
@pytest.mark.parametrize("name", list_scenarios())
def test_no_scenario_file_sets_a_world_parameter(name: str) -> None:
    raw = tomllib.loads((FOLDER / f"{name}.toml").read_text())
    world = set(Params.world_fields())
    assert not set(raw.get("parameters", {})) & world
    for entry in raw.get("vendors", []):
        assert "spec" in entry, f"{name}: a vendor without its spec"
        assert not set(entry) & set(VENDOR_BEHAVIOUR), f"{name}: behaviour set by a case"


def test_a_scenario_that_sets_a_world_parameter_is_refused_by_name(tmp_path: Path) -> None:
    text = (FOLDER / "pakistan-2015.toml").read_text()
    bad = tmp_path / "mine.toml"
    bad.write_text(text.replace("[parameters]\n", "[parameters]\nban_cost_weight = 7.0\n"))
    with pytest.raises(ParameterError, match="world parameter.*ban_cost_weight"):
        load_scenario(bad)
    bad.write_text(text.replace('spec = "blackberry"\n', 'spec = "blackberry"\nstance = 0.5\n'))
    with pytest.raises(ParameterError, match="stance.*which its spec fixes"):
        load_scenario(bad)
    ok = tmp_path / "copy.toml"
    ok.write_text(text)
    assert load_scenario(ok).params == get_scenario("pakistan-2015").params


def test_the_same_vendor_is_one_vendor_across_its_cases() -> None:
    behaviour = {}
    for name in REAL:
        for v in get_scenario(name).params.vendors:
            fixed = tuple(getattr(v, k) for k in VENDOR_BEHAVIOUR)
            assert behaviour.setdefault(v.name, fixed) == fixed, f"{v.name} differs in {name}"
    assert {"BlackBerry", "Apple"} <= set(behaviour)
    blackberry = [
        n for n in REAL if "BlackBerry" in {v.name for v in get_scenario(n).params.vendors}
    ]
    assert len(blackberry) >= 5  # four stand-offs and the decline
    assert set(vendor_specs()) >= {"blackberry", "apple"}


def test_appetite_rule_of_law_and_income_come_from_indices_by_one_mapping() -> None:
    assert appetite_from_rank(1, 180) == 0.0 and appetite_from_rank(180, 180) == 1.0
    assert rule_of_law_from_percentile(24) == 0.24
    assert math.isclose(income_from_gdp(10_000), 1.0)
    pakistan = get_scenario("pakistan-2015").params.countries[0]
    assert math.isclose(pakistan.appetite, (159 - 1) / (180 - 1))
    assert math.isclose(pakistan.rule_of_law, 0.24)
    uk = get_scenario("uk-2025").params.countries[0]
    assert uk.appetite < 0.2 < 0.8 < pakistan.appetite + uk.rule_of_law


# ------------------------------------------------------ decisions under uncertainty
def test_temperature_zero_gives_back_the_threshold() -> None:
    sharp = Params().with_updates({"decision_temperature": 0.0})
    assert ban_probability(0.6, 0.5, sharp) == 1.0 and ban_probability(0.4, 0.5, sharp) == 0.0
    warm = Params().with_updates({"decision_temperature": 0.3})
    p = [ban_probability(g, 0.5, warm) for g in (0.1, 0.4, 0.5, 0.6, 2.0)]
    assert p == sorted(p) and math.isclose(p[2], 0.5) and 0 < p[0] < p[-1] < 1
    # reviews: courts and cost press harder the more the ban costs
    review = Params().with_updates({"ban_review_rate": 1.0})
    assert lift_probability(0.5, 2.0, 0.9, review) > lift_probability(0.5, 0.1, 0.1, review) > 0


def test_a_rule_at_temperature_zero_draws_no_random_numbers() -> None:
    kw = dict(rng=3, decision_temperature=0.0, ban_review_rate=0.0, exploration=0.0)
    a = MarketModel("pakistan-2015", **kw).run()
    b = MarketModel("pakistan-2015", **kw).run()
    assert a.table().equals(b.table())


def test_expected_value_stakes_are_never_zero_in_the_first_quarter() -> None:
    m = MarketModel("pakistan-2015", rng=1)
    bb = m.vendor_list[0]
    assert m.quarter == 0 and bb.revenue == 0.0  # nothing booked yet
    assert bb.privacy_stake(m) > 0 and bb.local_value(0, m) > 0


def test_the_adaptive_rule_never_explores_leaving() -> None:
    world = small_world(
        vendors=[
            dict(name="Big", initial_share=0.8, stance=0.3),
            dict(name="Learner", initial_share=0.2, stance=0.5, strategy="adaptive"),
        ],
        countries=[dict(name="A", appetite=1.0), dict(name="B", appetite=1.0)],
        endogenous_demands=True,
        demand_rate=10.0,
        exploration=1.0,
        quarters=30,
    )
    answers = []
    for seed in range(4):
        m = MarketModel(world, rng=seed).run()
        answers += [e.answer for e in m.events if e.kind is EventKind.ANSWER]
    assert len(answers) > 20
    assert Answer.EXIT not in answers


def test_a_back_door_costs_the_trust_of_the_broadest_demand() -> None:
    # Once built, a back door opens every user's traffic in its tier, so an order
    # about one phone costs as much trust as a bulk demand; handing over traffic
    # the vendor can already read still costs in proportion to the demand.
    p = Params()
    one = np.array([True, False, False])
    closed, readable = np.zeros(3, dtype=bool), np.ones(3, dtype=bool)
    narrow, broad = (trust_cost(one, closed, s, 1.0, p) for s in (0.2, 1.0))
    assert narrow == broad > 0
    assert trust_cost(one, readable, 0.2, 1.0, p) < trust_cost(one, readable, 1.0, 1.0, p)
    assert broad == pytest.approx(p.backdoor_trust_factor * trust_cost(one, readable, 1.0, 1.0, p))


def test_a_deal_costs_the_trust_of_what_it_opens_not_of_what_was_asked() -> None:
    # India asked for consumer and enterprise traffic (severity 0.7); the deal opens
    # only the consumer tier the vendor reads, which a targeted demand would have
    # asked for: it costs that demand's trust, and no more than the demand's own.
    m = MarketModel("india-2010-2013", rng=5)
    p = m.params
    bb = m.vendor_list[m.vendor_index("BlackBerry")]
    broad = Demand(0, 0, bb.index, np.array([True, True, False]), 0.7, 1, 2)
    consumer = np.array([True, False, False])
    assert deal_severity(broad, consumer, p.severity_bands) == p.severity_bands[0] < 0.7
    narrow = Demand(1, 0, bb.index, consumer, 0.2, 1, 2)
    assert deal_severity(narrow, consumer, p.severity_bands) == 0.2
    expected = trust_cost(consumer, bb.readable, p.severity_bands[0], p.negotiation_trust_weight, p)
    before = bb.trust
    ANSWERS[Answer.NEGOTIATE].apply(bb, broad, p)
    assert before - bb.trust == pytest.approx(expected) and expected > 0
    assert bb.access[0].tolist() == [True, False, False]


def test_a_vendor_learns_from_the_trust_a_deal_cost_it_not_the_demands_severity() -> None:
    # The adaptive rule's reward for an answer is what the answer cost when it was
    # made: a deal that opens only the consumer tier is judged as a targeted intercept
    # (severity band 0), and a tier already open costs nothing the second time.
    m = MarketModel("india-2010-2013", rng=5)
    p = m.params
    bb = m.vendor_list[m.vendor_index("BlackBerry")]
    stake = bb.privacy_stake(m) * p.ev_horizon
    assert stake > 0
    first = Demand(0, 0, bb.index, np.array([True, True, False]), 0.7, 1, 2)
    first.answer = Answer.NEGOTIATE
    before = bb.trust
    ANSWERS[Answer.NEGOTIATE].apply(bb, first, p)
    lost = before - bb.trust
    assert lost > 0 and first.trust_lost == pytest.approx(lost)
    first.outcome = Outcome.DEAL
    assert realised_value(bb, first, m) == pytest.approx(-lost * stake)
    # at the demand's own severity the old reward was larger: the rule learnt a cost
    # the vendor never paid
    asked = trust_cost(first.granted, bb.readable, 0.7, p.negotiation_trust_weight, p)
    assert asked > lost
    again = Demand(1, 0, bb.index, np.array([True, False, False]), 0.9, 2, 3)
    again.answer = Answer.COMPLY
    ANSWERS[Answer.COMPLY].apply(bb, again, p)
    again.outcome = Outcome.COMPLIED
    assert again.trust_lost == 0.0 and realised_value(bb, again, m) == 0.0


def test_answers_are_as_noisy_as_the_country_is_worth_whatever_one_answer_costs() -> None:
    # An answer that would cost a thousand times what the country is worth must not
    # make the others look alike: the logit's scale is the country's value.
    m = MarketModel("us-2016", rng=5, decision_temperature=0.2)
    apple = m.vendor_list[0]
    demand = Demand(0, 0, apple.index, np.array([True, False, False]), 0.2, 1, 2)
    rule = ExpectedValue()
    worth = stake_in_country(apple, demand, m)
    assert worth > 0
    values = {Answer.REFUSE: -0.1 * worth, Answer.WITHDRAW: -0.3 * worth, Answer.EXIT: -worth}
    picks = {}
    for extra in ({}, {Answer.COMPLY: -1000 * worth}):
        rule.values = lambda *a, v={**values, **extra}: v
        m.rng = np.random.default_rng(9)
        picks[bool(extra)] = [rule.choose(apple, demand, m) for _ in range(400)]
    assert picks[True] == picks[False]
    assert picks[True].count(Answer.REFUSE) > 0.6 * 400 > picks[True].count(Answer.EXIT) * 10


# ------------------------------------------------------------- ecosystems
def test_each_halving_of_an_ecosystem_costs_users_the_same_utility() -> None:
    p = Params()
    q = np.array([1.0, 0.5, 0.1, 0.05, p.ecosystem_floor, p.ecosystem_floor / 10])
    u = ecosystem_utility(q, p)
    assert u[0] - u[1] == pytest.approx(u[2] - u[3]) == pytest.approx(p.b_ecosystem * math.log(2))
    assert u[4] == u[5] == 0.0  # at or below the floor: worth nothing


def test_a_withering_ecosystem_loses_new_buyers_without_a_floor() -> None:
    # Two phones alike but for their ecosystems: the weaker one's share of buyers
    # is (q_weak / q_strong) ** b_ecosystem, so it keeps falling as its ecosystem
    # does; with utility linear in q it could not fall below exp(-b_ecosystem)
    # of the stronger one's.
    p = Params()
    available = np.ones((1, 2), dtype=bool)
    shares = []
    for weak in (0.4, 0.2, 0.1):
        utility = ecosystem_utility(np.array([[1.0, weak]]), p)
        shares.append(choice_probabilities(utility, available)[0, 1])
        assert shares[-1] / (1 - shares[-1]) == pytest.approx(weak**p.b_ecosystem)
    assert shares[0] > shares[1] > shares[2]
    assert shares[2] < math.exp(-p.b_ecosystem) / (1 + math.exp(-p.b_ecosystem))


def test_privacy_dependence_is_what_the_users_choice_rule_says_a_vendor_would_lose() -> None:
    # Three vendors; the first's users value its privacy at u. Its dependence is
    # the share of its buyers that go elsewhere when u is removed, by the logit.
    available = np.ones((1, 3), dtype=bool)
    for u in (0.3, 1.0, 2.5):
        utility = np.array([[0.4 + u, 1.0, 0.2]])
        before = choice_probabilities(utility, available)[0, 0]
        utility[0, 0] -= u
        after = choice_probabilities(utility, available)[0, 0]
        assert privacy_dependence(u, before) == pytest.approx(1 - after / before)
    assert privacy_dependence(0.0, 0.5) == 0.0
    # A large vendor loses a smaller share of its buyers: many of them have nowhere
    # better to go.
    assert 0 < privacy_dependence(1.0, 0.9) < privacy_dependence(1.0, 0.1) < 1


# ------------------------------------------------------------ a growing market
def test_users_arrive_along_the_path_in_a_store_sized_for_the_last_quarter() -> None:
    m = MarketModel("platform-decline-2009-2016", rng=1, n_users=2000)
    column = m.population.vendor
    capacity = len(column)
    users = [m.table()["users"].iloc[-1]]
    for _ in range(m.horizon):
        m.step()
        users.append(m.table()["users"].iloc[-1])
    assert m.population.vendor is column and len(m.population.vendor) == capacity
    assert m.user_market.n == capacity  # everyone has arrived by the last quarter
    assert users == sorted(users) and users[-1] > 5 * users[0]
    # every present user has chosen a vendor: the new ones chose like due users
    assert (m.population.vendor >= 0).all()


def test_a_synthetic_world_grows_at_its_rate() -> None:
    m = MarketModel(n_users=2000, quarters=8, rng=1, growth_rate=0.05).run()
    users = m.table()["users"]
    assert users.iloc[-1] / users.iloc[0] == pytest.approx(1.05**8, rel=0.02)


# ------------------------------------------------------------- bans that end
def test_bans_are_reviewed_and_lifted_and_users_come_back() -> None:
    world = small_world(
        vendors=[
            dict(name="Big", initial_share=0.7, stance=0.3),
            dict(name="Small", initial_share=0.3, stance=0.95, strategy="principled"),
        ],
        countries=[dict(name="Home", appetite=1.0, ban_tolerance=0.0), dict(name="Away")],
        scripted_demands=[
            dict(quarter=1, country=0, vendor="Small", severity=1.0, deadline=1),
        ],
        ban_review_rate=5.0,
        decision_temperature=0.0,
        ban_cost_weight=0.1,
        hazard=0.02,
        quarters=10,
        # Ecosystems pull less and switching costs less than in the calibrated world:
        # the test is of the mechanic, not of the weights.
        b_ecosystem=0.5,
        switching_cost=0.5,
    )
    m = MarketModel(world, rng=2).run()
    kinds = [e.kind for e in m.events]
    assert EventKind.BAN in kinds and EventKind.BAN_LIFTED in kinds
    lifted = next(e for e in m.events if e.kind is EventKind.BAN_LIFTED)
    assert lifted.quarter > next(e for e in m.events if e.kind is EventKind.BAN).quarter
    small = m.vendor_list[1]
    assert small.presence[0] == Presence.ACTIVE and not small.blocked[0].any()
    # users it had lost were offered to come back, and many did: far more than the
    # few (2% a quarter) whose device would have come due anyway
    before = m.results.installed[lifted.quarter - 1, 1, 0].sum()
    after = m.results.installed[lifted.quarter, 1, 0].sum()
    lost = m.results.installed[0, 1, 0].sum() - before
    assert after - before > 5 * 0.02 * lost
    assert (m.population.banned_from == -1).all()


def test_a_ban_blocks_the_service_asked_about() -> None:
    world = small_world(
        vendors=[
            dict(name="Big", initial_share=0.7, stance=0.3),
            dict(name="Small", initial_share=0.3, stance=0.95, strategy="principled"),
        ],
        countries=[dict(name="Home", appetite=1.0, ban_tolerance=0.0), dict(name="Away")],
        scripted_demands=[
            dict(
                quarter=1,
                country=0,
                vendor="Small",
                segments=[True, False, False],
                severity=1.0,
                deadline=1,
            ),
        ],
        ban_review_rate=0.0,
        decision_temperature=0.0,
        withdraw_cut=0.0,  # withdrawing a feature would not avert the ban: it refuses
        quarters=4,
    )
    m = MarketModel(world, rng=1).run()
    small = m.vendor_list[1]
    assert small.blocked[0].tolist() == [True, False, False]
    assert small.presence[0] == Presence.ACTIVE  # still sells to business and state users
    assert m.installed[1, 0, 0] == 0 and m.installed[1, 0, 1:].sum() > 0


def test_a_platform_of_many_makers_does_not_leave_by_the_viability_rule() -> None:
    world = small_world(
        vendors=[
            dict(name="Platform", initial_share=0.5, fixed_cost=1e6, many_makers=True),
            dict(name="Firm", initial_share=0.5, fixed_cost=1e6),
        ],
        quarters=8,
    )
    m = MarketModel(world, rng=1).run()
    assert m.vendor_list[0].alive and not m.vendor_list[1].alive


def test_a_vendor_out_of_the_handset_market_books_only_its_users_service_fees() -> None:
    # Its last quarter's figures must not be reported again every quarter (which
    # once made a secure maker that left in 2012 "earn" its 2012 revenue through
    # 2016): it sells no phones and pays no handset overheads, and earns the
    # service fees of the users still on its devices, who leave as those come due.
    world = small_world(
        vendors=[
            dict(name="Platform", initial_share=0.5, fixed_cost=1e6, many_makers=True),
            dict(name="Firm", initial_share=0.5, fixed_cost=1e6, service_revenue=5.0),
        ],
        quarters=8,
    )
    m = MarketModel(world, rng=1).run()
    firm = m.vendor_list[1]
    left = firm.exit_quarter
    assert left is not None and left < 7
    v = {k: m.results.vendor[k][:, firm.index] for k in ("revenue", "units", "profit", "cash")}
    installed = m.results.vendor["installed"][:, firm.index]
    after = slice(left + 1, None)
    assert (v["units"][after] == 0).all()
    assert v["revenue"][after] == pytest.approx(installed[after] * 5.0 / 1e6)
    assert (v["profit"][after] == v["revenue"][after]).all()
    assert (np.diff(v["revenue"][left + 1 :]) <= 0).all()  # its users drift away
    assert v["revenue"][-1] < v["revenue"][left]
    assert v["cash"][-1] == pytest.approx(v["cash"][left] + v["revenue"][after].sum())


def _platform_world(small_on_platform: bool) -> Params:
    return small_world(
        vendors=[
            dict(name="Open", initial_share=0.5, ecosystem=0.5, many_makers=True),
            dict(name="Own", initial_share=0.3, ecosystem=0.5),
            dict(
                name="Maker",
                initial_share=0.2,
                ecosystem=0.1,
                platform="Open" if small_on_platform else "",
            ),
        ],
        quarters=8,
    )


def test_a_maker_on_an_open_platform_shares_its_ecosystem() -> None:
    alone = MarketModel(_platform_world(False), rng=3).run()
    on = MarketModel(_platform_world(True), rng=3).run()
    eco = on.results.vendor["ecosystem"][: on.quarter + 1]
    # The maker's ecosystem is the platform's at every quarter, from the first...
    np.testing.assert_array_equal(eco[:, 2], eco[:, 0])
    # ...and its users count toward the platform's ecosystem: developers write for
    # the operating system, so the platform is stronger with the maker than without.
    alone_eco = alone.results.vendor["ecosystem"][alone.quarter, 0]
    assert eco[-1, 0] > alone_eco
    # Alone, the small maker's own ecosystem stays weaker than the platform's.
    assert alone.results.vendor["ecosystem"][alone.quarter, 2] < alone_eco


@pytest.mark.parametrize(
    ("platform", "why"),
    [("Nobody", "names no open platform"), ("Own", "names no open platform")],
)
def test_a_platform_must_be_another_vendor_of_many_makers(platform: str, why: str) -> None:
    world = _platform_world(True).model_dump()
    world["vendors"][2]["platform"] = platform
    with pytest.raises(ParameterError, match=rf"vendors\.Maker\.platform = '{platform}' {why}"):
        Params(**world)


def test_world_parameter_defaults_are_the_shipped_estimate() -> None:
    text = files("privmarket.sim").joinpath("posterior/world.toml").read_text()
    estimate = tomllib.loads(text)["estimate"]
    assert set(estimate) == set(Params.world_fields())
    defaults = Params()
    for name, value in estimate.items():
        got = getattr(defaults, name)
        assert (list(got) if isinstance(got, tuple) else got) == value, name
    assert np.isfinite(list(defaults.world().values())[0])

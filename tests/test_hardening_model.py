"""Property-based and extreme-input tests of the model and its parameters.

Any accepted parameter set runs without exceptions and keeps the invariants;
any rejected one is rejected with a ParameterError that names the field.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privmarket.agents.user_market import NO_VENDOR
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, Params
from privmarket.sim.scenarios import get_scenario, list_scenarios
from privmarket.sim.vocabulary import Presence

SCALARS = {r["name"]: r for r in Params.describe()}
FLOAT_FIELDS = [
    n
    for n, r in SCALARS.items()
    if isinstance(r["default"], float) and r["low"] is not None and r["high"] is not None
]
VENDOR_FIELDS = {
    "stance": (0.0, 1.0),
    "ecosystem": (0.0, 1.0),
    "unit_cost": (0.0, 2000.0),
    "fixed_cost": (0.0, 5000.0),
    "cash": (-10.0, 1e5),
    "threshold": (0.0, 1.0),
    "initial_share": (0.0, 5.0),
    "service_revenue": (0.0, 50.0),
}
COUNTRY_FIELDS = {
    "appetite": (0.0, 1.0),
    "rule_of_law": (0.0, 1.0),
    "ban_tolerance": (0.0, 1.0),
    "income": (0.01, 5.0),
    "population": (0.001, 2000.0),
}
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def check_invariants(m: MarketModel) -> None:
    pop = m.population
    assert int(m.installed.sum()) == pop.n - int((pop.vendor == NO_VENDOR).sum())
    assert (m.installed >= 0).all() and (m.sales >= 0).all()
    shares = m.installed_share()
    if m.installed.sum():
        assert math.isclose(float(shares.sum()), 1.0, rel_tol=1e-9)
    for v in m.vendor_list:
        assert np.isfinite(v.cash) and np.isfinite(v.profit) and np.isfinite(v.trust)
        assert 0.0 <= v.trust <= 1.0 and 0.0 <= v.ecosystem <= 1.0
        if v.alive:
            on_v = pop.vendor == v.index
            assert (v.presence[pop.country[on_v]] == Presence.ACTIVE).all()
    assert 0.0 <= m.exposure() <= 1.0
    assert np.isfinite(m.welfare)
    row = m.table().iloc[-1].drop(["label", "date"])
    values = np.array([float(x) for x in row.to_numpy()])
    assert np.isfinite(values).all()


@st.composite
def accepted_overrides(draw):
    out = {}
    for name in draw(st.lists(st.sampled_from(FLOAT_FIELDS), max_size=6, unique=True)):
        r = SCALARS[name]
        hi = min(r["high"], 20.0)
        out[name] = draw(st.floats(r["low"], hi, allow_nan=False))
        if name == "ecosystem_exponent" and out[name] <= 0:
            out[name] = 0.5
    for field in draw(st.lists(st.sampled_from(sorted(VENDOR_FIELDS)), max_size=3, unique=True)):
        lo, hi = VENDOR_FIELDS[field]
        who = draw(st.sampled_from(["*", "Aegis", "Open", "0"]))
        out[f"vendors.{who}.{field}"] = draw(st.floats(lo, hi, allow_nan=False))
    for field in draw(st.lists(st.sampled_from(sorted(COUNTRY_FIELDS)), max_size=3, unique=True)):
        lo, hi = COUNTRY_FIELDS[field]
        who = draw(st.sampled_from(["*", "Eastria", "2"]))
        out[f"countries.{who}.{field}"] = draw(st.floats(lo, hi, allow_nan=False))
    out["vendors.Open.initial_share"] = max(out.get("vendors.Open.initial_share", 0.6), 0.01)
    out["n_users"] = draw(st.integers(1, 400))
    out["contacts_mean_degree"] = draw(st.integers(0, 12))
    # the store is sized for the horizon's arrivals: eight quarters, as long as any
    # test steps these worlds (growth_rate 0.5 over the default 40 would not fit)
    out["quarters"] = 8
    return out


@PROPERTY_SETTINGS
@given(overrides=accepted_overrides(), seed=st.integers(0, 2**31 - 1))
def test_any_accepted_parameters_run_and_keep_invariants(overrides, seed):
    try:
        params = Params().with_updates(overrides)
    except ParameterError:
        return  # a rejected combination is covered by the next test
    m = MarketModel(params, rng=seed)
    n = m.population.n
    for _ in range(4):
        m.step()
        assert m.population.n == n
        check_invariants(m)


@PROPERTY_SETTINGS
@given(
    name=st.sampled_from(sorted(SCALARS)),
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**9), 10**9),
        st.text(max_size=5),
        st.none(),
        st.lists(st.integers(), max_size=2),
    ),
)
def test_any_rejected_value_names_the_field(name, value):
    try:
        Params().with_updates({name: value})
    except ParameterError as exc:
        assert name in str(exc)
        assert "\n" not in str(exc)


@PROPERTY_SETTINGS
@given(path=st.text(min_size=1, max_size=30).filter(lambda s: s not in Params.model_fields))
def test_unknown_paths_are_rejected_clearly(path):
    with pytest.raises(ParameterError) as e:
        Params().with_updates({path: 1})
    assert "parameter" in str(e.value)


@pytest.mark.parametrize("name", list_scenarios())
@settings(max_examples=8, deadline=None)
@given(hazard=st.floats(0, 1), appetite=st.floats(0, 1), seed=st.integers(0, 1000))
def test_scenario_overrides_run(name, hazard, appetite, seed):
    params = get_scenario(name).params.with_updates(
        {"hazard": hazard, "countries.*.appetite": appetite, "n_users": 300, "quarters": 3}
    )
    m = MarketModel(params, rng=seed).run()
    check_invariants(m)


def test_nan_and_infinity_are_rejected():
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ParameterError, match="hazard"):
            Params(hazard=bad)
        with pytest.raises(ParameterError, match="cash"):
            Params().with_updates({"vendors.Aegis.cash": bad})


@pytest.mark.parametrize(
    "overrides",
    [
        {"n_users": 1},
        {"n_users": 1, "contacts_mean_degree": 0},
        {"countries.*.appetite": 1.0, "countries.*.rule_of_law": 0.0, "demand_rate": 10.0},
        {"vendors.*.price": [0, 0, 0], "vendors.*.unit_cost": 0},
        {"hazard": 0.0},
        {"hazard": 1.0, "switching_cost": 0.0},
        {"b_ecosystem": 50, "b_contacts": 50, "b_price": 50, "privacy_salience": 10},
        {"countries.*.income": 0.01},
        {"vendors.*.cash": 0.0, "vendors.*.fixed_cost": 0.0, "vendors.*.rd_spend": 0.0},
    ],
    ids=[
        "one-user",
        "one-user-no-contacts",
        "max-appetite",
        "zero-prices",
        "no-replacement",
        "all-due",
        "extreme-weights",
        "poor-world",
        "zero-cash",
    ],
)
def test_extreme_but_legal_worlds_stay_finite(overrides):
    m = MarketModel(Params().with_updates(overrides), rng=0)
    for _ in range(8):
        m.step()
        check_invariants(m)


def test_one_vendor_world():
    p = Params(vendors=[dict(name="Only", initial_share=1.0)], n_users=200)
    m = MarketModel(p, rng=1).run(12)
    check_invariants(m)
    assert m.installed_share().tolist() in ([1.0], [0.0])


def test_a_market_that_outgrows_any_store_is_refused_by_name():
    with pytest.raises(ParameterError, match=r"growth_rate=0.5: the market would pass 50,000,000"):
        MarketModel(n_users=400, growth_rate=0.5, rng=0)
    m = MarketModel(n_users=400, growth_rate=0.5, quarters=4, rng=0)  # fine over a short run
    assert m.population.n < 400 * 1.5**4 + 10

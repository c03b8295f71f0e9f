"""Numerical safety, beyond tests/test_hardening_model.py: what was still unchecked.

* Every quarter, for any accepted parameters: a vendor's cash changes by
  exactly its booked profit, users are conserved (each on a vendor index that
  exists, or on none), no count is negative, every population is positive.
* Extreme but legal worlds that were not covered: every vendor banned
  everywhere, every vendor failing, 400 quarters with no device ever due,
  more contacts than users, single-segment markets, near-empty and giant
  countries, all utility weights zero or at their maximum, huge cash, each
  strategy at maximum appetite. Each runs with the invariants checked every
  quarter and finite end-of-run outcomes.
* A rejected value's message states the allowed range correctly: the value
  lies outside the range the message names (open or closed at each end).

``PRIVMARKET_HARDENING=full`` runs more examples (see docs/reliability.md).
"""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privmarket.agents.user_market import NO_VENDOR
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, Params
from tests.test_hardening_model import accepted_overrides, check_invariants

FULL = os.environ.get("PRIVMARKET_HARDENING", "").strip().lower() == "full"
EXAMPLES = 300 if FULL else 30


def step_checked(m: MarketModel, quarters: int) -> None:
    """Step ``quarters`` times, checking the accounting and conservation every quarter."""
    pop = m.population
    n = pop.n
    n_vendors = len(m.vendor_list)
    for _ in range(quarters):
        before = {v.index: (v.alive, float(v.cash)) for v in m.vendor_list}
        m.step()
        assert pop.n == n
        vendor = np.asarray(pop.vendor)
        on_none = vendor == NO_VENDOR
        assert ((vendor >= 0) & (vendor < n_vendors) | on_none).all()
        assert int(m.installed.sum()) + int(on_none.sum()) == n  # users conserved
        assert (np.asarray(m.installed) >= 0).all() and (np.asarray(m.sales) >= 0).all()
        for v in m.vendor_list:
            was_alive, cash = before[v.index]
            # Booked every quarter: cash moves by exactly the profit.
            assert math.isclose(v.cash, cash + v.profit, rel_tol=1e-12, abs_tol=1e-9)
            if not was_alive:  # out of the handset market: only its users' service fees
                assert v.units == 0 and v.device_revenue == 0 and v.costs == 0
                assert v.profit == v.revenue == v.service_revenue >= 0
        check_invariants(m)
    country = np.asarray(pop.country)
    assert ((country >= 0) & (country < len(m.government_list))).all()
    summary = m.summary()
    for key, value in summary.items():
        if key.endswith(".exit_quarter"):
            assert value is None or 0 <= value <= m.quarter
        else:
            assert isinstance(value, bool | int | float) and math.isfinite(value), key


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(overrides=accepted_overrides(), seed=st.integers(0, 2**31 - 1))
def test_cash_moves_by_profit_and_users_are_conserved_every_quarter(overrides, seed):
    try:
        params = Params().with_updates(overrides)
    except ParameterError:
        return
    step_checked(MarketModel(params, rng=seed), 6)


MAX_APPETITE = {
    "countries.*.appetite": 1.0,
    "countries.*.rule_of_law": 0.0,
    "demand_rate": 10.0,
}
EXTREMES = {
    "every-vendor-banned-everywhere": {
        **MAX_APPETITE,
        "vendors.*.stance": 1.0,
        "countries.*.ban_tolerance": 1.0,
        "ban_cost_weight": 0.0,
        "deadline_quarters": 0,
    },
    "every-vendor-fails": {
        "vendors.*.price": [0, 0, 0],
        "vendors.*.unit_cost": 2000.0,
        "vendors.*.cash": 0.0,
        "loss_quarters": 1,
    },
    "400-quarters-no-device-due": {"hazard": 0.0, "quarters": 400, "n_users": 200},
    "more-contacts-than-users": {"n_users": 5, "contacts_mean_degree": 200},
    "consumers-only": {"countries.*.segment_mix": [1.0, 0.0, 0.0]},
    "government-users-only": {"countries.*.segment_mix": [0.0, 0.0, 1.0]},
    "near-empty-countries": {"countries.*.population": 0.001, "n_users": 50},
    "one-giant-country": {"countries.0.population": 2000.0, "countries.*.income": 0.01},
    "all-weights-zero": {
        "b_ecosystem": 0.0,
        "b_price": 0.0,
        "b_contacts": 0.0,
        "switching_cost": 0.0,
        "privacy_salience": 0.0,
    },
    "all-weights-maximal": {
        "b_ecosystem": 50.0,
        "b_price": 50.0,
        "b_contacts": 50.0,
        "switching_cost": 50.0,
        "privacy_salience": 10.0,
        "privacy_dispersion": 5.0,
        "price_sensitivity_spread": 2.0,
    },
    "huge-cash-no-costs": {"vendors.*.cash": 1e15, "vendors.*.fixed_cost": 0.0},
    "adaptive-at-max-appetite": {
        **MAX_APPETITE,
        "vendors.*.strategy": "adaptive",
        "exploration": 1.0,
        "learning_rate": 1.0,
        "contagion": 10.0,
    },
    "expected-value-at-max-appetite": {
        **MAX_APPETITE,
        "vendors.*.strategy": "expected_value",
        "ev_horizon": 100,
    },
    "principled-at-max-appetite": {
        **MAX_APPETITE,
        "vendors.*.strategy": "principled",
        "vendors.*.threshold": 0.0,
    },
}


@pytest.mark.parametrize("name", list(EXTREMES))
def test_extreme_legal_worlds_keep_the_books_and_stay_finite(name):
    overrides = {"n_users": 2000, **EXTREMES[name]}
    params = Params().with_updates(overrides)
    m = MarketModel(params, rng=3)
    step_checked(m, params.quarters)
    assert m.quarter == params.quarters


def test_one_vendor_one_user_banned_everywhere():
    p = Params(vendors=[dict(name="Only", initial_share=1.0, stance=1.0)], n_users=1)
    p = p.with_updates({**MAX_APPETITE, "countries.*.ban_tolerance": 1.0, "ban_cost_weight": 0.0})
    m = MarketModel(p, rng=0)
    step_checked(m, 12)
    assert not m.vendor_list[0].alive or m.vendor_list[0].bans_suffered >= 0


# --------------------------------------------------- ranges in the messages
_RANGE = re.compile(r"range ([\[(])(-?inf|[-\d.e+]+), (-?inf|[-\d.e+]+)([\])])")


def _bounded_fields() -> list[tuple[str, float, float]]:
    """(path, low, high) of every bounded number: top level, vendors.0.*, countries.0.*."""
    from privmarket.sim.params import _bounds  # the same bounds the messages are made from

    p = Params()
    out = []
    for prefix, model in (
        ("", type(p)),
        ("vendors.0.", type(p.vendors[0])),
        ("countries.0.", type(p.countries[0])),
    ):
        for name, f in model.model_fields.items():
            lo, hi = _bounds(f)
            if (lo is not None or hi is not None) and f.annotation in (int, float):
                out.append((prefix + name, lo, hi))
    return out


BOUNDED = _bounded_fields()


def _inside(value: float, text: str) -> bool:
    m = _RANGE.search(text)
    assert m, f"no range in the message: {text}"
    left, lo, hi, right = m.groups()
    lo_v, hi_v = float(lo), float(hi)
    above = value > lo_v if left == "(" else value >= lo_v
    below = value < hi_v if right == ")" else value <= hi_v
    return above and below


def _check_value(path: str, lo, hi, value) -> None:
    """Accepted values lie within the bounds; a rejection's stated range excludes the value."""
    if isinstance(Params().get(path), int) and not isinstance(Params().get(path), bool):
        value = int(round(value))
    try:
        Params().with_updates({path: value})
    except ParameterError as exc:
        text = str(exc)
        assert path.rsplit(".", 1)[-1] in text, text
        if "range" in text:
            assert not _inside(float(value), text), (path, value, text)
        return
    assert lo is None or value >= lo, (path, value)
    assert hi is None or value <= hi, (path, value)


@pytest.mark.parametrize("path,lo,hi", BOUNDED, ids=[b[0] for b in BOUNDED])
def test_values_at_and_just_beyond_each_bound(path, lo, hi):
    for bound in (lo, hi):
        if bound is None:
            continue
        for value in (bound, np.nextafter(bound, -np.inf), np.nextafter(bound, np.inf)):
            _check_value(path, lo, hi, float(value))


@settings(max_examples=EXAMPLES * 4, deadline=None)
@given(field=st.sampled_from(BOUNDED), value=st.floats(-1e6, 1e6, allow_nan=False))
def test_any_value_is_accepted_within_bounds_or_refused_with_a_true_range(field, value):
    _check_value(*field, value)


def test_an_open_bound_is_stated_as_open():
    with pytest.raises(ParameterError) as info:
        Params(ecosystem_exponent=0.0)
    assert "range (0" in str(info.value), str(info.value)
    with pytest.raises(ParameterError) as info:
        Params().with_updates({"countries.0.income": 0.0})
    assert "range (0" in str(info.value), str(info.value)

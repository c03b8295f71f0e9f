"""Pattern-oriented validation: each real case reproduces its observed outcome.

Each pattern is checked over SEEDS seeds and must hold in at least
REQUIRED_FRACTION of them (not in one lucky seed).
"""

from __future__ import annotations

import numpy as np
import pytest

from privmarket.experiments.calibrate import fit_error, load_observed, simulated_shares
from privmarket.sim.model import MarketModel
from privmarket.sim.scenarios import get_scenario, list_scenarios
from privmarket.sim.vocabulary import Presence

SEEDS = range(5)
REQUIRED_FRACTION = 0.8


def holds(scenario: str, check, seeds=SEEDS, **overrides) -> float:
    """Fraction of seeds in which ``check(model)`` is true after the scenario's run."""
    ok = [bool(check(MarketModel(scenario=scenario, rng=s, **overrides).run())) for s in seeds]
    return sum(ok) / len(ok)


def case_vendor(m: MarketModel):
    return m.vendor_list[0]


def test_every_scenario_has_a_note_sources_and_patterns():
    assert list_scenarios()[0] == "baseline"
    assert len(list_scenarios()) == 8
    for name in list_scenarios():
        sc = get_scenario(name)
        assert sc.name == name
        assert len(sc.note) > 200, name
        assert sc.patterns, name
        if name != "baseline":
            assert sc.sources, name
            assert "guess" in sc.note.lower(), f"{name} must label its guesses"


def test_pakistan_2015_no_access_no_ban():
    def pattern(m):
        v = case_vendor(m)
        return (
            not v.access[0].any()
            and v.presence[0] == Presence.ACTIVE
            and m.government_list[0].bans_imposed == 0
        )

    assert holds("pakistan-2015", pattern) >= REQUIRED_FRACTION


def test_uae_2010_settled_without_ban():
    def pattern(m):
        g = m.government_list[0]
        return (
            case_vendor(m).presence[0] == Presence.ACTIVE
            and g.bans_imposed == 0
            and g.deals_accepted + g.demands_dropped == 1
        )

    assert holds("uae-2010", pattern) >= REQUIRED_FRACTION


def test_saudi_2010_consumer_tier_opened_vendor_stays():
    def pattern(m):
        v = case_vendor(m)
        return v.access[0, 0] and v.presence[0] == Presence.ACTIVE

    assert holds("saudi-2010", pattern) >= REQUIRED_FRACTION


def test_india_consumer_intercepted_enterprise_not():
    def pattern(m):
        v = case_vendor(m)
        readable = m.readable()[v.index, 0]
        return (
            v.access[0, 0]
            and not v.access[0, 1]
            and readable[0] > 0
            and readable[1] == 0
            and v.presence[0] == Presence.ACTIVE
        )

    assert holds("india-2010-2013", pattern) >= REQUIRED_FRACTION


def test_us_2016_refusal_dropped_trust_kept():
    def pattern(m):
        v = case_vendor(m)
        g = m.government_list[0]
        return (
            v.refused == 1
            and g.demands_dropped == 1
            and g.bans_imposed == 0
            and v.trust >= v.stance
        )

    assert holds("us-2016", pattern) >= REQUIRED_FRACTION


def test_uk_2025_feature_withdrawn_no_access_vendor_stays():
    def pattern(m):
        v = case_vendor(m)
        return (
            v.presence[0] == Presence.ACTIVE
            and v.withdrawn == 1
            and v.local_stance[0] < v.stance
            and v.local_stance[1] == v.stance  # withdrawn in the UK only
            and not v.access.any()
        )

    assert holds("uk-2025", pattern) >= REQUIRED_FRACTION


def sales_by_year(m: MarketModel) -> np.ndarray:
    units = m.results.sales[1 : m.quarter + 1].sum(axis=(2, 3)).astype(float)
    yearly = units.reshape(-1, 4, units.shape[1]).sum(axis=1)
    return yearly / yearly.sum(axis=1, keepdims=True)


def test_platform_decline_pattern():
    def pattern(m):
        names = [v.name for v in m.vendor_list]
        s = sales_by_year(m)
        bb, ios, android = (names.index(n) for n in ("BlackBerry", "iOS", "Android"))
        # tenfold fall within five years of 2009 (by 2014), ecosystems above 90% at the end
        no_government = sum(g.demands_made for g in m.government_list) == 0
        return no_government and s[5, bb] < s[0, bb] / 10 and s[-1, ios] + s[-1, android] > 0.9

    assert holds("platform-decline-2009-2016", pattern) >= REQUIRED_FRACTION


def test_platform_decline_calibrated_fit_within_three_points():
    sc = get_scenario("platform-decline-2009-2016")
    observed = load_observed(sc.extra["observed"], sc.params)
    err = fit_error(observed, simulated_shares(sc.params, list(range(3))))
    assert err["mean"] < 3.0
    for vendor in ("BlackBerry", "iOS", "Android"):
        assert err[vendor] < 3.0, (vendor, err)


@pytest.mark.parametrize("name", list_scenarios())
def test_every_scenario_runs_from_the_cli(name, tmp_path):
    from privmarket.experiments.cli import main

    assert (
        main(
            [
                "run",
                name,
                "--quarters",
                "2",
                "--users",
                "2000",
                "--no-figures",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    assert (tmp_path / "o" / "summary.json").exists()

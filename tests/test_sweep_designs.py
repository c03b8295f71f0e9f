"""Designs (grid, one-at-a-time, LHS, Sobol', Saltelli, Morris), distributions and seeds."""

from __future__ import annotations

import numpy as np
import pytest

from privmarket.experiments.sweep.experiment import Varied
from privmarket.experiments.sweep.seeds import design_rng, run_seed, run_seeds, seeds_for
from privmarket.experiments.sweep.spec import SpecError, parse_experiment

HEAD = """
scenario = "baseline"
quarters = 4
seed = 11
[fixed]
n_users = 500
"""


def exp_of(varied: str, design: str, seed: int = 11):
    return parse_experiment(
        HEAD.replace("seed = 11", f"seed = {seed}")
        + "[varied]\n"
        + varied
        + "\n[design]\n"
        + design
    )


RANGES = """
hazard = { low = 0.05, high = 0.25 }
"vendors.Aegis.stance" = { low = 0.0, high = 1.0 }
contacts_mean_degree = { low = 2, high = 12 }
"""


def test_grid_is_the_full_product_in_order():
    exp = exp_of(
        'hazard = [0.1, 0.2]\n"vendors.Aegis.strategy" = ["principled", "adaptive", "expected_value"]',
        'kind = "grid"',
    )
    assert exp.n_points == 6
    assert [tuple(p.values()) for p in exp.points] == [
        (h, s) for h in (0.1, 0.2) for s in ("principled", "adaptive", "expected_value")
    ]
    # integer parameters are rounded and repeated levels dropped
    exp = exp_of("contacts_mean_degree = { low = 2, high = 4, steps = 5 }", 'kind = "grid"')
    assert [p["contacts_mean_degree"] for p in exp.points] == [2, 3, 4]
    exp = exp_of(
        'demand_rate = { low = 0.01, high = 1.0, steps = 3, distribution = "loguniform" }',
        'kind = "grid"',
    )
    assert [p["demand_rate"] for p in exp.points] == pytest.approx([0.01, 0.1, 1.0])


def test_oat_varies_one_parameter_at_a_time_around_the_base():
    exp = exp_of(
        'hazard = [0.05, 0.2]\n"vendors.Aegis.stance" = { values = [0.0, 1.0], base = 0.5 }',
        'kind = "oat"',
    )
    base = {"hazard": 0.1, "vendors.Aegis.stance": 0.5}  # hazard: the scenario's value
    assert exp.points == [
        base,
        {**base, "hazard": 0.05},
        {**base, "hazard": 0.2},
        {**base, "vendors.Aegis.stance": 0.0},
        {**base, "vendors.Aegis.stance": 1.0},
    ]
    with pytest.raises(SpecError, match="base"):  # countries differ in appetite
        exp_of('"countries.*.appetite" = [0.1, 0.9]', 'kind = "oat"')


def test_lhs_is_stratified_within_bounds_and_seeded():
    exp = exp_of(RANGES, 'kind = "lhs"\nsamples = 20')
    assert exp.n_points == 20 and exp.unit.shape == (20, 3)
    for j in range(3):  # one point in each of the 20 strata of every dimension
        assert sorted((exp.unit[:, j] * 20).astype(int)) == list(range(20))
    hz = [p["hazard"] for p in exp.points]
    assert min(hz) >= 0.05 and max(hz) <= 0.25
    deg = [p["contacts_mean_degree"] for p in exp.points]
    assert all(isinstance(d, int) and 2 <= d <= 12 for d in deg)
    again = exp_of(RANGES, 'kind = "lhs"\nsamples = 20')
    assert again.points == exp.points
    other = exp_of(RANGES, 'kind = "lhs"\nsamples = 20', seed=12)
    assert other.points != exp.points


def test_sobol_saltelli_and_morris_sizes():
    assert exp_of(RANGES, 'kind = "sobol"\nsamples = 16').n_points == 16
    sal = exp_of(RANGES, 'kind = "saltelli"\nsamples = 8')
    assert sal.n_points == 8 * (3 + 2)
    sal2 = exp_of(RANGES, 'kind = "saltelli"\nsamples = 8\nsecond_order = true')
    assert sal2.n_points == 8 * (2 * 3 + 2)
    mor = exp_of(RANGES, 'kind = "morris"\nsamples = 5\nlevels = 4')
    assert mor.n_points == 5 * (3 + 1)
    # Morris points sit on the 4-level grid, and consecutive points of a trajectory
    # differ in exactly one parameter
    assert set(np.round(mor.unit.ravel() * 3, 9)) <= {0.0, 1.0, 2.0, 3.0}
    steps = np.abs(np.diff(mor.unit.reshape(5, 4, 3), axis=1)) > 0
    assert (steps.sum(axis=2) == 1).all()


def test_distributions_map_the_unit_interval():
    exp = exp_of(
        """
        a = 1
        """.replace(
            "a = 1",
            'hazard = { distribution = "normal", mean = 0.1, sd = 0.05, low = 0.02, high = 0.3 }',
        )
        + '\nb_price = { distribution = "triangular", low = 0.5, mode = 1.0, high = 3.0 }'
        + '\ndemand_rate = { distribution = "loguniform", low = 0.01, high = 1.0 }'
        + '\n"vendors.Aegis.strategy" = ["principled", "adaptive"]',
        'kind = "lhs"\nsamples = 200',
    )
    pts = exp.points
    hz = np.array([p["hazard"] for p in pts])
    assert hz.min() >= 0.02 and hz.max() <= 0.3 and abs(np.median(hz) - 0.1) < 0.02
    bp = np.array([p["b_price"] for p in pts])
    assert bp.min() >= 0.5 and bp.max() <= 3.0
    dr = np.array([p["demand_rate"] for p in pts])
    assert dr.min() >= 0.01 and dr.max() <= 1.0 and abs(np.median(np.log10(dr)) + 1) < 0.15
    strat = [p["vendors.Aegis.strategy"] for p in pts]
    assert strat.count("principled") == 100 == strat.count("adaptive")  # LHS: exact halves


def test_run_seeds_follow_seedsequence_spawn():
    root = 2024
    seeds = run_seeds(root, 50)
    children = np.random.SeedSequence(root, spawn_key=(0,)).spawn(50)
    assert seeds == [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children]
    assert seeds == [run_seed(root, i) for i in range(50)]
    assert len(set(seeds)) == 50 and all(0 <= s < 2**63 for s in seeds)
    assert run_seeds(root, 10) == seeds[:10]  # a run's seed does not depend on the run count
    assert run_seeds(root + 1, 5) != seeds[:5]
    # common seeds: replicate k of every point shares a seed
    common = seeds_for(root, 3, 2, common=True)
    assert common == [seeds[0], seeds[1]] * 3
    assert seeds_for(root, 3, 2) == seeds[:6]
    # the design's stream is apart from the runs'
    assert design_rng(root).integers(2**63) not in seeds


def test_a_cut_normal_never_leaves_its_cut_by_a_rounding_error() -> None:
    # The truncated normal's quantile put the one grid level of this range at
    # -5.6e-17, which b_contacts' own range (>= 0) then refused.
    v = Varied(
        "b_contacts", low=0.0, high=0.9375, steps=1, distribution="normal", mean=0.4688, sd=0.7031
    )
    assert all(0.0 <= x <= 0.9375 for x in v.levels())
    assert all(0.0 <= x <= 0.9375 for x in v.from_unit([0.0, 0.5, 1.0]))

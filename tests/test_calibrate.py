"""The joint calibration of the world (``privmarket calibrate``).

A real, small ABC-SMC run through pyabc and the project's executors: it is
deterministic (same seed, same posterior, whatever the workers), the outputs
load, and bad specs and options are refused with one line naming the field.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from privmarket.experiments import calibrate as C
from privmarket.experiments.patterns import PATTERNS, ROUTE_EVENTS, route
from privmarket.sim.model import MarketModel
from privmarket.sim.params import Params


def tiny_spec(**over) -> C.CalibrationSpec:
    spec = dict(
        seed=7,
        population=4,
        generations=2,
        draws=6,
        users=300,
        decline_users=300,
        seeds=1,
        priors={"b_ecosystem": (0.5, 8.0), "ban_cost_weight": (0.5, 20.0)},
    )
    spec.update(over)
    return C.CalibrationSpec(**spec)


# ------------------------------------------------------------------ the spec
def test_the_shipped_spec_names_only_world_parameters():
    spec = C.CalibrationSpec.load()
    world = set(Params.world_fields())
    assert set(spec.priors) - {"business_weight"} <= world
    assert spec.population >= 50 and spec.generations >= 3


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "seed = 1\npopulation = 4\ngenerations = 1\ndraws = 2\nusers = 300\n"
            "decline_users = 300\nseeds = 1\n[priors]\nn_users = [1, 2]\n",
            ["priors", "'n_users'", "not a world parameter"],
        ),
        (
            "seed = 1\npopulation = 4\ngenerations = 1\ndraws = 2\nusers = 300\n"
            "decline_users = 300\nseeds = 1\n[priors]\nhazard = [0.2, 0.1]\n",
            ["'hazard'", "low < high"],
        ),
        (
            "seed = 1\npopulation = 2\ngenerations = 1\ndraws = 2\nusers = 300\n"
            "decline_users = 300\nseeds = 1\n[priors]\nhazard = [0.1, 0.2]\n",
            ["population", "greater than or equal to 4"],
        ),
        (
            "seed = 1\npopulation = 4\ngenerations = 1\ndraws = 2\nusers = 300\n"
            "decline_users = 300\nseeds = 1\nspeed = 3\n[priors]\nhazard = [0.1, 0.2]\n",
            ["speed", "Extra inputs"],
        ),
        ("seed = [", ["not valid TOML"]),
    ],
)
def test_a_bad_spec_names_the_field(tmp_path, text, words):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(C.CalibrationError) as err:
        C.CalibrationSpec.load(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    for w in words:
        assert w in msg, msg


def test_probit_coordinates_cover_the_prior_range_and_stay_inside():
    spec = tiny_spec()
    mid = C.from_unbounded(spec, {"b_ecosystem": 0.0, "ban_cost_weight": 0.0})
    assert mid == pytest.approx({"b_ecosystem": 4.25, "ban_cost_weight": 10.25})
    edge = C.from_unbounded(spec, {"b_ecosystem": -1e6, "ban_cost_weight": 1e6})
    assert 0.5 <= edge["b_ecosystem"] < 0.5 + 1e-9
    assert 20.0 - 1e-9 < edge["ban_cost_weight"] <= 20.0


def test_business_weight_sets_segment_weights():
    up = C.world_updates({"business_weight": 5.0, "hazard": 0.1})
    assert up == {"segment_weights": (1.0, 5.0, 10.0), "hazard": 0.1}
    Params().with_updates(up)  # a valid world


# ---------------------------------------------------------------- the data
def test_observed_shares_and_revenue_are_the_cited_figures():
    shares = C.observed_shares().set_index(["year", "vendor"])["share"]
    # docs/cases.md: BlackBerry 19.9% of 2009 smartphone sales, 0.4% in 2014
    assert shares[(2009, "BlackBerry")] == pytest.approx(0.199)
    assert shares[(2014, "BlackBerry")] == pytest.approx(0.004)
    assert shares[(2014, "Android")] == pytest.approx(0.815)
    revenue = C.observed_revenue()
    assert (revenue["revenue"] > 0).all() and set(revenue["vendor"]) == {"BlackBerry"}


def test_distance_charges_only_shortfalls_and_errors():
    w = C.Weights(patterns=1.0, shares=4.0, revenue=0.5)
    x0 = {"pattern:a:x": 0.7, "share:2010:A": 0.2, "revenue:2010:A": 100.0}
    assert (
        C.distance(w, {"pattern:a:x": 0.9, "share:2010:A": 0.2, "revenue:2010:A": 100.0}, x0) == 0
    )
    d = C.distance(w, {"pattern:a:x": 0.5, "share:2010:A": 0.3, "revenue:2010:A": 200.0}, x0)
    assert d == pytest.approx(0.2 + 4 * 0.1 + 0.5 * math.log(2))


def test_the_problem_observes_every_pattern_and_the_fit_years():
    spec = tiny_spec()
    whole = C.Problem(spec).observed()
    assert sum(k.startswith("pattern:") for k in whole) == sum(
        len(PATTERNS[c]) for c in C.STANDOFFS
    )
    early = C.Problem(spec, fit_years=tuple(range(2009, 2013))).observed()
    years = {int(k.split(":")[1]) for k in early if not k.startswith("pattern:")}
    assert years and max(years) <= 2012


# ------------------------------------------------------- a real calibration
@pytest.fixture(scope="module")
def small_problem():
    return C.Problem(tiny_spec(), cases=("pakistan-2015",), fit_years=(2009, 2010, 2011))


def _run(problem, executor, tmp: Path):
    tmp.mkdir(parents=True, exist_ok=True)
    return C.calibrate(problem, executor, tmp)


class Serial:
    """The simplest executor: ``map`` in this process."""

    def map(self, fn, items):
        return map(fn, items)


def test_a_small_calibration_is_the_same_on_one_or_two_workers(small_problem, tmp_path):
    one = _run(small_problem, Serial(), tmp_path / "one")
    with ProcessPoolExecutor(2) as pool:
        two = _run(small_problem, pool, tmp_path / "two")
    assert len(one.population) == 4 and len(one.sample) == 6
    pd.testing.assert_frame_equal(one.population, two.population)
    pd.testing.assert_frame_equal(one.sample, two.sample)
    assert one.point == two.point
    # inside the priors, weights a distribution, epsilons shrinking
    for name, (lo, hi) in small_problem.spec.priors.items():
        assert one.population[name].between(lo, hi).all()
    assert one.population["weight"].sum() == pytest.approx(1.0)
    assert one.epsilons == sorted(one.epsilons, reverse=True)
    assert len(one.extra["effective_sample_size"]) == small_problem.spec.generations
    assert one.evaluations >= small_problem.spec.population * small_problem.spec.generations


def test_outputs_load_and_the_world_file_is_a_valid_world(small_problem, tmp_path):
    result = _run(small_problem, Serial(), tmp_path / "abc")
    runs = C.posterior_runs(
        result.sample, ["pakistan-2015", C.DECLINE], draws=3, seeds=1, users=300
    )
    assert len(runs) == 6 and set(runs["case"]) == {"pakistan-2015", C.DECLINE}
    out = tmp_path / "out"
    out.mkdir()
    C.write_outputs(result, runs, out)
    for name in C.SHIPPED + ("marginals.png", "calibration.json", "last_generation.parquet"):
        assert (out / name).is_file(), name
    probs = pd.read_csv(out / "patterns.csv")
    assert set(probs["case"]) == {"pakistan-2015", C.DECLINE}
    assert probs["probability"].between(0, 1).all() and (probs["runs"] == 3).all()
    routes = pd.read_csv(out / "routes.csv")
    assert set(routes["case"]) == {"pakistan-2015"}  # the decline is no stand-off
    fit = pd.read_csv(out / "decline_fit.csv")
    assert {"year", "vendor", "observed", "median", "low", "high"} <= set(fit.columns)
    assert (fit["low"] <= fit["median"]).all() and (fit["median"] <= fit["high"]).all()
    bb = fit[(fit.vendor == "BlackBerry") & (fit.year == 2009)].iloc[0]
    assert bb["observed"] == pytest.approx(19.9)
    meta = json.loads((out / "calibration.json").read_text())
    assert meta["seed"] == 7 and meta["point"] == result.point
    # the point estimate is a world file the parameters accept
    import tomllib

    world = tomllib.loads((out / "world.toml").read_text())
    p = Params().with_updates(world["estimate"])
    assert p.b_ecosystem == pytest.approx(result.point["b_ecosystem"])


def test_routes_partition_each_stand_offs_runs_and_agree_with_the_probabilities():
    sample = C.posterior_sample()
    cases = ["pakistan-2015", "us-2016"]
    runs = C.posterior_runs(sample, cases, draws=12, seeds=1, users=600, root_seed=3)
    routes = C.pattern_routes(runs)
    probs = C.pattern_probabilities(runs).set_index(["case", "pattern"])["probability"]
    kinds = {str(k) for k in ROUTE_EVENTS} | {"none"}
    for (case, pattern), g in routes.groupby(["case", "pattern"]):
        assert g["runs"].sum() == 12 and g["share"].sum() == pytest.approx(1.0)
        assert list(g["runs"]) == sorted(g["runs"], reverse=True)  # most common first
        assert (g["held"] <= g["runs"]).all()
        assert g["held"].sum() / 12 == pytest.approx(probs[(case, pattern)])
        for r in g["route"]:
            assert set(r.split(" > ")) <= kinds, r
    # a vendor that gave access to Pakistan never shows "no access" on that route
    pak = routes[(routes["case"] == "pakistan-2015") & (routes["pattern"] == "no-access")]
    granted = pak[pak["route"].str.contains("access granted")]
    assert (granted["held"] == 0).all()


def test_a_route_names_what_happened_between_the_two_parties_only():
    # at the shipped point estimate: the vendor leaves Pakistan in quarter 1 and the
    # handset market later (a failure is the vendor's own, against "market")
    m = MarketModel("pakistan-2015", rng=3, n_users=1500).run()
    assert [str(e.kind) for e in m.events][:3] == ["demand", "country exit", "answer"]
    assert route(m, "BlackBerry", "Pakistan") == "country exit > vendor failure"
    assert route(m, "BlackBerry", "Atlantis") == "vendor failure"
    us = MarketModel("us-2016", rng=1, n_users=3000).run()
    assert route(us, "Apple", "United States") == "back-down"  # demand and answer left out
    assert route(us, "Apple", "Pakistan") == "none"


def test_the_shipped_posterior_is_a_sample_of_valid_worlds():
    sample = C.posterior_sample()
    spec = C.CalibrationSpec.load()
    assert list(sample.columns) == list(spec.priors)
    assert len(sample) == spec.draws
    for name, (lo, hi) in spec.priors.items():
        assert sample[name].between(lo, hi).all(), name
    Params().with_updates(C.world_updates(sample.iloc[0].to_dict()))
    with pytest.raises(C.CalibrationError, match="holdout 'nope': allowed: decline-2009-2012"):
        C.posterior_sample("nope")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--leave-out", "atlantis"], ["--leave-out 'atlantis'", "allowed", "pakistan-2015"]),
        (["--fit-years", "2014-2012"], ["--fit-years '2014-2012'", "before the first"]),
        (["--fit-years", "soon"], ["--fit-years 'soon'", "YEAR or FIRST-LAST"]),
        (["--spec", "missing.toml"], ["missing.toml", "no such file"]),
    ],
)
def test_calibrate_cli_refuses_bad_options_in_one_line(tmp_path, args, words):
    out = tmp_path / "cal"
    r = subprocess.run(
        [sys.executable, "-m", "privmarket.experiments.cli", "calibrate", "--out", str(out), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert not out.exists()  # nothing written, not even an empty folder

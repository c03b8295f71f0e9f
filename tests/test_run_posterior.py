"""``privmarket run SCENARIO --posterior N``: a scenario over the calibrated posterior."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from privmarket.experiments.calibrate import posterior_sample, world_updates
from privmarket.experiments.ensemble import draw_params, draw_seeds, intervals, run_ensemble
from privmarket.experiments.patterns import PATTERNS
from privmarket.sim.scenarios import get_scenario


def cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "privmarket.experiments.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_each_draw_runs_its_world_under_the_users_own_values():
    base = get_scenario("pakistan-2015").params
    theta = posterior_sample().iloc[0].to_dict()
    p = draw_params(base, theta, {"b_price": 0.5, "n_users": 900})
    assert p.b_price == 0.5 and p.n_users == 900  # what the user set wins
    fitted = world_updates(theta)
    other = next(k for k in fitted if k not in ("b_price", "segment_weights"))
    assert getattr(p, other) == pytest.approx(fitted[other])  # the rest is the draw's
    assert p.countries == base.countries  # the case's facts are untouched


def test_seeds_depend_on_the_root_seed_only():
    assert draw_seeds(3, 5) == draw_seeds(3, 5)[:5] == draw_seeds(3, 8)[:5]
    assert draw_seeds(3, 5) != draw_seeds(4, 5)
    assert len(set(draw_seeds(0, 50))) == 50


def test_intervals_are_probabilities_for_verdicts_and_quantiles_for_numbers():
    runs = pd.DataFrame(
        {"draw": range(10), "seed": range(10), "x": range(10), "ok": [True] * 7 + [False] * 3}
    )
    t = intervals(runs).set_index("outcome")
    assert t.loc["ok", "kind"] == "probability" and t.loc["ok", "value"] == 0.7
    assert 0.4 < t.loc["ok", "low"] < 0.7 < t.loc["ok", "high"] < 0.95
    assert t.loc["x", "value"] == 4.5 and t.loc["x", "low"] < 1 and t.loc["x", "high"] > 8


def test_run_ensemble_reports_the_cases_patterns():
    runs, quarters = run_ensemble("uk-2025", draws=3, seed=1, updates={"n_users": 800})
    assert len(runs) == 3 and runs["seed"].tolist() == draw_seeds(1, 3)
    for p in PATTERNS["uk-2025"]:
        assert runs[f"pattern.{p.key}"].dtype == bool
    assert set(quarters["draw"]) == {0, 1, 2}
    assert len(quarters) == 3 * len(quarters[quarters.draw == 0])


def test_cli_posterior_runs_are_the_same_on_one_or_two_workers(tmp_path):
    args = ["run", "pakistan-2015", "--posterior", "4", "--users", "800", "--seed", "5"]
    one = cli(*args, "--workers", "1", "--out", "one", "--no-figures", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    two = cli(*args, "--workers", "2", "--out", "two", cwd=tmp_path)
    assert two.returncode == 0, two.stderr
    a = pd.read_parquet(tmp_path / "one" / "runs.parquet")
    b = pd.read_parquet(tmp_path / "two" / "runs.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert (tmp_path / "two" / "bands.png").stat().st_size > 10_000
    table = pd.read_csv(tmp_path / "two" / "intervals.csv")
    pats = table[table.outcome.str.startswith("pattern.")]
    assert len(pats) == len(PATTERNS["pakistan-2015"])
    assert pats["value"].between(0, 1).all() and (pats["runs"] == 4).all()
    assert "patterns (probability over posterior draws" in two.stdout
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["posterior_draws"] == 4 and summary["seed"] == 5


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--posterior", "0"], ["--posterior 0", "1 or more"]),
        (["--posterior", "100000"], ["--posterior 100000", "draws", "from 1 to"]),
        (["--workers", "2"], ["--workers", "only with --posterior"]),
        (["--posterior", "2", "--workers", "0"], ["--workers 0", "at least 1"]),
        (["--posterior", "2", "--set", "hazard=7"], ["hazard", "7"]),
    ],
)
def test_cli_posterior_refuses_bad_input_in_one_line(tmp_path, args, words):
    r = cli("run", "pakistan-2015", "--users", "500", "--out", "o", *args, cwd=tmp_path)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    assert not (tmp_path / "o").exists()

"""Analysis of sweep results: Sobol' and Morris indices, survival maps, discovery, figures, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from privmarket.experiments.analysis import (
    bands_figure,
    discover,
    heatmap_figure,
    morris_indices,
    outcome_figure,
    point_summary,
    sensitivity_figure,
    sobol_indices,
    survival_map,
    tradeoff_figure,
)
from privmarket.experiments.cli import main
from privmarket.experiments.sweep.runner import run_sweep
from privmarket.experiments.sweep.store import load_manifest, load_results, load_series
from tests.faults import Faulty

# ``start_year`` only labels quarters: with common seeds, outcomes cannot depend on it,
# so its sensitivity indices must be exactly zero while hazard's are not.
SENSITIVITY = """\
quarters = 6
seed = 8
common_seeds = true
[fixed]
n_users = 1500
[varied]
hazard = {{ low = 0.02, high = 0.4 }}
start_year = {{ low = 2000, high = 2030 }}
[design]
kind = "{kind}"
samples = {samples}
"""

GRID = """\
quarters = 8
replicates = 3
seed = 21
[fixed]
n_users = 1500
[varied]
"vendors.Aegis.stance" = [0.0, 0.5, 1.0]
"countries.*.appetite" = [0.1, 0.9]
[design]
kind = "grid"
[outputs]
series = ["privacy_exposure", "Aegis.installed_share"]
[analysis]
outcome = "Aegis.installed_share"
discover = "Aegis.installed_share > 0.04"
"""


def sweep(tmp_path_factory, name: str, text: str):
    tmp = tmp_path_factory.mktemp(name)
    (tmp / "exp.toml").write_text(text)
    report = run_sweep(tmp / "exp.toml", tmp / "out", workers=2, progress=False, echo=None)
    assert report.exit_code == 0
    return tmp / "out"


@pytest.fixture(scope="module")
def saltelli(tmp_path_factory):
    return sweep(tmp_path_factory, "sal", SENSITIVITY.format(kind="saltelli", samples=16))


@pytest.fixture(scope="module")
def morris(tmp_path_factory):
    return sweep(tmp_path_factory, "mor", SENSITIVITY.format(kind="morris", samples=12))


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return sweep(tmp_path_factory, "grid", GRID)


def test_sobol_indices_find_the_parameter_that_matters(saltelli):
    si = sobol_indices(saltelli, "hhi")
    assert list(si.index) == ["hazard", "start_year"]
    assert list(si.columns) == ["S1", "S1_conf", "ST", "ST_conf"]
    assert si.loc["start_year", "ST"] == pytest.approx(0.0, abs=1e-12)
    assert si.loc["start_year", "S1"] == pytest.approx(0.0, abs=1e-12)
    assert si.loc["hazard", "ST"] > 0.3  # (16 base samples: a rough estimate of 1)
    assert (si[["S1_conf", "ST_conf"]] >= 0).all().all()
    # same from a frame plus its manifest
    same = sobol_indices(load_results(saltelli), "out.hhi", manifest=load_manifest(saltelli))
    pd.testing.assert_frame_equal(si, same)


def test_morris_indices_find_the_parameter_that_matters(morris):
    mi = morris_indices(morris, "hhi")
    assert list(mi.columns) == ["mu", "mu_star", "sigma", "mu_star_conf"]
    assert mi.loc["start_year", "mu_star"] == 0.0 and mi.loc["start_year", "sigma"] == 0.0
    assert mi.loc["hazard", "mu_star"] > 0


def test_indices_refuse_the_wrong_design_and_unknown_outcomes(saltelli, morris, grid):
    with pytest.raises(ValueError, match="saltelli"):
        sobol_indices(grid, "hhi")
    with pytest.raises(ValueError, match="morris"):
        morris_indices(saltelli, "hhi")
    with pytest.raises(ValueError, match="unknown outcome 'hhhi'.*privacy_exposure"):
        sobol_indices(saltelli, "hhhi")
    with pytest.raises(ValueError, match="same at every design point"):
        sobol_indices(saltelli, "quarters")


def test_sobol_indices_need_every_point(tmp_path):
    text = SENSITIVITY.format(kind="saltelli", samples=4)
    (tmp_path / "exp.toml").write_text(text)
    run_sweep(
        tmp_path / "exp.toml",
        tmp_path / "out",
        backend="serial",
        progress=False,
        echo=None,
        work=Faulty("raise", {3}),
    )
    with pytest.raises(ValueError, match=r"1 point\(s\) have no ok run \(3\)"):
        sobol_indices(tmp_path / "out", "hhi")


def test_survival_map_is_the_mean_per_cell(grid):
    df = load_results(grid)
    m = survival_map(grid, "vendors.Aegis.stance", "countries.*.appetite", outcome="Aegis.alive")
    assert list(m.columns) == [0.0, 0.5, 1.0] and list(m.index) == [0.1, 0.9]
    assert ((m >= 0) & (m <= 1)).all().all()
    assert (m.attrs["n"] == 3).all().all()
    cell = df[(df["param.vendors.Aegis.stance"] == 0.5) & (df["param.countries.*.appetite"] == 0.9)]
    assert m.loc[0.9, 0.5] == pytest.approx(cell["out.Aegis.alive"].mean())
    default = survival_map(df, "param.vendors.Aegis.stance", "countries.*.appetite")
    pd.testing.assert_frame_equal(default, m)  # the first vendor's survival by default
    with pytest.raises(ValueError, match="unknown varied parameter 'hazard'"):
        survival_map(grid, "hazard", "countries.*.appetite")


def test_point_summary(grid):
    s = point_summary(grid, "Aegis.installed_share")
    assert len(s) == 6 and (s["n"] == 3).all()
    assert list(s.columns[:3]) == ["point", "vendors.Aegis.stance", "countries.*.appetite"]
    df = load_results(grid)
    assert s.loc[0, "mean"] == pytest.approx(
        df.loc[df["point"] == 0, "out.Aegis.installed_share"].mean()
    )


def planted(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """Runs where the outcome holds exactly when a >= 0.6 and b <= 0.3 (c is noise)."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.random(n), rng.random(n), rng.random(n)
    kind = rng.choice(["x", "y"], n)
    return pd.DataFrame(
        {
            "run": range(n),
            "point": range(n),
            "status": "ok",
            "param.a": a,
            "param.b": b,
            "param.c": c,
            "param.kind": kind,
            "out.good": (a >= 0.6) & (b <= 0.3),
            "out.score": a - b,
        }
    )


@pytest.mark.parametrize("method", ["prim", "tree"])
def test_discover_recovers_a_planted_box(method):
    df = planted()
    found = discover(df, "good", method=method, threshold=0.95)
    assert found.n == 400 and found.positives == int(df["out.good"].sum())
    best = found.boxes[0]
    assert set(best.limits) == {"a", "b"}  # the noise parameters are not restricted
    lo_a, hi_a = best.limits["a"]
    lo_b, hi_b = best.limits["b"]
    assert 0.55 <= lo_a <= 0.65 and hi_a is None
    assert lo_b is None and 0.25 <= hi_b <= 0.35
    assert best.density >= 0.9 and best.coverage >= 0.8
    assert "a >=" in found.text() and "b <=" in found.text()
    assert list(found.table().columns) == ["box", "rule", "density", "coverage", "mass", "runs"]


def test_discover_comparisons_and_categories():
    df = planted()
    df["out.kind_x"] = (df["param.kind"] == "x") & (df["param.a"] > 0.5)
    found = discover(df, "kind_x", method="tree")
    assert found.boxes[0].limits["kind"] == ["x"]
    found = discover(df, "score > 0.5", method="prim")
    assert found.boxes and found.boxes[0].density > 0.8
    with pytest.raises(ValueError, match="not true/false"):
        discover(df, "score")
    with pytest.raises(ValueError, match="allowed: prim, tree"):
        discover(df, "good", method="forest")


def test_discover_on_real_results(grid):
    found = discover(grid, "Aegis.installed_share > 0.04")
    assert found.n == 18 and "PRIM" in found.text()
    assert isinstance(tradeoff_figure(found), Figure)


def test_figures(grid, saltelli, morris, tmp_path):
    figs = [
        outcome_figure(grid, "Aegis.alive"),
        heatmap_figure(survival_map(grid, "vendors.Aegis.stance", "countries.*.appetite")),
        sensitivity_figure(sobol_indices(saltelli, "privacy_exposure")),
        sensitivity_figure(morris_indices(morris, "hhi")),
        bands_figure(grid, "privacy_exposure"),
        bands_figure(load_series(grid), "Aegis.installed_share", grid, by="vendors.Aegis.stance"),
    ]
    for i, fig in enumerate(figs):
        assert isinstance(fig, Figure) and fig.axes
        fig.savefig(tmp_path / f"{i}.png")
        assert (tmp_path / f"{i}.png").stat().st_size > 5000
    assert len(figs[0].axes) == 2
    by = figs[5].axes[0].get_legend().get_texts()
    assert [t.get_text().split(" (")[0] for t in by] == [
        "vendors.Aegis.stance = 0.0",
        "vendors.Aegis.stance = 0.5",
        "vendors.Aegis.stance = 1.0",
    ]
    with pytest.raises(ValueError, match="no per-quarter column 'hhi'"):
        bands_figure(grid, "hhi")


def test_analyze_command_writes_tables_and_figures(grid, saltelli, tmp_path, capsys):
    assert main(["analyze", str(grid), "--out", str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert "outcome 'Aegis.installed_share'" in out and "PRIM" in out
    names = {p.name for p in (tmp_path / "g").iterdir()}
    assert {"points.csv", "outcome.png", "heatmap.png", "heatmap.csv", "bands.png"} <= names
    assert {"discovery.txt", "discovery.csv", "prim_tradeoff.png", "analysis.json"} <= names
    assert main(["analyze", str(saltelli), "--outcome", "privacy_exposure"]) == 0
    out = capsys.readouterr().out
    assert "Sobol' indices for privacy_exposure" in out and "start_year" in out
    assert (saltelli / "analysis" / "sobol.csv").is_file()
    assert main(["analyze", str(grid), "--outcome", "nonsense", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown outcome 'nonsense'" in err and "privacy_exposure" in err
    assert main(["analyze", str(tmp_path / "nowhere")]) == 2
    assert "not a sweep results folder" in capsys.readouterr().err

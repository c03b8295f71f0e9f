"""Analysis of sweep results: indices, drivers, survival maps, discovery, runs left out, CLI."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from privmarket.experiments.analysis import (
    bands_figure,
    discover,
    driver_text,
    heatmap_figure,
    index_intervals,
    leading_driver,
    morris_indices,
    outcome_figure,
    point_summary,
    runs_used,
    sensitivity_figure,
    sobol_indices,
    survival_map,
    tradeoff_figure,
)
from privmarket.experiments.cli import main
from privmarket.experiments.sweep.runner import run_sweep
from privmarket.experiments.sweep.store import load_manifest, load_results, load_series

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
discover = "privacy_exposure > 0.2"
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
    with pytest.raises(TypeError, match="unknown option.*'conf_levle'.*allowed: manifest"):
        morris_indices(morris, "hhi", conf_levle=0.9)


def failing(df: pd.DataFrame, runs: list[int], error: str = "RuntimeError: boom (at x.py:1)"):
    """A copy of ``df`` in which ``runs`` are recorded failed, with empty outcomes."""
    df = df.copy()
    rows = df["run"].isin(runs)
    df.loc[rows, "status"] = "failed"
    df.loc[rows, "error"] = error
    for c in df.columns:
        if c.startswith("out."):
            if df[c].dtype == bool:  # as the loader gives a column with gaps
                df[c] = df[c].astype("boolean")
            elif pd.api.types.is_integer_dtype(df[c]):
                df[c] = df[c].astype("Int64")
            df.loc[rows, c] = pd.NA
    return df


def test_sobol_indices_need_every_point(saltelli):
    df = failing(load_results(saltelli), [3])
    with pytest.raises(ValueError, match=r"1 point\(s\) have no ok run with a finite hhi \(3\)"):
        sobol_indices(df, "hhi", manifest=load_manifest(saltelli))


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
    assert best.density >= 0.95 and best.coverage >= 0.8
    assert "a >=" in found.text() and "b <=" in found.text()
    assert "density" in found.text() and "coverage" in found.text()
    table = found.table()
    assert list(table.columns) == [
        "box",
        "rule",
        "density",
        "coverage",
        "mass",
        "runs",
        "meets_threshold",
    ]
    assert table.loc[0, "density"] == best.density and table.loc[0, "runs"] == best.n
    # The box's figures are those of the runs inside it.
    inside = (df["param.a"] >= lo_a) & (df["param.b"] <= hi_b)
    assert best.n == inside.sum()
    assert best.density == pytest.approx(df.loc[inside, "out.good"].mean())


def test_prim_is_ema_workbench_prim_and_keeps_its_statistics():
    """The chosen box is an entry of EMA's own peeling trajectory, with EMA's figures."""
    from ema_workbench.analysis.prim import Prim

    df = planted(n=300, seed=4)
    found = discover(df, "good", threshold=0.8, significance=0.0)  # keep every restriction
    x = df[["param.a", "param.b", "param.c", "param.kind"]].rename(columns=lambda c: c[6:])
    box = Prim(x, df["out.good"].to_numpy()).find_box()
    pt = box.peeling_trajectory
    assert len(found.trajectory) == len(pt)
    meeting = pt[(pt["density"] >= 0.8) & (pt["res_dim"] > 0)]
    top = meeting.sort_values(["coverage", "res_dim"], ascending=[False, True]).iloc[0]
    chosen = found.boxes[0]
    assert (chosen.density, chosen.coverage, chosen.n) == (
        pytest.approx(top["density"]),
        pytest.approx(top["coverage"]),
        top["n"],
    )
    assert all(0 <= p <= 1 for p in chosen.p_values.values())


def test_prim_says_plainly_when_no_box_meets_the_threshold():
    rng = np.random.default_rng(99)
    n = 300
    df = planted(n=n, seed=3)
    df["out.coin"] = rng.random(n) < 0.3  # unrelated to any parameter
    found = discover(df, "coin", threshold=0.9)
    assert found.boxes == [] and found.best is not None
    assert found.best.density < 0.9
    text = found.text()
    assert "no box reaches the density threshold 0.90" in text
    assert f"density {found.best.density:.2f}" in text and "not a finding" in text
    assert found.table()["meets_threshold"].tolist() == [False]
    assert isinstance(tradeoff_figure(found), Figure)
    # A condition that holds in most runs already: the box is the exception carved out.
    df["out.mostly"] = df["param.a"] > 0.05
    found = discover(df, "mostly", threshold=0.8)
    assert list(found.boxes[0].limits) == ["a"] and found.boxes[0].density == 1.0
    df["out.always"], df["out.never"] = True, False
    assert "without any restriction" in discover(df, "always").text()
    never = discover(df, "never")
    assert never.boxes == [] and "no box reaches the density threshold" in never.text()
    with pytest.raises(ValueError, match="threshold 1.5"):
        discover(df, "coin", threshold=1.5)


def test_discover_comparisons_and_categories():
    df = planted()
    df["out.kind_x"] = (df["param.kind"] == "x") & (df["param.a"] > 0.5)
    found = discover(df, "kind_x", method="tree")
    assert found.boxes[0].limits["kind"] == ["x"]
    found = discover(df, "kind_x", method="prim", threshold=0.9)
    assert found.boxes[0].limits["kind"] == ["x"]  # EMA's categorical limits, read from box_lims
    found = discover(df, "score > 0.5", method="prim")
    assert found.boxes and found.boxes[0].density > 0.8
    with pytest.raises(ValueError, match="not true/false"):
        discover(df, "score")
    with pytest.raises(ValueError, match="allowed: prim, tree"):
        discover(df, "good", method="forest")


def test_discover_is_repeatable():
    df = planted(seed=7)
    for method in ("prim", "tree"):
        a, b = discover(df, "good", method=method), discover(df, "good", method=method)
        assert a.text() == b.text()


def test_discover_on_real_results(grid):
    found = discover(grid, "privacy_exposure > 0.2")
    assert found.n == 18 and "PRIM" in found.text()
    assert isinstance(tradeoff_figure(found), Figure)


# --------------------------------------------------------- runs left out
def test_runs_left_out_are_counted_and_explained():
    df = planted(n=20)
    df["out.score"] = df["out.score"].astype("float64")
    df.loc[[0, 1], "status"] = "failed"
    df["error"] = None
    df.loc[[0, 1], "error"] = "ValueError: bad world (at sim/model.py:12)"
    df.loc[[0, 1], "out.score"] = np.nan
    df.loc[2, "out.score"] = np.nan
    df.loc[[3, 4, 5], "out.score"] = [np.inf, -np.inf, np.inf]
    used, left_out = runs_used(df, "score")
    assert len(used) == 14 and np.isfinite(used["out.score"]).all()
    assert (left_out.failed, left_out.no_value, left_out.infinite) == (2, 1, 3)
    assert (left_out.count, left_out.used, left_out.recorded) == (6, 14, 20)
    assert left_out.reasons == (("ValueError: bad world", 2),)
    assert left_out.text() == (
        "left out 6 of 20 runs for score: 2 failed (2 x ValueError: bad world); "
        "1 with no value (empty or NaN); 3 with an infinite value; 14 used"
    )
    # Every analysis of the outcome carries the count, and averages only what it used.
    s = point_summary(df, "score")
    assert s.attrs["left_out"] == left_out and s["n"].sum() == 14
    assert np.isfinite(s["mean"]).all()
    found = discover(df, "score > 0", method="tree")
    assert found.n == 14 and found.left_out == left_out
    assert "left out 6 of 20 runs for score" in found.text()
    _, none_left = runs_used(planted(n=20), "score")
    assert none_left.count == 0 and "all 20 runs used" in none_left.text()


def test_survival_map_never_averages_over_infinite_values(grid):
    df = load_results(grid)
    df["out.hhi"] = df["out.hhi"].astype("float64")
    df.loc[0, "out.hhi"] = np.inf
    df = failing(df, [1])
    m = survival_map(df, "vendors.Aegis.stance", "countries.*.appetite", outcome="hhi")
    assert np.isfinite(m.to_numpy()).all()
    assert m.attrs["left_out"].infinite == 1 and m.attrs["left_out"].failed == 1
    assert m.attrs["n"].to_numpy().sum() == len(df) - 2


def test_analyze_states_the_runs_it_left_out(grid, tmp_path, capsys, monkeypatch):
    """The command says how many runs it left out and why, for the outcome and the discovery."""
    import privmarket.experiments.analysis as analysis

    real = analysis.load_results

    def with_trouble(folder):
        df = real(folder)
        df["out.Aegis.installed_share"] = df["out.Aegis.installed_share"].astype("float64")
        df.loc[df["run"] == 5, "out.Aegis.installed_share"] = np.inf
        return failing(df, [0, 7], error="MemoryError: out of memory (at sim/model.py:1)")

    monkeypatch.setattr(analysis, "load_results", with_trouble)
    assert main(["analyze", str(grid), "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    line = (
        "left out 3 of 18 runs for Aegis.installed_share: 2 failed "
        "(2 x MemoryError: out of memory); 1 with an infinite value; 15 used"
    )
    assert out.count(line) == 1  # for the outcome
    # and for the discovery's condition (on privacy_exposure, which is finite)
    assert (
        "left out 2 of 18 runs for privacy_exposure: 2 failed "
        "(2 x MemoryError: out of memory); 16 used"
    ) in out
    assert "over 15 runs" in out
    points = pd.read_csv(tmp_path / "a" / "points.csv")
    assert points["n"].sum() == 15 and np.isfinite(points["mean"]).all()


# ------------------------------------------------------- naming drivers
def indices_frame(rows: dict[str, tuple[float, float]], index: str = "ST") -> pd.DataFrame:
    return pd.DataFrame(
        {index: [v for v, _ in rows.values()], f"{index}_conf": [c for _, c in rows.values()]},
        index=pd.Index(list(rows), name="parameter"),
    )


def test_a_driver_whose_interval_spans_zero_is_never_named():
    # The case notebook 03 used to get wrong: S1 1.00 +- 1.46 named as the driver.
    si = indices_frame({"b_contacts": (1.00, 1.46), "hazard": (0.30, 0.40)}, index="S1")
    assert leading_driver(si, "S1") is None
    text = driver_text(si, "S1")
    assert "too small" in text and "**" not in text  # nothing is named in bold
    iv = index_intervals(si, "S1")
    assert not iv["resolved"].any()
    assert iv.loc["b_contacts", "low"] == pytest.approx(-0.46)


def test_a_resolved_and_separated_driver_is_named():
    si = indices_frame({"a": (0.2, 0.1), "b": (0.9, 0.1), "c": (0.01, 0.3)})
    assert leading_driver(si) == "b"
    assert driver_text(si).startswith("**b** (ST 0.90, 95% interval 0.80 to 1.00")


def test_overlapping_resolved_parameters_are_not_ranked():
    si = indices_frame({"a": (0.6, 0.2), "b": (0.5, 0.2), "c": (0.1, 0.2)})
    assert leading_driver(si) is None
    text = driver_text(si)
    assert "**a**" in text and "**b**" in text and "**c**" not in text
    assert "cannot say which matters most" in text


def test_drivers_from_real_indices(saltelli, morris):
    si = sobol_indices(saltelli, "hhi")
    iv = index_intervals(si)
    assert list(iv.index) == ["hazard", "start_year"]
    assert not iv.loc["start_year", "resolved"]  # exactly zero: never a driver
    assert leading_driver(si) in (None, "hazard")
    mi = morris_indices(morris, "hhi")
    assert index_intervals(mi).attrs["index"] == "mu_star"
    with pytest.raises(ValueError, match="no index 'S2'"):
        index_intervals(si, "S2")


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


def test_analyze_discover_reports_density_and_coverage(grid, tmp_path, capsys):
    # On this grid exposure above 0.2 holds in 8 runs, all at the high appetite
    # (9 runs): a box of density 8/9 that covers every run where it holds.
    args = ["analyze", str(grid), "--discover", "privacy_exposure > 0.2"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "holds in 8 of 18 runs" in out
    assert "box (density threshold 0.80): countries.*.appetite >= 0.5" in out
    assert "density 0.89 (holds in 8 of its 9 runs), coverage 1.00" in out
    found = discover(grid, "privacy_exposure > 0.2")
    assert (tmp_path / "a" / "discovery.txt").read_text().strip() == found.text()
    # Above 0.5 it holds in 2 runs, both at the high appetite and a stance of 0:
    # no box is dense enough (2 of 3 at best) until the threshold is 0.5.
    args = ["analyze", str(grid), "--discover", "privacy_exposure > 0.5"]
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "holds in 2 of 18 runs" in out
    assert "no box reaches the density threshold 0.80; the densest box PRIM found" in out
    assert "density 0.67 (holds in 2 of its 3 runs)" in out and "not a finding" in out
    assert main([*args, "--threshold", "0.5", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert (
        "box (density threshold 0.50): vendors.Aegis.stance <= 0.25 and "
        "countries.*.appetite >= 0.5" in out
    )
    assert main([*args, "--method", "tree", "--out", str(tmp_path / "t")]) == 0
    assert "decision tree: 'privacy_exposure > 0.5'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--threshold", "1.5"], "--threshold 1.5: allowed: a density above 0 and at most 1"),
        (["--discover", "nonsense > 1"], "unknown outcome 'nonsense'"),
        (["--discover", "hhi"], "outcome 'hhi' is not true/false"),
    ],
)
def test_analyze_refuses_bad_discovery_input_before_writing(grid, tmp_path, capsys, extra, message):
    out = tmp_path / "never"
    assert main(["analyze", str(grid), *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_notebook_03_names_drivers_only_through_the_interval_check():
    """The notebook's drivers come from driver_text, never from the largest point estimate."""
    import nbformat

    path = Path(__file__).resolve().parent.parent / "notebooks" / "03-survival-map.ipynb"
    code = "\n".join(
        c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
    )
    assert "driver_text(" in code
    assert not re.search(r"\[\s*[\"'](?:S1|ST)[\"']\s*\]\s*\.idxmax\(", code)


@pytest.mark.parametrize("text", ['{"format": "privmarket-sweep/1"}', '{"design": {}}', "[1, 2]"])
def test_analyze_refuses_a_foreign_manifest_in_one_line(tmp_path, capsys, text):
    (tmp_path / "manifest.json").write_text(text)
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "sweep manifest" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists()

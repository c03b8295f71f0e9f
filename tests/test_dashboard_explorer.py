"""The sweep explorer without a browser: paths below the root, loading, analysis, reruns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ipyvuetify as v
import numpy as np
import pytest
import solara

from privmarket.dashboard import explorer as E
from privmarket.dashboard import state
from privmarket.dashboard.live import LiveModel, LiveSettings, compare_outcomes

TOML = """
name = "unit"
description = "explorer unit tests"
scenario = "baseline"
quarters = 5
replicates = 2
seed = 3

[fixed]
n_users = 1500

[varied]
"vendors.Aegis.stance" = [0.2, 1.0]
"countries.*.appetite" = [0.1, 0.9]

[design]
kind = "grid"
"""


SAMPLED = """
name = "{kind}-unit"
scenario = "baseline"
quarters = 4
replicates = 1
seed = 5

[fixed]
n_users = 800

[varied]
"vendors.Aegis.stance" = {{ low = 0.0, high = 1.0 }}
privacy_salience = {{ low = 0.2, high = 3.0 }}

[design]
kind = "{kind}"
samples = {samples}
"""


def sweep_into(root: Path, text: str, name: str) -> Path:
    """Run ``privmarket sweep`` (a real process) on an experiment file; the results folder."""
    exp = root / f"{name}.toml"
    exp.write_text(text)
    out = root / "sweeps" / name
    script = Path(sys.executable).with_name("privmarket")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "privmarket.experiments.cli"]
    done = subprocess.run(
        [*cmd, "sweep", str(exp), "--out", str(out), "--backend", "serial", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A results root with one grid sweep written by ``privmarket sweep``."""
    root = tmp_path_factory.mktemp("root")
    sweep_into(root, TOML, "unit")
    (root / "not-a-sweep").mkdir()
    return root


@pytest.fixture(scope="module")
def sweep(root) -> E.Sweep:
    return E.load_sweep(root / "sweeps" / "unit", "sweeps/unit")


# -------------------------------------------------------------------- paths
def test_paths_below_the_root_open(root):
    assert E.resolve_under(root, "sweeps/unit") == (root / "sweeps" / "unit").resolve()
    assert E.resolve_under(root, str(root / "sweeps" / "unit")) == (root / "sweeps/unit").resolve()
    assert E.resolve_under(root, "sweeps/../sweeps/unit").name == "unit"


@pytest.mark.parametrize("text", ["../..", "..", "/etc", "sweeps/../../..", "~"])
def test_paths_outside_the_root_are_refused(root, text):
    with pytest.raises(E.ExplorerError, match="outside the results root"):
        E.resolve_under(root, text)


def test_symlinks_cannot_escape_the_root(root, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "manifest.json").write_text("{}")
    link = root / "sneaky"
    if not link.exists():
        os.symlink(outside, link)
    with pytest.raises(E.ExplorerError, match="outside the results root"):
        E.resolve_under(root, "sneaky")


def test_non_sweep_folders_and_missing_ones_are_explained(root):
    with pytest.raises(E.ExplorerError, match="not a sweep results folder"):
        E.resolve_under(root, "not-a-sweep")
    with pytest.raises(E.ExplorerError, match="no such folder"):
        E.resolve_under(root, "nope")
    with pytest.raises(E.ExplorerError, match="type the path"):
        E.resolve_under(root, "  ")


@pytest.mark.parametrize("text", ["x" * 256, "sweeps/" + "y" * 300, "a/" * 3000, "z" * 5000])
def test_file_system_errors_of_a_users_path_are_one_line(root, text):
    with pytest.raises(E.ExplorerError) as err:
        E.resolve_under(root, text)
    message = str(err.value)
    assert "\n" not in message and len(message) < 400
    assert "no such folder" in message or "cannot open" in message


def _copy_sweep(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_manifest_or_chunks_linked_outside_the_root_is_refused(root, tmp_path):
    outside = _copy_sweep(root / "sweeps" / "unit", tmp_path / "outside-sweep")
    # manifest.json is a link to a file outside the root
    a = root / "linked-manifest"
    a.mkdir(exist_ok=True)
    (a / "chunks").mkdir(exist_ok=True)
    if not (a / "manifest.json").is_symlink():
        os.symlink(outside / "manifest.json", a / "manifest.json")
    with pytest.raises(E.ExplorerError, match="manifest.json is a link to a file outside"):
        E.resolve_under(root, "linked-manifest")
    # the chunks folder is a link to a folder outside
    b = root / "linked-chunks"
    b.mkdir(exist_ok=True)
    (b / "manifest.json").write_bytes((outside / "manifest.json").read_bytes())
    if not (b / "chunks").is_symlink():
        os.symlink(outside / "chunks", b / "chunks", target_is_directory=True)
    with pytest.raises(E.ExplorerError, match="chunks folder is a link to a folder outside"):
        E.resolve_under(root, "linked-chunks")
    # one chunk file is a link to a file outside
    c = _copy_sweep(root / "sweeps" / "unit", root / "linked-chunk-file")
    chunk = sorted((c / "chunks").glob("runs-*.parquet"))[0]
    chunk.unlink()  # a chunk of the test's own copy of a sweep, replaced by a link
    os.symlink(outside / "chunks" / chunk.name, chunk)
    with pytest.raises(E.ExplorerError, match="is a link to a file outside"):
        E.resolve_under(root, "linked-chunk-file")
    # links that stay inside the root are fine
    d = root / "linked-inside"
    d.mkdir(exist_ok=True)
    (d / "manifest.json").write_bytes((root / "sweeps/unit/manifest.json").read_bytes())
    if not (d / "chunks").is_symlink():
        os.symlink(root / "sweeps" / "unit" / "chunks", d / "chunks", target_is_directory=True)
    assert E.resolve_under(root, "linked-inside") == d.resolve()
    for name in ("linked-manifest", "linked-chunks", "linked-chunk-file", "linked-inside"):
        assert name not in E.find_sweeps(root) or name == "linked-inside"


def test_find_sweeps_lists_results_folders_only(root):
    assert os.path.join("sweeps", "unit") in E.find_sweeps(root)
    assert "not-a-sweep" not in E.find_sweeps(root)


# ------------------------------------------------------------ load, analyse
def test_load_sweep(sweep):
    assert sweep.params == ["vendors.Aegis.stance", "countries.*.appetite"]
    assert "Aegis.alive" in sweep.outcomes and "privacy_exposure" in sweep.outcomes
    assert sweep.counts() == {"ok": 8, "failed": 0, "missing": 0, "runs": 8}
    assert E.default_outcome(sweep).endswith(".alive")
    assert E.default_axes(sweep) == ("vendors.Aegis.stance", "countries.*.appetite")


def test_main_effects_are_shares_of_variance(sweep):
    eff = E.main_effects(sweep, "Aegis.installed_share")
    assert list(eff.index) == sweep.params
    assert ((eff["eta2"] >= 0) & (eff["eta2"] <= 1 + 1e-12)).all()
    # an outcome that does not vary has no effects
    flat = E.main_effects(sweep, "quarters")
    assert (flat["eta2"] == 0).all()


def test_main_effect_of_a_parameter_that_decides_the_outcome(sweep):
    s = E.Sweep(sweep.path, sweep.label, sweep.manifest, sweep.runs.copy(), sweep.params)
    s.runs["out.fake"] = (s.runs["param.vendors.Aegis.stance"] > 0.5).astype(float)
    s.outcomes = [*sweep.outcomes, "fake"]
    eff = E.main_effects(s, "fake")
    assert eff.loc["vendors.Aegis.stance", "eta2"] == pytest.approx(1.0)
    assert eff.loc["countries.*.appetite", "eta2"] == pytest.approx(0.0)


def test_charts_are_built_with_readable_labels_and_units(sweep):
    spec, rows, note = E.sensitivity(sweep, "privacy_exposure")
    assert "First-order" in note and len(rows) == len(sweep.params)
    assert {r["parameter"] for r in rows} == {
        "Aegis: privacy stance",
        "every country: surveillance appetite",
    }
    spec, rows = E.survival(sweep, *E.default_axes(sweep), "Aegis.alive")
    assert spec["layer"][0]["encoding"]["color"]["scale"]["scheme"] == "viridis"
    assert spec["encoding"]["x"]["title"] == "Aegis: privacy stance"
    assert all(0 <= r["value"] <= 100 for r in rows) and sum(r["n"] for r in rows) == 8
    assert spec["layer"][1]["mark"]["fontSize"] >= 12  # figures in the cells are readable
    chosen = E.group_runs(sweep, "vendors.Aegis.stance", "1.0")
    assert len(chosen) == 4 and set(chosen["param.vendors.Aegis.stance"]) == {1.0}
    spec, rows = E.distribution(sweep, "privacy_exposure", chosen, "x")
    # exposure is shown in % on both pages
    assert spec["layer"][0]["encoding"]["x"]["title"] == "Privacy exposure (%)"
    stored = sweep.ok["out.privacy_exposure"].astype(float)
    top = max(r["hi"] for r in rows if "hi" in r)
    assert top == pytest.approx(100 * stored.max())


@pytest.mark.parametrize("kind,samples,expect", [("saltelli", 8, "Sobol"), ("morris", 4, "Morris")])
def test_sensitivity_uses_the_design_s_own_indices(tmp_path, kind, samples, expect):
    out = sweep_into(tmp_path, SAMPLED.format(kind=kind, samples=samples), kind)
    s = E.load_sweep(out)
    spec, rows, note = E.sensitivity(s, "privacy_exposure")
    assert note.startswith(expect), note
    assert len(rows) == 2 * len(s.params)  # two measures per parameter
    assert any(r["lo"] is not None for r in rows)  # with intervals
    # sampled values are binned into groups for the distribution panel
    assert 1 < len(E.groups(s, "privacy_salience")) <= 8


def test_groups(sweep):
    assert E.groups(sweep, "vendors.Aegis.stance") == ["0.2", "1.0"]
    assert E.groups(sweep, E.POINT) == ["0", "1", "2", "3"]
    assert E.groups(sweep, E.ALL_RUNS) == [E.ALL_RUNS]
    assert len(E.group_runs(sweep, E.POINT, "2")) == 2
    assert len(E.group_runs(sweep, E.ALL_RUNS, E.ALL_RUNS)) == 8


# ------------------------------------------------------------------ reruns
@pytest.mark.parametrize("run", [0, 5])
def test_a_rerun_reproduces_the_stored_run(sweep, run):
    s = E.run_settings(sweep, run)
    row = sweep.runs[sweep.runs["run"] == run].iloc[0]
    assert s.seed == str(int(row["seed"])) and s.scenario == "baseline"
    assert f"run {run} of sweep 'unit'" in s.source
    m = LiveModel(settings=s)
    assert m.params.vendor("Aegis").stance == row["param.vendors.Aegis.stance"]
    while m.running:
        m.step()
    assert m.quarter == 5
    assert s.expected and compare_outcomes(m.summary(), dict(s.expected)) == []


def test_compare_outcomes_reports_differences():
    assert compare_outcomes({"a": 1.0, "b": True}, {"a": 1.0, "b": True}) == []
    diff = compare_outcomes({"a": 1.5, "b": True}, {"a": 1.0, "b": False, "c": 3})
    assert len(diff) == 2 and diff[0].startswith("a: stored 1.0, now 1.5")


def test_editing_a_rerun_drops_the_reproduction_claim(sweep):
    s = E.run_settings(sweep, 1)
    edited = s.edited(s.with_stance("Aegis", 0.55))
    assert edited.expected == () and "changed settings" in edited.source
    assert s.edited(s) is s


# ------------------------------------------------------------------- page
def test_explorer_page_opens_a_folder_and_reruns_live(root, monkeypatch):
    monkeypatch.setenv("PRIVMARKET_RESULTS_ROOT", str(root))
    state.explorer_path.value = None
    state.model.value = None
    _, rc = solara.render(solara.AppLayout(children=[E.ExplorerPage()]), handle_error=False)
    try:
        rc.find(v.TextField, label="or type a folder path").widget.v_model = "../.."
        rc.find(v.Btn, children=["Open"]).widget.click()
        errors = [c for w in rc.find(v.Alert).widgets for c in w.children if isinstance(c, str)]
        assert any("outside the results root" in e for e in errors)
        rc.find(v.Select, label="Results folder").widget.v_model = "sweeps/unit"
        assert state.explorer_path.value == str((root / "sweeps" / "unit").resolve())
        drawn = {
            w.name: json.loads(w.rows)
            for w in rc.find(v.VuetifyTemplate).widgets
            if hasattr(w, "rows") and hasattr(w, "spec")
        }
        assert set(drawn) == {"survival", "sensitivity", "distribution"}
        assert all(drawn.values())
        buttons = [w for w in rc.find(v.Btn).widgets if str(w.children[0]).startswith("Rerun")]
        assert len(buttons) == 4  # the runs of the first group (Aegis stance 0.2)
        buttons[1].click()
        m = state.model.value
        assert m is not None and "run 1 of sweep 'unit'" in m.settings.source
        assert m.params.n_users == 1500 and m.params.quarters == 5
        stored = E.load_sweep(root / "sweeps" / "unit").runs.set_index("run").loc[1, "seed"]
        assert m.seed == int(stored)
        np.testing.assert_equal(m.quarter, 0)
    finally:
        rc.close()
        state.explorer_path.value = None
        state.model.value = None
        state.settings.value = LiveSettings.for_scenario("baseline")

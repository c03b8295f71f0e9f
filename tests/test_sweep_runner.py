"""The sweep runner with real worker processes: determinism, storage, faults, resume, Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from privmarket.experiments.sweep.runner import run_sweep
from privmarket.experiments.sweep.seeds import seeds_for
from privmarket.experiments.sweep.spec import load_experiment
from privmarket.experiments.sweep.store import (
    SweepDirError,
    load_manifest,
    load_results,
    load_series,
)
from privmarket.sim.model import MarketModel
from tests.faults import Faulty, command

BASE = """\
name = "runner-test"
scenario = "baseline"
quarters = 6
replicates = 2
seed = 99

[fixed]
n_users = 1500

[varied]
"vendors.Aegis.stance" = [0.2, 0.9]
"countries.*.appetite" = { low = 0.1, high = 0.9, steps = 3 }

[design]
kind = "grid"

[outputs]
series = ["privacy_exposure", "Aegis.installed_share"]
"""
N_RUNS = 12
PRIVMARKET = [sys.executable, "-m", "privmarket.experiments.cli"]


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_seconds"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted sweep, one worker process."""
    tmp = tmp_path_factory.mktemp("ref")
    exp = write(tmp, BASE)
    report = run_sweep(exp, tmp / "out", workers=1, progress=False, echo=None)
    assert report.exit_code == 0 and report.ok == N_RUNS
    return tmp / "out"


def test_results_layout_and_manifest(reference):
    df = load_results(reference)
    assert len(df) == N_RUNS and (df["status"] == "ok").all()
    assert list(df.columns[:9]) == [
        "run",
        "point",
        "replicate",
        "seed",
        "status",
        "error",
        "wall_seconds",
        "param.vendors.Aegis.stance",
        "param.countries.*.appetite",
    ]
    assert {"out.privacy_exposure", "out.Aegis.alive", "out.hhi"} <= set(df.columns)
    assert df["run"].tolist() == list(range(N_RUNS))
    assert (df["point"] == df["run"] // 2).all() and (df["replicate"] == df["run"] % 2).all()
    assert df["seed"].tolist() == seeds_for(99, 6, 2)
    assert (df["wall_seconds"] > 0).all()
    m = load_manifest(reference)
    assert m["experiment_text"] == BASE and m["n_runs"] == N_RUNS
    assert m["seeds"] == df["seed"].tolist()
    assert m["status"] == ["ok"] * N_RUNS and m["counts"] == {"ok": 12, "failed": 0, "missing": 0}
    assert {"privmarket", "mesa", "numpy", "pandas", "pyarrow", "python"} <= set(m["versions"])
    assert m["started"] and m["finished"] and m["sessions"][0]["ended"]
    assert m["design"]["points"][1] == [0.2, 0.5]
    chunks = sorted(p.name for p in (reference / "chunks").iterdir())
    assert chunks and all(not n.startswith(".") for n in chunks)  # no temporary files left
    series = load_series(reference)
    assert len(series) == N_RUNS * 7  # quarters 0..6
    assert list(series.columns) == [
        "run",
        "point",
        "replicate",
        "quarter",
        "privacy_exposure",
        "Aegis.installed_share",
    ]


def test_a_stored_run_is_reproduced_by_its_parameters_and_seed(reference):
    df = load_results(reference)
    exp = load_experiment(reference.parent / "exp.toml")
    row = df.iloc[7]
    model = MarketModel(exp.params_for(int(row["point"])), rng=int(row["seed"])).run()
    for key, value in model.summary().items():
        got = row[f"out.{key}"]
        assert (pd.isna(got) and value is None) or got == value, key


def test_same_results_for_one_or_two_workers_any_batching(reference, tmp_path):
    exp = write(tmp_path, BASE)
    two = run_sweep(
        exp, tmp_path / "two", workers=2, batch_size=1, chunk_size=3, progress=False, echo=None
    )
    serial = run_sweep(
        exp, tmp_path / "serial", backend="serial", batch_size=5, progress=False, echo=None
    )
    assert two.exit_code == serial.exit_code == 0
    ref = comparable(load_results(reference))
    pd.testing.assert_frame_equal(comparable(load_results(tmp_path / "two")), ref)
    pd.testing.assert_frame_equal(comparable(load_results(tmp_path / "serial")), ref)
    pd.testing.assert_frame_equal(load_series(tmp_path / "two"), load_series(reference))
    assert len(list((tmp_path / "two" / "chunks").glob("runs-*.parquet"))) > 1


def test_a_run_that_raises_is_recorded_failed_and_the_rest_finish(reference, tmp_path, capsys):
    exp = write(tmp_path, BASE)
    argv, env = command(
        Faulty("raise", {5}), "sweep", str(exp), "--out", str(tmp_path / "o"), "--workers", "2"
    )
    done = subprocess.run(argv + ["--no-progress"], env=env, capture_output=True, text=True)
    out = done.stdout
    code = done.returncode
    assert code == 1, done.stdout + done.stderr
    assert "11 ok, 1 failed" in out and "run 5 failed: RuntimeError: deliberate failure" in out
    df = load_results(tmp_path / "o")
    assert df.loc[df["run"] == 5, "status"].item() == "failed"
    assert "deliberate failure in run 5" in df.loc[df["run"] == 5, "error"].item()
    assert df.loc[df["run"] == 5, "out.hhi"].isna().all()
    ok = df["status"] == "ok"
    pd.testing.assert_frame_equal(
        comparable(df[ok]).drop(columns=["error"]),
        comparable(load_results(reference))[ok.to_numpy()]
        .reset_index(drop=True)
        .drop(columns=["error"]),
        check_dtype=False,
    )
    m = load_manifest(tmp_path / "o")
    assert m["status"][5] == "failed" and "deliberate" in m["errors"]["5"]
    # resuming skips recorded runs, failed ones included, unless asked to retry them
    again = run_sweep(exp, tmp_path / "o", workers=1, progress=False, echo=None)
    assert again.ran == 0 and again.failed == 1 and again.exit_code == 1
    fault = Faulty("raise", {5})
    retry = run_sweep(
        exp, tmp_path / "o", workers=1, retry_failed=True, progress=False, echo=None, work=fault
    )
    assert retry.ran == 1 and retry.failed == 1  # the fault fails it again
    healed = run_sweep(exp, tmp_path / "o", workers=1, retry_failed=True, progress=False, echo=None)
    assert healed.ran == 1 and healed.failed == 0 and healed.exit_code == 0
    assert len(load_results(tmp_path / "o")) == N_RUNS


@pytest.mark.parametrize("kind", ["crash", "kill"])
def test_a_worker_that_dies_fails_only_its_own_run(reference, tmp_path, kind):
    exp = write(tmp_path, BASE)
    report = run_sweep(
        exp,
        tmp_path / "o",
        workers=2,
        batch_size=3,
        progress=False,
        echo=None,
        work=Faulty(kind, {2, 9}),
    )
    assert report.exit_code == 1 and report.failed == 2 and report.ok == N_RUNS - 2
    assert report.pool_restarts >= 2
    df = load_results(tmp_path / "o")
    failed = df[df["status"] == "failed"]
    assert failed["run"].tolist() == [2, 9]
    assert failed["error"].str.contains("worker process died").all()
    ok = df["status"] == "ok"
    ref = comparable(load_results(reference))
    pd.testing.assert_frame_equal(
        comparable(df[ok]).drop(columns=["error"]),
        ref[ok.to_numpy()].reset_index(drop=True).drop(columns=["error"]),
        check_dtype=False,
    )
    assert "2 failed" in report.text()


def test_another_experiment_in_the_folder_is_refused(reference, tmp_path):
    other = write(tmp_path, BASE.replace("seed = 99", "seed = 100"))
    before = {p.name: p.stat().st_mtime_ns for p in reference.rglob("*")}
    with pytest.raises(SweepDirError, match="different experiment"):
        run_sweep(other, reference, workers=1, progress=False, echo=None)
    assert {p.name: p.stat().st_mtime_ns for p in reference.rglob("*")} == before
    # a comment or a new name is not a different experiment
    same = write(
        tmp_path, BASE.replace('name = "runner-test"', 'name = "renamed"') + "# note\n", "s.toml"
    )
    assert run_sweep(same, reference, workers=1, progress=False, echo=None).ran == 0
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    with pytest.raises(SweepDirError, match="not a sweep results folder"):
        run_sweep(other, stray, workers=1, progress=False, echo=None)


def test_progress_bar_shows_done_failed_and_time_left(tmp_path, capsys):
    exp = write(tmp_path, BASE)
    run_sweep(exp, tmp_path / "o", backend="serial", progress=True, work=Faulty("raise", {1}))
    captured = capsys.readouterr()
    assert "12/12 runs" in captured.err and "failed 1" in captured.err
    assert "<" in captured.err  # elapsed<remaining
    assert "12 runs (6 points x 2 replicates, grid design)" in captured.out


# ------------------------------------------------------ kill, Ctrl-C, resume
SLOW = BASE.replace("replicates = 2", "replicates = 4")
N_SLOW = 24
#: Every run sleeps first, so that a kill or Ctrl-C lands mid-sweep (no numbers change).
SLEEP = Faulty("sleep", seconds=0.15)


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("slowref")
    exp = write(tmp, SLOW)
    report = run_sweep(exp, tmp / "out", workers=2, progress=False, echo=None)
    assert report.ok == N_SLOW
    return comparable(load_results(tmp / "out")), load_series(tmp / "out")


def _start(exp: Path, out: Path) -> subprocess.Popen:
    argv, env = command(SLEEP, "sweep", str(exp), "--out", str(out), "--workers", "2")
    return subprocess.Popen(
        argv + ["--batch-size", "2", "--chunk-size", "2", "--no-progress"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_chunks(out: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        chunks = list((out / "chunks").glob("runs-*.parquet")) if (out / "chunks").exists() else []
        if len(chunks) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no chunk written in time")


def _alive_in_group(pgid: int) -> list[str]:
    ps = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True)
    return [line for line in ps.stdout.splitlines() if line.split()[1][0] != "Z"]


def test_resume_after_sigkill_equals_the_uninterrupted_sweep(slow_reference, tmp_path):
    slow = write(tmp_path, SLOW)
    out = tmp_path / "o"
    proc = _start(slow, out)
    try:
        _wait_for_chunks(out, 2, proc)
        os.kill(proc.pid, signal.SIGKILL)  # the runner only, mid-sweep
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10  # its workers notice and leave
        while _alive_in_group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive_in_group(proc.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    done = load_results(out)
    assert 0 < len(done) < N_SLOW and (done["status"] == "ok").all()
    # the killed session never finished; resuming with the same file finishes only the rest
    assert load_manifest(out)["sessions"][0]["ended"] is None
    report = run_sweep(slow, out, workers=2, progress=False, echo=None)
    assert report.already == len(done) and report.ran == N_SLOW - len(done)
    assert report.exit_code == 0
    ref, ref_series = slow_reference
    pd.testing.assert_frame_equal(comparable(load_results(out)), ref)
    pd.testing.assert_frame_equal(load_series(out), ref_series)
    m = load_manifest(out)
    assert len(m["sessions"]) == 2 and m["counts"]["ok"] == N_SLOW and m["finished"]


def test_ctrl_c_stops_cleanly_keeps_finished_runs_and_resumes(slow_reference, tmp_path):
    slow = write(tmp_path, SLOW)
    out = tmp_path / "o"
    proc = _start(slow, out)
    try:
        _wait_for_chunks(out, 1, proc)
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        stdout, stderr = proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 15
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stdout and "rerun the same command" in stdout
    kept = load_results(out)
    assert 0 < len(kept) < N_SLOW and (kept["status"] == "ok").all()
    m = load_manifest(out)
    assert m["sessions"][0]["interrupted"] is True and m["counts"]["ok"] == len(kept)
    assert not [p for p in (out / "chunks").iterdir() if p.name.startswith(".")]
    report = run_sweep(slow, out, workers=2, progress=False, echo=None)
    assert report.ran == N_SLOW - len(kept) and report.exit_code == 0
    ref, ref_series = slow_reference
    pd.testing.assert_frame_equal(comparable(load_results(out)), ref)
    pd.testing.assert_frame_equal(load_series(out), ref_series)


def test_load_results_with_missing_runs_and_stray_temp_files(tmp_path):
    exp = write(tmp_path, BASE)
    run_sweep(
        exp,
        tmp_path / "o",
        backend="serial",
        batch_size=4,
        chunk_size=4,
        progress=False,
        echo=None,
        work=Faulty("raise", {3}),
    )
    chunks = tmp_path / "o" / "chunks"
    # a half-written chunk left by a killed writer is never read
    (chunks / ".runs-0009-000001.parquet.tmp-1234").write_bytes(b"PAR1 garbage")
    first = sorted(chunks.glob("runs-*.parquet"))[0]
    first.unlink()  # as if that chunk had never been committed
    for s in chunks.glob("series-*.parquet"):
        if s.name.removeprefix("series-") == first.name.removeprefix("runs-"):
            s.unlink()
    df = load_results(tmp_path / "o")
    assert 0 < len(df) < N_RUNS
    full = load_results(tmp_path / "o", include_missing=True)
    assert full["run"].tolist() == list(range(N_RUNS))
    missing = full[full["status"] == "missing"]
    assert len(missing) == N_RUNS - len(df)
    assert missing["param.vendors.Aegis.stance"].notna().all()
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["n_runs"] == N_RUNS
    report = run_sweep(
        exp, tmp_path / "o", backend="serial", progress=False, echo=None, work=Faulty("raise", {3})
    )
    assert report.ran == N_RUNS - len(df) and report.failed == 1
    assert not list(chunks.glob(".*"))  # the stray temporary file was cleaned up

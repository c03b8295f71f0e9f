"""Fault injection for sweeps: every attack ends in a correct resumed result or a clear refusal.

Attacks, each against real runner and worker processes and real files:

* SIGKILL of the runner at seeded random points (during start-up, or after a
  random number of committed runs plus a random delay), each followed by a
  resume that may itself be killed; the end result must equal an
  uninterrupted sweep, and the folder must be consistent after every kill.
* A worker process killed from outside, by its PID, while the sweep runs.
* A full disk (a small tmpfs as root; otherwise a file-size limit, which gives
  EFBIG instead of ENOSPC) and a read-only results folder (a read-only bind
  mount as root, else ``chattr +i``, else file modes when not root).
* A truncated chunk, chunks with bytes flipped at seeded random positions,
  and chunks replaced by empty or foreign files.
* A manifest from a different experiment, and a chunk from another sweep, in
  the results folder.

``PRIVMARKET_HARDENING=full`` runs the heavier forms (more kill points, more
worker kills, more corrupted bytes); see docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from privmarket.experiments.sweep.runner import run_sweep
from privmarket.experiments.sweep.store import (
    SweepDirError,
    load_manifest,
    load_results,
    load_series,
)
from tests.faults import Faulty, command

FULL = os.environ.get("PRIVMARKET_HARDENING", "").strip().lower() == "full"
#: Pretend not to be root (no mounts, no chattr): exercises the fallbacks.
NO_ROOT = os.environ.get("PRIVMARKET_HARDENING_NO_ROOT", "") == "1"
IS_ROOT = os.geteuid() == 0 and not NO_ROOT

RUNNER_KILLS = 30 if FULL else 5
WORKER_KILLS = 8 if FULL else 2
FLIPPED_BYTES = 300 if FULL else 12
REPLICATES = 8 if FULL else 3
N_RUNS = 12 * REPLICATES

EXP = f"""\
name = "faults"
scenario = "baseline"
quarters = 6
replicates = {REPLICATES}
seed = 4242

[fixed]
n_users = 1500

[varied]
"vendors.Aegis.stance" = [0.2, 0.6, 1.0]
"countries.*.appetite" = {{ low = 0.2, high = 0.8, steps = 4 }}

[design]
kind = "grid"

[outputs]
series = ["privacy_exposure", "Aegis.installed_share"]
"""
OTHER = EXP.replace("seed = 4242", "seed = 4343").replace('name = "faults"', 'name = "other"')
PRIVMARKET = [sys.executable, "-m", "privmarket.experiments.cli"]
#: Every run of a started sweep sleeps first, so that kills land mid-sweep (no numbers change).
SLEEP = Faulty("sleep", seconds=0.15 if FULL else 0.08)


# ----------------------------------------------------------------- helpers
def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_seconds"]).reset_index(drop=True)


def write(folder: Path, text: str = EXP, name: str = "exp.toml") -> Path:
    p = folder / name
    p.write_text(text)
    return p


def start(exp: Path, out: Path, *extra: str, **kw) -> subprocess.Popen:
    """``privmarket sweep`` (slow runs) as its own process group (so its workers can be found)."""
    argv, env = command(SLEEP, "sweep", str(exp), "--out", str(out), "--workers", "2")
    return subprocess.Popen(
        [*argv, "--no-progress", *extra],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, process group, state) of a process, from /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2]), fields[0]


def processes() -> dict[int, tuple[int, int, str]]:
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _stat(int(d.name))
            if st is not None:
                out[int(d.name)] = st
    return out


def alive_in_group(pgid: int) -> list[int]:
    return [p for p, (_, g, state) in processes().items() if g == pgid and state != "Z"]


def wait_group_gone(pgid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while alive_in_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = alive_in_group(pgid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    assert not left, f"processes of the killed sweep still running: {left}"


def workers_of(runner: int) -> list[int]:
    """Worker processes of a runner: children of its fork server (children of the runner)."""
    procs = processes()
    servers = [p for p, (pp, _, _) in procs.items() if pp == runner]
    return [p for p, (pp, _, st) in procs.items() if pp in servers and st != "Z"]


def committed(out: Path) -> int:
    """Runs held by committed runs chunks right now."""
    n = 0
    for f in (out / "chunks").glob("runs-*.parquet") if (out / "chunks").is_dir() else []:
        with contextlib.suppress(Exception):  # a file replaced while read
            n += pq.read_metadata(f).num_rows
    return n


def wait_committed(out: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> bool:
    """Wait until ``n`` runs are committed; False if the sweep ended first."""
    deadline = time.monotonic() + timeout
    while committed(out) < n:
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.01)
    return True


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_consistent(out: Path, ref: tuple[pd.DataFrame, pd.DataFrame]) -> int:
    """A folder after a fault: what it holds is correct, nothing mixed; returns runs held."""
    if not (out / "manifest.json").exists():
        # killed before the manifest was written: nothing may be committed
        assert committed(out) == 0
        return 0
    m = load_manifest(out)
    assert m["n_runs"] == N_RUNS
    df = load_results(out)
    if len(df):
        assert (df["status"] == "ok").all()
        assert df["run"].is_unique
        want = ref[0].set_index("run").loc[df["run"]].reset_index()
        pd.testing.assert_frame_equal(comparable(df), want, check_dtype=False)
        series = load_series(out)
        ref_series = ref[1][ref[1]["run"].isin(df["run"])].reset_index(drop=True)
        pd.testing.assert_frame_equal(series, ref_series, check_dtype=False)
    return len(df)


def assert_complete(out: Path, ref: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The folder equals the uninterrupted sweep, runs and series, and is tidy."""
    pd.testing.assert_frame_equal(comparable(load_results(out)), ref[0])
    pd.testing.assert_frame_equal(load_series(out), ref[1])
    m = load_manifest(out)
    assert m["counts"] == {"ok": N_RUNS, "failed": 0, "missing": 0}, m["counts"]
    assert m["status"] == ["ok"] * N_RUNS and m["finished"]
    assert not [p for p in (out / "chunks").iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The uninterrupted sweep of the same experiment file."""
    tmp = tmp_path_factory.mktemp("reference")
    report = run_sweep(write(tmp), tmp / "out", workers=2, progress=False, echo=None)
    assert report.exit_code == 0 and report.ok == N_RUNS
    return comparable(load_results(tmp / "out")), load_series(tmp / "out")


@pytest.fixture(scope="module")
def finished(reference, tmp_path_factory) -> Path:
    """A finished results folder of the experiment, in small chunks (copied by tests)."""
    tmp = tmp_path_factory.mktemp("finished")
    out = tmp / "out"
    report = run_sweep(
        write(tmp), out, backend="serial", chunk_size=5, batch_size=5, progress=False, echo=None
    )
    assert report.exit_code == 0
    assert_complete(out, reference)
    return out


def copy_of(folder: Path, dest: Path) -> Path:
    shutil.copytree(folder, dest)
    return dest


def resume_in_process(exp: Path, out: Path):
    return run_sweep(exp, out, backend="serial", progress=False, echo=None)


# ------------------------------------------------------- runner SIGKILLed
def test_runner_sigkilled_at_random_points_then_resumed_equals_uninterrupted(
    reference, tmp_path, record_property
):
    rng = random.Random(20151130)
    exp = write(tmp_path)
    out = tmp_path / "o"
    landed: list[str] = []
    kills = 0
    for k in range(RUNNER_KILLS):
        before = committed(out)
        proc = start(exp, out, "--batch-size", "1", "--chunk-size", str(rng.choice([1, 2, 3])))
        try:
            if rng.random() < 0.25:  # during start-up: imports, validation, first writes
                delay = rng.uniform(0.05, 2.5)
                time.sleep(delay)
                where = f"{delay:.2f} s after start"
            else:  # after a share of what is left, so the kills spread over the sweep
                span = max(1, (N_RUNS - before - 2) // (RUNNER_KILLS - k))
                target = before + rng.randrange(0, span + 1)
                if not wait_committed(out, target, proc):
                    landed.append(f"kill {k + 1}: the sweep finished first")
                    break
                delay = rng.uniform(0.0, 0.15)
                time.sleep(delay)
                where = f"{delay:.2f} s after {target} runs were committed"
            if proc.poll() is not None:
                landed.append(f"kill {k + 1}: the sweep finished first ({where})")
                break
            os.kill(proc.pid, signal.SIGKILL)  # the runner only; its workers must notice
            proc.wait(timeout=10)
            kills += 1
        finally:
            wait_group_gone(proc.pid)
            proc.stdout.close()
            proc.stderr.close()
        held = assert_consistent(out, reference)
        landed.append(f"kill {k + 1}: {where}; {held} runs held after it")
    proc = start(exp, out)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout + stderr
    assert "Traceback" not in stderr
    assert_complete(out, reference)
    record_property("kill_points", json.dumps(landed))
    print("\n" + "\n".join(landed))
    assert kills >= min(RUNNER_KILLS, 3), landed


# -------------------------------------------------------- worker SIGKILLed
def test_worker_processes_killed_from_outside_mid_run(reference, tmp_path, record_property):
    rng = random.Random(7)
    exp = write(tmp_path)
    out = tmp_path / "o"
    proc = start(exp, out, "--batch-size", "2", "--chunk-size", "2")
    killed: list[str] = []
    try:
        for k in range(WORKER_KILLS):
            target = rng.randrange(1, N_RUNS * (k + 1) // (WORKER_KILLS + 1) + 2)
            if not wait_committed(out, target, proc):
                break
            time.sleep(rng.uniform(0.0, 0.1))
            pids = workers_of(proc.pid)
            if not pids:
                continue  # the pool is being renewed
            victim = rng.choice(sorted(pids))
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
                killed.append(f"worker {victim} after {committed(out)} runs")
            time.sleep(0.3)  # let the runner notice before the next kill
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    record_property("worker_kills", json.dumps(killed))
    assert len(killed) >= 1, "no worker was killed"
    assert "Traceback" not in stderr and "worker pool restarted" in stdout
    record_property("pool_restarts", stdout.split("worker pool restarted ")[1].split("x")[0])
    if proc.returncode == 1:
        # A run whose worker was killed twice while it ran alone is blamed: recorded
        # failed, with the reason, never dropped; --retry-failed finishes it.
        df = load_results(out)
        blamed = df[df["status"] == "failed"]
        assert len(blamed) and blamed["error"].str.contains("worker process died").all()
        assert len(df) == N_RUNS
        record_property("runs_blamed", len(blamed))
        report = run_sweep(exp, out, workers=2, retry_failed=True, progress=False, echo=None)
        assert report.ran == len(blamed) and report.exit_code == 0
    else:
        assert proc.returncode == 0, stdout + stderr
        assert f"{N_RUNS} ok, 0 failed, 0 missing" in stdout
    assert_complete(out, reference)


def test_workers_killed_while_idle_before_the_next_submit(reference, tmp_path):
    """Every worker of a started pool killed while no task is out: the next submit finds
    the pool broken. The sweep must renew it and finish, not stop with a traceback."""
    from privmarket.experiments.sweep.backends import LocalBackend

    exp = write(tmp_path)
    be = LocalBackend(workers=2)
    try:
        be.executor.submit(os.getpid).result(timeout=60)  # start the workers
        pids = list(be.executor._processes)
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not be.executor._broken and time.monotonic() < deadline:
            time.sleep(0.02)
        assert be.executor._broken, "the pool did not notice its dead workers"
        report = run_sweep(exp, tmp_path / "o", backend=be, progress=False, echo=None)
    finally:
        be.close(cancel=True)
    assert report.exit_code == 0 and report.pool_restarts >= 1, report.text()
    assert_complete(tmp_path / "o", reference)


# ------------------------------------------------------- full disk, read-only
@contextlib.contextmanager
def small_disk(path: Path, size: int) -> Iterator[str]:
    """A filesystem of ``size`` bytes at ``path``: a tmpfs (root) or ``None`` (fallback)."""
    path.mkdir(parents=True, exist_ok=True)
    if IS_ROOT:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            try:
                yield "tmpfs"
            finally:
                subprocess.run(["umount", "-l", str(path)], capture_output=True)
            return
    yield "rlimit"


def _limit_file_size(limit: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_full_disk_stops_cleanly_and_resumes_after_space_is_freed(
    reference, finished, tmp_path, record_property
):
    exp = write(tmp_path)
    disk = tmp_path / "disk"
    manifest_size = (finished / "manifest.json").stat().st_size
    chunk = max(f.stat().st_size for f in (finished / "chunks").glob("runs-*.parquet"))
    # room for the manifest written twice (atomic replace) and about two chunks of 5 runs
    size = ((2 * manifest_size + 2 * chunk + 16_384) // 4096 + 1) * 4096
    with small_disk(disk, size) as how:
        record_property("full_disk_method", how)
        out = disk / "o"
        if how == "tmpfs":
            proc = start(exp, out, "--chunk-size", "5")
        else:  # no mount: a file-size limit makes the big chunk write fail (EFBIG)
            proc = start(exp, out, "--chunk-size", str(N_RUNS), preexec_fn=_limit_file_size(chunk))
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2, stdout + stderr
        assert "Traceback" not in stderr and stderr.count("\n") == 1, stderr
        expected = "No space left on device" if how == "tmpfs" else "File too large"
        assert stderr.startswith("privmarket sweep: error: ") and expected in stderr, stderr
        held = assert_consistent(out, reference)
        assert held < N_RUNS
        assert not list((out / "chunks").glob(".*")), "a half-written file was left"
        if how == "tmpfs":  # free space: grow the filesystem, then resume
            subprocess.run(
                ["mount", "-o", "remount,size=64m", str(disk)], check=True, capture_output=True
            )
        report = resume_in_process(exp, out)
        assert report.exit_code == 0 and report.already == held
        assert_complete(out, reference)
        record_property("full_disk_runs_kept", held)


def test_disk_full_before_anything_is_written(reference, tmp_path):
    exp = write(tmp_path)
    disk = tmp_path / "disk"
    with small_disk(disk, 64 * 1024) as how:
        if how != "tmpfs":
            pytest.skip("needs a mountable tmpfs (root); the file-size-limit case covers the rest")
        filler = disk / "filler"
        with contextlib.suppress(OSError), filler.open("wb") as fh:
            fh.write(b"\0" * (64 * 1024))
        out = disk / "o"
        proc = start(exp, out)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2 and "No space left on device" in stderr, stderr
        assert "Traceback" not in stderr
        filler.unlink()  # free space (and room for the whole sweep)
        subprocess.run(
            ["mount", "-o", "remount,size=64m", str(disk)], check=True, capture_output=True
        )
        report = resume_in_process(exp, out)
        assert report.exit_code == 0
        assert_complete(out, reference)


def _can_write(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


def _run(*cmd: str) -> bool:
    return subprocess.run(list(cmd), capture_output=True).returncode == 0


def _ro_mount(folder: Path):
    if not _run("mount", "--bind", str(folder), str(folder)):
        return None
    if not _run("mount", "-o", "remount,bind,ro", str(folder)):
        _run("umount", "-l", str(folder))
        return None
    return lambda: _run("umount", "-l", str(folder))


def _ro_chattr(folder: Path):
    dirs = [str(d) for d in (folder, *folder.rglob("*")) if d.is_dir()]
    if not _run("chattr", "+i", *dirs):
        return None
    return lambda: _run("chattr", "-i", *dirs)


def _ro_chmod(folder: Path):
    modes = {d: d.stat().st_mode for d in (folder, *folder.rglob("*")) if d.is_dir()}
    for d in modes:
        d.chmod(0o555)

    def undo() -> None:
        for d, mode in modes.items():
            d.chmod(mode)

    return undo


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """Make ``folder`` (and what is below it) read-only; yields how.

    Tries a read-only bind mount, then ``chattr +i`` (both need root's
    capabilities), then file modes (enough unless the process may override
    them, as root usually may), keeping the first that really stops a write.
    """
    methods = [("chmod 555", _ro_chmod)]
    if IS_ROOT:
        methods = [("read-only bind mount", _ro_mount), ("chattr +i", _ro_chattr), *methods]
    for how, make in methods:
        undo = make(folder)
        if undo is None:
            continue
        if _can_write(folder):
            undo()
            continue
        try:
            yield how
        finally:
            undo()
        return
    pytest.skip("cannot make a read-only folder here (root without mount or chattr)")


def test_read_only_results_folder_is_refused_untouched_then_resumes(
    reference, finished, tmp_path, record_property
):
    exp = write(tmp_path)
    # a fresh, empty, read-only folder
    empty = tmp_path / "empty"
    empty.mkdir()
    with read_only(empty) as how:
        record_property("read_only_method", how)
        proc = start(exp, empty)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2, stdout + stderr
        assert "not writable" in stderr and "Traceback" not in stderr, stderr
        assert list(empty.iterdir()) == []
    # a half-done sweep (two chunks missing), read-only: refused, not a byte changed
    out = copy_of(finished, tmp_path / "half")
    for f in sorted((out / "chunks").glob("runs-*.parquet"))[-2:]:
        f.unlink()
    held = len(load_results(out))
    before = tree_digest(out)
    with read_only(out):
        proc = start(exp, out)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2, stdout + stderr
        assert "not writable" in stderr and "Traceback" not in stderr, stderr
        assert tree_digest(out) == before
    report = resume_in_process(exp, out)
    assert report.exit_code == 0 and report.already == held
    assert_complete(out, reference)


def test_read_only_chunks_folder_is_refused_before_any_run(reference, finished, tmp_path):
    exp = write(tmp_path)
    out = copy_of(finished, tmp_path / "half")
    for f in sorted((out / "chunks").glob("runs-*.parquet"))[-2:]:
        f.unlink()
    before = tree_digest(out)
    with read_only(out / "chunks"):
        t0 = time.monotonic()
        proc = start(exp, out)
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 2, stdout + stderr
        assert "not writable" in stderr and "chunks" in stderr and "Traceback" not in stderr
        assert tree_digest(out) == before, "the refused sweep changed the folder"
        assert time.monotonic() - t0 < 60
    assert resume_in_process(exp, out).exit_code == 0
    assert_complete(out, reference)


# ------------------------------------------------------- damaged chunks
def _refused_on_load(out: Path, name: str) -> str:
    with pytest.raises(SweepDirError) as info:
        load_results(out)
    msg = str(info.value)
    assert name in msg, msg
    return msg


def _resume_sets_aside(exp: Path, out: Path, name: str, reference) -> None:
    lines: list[str] = []
    report = run_sweep(exp, out, backend="serial", progress=False, echo=lines.append)
    assert report.exit_code == 0, report.text()
    assert any(name in line and "set aside" in line for line in lines), lines
    assert report.ran > 0
    assert_complete(out, reference)
    assert (out / "damaged" / name).is_file(), "the damaged chunk was not kept for inspection"


@pytest.mark.parametrize("kind", ["runs", "series"])
def test_truncated_chunk_is_detected_set_aside_and_its_runs_redone(
    reference, finished, tmp_path, kind
):
    exp = write(tmp_path)
    out = copy_of(finished, tmp_path / "o")
    victim = sorted((out / "chunks").glob(f"{kind}-*.parquet"))[1]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    if kind == "runs":
        _refused_on_load(out, victim.name)
    else:
        with pytest.raises(SweepDirError, match=victim.name):
            load_series(out)
    _resume_sets_aside(exp, out, victim.name, reference)


@pytest.mark.parametrize(
    "damage", ["empty", "garbage", "other-parquet", "missing-footer", "appended"]
)
def test_unreadable_or_replaced_chunks_are_detected(reference, finished, tmp_path, damage):
    exp = write(tmp_path)
    out = copy_of(finished, tmp_path / "o")
    chunks = sorted((out / "chunks").glob("runs-*.parquet"))
    victim = chunks[2]
    if damage == "empty":
        victim.write_bytes(b"")
    elif damage == "garbage":
        victim.write_bytes(os.urandom(victim.stat().st_size))
    elif damage == "other-parquet":  # a valid Parquet file of the same sweep, wrong content
        victim.write_bytes(chunks[0].read_bytes())
    elif damage == "missing-footer":
        victim.write_bytes(victim.read_bytes()[:-8])
    else:  # bytes added at the end (where a Parquet reader looks for the footer)
        victim.write_bytes(victim.read_bytes() + b"PAR1")
    _refused_on_load(out, victim.name)
    _resume_sets_aside(exp, out, victim.name, reference)


def test_flipped_bytes_in_chunks_are_never_read_as_results(
    reference, finished, tmp_path, record_property
):
    """Flip one byte at seeded random positions of a runs or series chunk, one case at a time."""
    rng = random.Random(99)
    exp = write(tmp_path)
    files = sorted((finished / "chunks").glob("*.parquet"))
    outcomes = {"refused on load": 0, "redone on resume": 0}
    for case in range(FLIPPED_BYTES):
        src = rng.choice(files)
        out = copy_of(finished, tmp_path / f"c{case}")
        victim = out / "chunks" / src.name
        data = bytearray(victim.read_bytes())
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
        victim.write_bytes(bytes(data))
        loader = load_results if src.name.startswith("runs-") else load_series
        with pytest.raises(SweepDirError, match=victim.name):
            loader(out)
        # resuming takes the same path for every damaged chunk: a sample of cases suffices
        if case < 4 or (FULL and case % 5 == 0):
            _resume_sets_aside(exp, out, victim.name, reference)
            outcomes["redone on resume"] += 1
        outcomes["refused on load"] += 1
        shutil.rmtree(out)
    record_property("flipped_bytes", json.dumps(outcomes))


# ------------------------------------------------- another experiment's files
def test_manifest_of_another_experiment_in_the_folder(reference, finished, tmp_path):
    exp = write(tmp_path)
    other = write(tmp_path, OTHER, "other.toml")
    # the other experiment is refused on this folder, which is left as it was
    before = tree_digest(finished)
    proc = subprocess.run(
        [*PRIVMARKET, "sweep", str(other), "--out", str(finished), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "different experiment" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and tree_digest(finished) == before
    # the other experiment's manifest copied over this folder's: its chunks do not belong
    theirs = tmp_path / "theirs"
    run_sweep(other, theirs, backend="serial", progress=False, echo=None)
    mixed = copy_of(finished, tmp_path / "mixed")
    shutil.copy(theirs / "manifest.json", mixed / "manifest.json")
    before = tree_digest(mixed)
    with pytest.raises(SweepDirError, match="different experiment"):
        run_sweep(other, mixed, backend="serial", progress=False, echo=None)
    with pytest.raises(SweepDirError, match="different experiment"):
        run_sweep(exp, mixed, backend="serial", progress=False, echo=None)
    with pytest.raises(SweepDirError, match="different experiment"):
        load_results(mixed)
    assert tree_digest(mixed) == before
    # a chunk of the other sweep dropped into a half-done folder of this one
    half = copy_of(finished, tmp_path / "half")
    for f in sorted((half / "chunks").glob("runs-*.parquet"))[-2:]:
        f.unlink()
    stray = sorted((theirs / "chunks").glob("runs-*.parquet"))[0]
    shutil.copy(stray, half / "chunks" / stray.name.replace("-0001-", "-0007-"))
    before = tree_digest(half)
    with pytest.raises(SweepDirError, match="different experiment"):
        run_sweep(exp, half, backend="serial", progress=False, echo=None)
    with pytest.raises(SweepDirError, match="different experiment"):
        load_results(half)
    assert tree_digest(half) == before
    # moved out again, the folder resumes to the uninterrupted result
    (half / "chunks" / stray.name.replace("-0001-", "-0007-")).unlink()
    assert resume_in_process(exp, half).exit_code == 0
    assert_complete(half, reference)


def test_a_runner_killed_before_its_manifest_leaves_a_folder_that_resumes(reference, tmp_path):
    """What a kill during the first start-up can leave: an empty chunks folder, a temp file."""
    exp = write(tmp_path)
    out = tmp_path / "o"
    (out / "chunks").mkdir(parents=True)
    (out / ".manifest.json.tmp-12345").write_text('{"format": "privmarket-swe')
    assert resume_in_process(exp, out).exit_code == 0
    assert_complete(out, reference)
    assert not (out / ".manifest.json.tmp-12345").exists()
    # but a folder holding anything else is still refused
    other = tmp_path / "other"
    (other / "chunks").mkdir(parents=True)
    (other / "chunks" / "notes.txt").write_text("mine")
    with pytest.raises(SweepDirError, match="not a sweep results folder"):
        resume_in_process(exp, other)

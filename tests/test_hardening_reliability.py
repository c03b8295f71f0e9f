"""Locks, provenance, parameter identity, finite outcomes, bounded waits, memory, confinement.

Each class of problem found by attacking the tool as a careless or hostile user
would, with the fix it got:

* two runners on one sweep folder: one works, the other is refused naming the
  holder's PID and host, nothing is corrupted;
* a resume under other model code is refused unless ``--allow-code-change``;
  every session's versions and source digest are recorded;
* two spellings of one parameter, or overlapping ``*`` paths, are refused;
  results name parameters by their canonical path;
* integer ranges stay within their bounds; booleans are not numbers;
* a run whose outcomes are not finite is recorded failed with the reason;
* inputs that used to end in a traceback end in one line;
* a Dask scheduler that accepts and never answers times out; a huge design is
  refused before it is built; the manifest is appended to, not rewritten;
* a run too big for the machine's memory is refused before it starts;
* an experiment's name never climbs out of the results folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privmarket.experiments.cli import main
from privmarket.experiments.provenance import package_dirs, provenance, source_digest
from privmarket.experiments.resources import MemoryRefused, check_memory, estimate_bytes
from privmarket.experiments.sweep.runner import run_sweep
from privmarket.experiments.sweep.spec import SpecError, parse_experiment, safe_name
from privmarket.experiments.sweep.store import (
    HOLDER,
    JOURNAL,
    MANIFEST,
    CodeChanged,
    SweepBusy,
    load_manifest,
    load_results,
)
from tests.faults import Faulty, command

FULL = os.environ.get("PRIVMARKET_HARDENING", "").strip().lower() == "full"
EXAMPLES = 300 if FULL else 40

EXP = """\
name = "reliability"
quarters = 4
replicates = 2
seed = 31
[fixed]
n_users = 600
[varied]
"vendors.Aegis.stance" = [0.2, 0.9]
hazard = { low = 0.05, high = 0.2, steps = 3 }
[design]
kind = "grid"
"""
N_RUNS = 12


def _settings(n: int = EXAMPLES):
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def cli(*args: str) -> tuple[int, str, str]:
    """``privmarket ARGS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_seconds"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ref")
    (tmp / "exp.toml").write_text(EXP)
    report = run_sweep(tmp / "exp.toml", tmp / "out", backend="serial", progress=False, echo=None)
    assert report.exit_code == 0
    return tmp / "out"


# ------------------------------------------------------------------ locks
def _wait_for(cond, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_second_runner_is_refused_naming_the_holder(reference, tmp_path):
    exp = tmp_path / "exp.toml"
    exp.write_text(EXP)
    out = tmp_path / "o"
    argv, env = command(Faulty("sleep", seconds=0.3), "sweep", str(exp), "--out", str(out))
    first = subprocess.Popen(
        [*argv, "--workers", "1", "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: (out / "chunks").is_dir() and (out / HOLDER).is_file(), first)
        holder = json.loads((out / HOLDER).read_text())
        assert holder["pid"] == first.pid
        t0 = time.monotonic()
        argv2, env2 = command(None, "sweep", str(exp), "--out", str(out), "--no-progress")
        second = subprocess.run(argv2, env=env2, capture_output=True, text=True, timeout=120)
        assert time.monotonic() - t0 < 60
        assert second.returncode == 2, second.stdout + second.stderr
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert f"PID {first.pid}" in second.stderr and socket.gethostname() in second.stderr
        assert first.poll() is None, "the refused runner stopped the first one"
        stdout, stderr = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, stdout + stderr
    pd.testing.assert_frame_equal(
        comparable(load_results(out)), comparable(load_results(reference))
    )
    # in-process, while the lock is held: the same refusal
    from privmarket.experiments.sweep.spec import load_experiment
    from privmarket.experiments.sweep.store import ResultStore

    e = load_experiment(exp)
    holder_store = ResultStore.prepare(out, e)
    holder_store.lock(e, [])
    try:
        with pytest.raises(SweepBusy, match=f"PID {os.getpid()}"):
            run_sweep(exp, out, backend="serial", progress=False, echo=None)
    finally:
        holder_store.unlock()
    assert run_sweep(exp, out, backend="serial", progress=False, echo=None).exit_code == 0


def test_two_runners_started_at_once_on_a_new_folder(reference, tmp_path):
    exp = tmp_path / "exp.toml"
    exp.write_text(EXP)
    out = tmp_path / "o"
    argv, env = command(Faulty("sleep", seconds=0.4), "sweep", str(exp), "--out", str(out))
    procs = [
        subprocess.Popen(
            [*argv, "--workers", "1", "--no-progress"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], results
    refused = next(r for p, r in zip(procs, results, strict=True) if p.returncode == 2)
    assert "another `privmarket sweep`" in refused[1] and "Traceback" not in refused[1]
    pd.testing.assert_frame_equal(
        comparable(load_results(out)), comparable(load_results(reference))
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.tmp-")]


# ------------------------------------------------------------- provenance
def test_every_session_records_versions_and_the_model_source(reference):
    m = load_manifest(reference)
    now = provenance()
    assert m["versions"]["model_source"] == now["model_source"]
    assert m["versions_used"] == [m["versions"]]
    assert {"privmarket", "mesa", "numpy", "model_source", "git_commit", "git_dirty"} <= set(now)
    assert m["sessions"][0]["provenance"] == now
    import pyarrow.parquet as pq

    for f in (reference / "chunks").glob("runs-*.parquet"):
        meta = pq.read_schema(f).metadata
        assert meta[b"privmarket.model_source"].decode() == now["model_source"]


def test_the_source_digest_changes_exactly_when_the_model_code_does(tmp_path):
    dirs = package_dirs()
    assert {name for name, _ in dirs} == {"privmarket.sim", "privmarket.agents"}
    copies = []
    for name, root in dirs:
        dest = tmp_path / name
        shutil.copytree(root, dest, ignore=shutil.ignore_patterns("__pycache__"))
        copies.append((name, dest))
    assert source_digest(copies) == source_digest(dirs) == provenance()["model_source"]
    (copies[0][1] / "extra_notes.txt").write_text("not code")
    assert source_digest(copies) == source_digest(dirs)
    victim = sorted(copies[0][1].rglob("*.py"))[0]
    victim.write_text(victim.read_text() + "\n# an edit\n")
    assert source_digest(copies) != source_digest(dirs)
    victim.write_text(victim.read_text().removesuffix("\n# an edit\n"))
    assert source_digest(copies) == source_digest(dirs)
    victim.rename(victim.with_name("renamed_" + victim.name))
    assert source_digest(copies) != source_digest(dirs)


def _as_if_other_code(folder: Path) -> None:
    """Rewrite the folder's record as if another version of the model had made its runs."""
    m = json.loads((folder / MANIFEST).read_text())
    m["versions"]["model_source"] = "0123456789abcdef"
    (folder / MANIFEST).write_text(json.dumps(m))
    lines = (folder / JOURNAL).read_text().splitlines()
    out = []
    for line in lines:
        e = json.loads(line)
        if e.get("event") == "session":
            e["provenance"]["model_source"] = "0123456789abcdef"
        out.append(json.dumps(e))
    (folder / JOURNAL).write_text("\n".join(out) + "\n")


def test_a_resume_under_other_code_is_refused_unless_allowed(reference, tmp_path):
    exp = tmp_path / "exp.toml"
    exp.write_text(EXP)
    out = tmp_path / "half"
    shutil.copytree(reference, out)
    for f in sorted((out / "chunks").glob("*.parquet"))[-1:]:
        f.unlink()
    _as_if_other_code(out)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, stdout, err = cli("sweep", str(exp), "--out", str(out), "--backend", "serial")
    assert code == 2 and err.count("\n") == 1, err
    assert "other code" in err and "0123456789abcdef" in err and "--allow-code-change" in err
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    with pytest.raises(CodeChanged):
        run_sweep(exp, out, backend="serial", progress=False, echo=None)
    code, stdout, err = cli(
        "sweep",
        str(exp),
        "--out",
        str(out),
        "--backend",
        "serial",
        "--allow-code-change",
        "--no-progress",
    )
    assert code == 0, err
    m = load_manifest(out)
    assert len(m["versions_used"]) == 2 and m["counts"]["ok"] == N_RUNS
    assert m["versions_used"][0]["model_source"] == "0123456789abcdef"
    assert m["versions_used"][1]["model_source"] == provenance()["model_source"]
    assert "model_source 0123456789abcdef ->" in m["sessions"][-1]["code_changes"][0]


# ------------------------------------------------------ parameter identity
GRID_HEAD = 'quarters = 2\n[fixed]\nn_users = 200\n[design]\nkind = "grid"\n[varied]\n'


def refused(text: str) -> str:
    with pytest.raises(SpecError) as info:
        parse_experiment(text, source="exp.toml")
    return str(info.value)


@pytest.mark.parametrize(
    "a,b,why",
    [
        ("vendors.0.stance", "vendors.Aegis.stance", "name one parameter"),
        ("vendors.Aegis.stance", "vendors.0.stance", "name one parameter"),
        ("countries.2.appetite", "countries.Eastria.appetite", "name one parameter"),
        ("vendors.*.stance", "vendors.Open.stance", "overlap"),
        ("countries.Islay.appetite", "countries.*.appetite", "overlap"),
    ],
)
def test_two_spellings_of_one_parameter_are_refused(a, b, why):
    text = GRID_HEAD + f'"{a}" = [0.1, 0.2]\n"{b}" = [0.3, 0.4]\n'
    msg = refused(text)
    assert why in msg and "line 8" in msg and "\n" not in msg
    assert a in msg and b in msg


def test_a_fixed_value_a_star_path_would_override_is_refused():
    text = GRID_HEAD.replace("n_users = 200", 'n_users = 200\n"vendors.Aegis.stance" = 0.4')
    msg = refused(text + '"vendors.*.stance" = [0.1, 0.2]\n')
    assert "would override fixed 'vendors.Aegis.stance'" in msg
    # the other way round is an ordinary base: all vendors fixed, one varied
    ok = GRID_HEAD.replace("n_users = 200", 'n_users = 200\n"vendors.*.stance" = 0.4')
    exp = parse_experiment(ok + '"vendors.0.stance" = [0.1, 0.2]\n')
    assert exp.parameter_names == ["vendors.Aegis.stance"]


def test_results_name_parameters_by_their_canonical_path(tmp_path):
    text = GRID_HEAD + '"vendors.0.stance" = [0.1, 0.9]\n"countries.2.appetite" = [0.5]\n'
    text += '[analysis]\nheatmap = ["vendors.0.stance", "countries.2.appetite"]\n'
    (tmp_path / "e.toml").write_text(text)
    run_sweep(tmp_path / "e.toml", tmp_path / "o", backend="serial", progress=False, echo=None)
    df = load_results(tmp_path / "o")
    assert {"param.vendors.Aegis.stance", "param.countries.Eastria.appetite"} <= set(df.columns)
    assert not [c for c in df.columns if ".0." in c or ".2." in c]
    m = load_manifest(tmp_path / "o")
    assert m["design"]["names"] == ["vendors.Aegis.stance", "countries.Eastria.appetite"]
    assert m["analysis"]["heatmap"] == m["design"]["names"]


VENDORS = ["Aegis", "Orchard", "Open", "Local"]


@_settings()
@given(
    i=st.integers(0, 3),
    field=st.sampled_from(["stance", "ecosystem", "threshold"]),
    levels=st.lists(
        st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=1, max_size=3, unique=True
    ),
)
def test_index_and_name_spellings_are_one_experiment(i, field, levels):
    by_index = parse_experiment(GRID_HEAD + f'"vendors.{i}.{field}" = {levels}\n')
    by_name = parse_experiment(GRID_HEAD + f'"vendors.{VENDORS[i]}.{field}" = {levels}\n')
    assert by_index.parameter_names == [f"vendors.{VENDORS[i]}.{field}"]
    assert by_index.fingerprint() == by_name.fingerprint()
    assert by_index.points == by_name.points


# ------------------------------------------------------- integer ranges
@_settings()
@given(
    low=st.floats(0, 150, allow_nan=False),
    width=st.floats(0.01, 60, allow_nan=False),
    kind=st.sampled_from(["grid", "lhs", "morris"]),
    dist=st.sampled_from(["uniform", "triangular", "normal", "loguniform"]),
)
def test_integer_ranges_stay_within_low_and_high(low, width, kind, dist):
    high = min(low + width, 200)
    if not low < high:
        return
    spec = f"low = {low!r}, high = {high!r}, integer = true"
    if dist == "triangular":
        spec += f', distribution = "triangular", mode = {low!r}'
    elif dist == "normal":
        spec += f', distribution = "normal", mean = {(low + high) / 2!r}, sd = {width!r}'
    elif dist == "loguniform" and low > 0:
        spec += ', distribution = "loguniform"'
    steps = ", steps = 4" if kind == "grid" else ""
    design = {
        "grid": 'kind = "grid"',
        "lhs": 'kind = "lhs"\nsamples = 9',
        "morris": 'kind = "morris"\nsamples = 3',
    }[kind]
    text = (
        f"quarters = 2\n[fixed]\nn_users = 200\n[varied]\n"
        f"contacts_mean_degree = {{ {spec}{steps} }}\nhazard = [0.1]\n[design]\n{design}\n"
    )
    if math.ceil(low) > math.floor(high):
        msg = refused(text)
        assert "no whole number lies between" in msg
        return
    exp = parse_experiment(text)
    values = [p["contacts_mean_degree"] for p in exp.points]
    assert all(isinstance(v, int) for v in values)
    assert all(math.ceil(low) <= v <= math.floor(high) for v in values), (values, low, high)


# ------------------------------------------------------- input validation
@pytest.mark.parametrize(
    "line,key",
    [
        ("replicates = true", "replicates"),
        ("seed = false", "seed"),
        ("quarters = true", "quarters"),
        ('[design]\nkind = "lhs"\nsamples = true', "design.samples"),
        ('[design]\nkind = "morris"\nsamples = 2\nlevels = true', "design.levels"),
        ("[varied]\nhazard = { low = true, high = 0.5 }", "low"),
        ("[varied]\nhazard = { low = 0.1, high = 0.5, steps = true }", "steps"),
        ("[varied]\nhazard = [true, 0.5]", "hazard"),
        ("[fixed]\nhazard = true", "hazard"),
        ("[fixed]\nn_users = false", "n_users"),
    ],
)
def test_booleans_are_not_numbers(line, key):
    text = 'scenario = "baseline"\n' + line + "\n"
    if "[varied]" not in line:
        text += "[varied]\nhazard = [0.1]\n" if "[design]" in line else ""
    msg = refused(text)
    assert key in msg and "\n" not in msg, msg


@pytest.mark.parametrize(
    "text,fragment",
    [
        ('[varied]\n"vendors.١.stance" = [0.1]\n', "no entry '١'"),
        ('[fixed]\n"countries.².appetite" = 0.1\n', "no entry '²'"),
        ("a = " + "[" * 200 + "]" * 200 + "\n", "nested too deeply"),
        ("[" + ".".join(["a"] * 80) + "]\nx = 1\n", "nested too deeply"),
        ('name = "' + "n" * 101 + '"\n', "expected a name of 1 to 100 characters"),
        ('description = "' + "d" * 2001 + '"\n', "expected text of at most 2000"),
        ('[fixed]\n"vendors.0.name" = "A.B"\n', "cannot contain '.'"),
        ('[fixed]\n"vendors.0.name" = "7"\n', "cannot be a number"),
        ('[varied]\n"vendors.0.name" = ["X", "Y"]\n', "names cannot be varied"),
        ("seed = -1\n", "seed = -1: expected an integer in 0.."),
        ("low = nan\n", "unknown key 'low'"),
        ("[varied]\nhazard = { low = nan, high = 0.5 }\n", "low = nan: expected a number"),
    ],
)
def test_bad_input_is_one_line_naming_the_key(text, fragment):
    msg = refused(text)
    assert fragment in msg and msg.count("\n") == 0, msg


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    f = tmp_path / "big.toml"
    f.write_text('name = "x"\n' + "# padding\n" * 120_000)
    code, _, err = cli("sweep", str(f), "--check")
    assert code == 2 and "at most 1,000,000" in err and err.count("\n") == 1


@_settings(200 if FULL else 60)
@given(text=st.text(st.characters(codec="utf-8"), max_size=300))
def test_any_text_gives_a_plan_or_one_line_per_problem(text):
    try:
        parse_experiment(text, source="x.toml")
    except SpecError as exc:
        for problem in exc.problems:
            assert "\n" not in problem[1]


# ------------------------------------------------------ finite outcomes
def test_non_finite_outcomes_are_recorded_failed_with_the_reason(tmp_path):
    (tmp_path / "e.toml").write_text(EXP)
    report = run_sweep(
        tmp_path / "e.toml",
        tmp_path / "o",
        backend="serial",
        progress=False,
        echo=None,
        work=Faulty("nan", {3, 8}),
    )
    assert report.failed == 2 and report.ok == N_RUNS - 2 and report.exit_code == 1
    df = load_results(tmp_path / "o")
    bad = df[df["status"] == "failed"]
    assert bad["run"].tolist() == [3, 8]
    assert bad["error"].str.contains("outcomes not finite: hhi = nan").all()
    ok = df[df["status"] == "ok"]
    outs = [c for c in df.columns if c.startswith("out.") and not c.endswith("exit_quarter")]
    assert np.isfinite(ok[outs].astype(float).to_numpy()).all()
    m = load_manifest(tmp_path / "o")
    assert "hhi = nan" in m["errors"]["3"] and m["counts"]["failed"] == 2


# --------------------------------------------------- no tracebacks, one line
def _silent_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(srv.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return srv, held


@pytest.fixture
def files(tmp_path) -> Path:
    (tmp_path / "bad.json").write_bytes(b'\xff\xfe{"hazard": 0.2}')
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "deep.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    (tmp_path / "list.json").write_text("[1, 2]")
    for name, data in {
        "foreign": b'{"format": "something-else"}',
        "alist": b"[1, 2]",
        "partial": b'{"format": "privmarket-sweep/2", "name": "x"}',
        "binary": b"\xff\xfe\x00",
        "nested": b"[" * 100_000 + b"]" * 100_000,
    }.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_bytes(data)
    (tmp_path / "exp.toml").write_text(EXP)
    return tmp_path


CASES = {
    "non-ASCII digit as a vendor index": ["run", "--set", "vendors.١.stance=1"],
    "negative seed": ["run", "--seed", "-1"],
    "seed above 2**63-1": ["run", "--seed", str(2**64)],
    "params file not UTF-8": ["run", "--params", "{d}/bad.json"],
    "deeply nested JSON params": ["run", "--params", "{d}/deep.json"],
    "params file that is a list": ["run", "--params", "{d}/list.json"],
    "deeply nested TOML": ["sweep", "{d}/deep.toml"],
    "vendor name with a dot": ["run", "--users", "200", "--set", "vendors.0.name=A.B"],
    "foreign manifest.json to analyze": ["analyze", "{d}/foreign"],
    "a manifest that is a list": ["analyze", "{d}/alist"],
    "a manifest missing its keys": ["analyze", "{d}/partial"],
    "a manifest that is not UTF-8": ["analyze", "{d}/binary"],
    "a deeply nested manifest": ["analyze", "{d}/nested"],
    "scheduler address not a URL": [
        "sweep",
        "{d}/exp.toml",
        "--backend",
        "dask",
        "--scheduler",
        "not a url",
    ],
    "scheduler port out of range": [
        "sweep",
        "{d}/exp.toml",
        "--backend",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:99999",
    ],
    "scheduler with an unknown scheme": [
        "sweep",
        "{d}/exp.toml",
        "--backend",
        "dask",
        "--scheduler",
        "http://127.0.0.1:8786",
    ],
    "more memory than the machine has": [
        "run",
        "--users",
        "50000000",
        "--set",
        "contacts_mean_degree=200",
    ],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inputs_that_used_to_end_in_a_traceback(case, files):
    args = [a.replace("{d}", str(files)) for a in CASES[case]]
    out = files / "out"
    if args[0] in ("run", "sweep"):
        args += ["--out", str(out)]
    code, stdout, err = cli(*args)
    assert code == 2, (stdout, err)
    assert err.startswith(f"privmarket {args[0]}: error: ") and err.count("\n") == 1, err
    assert not out.exists()


# ---------------------------------------------------------- bounded waits
def test_a_scheduler_that_accepts_and_never_answers_times_out(tmp_path):
    from privmarket.experiments.sweep.backends import DaskBackend

    srv, held = _silent_server()
    address = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    try:
        t0 = time.monotonic()
        with pytest.raises(OSError, match="did not answer within 2 s"):
            DaskBackend(scheduler=address, timeout=2)
        assert time.monotonic() - t0 < 10 and held, "no connection was accepted"
        (tmp_path / "e.toml").write_text(EXP)
        t0 = time.monotonic()
        code, _, err = cli(
            "sweep",
            str(tmp_path / "e.toml"),
            "--out",
            str(tmp_path / "o"),
            "--backend",
            "dask",
            "--scheduler",
            address,
            "--no-progress",
        )
        assert code == 2 and "did not answer" in err and err.count("\n") == 1, err
        assert time.monotonic() - t0 < 60
        assert not (tmp_path / "o").exists()
    finally:
        srv.close()
        for c in held:
            c.close()


def test_a_huge_design_is_refused_before_it_is_built():
    text = GRID_HEAD + "".join(
        f"{p} = {{ low = 0.0, high = 1.0, steps = 100000 }}\n"
        for p in ("hazard", "contagion", "withdraw_cut")
    )
    t0 = time.monotonic()
    msg = refused(text)
    assert "1,000,000,000,000,000 runs; at most 10,000,000" in msg
    assert time.monotonic() - t0 < 20


def test_the_manifest_is_written_once_and_the_journal_appended(tmp_path):
    (tmp_path / "e.toml").write_text(EXP)
    out = tmp_path / "o"
    run_sweep(
        tmp_path / "e.toml",
        out,
        backend="serial",
        chunk_size=1,
        batch_size=1,
        progress=False,
        echo=None,
        work=Faulty("raise", {4}),
    )
    manifest = (out / MANIFEST).read_bytes()
    lines = (out / JOURNAL).read_text().splitlines()
    events = [json.loads(x) for x in lines]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "session" and kinds[-2:] == ["end", "finished"] and kinds.count("chunk") >= 2
    held = [r for e in events if e["event"] == "chunk" for r in [*e["ok"], *map(int, e["failed"])]]
    assert sorted(held) == list(range(N_RUNS))
    assert "status" not in json.loads(manifest)  # the per-run state lives in the journal
    run_sweep(
        tmp_path / "e.toml", out, backend="serial", retry_failed=True, progress=False, echo=None
    )
    assert (out / MANIFEST).read_bytes() == manifest, "the manifest was rewritten"
    assert (out / JOURNAL).read_text().splitlines()[: len(lines)] == lines
    m = load_manifest(out)
    assert m["counts"] == {"ok": N_RUNS, "failed": 0, "missing": 0} and m["finished"]
    assert len(m["sessions"]) == 2


def test_a_journal_line_cut_by_a_kill_is_skipped_and_the_chunks_win(reference, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(reference, out)
    with open(out / JOURNAL, "ab") as fh:
        fh.write(b'{"event": "chunk", "ok": [0, 1')  # a write cut short
    assert load_manifest(out)["counts"]["ok"] == N_RUNS
    (out / "e.toml").write_text(EXP)
    report = run_sweep(out / "e.toml", out, backend="serial", progress=False, echo=None)
    assert report.ran == 0 and report.exit_code == 0
    lines = (out / JOURNAL).read_text().splitlines()
    cut = lines.index('{"event": "chunk", "ok": [0, 1')  # kept, and skipped by the reader
    for line in lines[cut + 1 :]:
        json.loads(line)  # the next writer started a fresh line


# ------------------------------------------------------------------ memory
def test_memory_estimate_uses_the_measured_bytes_per_user():
    # 132 bytes a user at 10 contacts (docs/performance.md), plus the fixed part
    assert estimate_bytes(10_000_000, 10) - estimate_bytes(0, 10) == 1_320_000_000
    assert estimate_bytes(1_000_000, 10, processes=3) == 3 * estimate_bytes(1_000_000, 10)
    with pytest.raises(MemoryRefused, match=r"needs about 6\.8 GB .* 2\.0 GB is available"):
        check_memory(50_000_000, 10, available=2_000_000_000)
    assert check_memory(50_000_000, 10, available=2_000_000_000, force=True) > 6e9
    assert check_memory(2_000, 10, available=1) > 0  # small runs are never refused


def test_a_sweep_too_big_for_memory_is_refused_before_it_starts(tmp_path):
    text = EXP.replace("n_users = 600", "n_users = 50000000\ncontacts_mean_degree = 200")
    (tmp_path / "e.toml").write_text(text)
    code, _, err = cli(
        "sweep", str(tmp_path / "e.toml"), "--out", str(tmp_path / "o"), "--workers", "2"
    )
    assert code == 2 and "GB of memory" in err and "--force" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------- confinement
@_settings(300 if FULL else 100)
@given(name=st.text(min_size=1, max_size=120))
def test_a_name_is_one_harmless_folder_name(name, tmp_path):
    safe = safe_name(name)
    assert safe and "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert safe not in (".", "..") and not safe.startswith((".", "-"))
    base = (tmp_path / "out" / "sweeps").resolve()
    assert (base / safe).resolve().parent == base


def test_an_experiment_name_cannot_write_outside_the_results_folder(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "e.toml").write_text(EXP.replace('name = "reliability"', 'name = "../../x"'))
    monkeypatch.chdir(work)
    code, stdout, err = cli("sweep", "e.toml", "--backend", "serial", "--no-progress")
    assert code == 0, err
    assert (work / "out" / "sweeps" / "x" / MANIFEST).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert load_manifest(work / "out" / "sweeps" / "x")["name"] == "../../x"


# --------------------------------------------- finite outcomes at the bounds
#: Fields whose bounds were set so that every accepted world has finite outcomes
#: (each at 1e308 gave an infinite or NaN cash before): the bound, and a small value.
EXTREMES = {
    "vendors.*.unit_cost": (0.0, 1e6),
    "vendors.*.service_revenue": (0.0, 1e6),
    "vendors.*.fixed_cost": (0.0, 1e9),
    "vendors.*.country_cost": (0.0, 1e9),
    "vendors.*.rd_spend": (0.0, 1e9),
    "vendors.*.cash": (-1e15, 1e15),
    "countries.*.population": (1e-3, 1e4),
    "countries.*.income": (1e-3, 5.0),
}


def test_the_new_bounds_refuse_what_gave_infinite_outcomes():
    from privmarket.sim.params import ParameterError, Params

    for path, (_, high) in EXTREMES.items():
        with pytest.raises(ParameterError, match="range"):
            Params().with_updates({path: high * 10})


@_settings(120 if FULL else 25)
@given(
    values=st.fixed_dictionaries(
        {p: st.sampled_from([lo, hi, (lo + hi) / 2]) for p, (lo, hi) in EXTREMES.items()}
    ),
    price=st.sampled_from([0.0, 1e3, 1e6]),
    seed=st.integers(0, 3),
)
def test_outcomes_are_finite_for_accepted_extremes(values, price, seed):
    from privmarket.experiments.sweep.worker import not_finite
    from privmarket.sim.model import MarketModel
    from privmarket.sim.params import ParameterError, Params

    with pytest.raises(ParameterError, match="price"):  # a price that overflows the accounts
        Params().with_updates({"vendors.*.price": [1e300] * 3})

    params = Params(n_users=150, quarters=5).with_updates(
        {**values, "vendors.*.price": [price] * 3, "hazard": 1.0}
    )
    model = MarketModel(params, rng=seed).run()
    assert not_finite(model.summary()) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_stops_answering_mid_sweep_stops_the_sweep(tmp_path):
    """SIGSTOP a real scheduler while runs are in flight: the sweep must not wait for ever."""
    import signal
    import sys

    from privmarket.experiments.sweep.backends import DaskBackend

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    scheduler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            address,
            "--nthreads",
            "1",
            "--no-dashboard",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    be = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                be = DaskBackend(scheduler=address, timeout=3)
                be.client.wait_for_workers(1, timeout=60)
                break
            except OSError:
                assert time.monotonic() < deadline, "the scheduler did not start"
                time.sleep(0.5)
        be.stall_seconds = 3.0
        (tmp_path / "e.toml").write_text(EXP)
        stopped = threading.Event()

        def stop_when_running() -> None:
            while not list((tmp_path / "o" / "chunks").glob("runs-*")) and not stopped.is_set():
                time.sleep(0.05)
            os.kill(scheduler.pid, signal.SIGSTOP)
            stopped.set()

        threading.Thread(target=stop_when_running, daemon=True).start()
        t0 = time.monotonic()
        with pytest.raises(OSError, match="stopped answering"):
            run_sweep(
                tmp_path / "e.toml",
                tmp_path / "o",
                backend=be,
                batch_size=1,
                chunk_size=1,
                progress=False,
                echo=None,
                work=Faulty("sleep", seconds=0.5),
            )
        assert stopped.is_set() and time.monotonic() - t0 < 120
        m = load_manifest(tmp_path / "o")  # what finished is kept, the rest resumes later
        assert 0 < m["counts"]["ok"] < N_RUNS
    finally:
        stopped_pid = scheduler.pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(stopped_pid, signal.SIGCONT)
        if be is not None:
            with contextlib.suppress(Exception):
                be.close(cancel=True)
        for p in (worker, scheduler):
            p.kill()
            p.wait(timeout=30)

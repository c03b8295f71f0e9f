"""No command deletes or changes a file it did not write.

Every command that writes (``run``, ``calibrate``, ``sweep``, ``analyze``,
``bench``) is pointed, as a real ``privmarket`` process, at places that hold a
user's files: a folder with a thesis in it, the working folder ``.``, its
parent ``..``, and a symbolic link to a user's folder. Each must refuse in one
line, exit 2, and leave every byte where it was. Then the rules themselves:
new, empty and earlier outputs of the same kind are written; an earlier output
is replaced only with ``--overwrite`` and only its own files; a failure leaves
nothing half-written. A property-based test drives :class:`OutputFolder` over
random folder states.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privmarket.experiments.output import MARKER, OutputError, OutputFolder, read_marker
from privmarket.experiments.runs import run_to_dir
from privmarket.experiments.sweep.runner import run_sweep
from privmarket.sim.params import Params

FULL = os.environ.get("PRIVMARKET_HARDENING", "").strip().lower() == "full"
REPO = Path(__file__).resolve().parent.parent
EXP = """\
name = "outputs"
quarters = 3
replicates = 1
seed = 5
[fixed]
n_users = 300
[varied]
hazard = [0.1, 0.2]
[design]
kind = "grid"
"""


def tree(root: Path) -> dict[str, str]:
    """Every file and link below ``root`` (not following links), with a digest of its bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in sorted(filenames + [d for d in dirnames if Path(dirpath, d).is_symlink()]):
            p = Path(dirpath, name)
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link -> " + os.readlink(p)
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
        for d in dirnames:
            if not any(Path(dirpath, d).iterdir()):
                out[str(Path(dirpath, d).relative_to(root)) + "/"] = "empty folder"
    return out


def privmarket(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "privmarket.experiments.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory) -> Path:
    """A finished sweep to analyse."""
    tmp = tmp_path_factory.mktemp("sweep")
    (tmp / "exp.toml").write_text(EXP)
    report = run_sweep(tmp / "exp.toml", tmp / "res", backend="serial", progress=False, echo=None)
    assert report.exit_code == 0
    return tmp / "res"


TINY_SPEC = (
    "seed = 3\npopulation = 4\ngenerations = 1\ndraws = 2\nusers = 300\n"
    "decline_users = 300\nseeds = 1\n[priors]\nb_ecosystem = [1.0, 8.0]\n"
)


def tiny_spec(exp: Path) -> Path:
    """A calibration spec at the smallest budget, beside the experiment file."""
    spec = exp.with_name("tiny-calibration.toml")
    spec.write_text(TINY_SPEC)
    return spec


def command(name: str, out: str, sweep: Path, exp: Path) -> list[str]:
    """The command line of ``name`` writing to ``out`` (small sizes; refused before work)."""
    return {
        "run": ["run", "--users", "300", "--quarters", "2", "--no-figures", "--out", out],
        "calibrate": ["calibrate", "--spec", str(tiny_spec(exp)), "--workers", "1", "--out", out],
        "sweep": ["sweep", str(exp), "--backend", "serial", "--no-progress", "--out", out],
        "analyze": ["analyze", str(sweep), "--out", out],
        "bench": ["bench", "--quick", "--no-figure", "--out", out],
    }[name]


COMMANDS = ["run", "calibrate", "sweep", "analyze", "bench"]
PLACES = ["user-folder", "dot", "dotdot", "symlink"]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", COMMANDS)
def test_no_command_touches_a_users_files(name, place, sweep_folder, tmp_path):
    home = tmp_path / "home"
    work = home / "work"
    thesis = home / "thesis"
    work.mkdir(parents=True)
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("my thesis\n")
    (work / "notes.txt").write_text("my notes\n")
    (home / "budget.csv").write_text("a,b\n1,2\n")
    exp = tmp_path / "exp.toml"
    exp.write_text(EXP)
    if place == "user-folder":
        out = str(thesis / "chapter1.tex") if name == "bench" else str(thesis)
    elif place == "dot":
        out = "."
    elif place == "dotdot":
        out = ".."
    else:
        link = work / "results"
        link.symlink_to(thesis / "chapter1.tex" if name == "bench" else thesis)
        out = "results"
    before = tree(home)
    done = privmarket(*command(name, out, sweep_folder, exp), cwd=work)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith(f"privmarket {name}: error: "), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert tree(home) == before, "the refused command changed a user's files"
    # refused before any work: no run, trial, case or analysis was started
    assert "repetition" not in done.stdout and "calibrating" not in done.stdout


@pytest.mark.parametrize("name", ["run", "calibrate", "analyze"])
def test_earlier_output_is_replaced_only_with_overwrite_and_only_its_own_files(
    name, sweep_folder, tmp_path
):
    exp = tmp_path / "exp.toml"
    exp.write_text(EXP)
    out = tmp_path / "out"
    first = privmarket(*command(name, str(out), sweep_folder, exp), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    marker = read_marker(out)
    assert marker and marker["kind"] == name and marker["files"]
    assert sorted(marker["files"]) == sorted(p.name for p in out.iterdir() if p.name != MARKER)
    (out / "my-notes.txt").write_text("mine\n")
    before = tree(out)
    again = privmarket(*command(name, str(out), sweep_folder, exp), cwd=tmp_path)
    assert again.returncode == 2 and "--overwrite" in again.stderr, again.stderr
    assert tree(out) == before
    forced = privmarket(*command(name, str(out), sweep_folder, exp), "--overwrite", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (out / "my-notes.txt").read_text() == "mine\n"
    assert not [p for p in out.iterdir() if p.name.startswith(".privmarket-tmp")]
    assert read_marker(out)["files"] == marker["files"]


def test_an_output_of_another_kind_is_refused(sweep_folder, tmp_path):
    out = tmp_path / "o"
    run_to_dir(Params(n_users=200, quarters=2), 0, out, figures=False)
    done = privmarket("analyze", str(sweep_folder), "--out", str(out), "--overwrite", cwd=tmp_path)
    assert done.returncode == 2 and "`privmarket run`" in done.stderr, done.stderr


def test_bench_replaces_only_its_own_result(tmp_path):
    out = tmp_path / "b.json"
    out.write_text(json.dumps({"mine": True}))
    done = privmarket(
        "bench", "--quick", "--no-figure", "--out", str(out), "--overwrite", cwd=tmp_path
    )
    assert done.returncode == 2 and "not written by `privmarket bench`" in done.stderr
    assert json.loads(out.read_text()) == {"mine": True}


def test_a_failed_run_leaves_no_output(tmp_path, monkeypatch):
    from privmarket.experiments import runs

    def broken(table, folder):
        (folder / "shares.png").write_bytes(b"half")
        raise RuntimeError("disk trouble while drawing")

    monkeypatch.setattr(runs, "write_figures", broken)
    new = tmp_path / "new"
    with pytest.raises(RuntimeError):
        run_to_dir(Params(n_users=200, quarters=2), 0, new)
    assert not new.exists() and list(tmp_path.iterdir()) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError):
        run_to_dir(Params(n_users=200, quarters=2), 0, empty)
    assert list(empty.iterdir()) == []


def test_a_new_folder_appears_whole_and_parents_are_made(tmp_path):
    out = tmp_path / "a" / "b" / "run"
    run_to_dir(Params(n_users=200, quarters=2), 0, out, figures=False)
    assert read_marker(out)["kind"] == "run"
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["run"]


# ----------------------------------------------------------------- property
USER_FILES = st.lists(
    st.sampled_from(["thesis.tex", "data.csv", "summary.json", "quarters.csv", ".hidden", "a.png"]),
    unique=True,
    max_size=4,
)


@settings(
    max_examples=300 if FULL else 60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    exists=st.booleans(),
    users=USER_FILES,
    marker=st.sampled_from([None, "run", "calibrate", "garbage"]),
    ours=st.lists(st.sampled_from(["summary.json", "quarters.csv", "old.png"]), unique=True),
    new=st.lists(
        st.sampled_from(["summary.json", "quarters.csv", "shares.png"]), unique=True, min_size=1
    ),
    overwrite=st.booleans(),
)
def test_output_folder_rules_hold_for_any_folder(exists, users, marker, ours, new, overwrite):
    """Either refused with nothing changed, or written with every user file byte-identical."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out = root / "out"
        mine = {}
        if exists:
            out.mkdir()
            for name in users:
                (out / name).write_text(f"user's {name}\n")
            if marker == "garbage":
                (out / MARKER).write_text("{not json")
            elif marker is not None:
                listed = [n for n in ours if n not in users]
                for n in listed:
                    (out / n).write_text(f"earlier {n}\n")
                (out / MARKER).write_text(
                    json.dumps({"privmarket": "output", "kind": marker, "files": listed})
                )
            mine = {n: (out / n).read_bytes() for n in users if n != MARKER}
        before = tree(root)
        try:
            folder = OutputFolder.claim(out, "run", overwrite=overwrite)
            with folder.writing() as w:
                for n in new:
                    (w / n).write_text(f"new {n}\n")
        except OutputError as exc:
            assert "\n" not in str(exc)
            assert tree(root) == before, "a refused output changed the folder"
            return
        # written: the user's files are untouched; ours are the new ones, listed
        for n, data in mine.items():
            assert (out / n).read_bytes() == data, n
        for n in new:
            assert (out / n).read_text() == f"new {n}\n"
        assert sorted(read_marker(out)["files"]) == sorted(new)
        assert not [p for p in root.rglob(".*tmp*")]
        # allowed only when the folder was new, empty, or an earlier "run" output with
        # --overwrite (and then no user file had one of the new names)
        assert not exists or (not users and marker is None) or (marker == "run" and overwrite)
        # an earlier output's file that was not written again is removed (it was ours)
        assert "old.png" in users or not (out / "old.png").exists()


@pytest.mark.parametrize("place", ["user-file", "dot", "symlink"])
def test_sweep_bench_json_never_replaces_a_users_file(place, tmp_path):
    (tmp_path / "mine.json").write_text('{"mine": 1}')
    target = {"user-file": "mine.json", "dot": ".", "symlink": "link.json"}[place]
    if place == "symlink":
        (tmp_path / "link.json").symlink_to(tmp_path / "mine.json")
    before = tree(tmp_path)
    done = privmarket("sweep-bench", "--quick", "--json", target, "--overwrite", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and tree(tmp_path) == before

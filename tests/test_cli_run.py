"""The `privmarket run` command, end to end, as a user would call it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from privmarket.experiments.cli import main

EXE = [sys.executable, "-m", "privmarket.experiments.cli"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_run_writes_tables_summary_and_figures(tmp_path):
    out = tmp_path / "res"
    r = run_cli(
        "run",
        "baseline",
        "--quarters",
        "6",
        "--users",
        "3000",
        "--seed",
        "4",
        "--set",
        "hazard=0.15",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "baseline: 6 quarters, seed 4" in r.stdout
    for name in [
        "quarters.csv",
        "quarters.parquet",
        "events.csv",
        "events.parquet",
        "summary.json",
        "shares.png",
        "cash_trust.png",
        "demands.png",
    ]:
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 4 and summary["quarters"] == 6
    assert summary["parameters"]["hazard"] == 0.15
    assert summary["versions"]["mesa"] == "3.5.1"
    assert "privacy_exposure" in summary["outcomes"]
    table = pd.read_parquet(out / "quarters.parquet")
    assert len(table) == 7
    pd.testing.assert_frame_equal(
        table,
        pd.read_csv(out / "quarters.csv", parse_dates=["date"]),
        check_dtype=False,
        check_exact=False,
    )
    assert [p.name for p in tmp_path.iterdir()] == ["res"]  # no temp folders left


def test_same_seed_same_files(tmp_path):
    for name in ("a", "b"):
        assert (
            main(
                [
                    "run",
                    "--quarters",
                    "4",
                    "--users",
                    "2000",
                    "--seed",
                    "9",
                    "--no-figures",
                    "--out",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
    a = (tmp_path / "a" / "quarters.csv").read_text()
    b = (tmp_path / "b" / "quarters.csv").read_text()
    assert a == b


def test_help_explains_every_option():
    r = run_cli("run", "--help")
    assert r.returncode == 0
    for opt in ["--quarters", "--seed", "--users", "--set", "--params", "--out", "--no-figures"]:
        assert opt in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "colour=blue"], "unknown parameter 'colour'"),
        (["--set", "hazard=7"], "invalid value for 'hazard': 7"),
        (["--set", "hazard=often"], "invalid value for 'hazard': 'often'"),
        (["--set", "hazard"], "expected name=value"),
        (["atlantis"], "unknown scenario 'atlantis'"),
        (["--users", "0"], "invalid value for 'n_users': 0"),
    ],
)
def test_bad_input_one_line_error_nonzero_exit_nothing_written(tmp_path, args, message):
    out = tmp_path / "out"
    r = run_cli("run", *args, "--quarters", "2", "--out", str(out))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_is_refused_before_running(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = run_cli("run", "--quarters", "2", "--users", "500", "--out", str(blocker / "res"))
    assert r.returncode == 2
    assert "cannot write output folder" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_parent_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        r = run_cli("run", "--quarters", "2", "--users", "500", "--out", str(ro / "res"))
        assert r.returncode == 2 and "cannot write output folder" in r.stderr
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_scenarios_list_and_show():
    r = run_cli("scenarios")
    assert r.returncode == 0 and r.stdout.startswith("baseline")
    r = run_cli("scenarios", "show", "baseline")
    assert r.returncode == 0
    assert "Parameters:" in r.stdout and '"hazard": 0.1' in r.stdout
    r = run_cli("scenarios", "show", "atlantis")
    assert r.returncode == 2 and "unknown scenario" in r.stderr


def test_params_file_is_loaded(tmp_path):
    pf = tmp_path / "p.json"
    pf.write_text(json.dumps({"parameters": {"hazard": 0.3}}))
    assert (
        main(
            [
                "run",
                "--quarters",
                "2",
                "--users",
                "500",
                "--no-figures",
                "--params",
                str(pf),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["parameters"]["hazard"] == 0.3
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["run", "--params", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()

"""``privmarket bench``: the quick mode end to end, bad output paths, and the judging rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from privmarket.experiments.bench import (
    THREAD_ENV,
    format_targets,
    full_plan,
    judge,
    paired_ratio,
    quick_plan,
    spawn_case,
    summarise,
)


def privmarket(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "privmarket.experiments.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_quick_bench_prints_table_writes_json_and_figure(tmp_path):
    out, fig = tmp_path / "res" / "bench.json", tmp_path / "img" / "scaling.png"
    proc = privmarket("bench", "--quick", "--out", str(out), "--figure", str(fig), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    for word in ("figure", "value", "target", "ratio", "status", "speed-up per quarter"):
        assert word in text
    assert "smoke" in text  # quick sizes are not judged against the targets
    result = json.loads(out.read_text())
    assert result["mode"] == "quick"
    assert result["machine"]["cores"] >= 1 and result["machine"]["cpu"]
    impls = {(c["impl"], c["users"]) for c in result["cases"]}
    assert {("vectorised", 2_000), ("reference", 2_000), ("vectorised", 20_000)} <= impls
    for c in result["cases"]:
        assert c["completed"] == c["repeats"] >= 1, c
        assert c["init_s"] > 0 and c["quarter_s"] > 0 and c["peak_rss_bytes"] > 10e6
    for r in result["runs"]:
        assert r["threads"] == THREAD_ENV  # numpy pinned to one thread in every child
        assert r["quarters"] == 8
    figures = {t["figure"]: t for t in result["targets"]}
    assert any("memory per user" in f for f in figures)
    assert all(t["status"] in ("smoke", "info") for t in result["targets"])
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.parent.glob(".*")), "no temporary files left"


def test_unwritable_out_is_refused_before_running(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        proc = privmarket("bench", "--quick", "--out", str(locked / "b.json"), cwd=tmp_path)
    finally:
        locked.chmod(0o700)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--out" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (locked / "b.json").exists()


def test_out_under_a_file_is_refused_before_running(tmp_path):
    (tmp_path / "afile").write_text("x")
    proc = privmarket("bench", "--quick", "--out", str(tmp_path / "afile" / "b.json"), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not writable" in proc.stderr
    assert "Traceback" not in proc.stderr and "repetition" not in proc.stdout


def test_out_that_is_a_folder_and_bad_repeats_are_refused(tmp_path):
    proc = privmarket("bench", "--quick", "--out", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "folder" in proc.stderr
    proc = privmarket("bench", "--quick", "--repeats", "0", "--out", "b.json", cwd=tmp_path)
    assert proc.returncode == 2 and "--repeats" in proc.stderr
    assert not (tmp_path / "b.json").exists()


def test_a_failing_case_is_reported_not_fatal():
    r = spawn_case("vectorised", 0, 2, 0, timeout=120)  # zero users is refused by Params
    assert "error" in r and "exit" in r["error"]
    summary = summarise([r])
    assert summary[0]["completed"] == 0
    rows = judge(summary, quick_plan())
    assert all(row["value"] is None for row in rows if row["target"])


def _case(impl, users, init, quarter, peak, per_user, pop_bytes=63.0):
    return {
        "impl": impl,
        "users": users,
        "repeats": 1,
        "completed": 1,
        "errors": [],
        "init_s": init,
        "run_s": quarter * 40,
        "quarter_s": quarter,
        "user_side_quarter_s": quarter * 0.8,
        "peak_rss_bytes": peak,
        "max_peak_rss_bytes": peak,
        "bytes_per_user": per_user,
        "population_bytes_per_user": pop_bytes,
        "wall_s": init + quarter * 40,
    }


def test_judging_marks_pass_and_short_against_the_targets():
    good = [
        _case("vectorised", 10_000, 0.01, 0.001, 2e8, 900),
        _case("reference", 10_000, 0.1, 0.01, 2e8, 1500),
        _case("vectorised", 100_000, 0.05, 0.002, 2e8, 200),
        _case("reference", 100_000, 1.0, 0.08, 3e8, 1400),
        _case("vectorised", 1_000_000, 0.6, 0.03, 6e8, 90),
        _case("vectorised", 10_000_000, 5.0, 0.4, 1.2e9, 95),
    ]
    rows = {r["figure"]: r for r in judge(good, full_plan())}
    wall = rows["1M users x 40 quarters, wall (build + run)"]
    assert wall["status"] == "pass" and wall["value"] == pytest.approx(1.8)
    speed = rows["speed-up per quarter vs per-object Mesa, 100k users"]
    assert speed["value"] == pytest.approx(40) and speed["status"] == "pass"
    assert speed["ratio"] == pytest.approx(40 / 30)
    assert rows["memory per user, contacts included (10M, OS peak)"]["status"] == "pass"

    slow = [dict(c) for c in good]
    slow[2]["quarter_s"] = 0.004  # 20x only
    slow[4]["wall_s"] = 12.0
    slow[5]["bytes_per_user"] = 160
    rows = {r["figure"]: r for r in judge(slow, full_plan())}
    assert rows["speed-up per quarter vs per-object Mesa, 100k users"]["status"] == "short"
    assert rows["1M users x 40 quarters, wall (build + run)"]["status"] == "short"
    assert rows["memory per user, contacts included (10M, OS peak)"]["status"] == "short"
    table = format_targets(list(rows.values()))
    assert "short" in table and "pass" in table

    crashed = [dict(c) for c in good]
    crashed[5].update(completed=0, max_peak_rss_bytes=None, bytes_per_user=None)
    rows = {r["figure"]: r for r in judge(crashed, full_plan())}
    assert rows["10M users x 40 quarters completes, peak memory"]["status"] == "short"


def test_speed_ups_are_medians_of_back_to_back_pairs():
    def run(impl, seed, q):
        return {"impl": impl, "users": 1000, "seed": seed, "quarter_s": q}

    records = [
        run("vectorised", 0, 1.0),
        run("reference", 0, 30.0),  # 30x
        run("vectorised", 1, 3.0),  # a burst of load hit this pair ...
        run("reference", 1, 60.0),  # ... 20x
        run("vectorised", 2, 1.0),
        run("reference", 2, 40.0),  # 40x
        {"impl": "reference", "users": 1000, "seed": 3, "error": "timed out"},
    ]
    assert paired_ratio(records, 1000) == pytest.approx(30.0)
    assert paired_ratio(records, 5) is None

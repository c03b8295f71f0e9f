"""The Dask backend against a real scheduler and worker processes on 127.0.0.1."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from privmarket.experiments.cli import main
from privmarket.experiments.sweep.backends import DaskBackend
from privmarket.experiments.sweep.runner import run_sweep
from privmarket.experiments.sweep.store import load_results, load_series
from tests.faults import Faulty

EXP = """\
name = "dask-test"
quarters = 6
replicates = 2
seed = 4242

[fixed]
n_users = 1500

[varied]
"vendors.Aegis.stance" = { low = 0.0, high = 1.0 }
hazard = { low = 0.05, high = 0.2 }

[design]
kind = "lhs"
samples = 6

[outputs]
series = ["privacy_exposure"]
"""


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_seconds"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as c:
        yield c


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local")
    (tmp / "exp.toml").write_text(EXP)
    report = run_sweep(tmp / "exp.toml", tmp / "out", workers=2, progress=False, echo=None)
    assert report.exit_code == 0
    return tmp / "out"


def test_dask_on_an_existing_scheduler_gives_the_local_numbers(cluster, local, tmp_path):
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    (tmp_path / "exp.toml").write_text(EXP)
    report = run_sweep(
        tmp_path / "exp.toml",
        tmp_path / "out",
        backend="dask",
        scheduler=cluster.scheduler_address,
        batch_size=1,
        progress=False,
        echo=None,
    )
    assert report.exit_code == 0 and report.ok == 12
    assert report.backend.startswith(f"dask {cluster.scheduler_address}")
    pd.testing.assert_frame_equal(
        comparable(load_results(tmp_path / "out")), comparable(load_results(local))
    )
    pd.testing.assert_frame_equal(load_series(tmp_path / "out"), load_series(local))
    # both worker processes took part
    assert len(cluster.scheduler_info["workers"]) == 2


def test_dask_isolates_a_failing_run(cluster, local, tmp_path):
    (tmp_path / "exp.toml").write_text(EXP)
    report = run_sweep(
        tmp_path / "exp.toml",
        tmp_path / "out",
        backend="dask",
        scheduler=cluster.scheduler_address,
        progress=False,
        echo=None,
        work=Faulty("raise", {4}),
    )
    assert report.failed == 1 and report.ok == 11 and report.exit_code == 1
    df = load_results(tmp_path / "out")
    assert df.loc[df["status"] == "failed", "run"].tolist() == [4]


def test_cli_dask_with_its_own_local_cluster_and_a_crashing_run(
    local, tmp_path, capsys, monkeypatch
):
    from privmarket.experiments.sweep import runner

    monkeypatch.setattr(runner, "run_batch", Faulty("crash", {7}))
    (tmp_path / "exp.toml").write_text(EXP)
    code = main(
        ["sweep", str(tmp_path / "exp.toml"), "--out", str(tmp_path / "out")]
        + ["--backend", "dask", "--workers", "2", "--no-progress"]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "LocalCluster at tcp://127.0.0.1:" in out and "11 ok, 1 failed" in out, out
    df = load_results(tmp_path / "out")
    bad = df[df["status"] == "failed"]
    assert bad["run"].tolist() == [7] and bad["error"].str.contains("worker process died").all()
    ok = (df["status"] == "ok").to_numpy()
    pd.testing.assert_frame_equal(
        comparable(df[ok]).drop(columns=["error"]),
        comparable(load_results(local))[ok].reset_index(drop=True).drop(columns=["error"]),
        check_dtype=False,
    )


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        DaskBackend(scheduler="tcp://127.0.0.1:9", timeout=1)

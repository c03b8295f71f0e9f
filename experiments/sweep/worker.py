"""What a worker does: run a batch of runs and return one row (and optional series) per run.

This module is imported by every worker process (local pool or Dask), so it
keeps its imports to the model and the standard library.
"""

from __future__ import annotations

import math
import numbers
import os
import select
import signal
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

from privmarket.sim.params import Params

#: The columns every results row starts with, in order.
ROW_COLUMNS = ("run", "point", "replicate", "seed", "status", "error", "wall_seconds")


class NonFiniteOutcome(ArithmeticError):
    """A run that ended with an outcome that is NaN or infinite."""


def not_finite(outcomes: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (name, value) pairs of ``outcomes`` that are numbers but not finite."""
    return [
        (k, v)
        for k, v in outcomes.items()
        if isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isfinite(v)
    ]


@dataclass(frozen=True)
class RunSpec:
    run: int
    point: int
    replicate: int
    seed: int
    overrides: dict[str, Any]


@dataclass(frozen=True)
class Task:
    """A batch of runs sent to one worker in one message."""

    base: Params
    scenario: str
    runs: tuple[RunSpec, ...]
    series: bool | list[str] = False


@dataclass
class TaskResult:
    rows: list[dict[str, Any]]
    series: list[Any]  # pandas DataFrames, one per run that kept its series
    pid: int


def init_worker(driver_pid: int | None = None) -> None:
    """Pool initializer: workers ignore Ctrl-C (the driver's business) and die with the driver.

    A driver killed outright (SIGKILL) cannot shut its pool down; without the
    watch below its idle workers would wait for work for ever.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if driver_pid:
        threading.Thread(target=_exit_with, args=(driver_pid,), daemon=True).start()


def _exit_with(pid: int) -> None:
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])  # readable once the process has ended
    else:
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
    os._exit(0)


def run_one(task: Task, spec: RunSpec) -> tuple[dict[str, Any], Any]:
    """One run: (results row, per-quarter table or None). Never raises for a model error."""
    from privmarket.sim.model import MarketModel

    row: dict[str, Any] = {
        "run": spec.run,
        "point": spec.point,
        "replicate": spec.replicate,
        "seed": spec.seed,
        "status": "ok",
        "error": None,
        "wall_seconds": 0.0,
    }
    for path, value in spec.overrides.items():
        row[f"param.{path}"] = value
    table = None
    t0 = time.perf_counter()
    try:
        params = task.base.with_updates(spec.overrides) if spec.overrides else task.base
        model = MarketModel(params, rng=spec.seed)
        model.scenario_name = task.scenario
        model.run()
        outcomes = model.summary()
        bad = not_finite(outcomes)
        if bad:
            # an outcome that is NaN or infinite is no result: the run failed, and says why
            raise NonFiniteOutcome(
                "outcomes not finite: "
                + ", ".join(f"{k} = {v}" for k, v in bad[:5])
                + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            )
        for key, value in outcomes.items():
            row[f"out.{key}"] = value
        if task.series:
            table = model.table()
            if isinstance(task.series, list):
                keep = ["quarter", *[c for c in task.series if c != "quarter"]]
                table = table[keep]
            table.insert(0, "replicate", spec.replicate)
            table.insert(0, "point", spec.point)
            table.insert(0, "run", spec.run)
    except (Exception, SystemExit) as exc:  # a failing run is recorded, not fatal
        row["status"] = "failed"
        tb = traceback.extract_tb(exc.__traceback__)
        where = (
            f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno})"
            if tb and not isinstance(exc, NonFiniteOutcome)
            else ""
        )
        row["error"] = f"{type(exc).__name__}: {exc}{where}"
        table = None
    row["wall_seconds"] = time.perf_counter() - t0
    return row, table


def run_batch(task: Task) -> TaskResult:
    """Run every run of ``task`` in order; the unit of work sent to a worker."""
    rows, series = [], []
    for spec in task.runs:
        row, table = run_one(task, spec)
        rows.append(row)
        if table is not None:
            series.append(table)
    return TaskResult(rows, series, os.getpid())

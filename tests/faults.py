"""Faults injected by the tests into real sweeps: nothing here ships with the product.

The sweep runner sends every batch of runs to a worker as one call,
``work(task)``, where ``work`` is :func:`privmarket.experiments.sweep.worker.run_batch`
unless ``run_sweep(work=...)`` says otherwise. A test passes a :class:`Faulty`
instead: a picklable callable (workers unpickle it from this module) that runs
each run through the product's own :func:`~privmarket.experiments.sweep.worker.run_one`
and makes the chosen runs fail for real, inside the worker process:

========  ===========================================================
``raise``  ``MarketModel.run`` raises (a model error; the run is recorded failed)
``crash``  the worker process calls ``os._exit(70)`` (a hard crash)
``kill``   the worker process sends itself SIGKILL (as the OOM killer would)
``sleep``  every chosen run sleeps first (slow runs, for kills and Ctrl-C; no numbers change)
``nan``    ``MarketModel.summary`` reports ``hhi`` as NaN (a non-finite outcome)
========  ===========================================================

For a ``privmarket`` process started by a test, run this module instead of the
command line; it installs the fault and then runs the command::

    python -m tests.faults --fault sleep --seconds 0.1 -- sweep exp.toml --out DIR

(the repository root must be on ``PYTHONPATH``: :func:`command` builds the
argument list and the environment.)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from privmarket.experiments.sweep.worker import RunSpec, Task, TaskResult, run_one

REPO = Path(__file__).resolve().parent.parent
KINDS = ("raise", "crash", "kill", "sleep", "nan")


@dataclass(frozen=True)
class Faulty:
    """A batch function that makes ``runs`` (None: every run) fail in the way ``kind`` says."""

    kind: str
    runs: frozenset[int] | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        if self.runs is not None:
            object.__setattr__(self, "runs", frozenset(self.runs))

    def applies(self, run: int) -> bool:
        return self.runs is None or run in self.runs

    def __call__(self, task: Task) -> TaskResult:
        rows, series = [], []
        for spec in task.runs:
            row, table = self.one(task, spec)
            rows.append(row)
            if table is not None:
                series.append(table)
        return TaskResult(rows, series, os.getpid())

    def one(self, task: Task, spec: RunSpec) -> tuple[dict[str, Any], Any]:
        from privmarket.sim.model import MarketModel

        if not self.applies(spec.run):
            return run_one(task, spec)
        if self.kind == "sleep":
            time.sleep(self.seconds)
            return run_one(task, spec)
        if self.kind == "crash":
            os._exit(70)
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.kind == "raise":
            boom = RuntimeError(f"deliberate failure in run {spec.run} (injected by the tests)")
            with mock.patch.object(MarketModel, "run", side_effect=boom):
                return run_one(task, spec)
        real = MarketModel.summary

        def summary(model: MarketModel) -> dict[str, Any]:
            return {**real(model), "hhi": float("nan")}

        with mock.patch.object(MarketModel, "summary", summary):
            return run_one(task, spec)


def command(fault: Faulty | None, *args: str) -> tuple[list[str], dict[str, str]]:
    """Argument list and environment for a ``privmarket`` process with ``fault`` installed."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    if fault is None:
        return [sys.executable, "-m", "privmarket.experiments.cli", *args], env
    head = [sys.executable, "-m", "tests.faults", "--fault", fault.kind]
    head += ["--seconds", str(fault.seconds)]
    if fault.runs is not None:
        head += ["--runs", ",".join(str(r) for r in sorted(fault.runs))]
    return [*head, "--", *args], env


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults")
    parser.add_argument("--fault", choices=KINDS, required=True)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--runs", default=None, help="comma-separated run indices")
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    runs = None if args.runs is None else frozenset(int(r) for r in args.runs.split(","))
    from privmarket.experiments import cli
    from privmarket.experiments.sweep import runner

    runner.run_batch = Faulty(args.fault, runs, args.seconds)  # type: ignore[assignment]
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    return cli.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

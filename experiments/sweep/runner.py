"""The sweep driver: one loop over a :class:`concurrent.futures.Executor`, for every backend.

:func:`run_sweep` validates the experiment, checks the results folder, starts
the backend, and then keeps a few batches of runs in flight, writing finished
runs to Parquet chunks as they come back. What it guarantees:

* **Same numbers everywhere.** A run's parameters and seed depend only on the
  experiment file and the run index, never on workers, backend, batch or order.
* **Resume.** Runs already committed in the folder are skipped; a killed sweep
  rerun with the same command finishes only the missing runs.
* **Failures stay local.** A run that raises is recorded ``failed`` with its
  error. A worker that dies outright (a crash, ``os._exit``, SIGKILL) fails its
  whole batch: the driver renews the pool if the death broke it, then reruns
  the batch's runs one at a time, alone, so that only the run that kills its
  worker again is recorded failed (``worker process died``) and the rest finish.
* **Ctrl-C** (or SIGTERM) stops the workers, writes what has finished, and
  leaves the folder ready to resume.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from privmarket.experiments.sweep.backends import (
    Backend,
    SerialBackend,
    check_backend_args,
    make_backend,
)
from privmarket.experiments.sweep.seeds import seeds_for
from privmarket.experiments.sweep.spec import Experiment, load_experiment
from privmarket.experiments.sweep.store import ResultStore, session_info
from privmarket.experiments.sweep.worker import RunSpec, Task, TaskResult, run_batch


@dataclass
class SweepReport:
    """What a sweep did; ``exit_code`` is 0 (all ok), 1 (some failed) or 130 (interrupted)."""

    name: str
    out: str
    backend: str
    n_runs: int
    already: int = 0  # runs recorded before this session and not rerun
    ran: int = 0  # runs finished in this session
    ok: int = 0  # runs ok in the folder now
    failed: int = 0  # runs failed in the folder now
    missing: int = 0  # runs not recorded yet
    wall_seconds: float = 0.0
    interrupted: bool = False
    pool_restarts: int = 0
    errors: dict[int, str] = field(default_factory=dict)  # failed runs in the folder

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed or self.missing else 0

    def text(self) -> str:
        rate = f" ({self.wall_seconds / self.ran:.3f} s per run)" if self.ran else ""
        lines = [
            f"{self.name}: {self.ran} run{'s' if self.ran != 1 else ''} in "
            f"{self.wall_seconds:.1f} s{rate} on {self.backend}"
            + (f", {self.already} already recorded" if self.already else ""),
            f"  {self.ok} ok, {self.failed} failed, {self.missing} missing, of {self.n_runs} runs"
            + (f"; worker pool restarted {self.pool_restarts}x" if self.pool_restarts else ""),
        ]
        for r in sorted(self.errors)[:5]:
            lines.append(f"  run {r} failed: {self.errors[r]}")
        if len(self.errors) > 5:
            lines.append(f"  ... and {len(self.errors) - 5} more failed runs (see load_results)")
        if self.interrupted:
            lines.append(
                f"  interrupted: rerun the same command to finish the {self.missing} missing runs"
            )
        elif self.failed:
            lines.append("  rerun with --retry-failed to try the failed runs again")
        lines.append(f"  results in {self.out}/")
        return "\n".join(lines)


def auto_batch(n_left: int, workers: int) -> int:
    """Runs in the next task: enough to amortise messaging, few enough to balance and isolate.

    Batches shrink as the sweep nears its end (guided scheduling), so that no
    worker sits idle while another finishes a long last batch.
    """
    return max(1, min(16, math.ceil(n_left / (workers * 4))))


class _Progress:
    def __init__(self, total: int, initial: int, failed: int, enabled: bool) -> None:
        self.bar = None
        self.failed = failed
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                initial=initial,
                unit="run",
                desc="sweep",
                file=sys.stderr,
                dynamic_ncols=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} runs "
                "[{elapsed}<{remaining}, {rate_fmt}{postfix}]",
            )
            self.bar.set_postfix_str(f"failed {failed}")

    def update(self, n: int, failed: int) -> None:
        self.failed += failed
        if self.bar is not None:
            if failed:
                self.bar.set_postfix_str(f"failed {self.failed}", refresh=False)
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Interrupt:
    """Turn SIGTERM into KeyboardInterrupt while the sweep runs (main thread only)."""

    def __enter__(self) -> None:
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGTERM, self._raise)

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def run_sweep(
    experiment: Experiment | str | Path,
    out: str | Path,
    *,
    backend: str | Backend = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    batch_size: int | None = None,
    chunk_size: int = 200,
    flush_seconds: float = 10.0,
    retry_failed: bool = False,
    progress: bool = True,
    echo: Callable[[str], Any] | None = print,
    work: Callable[[Task], TaskResult] | None = None,
    allow_code_change: bool = False,
    force: bool = False,
) -> SweepReport:
    """Run (or finish) a sweep into the results folder ``out``; see the module docstring.

    ``backend`` is ``"local"``, ``"dask"`` or ``"serial"`` (or a ready
    :class:`~experiments.sweep.backends.Backend`, which is then not closed).
    Raises :class:`~experiments.sweep.spec.SpecError` or an ``OSError`` before
    writing anything if the experiment or the folder cannot be used.

    ``allow_code_change`` resumes a folder written by other model code (the
    journal records both); ``force`` runs even if the memory estimate exceeds
    the memory available.

    ``work`` is what a worker calls on each batch (default :func:`~.worker.run_batch`);
    it must pickle (a module-level function, or an instance of a module-level
    class). The tests pass wrapped versions of it to inject faults.
    """
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    say = echo or (lambda s: None)
    store = ResultStore.prepare(out, exp, allow_code_change=allow_code_change)
    own_backend = not isinstance(backend, Backend)
    if own_backend:
        check_backend_args(backend, workers, scheduler)
    _check_memory(exp, backend, workers, force)
    seeds = seeds_for(exp.seed, exp.n_points, exp.replicates, exp.common_seeds)
    if store.code_changes:
        say(f"warning: resuming under other code ({'; '.join(store.code_changes)}), as allowed")

    t0 = time.perf_counter()
    be: Backend | None = None
    report = SweepReport(exp.name, str(out), "", exp.n_runs)
    interrupted = fatal = False
    progress_bar: _Progress | None = None
    buffer_rows: list[dict[str, Any]] = []
    buffer_series: list[Any] = []
    status: dict[int, str] = {}
    errors: dict[int, str] = {}
    names = exp.parameter_names
    began = False

    def flush() -> None:
        if buffer_rows:
            store.write_chunk(buffer_rows, buffer_series, names)
            buffer_rows.clear()
            buffer_series.clear()

    def record(rows: list[dict[str, Any]], series: list[Any]) -> None:
        nfail = 0
        for row in rows:
            r = row["run"]
            status[r] = row["status"]
            if row["status"] == "failed":
                errors[r] = row["error"]
                nfail += 1
            else:
                errors.pop(r, None)
        buffer_rows.extend(rows)
        buffer_series.extend(series)
        report.ran += len(rows)
        if progress_bar is not None:
            progress_bar.update(len(rows), nfail)

    try:
        with _Interrupt():
            if own_backend:
                # the backend first (a cluster that cannot start, or a scheduler that does
                # not answer, leaves no folder behind); no runs left: no workers needed
                before = store.recorded() if store.path.exists() else {}
                left = any(
                    r not in before or (retry_failed and before[r] == "failed")
                    for r in range(exp.n_runs)
                )
                be = make_backend(backend, workers, scheduler) if left else SerialBackend()
            else:
                be = backend
            store.lock(exp, seeds)  # one runner at a time; a new folder appears whole
            recorded = store.recorded()
            status.update(recorded)
            if store.manifest and "errors" in store.manifest:
                known = {int(k): v for k, v in store.manifest["errors"].items()}
                errors.update({r: e for r, e in known.items() if status.get(r) == "failed"})
            todo = [
                r
                for r in range(exp.n_runs)
                if r not in recorded or (retry_failed and recorded[r] == "failed")
            ]
            todo_set = set(todo)
            report.already = sum(1 for r in status if r not in todo_set)
            report.backend = be.describe()
            store.begin(exp, seeds, session_info(be))
            began = True
            # the chunks are the truth; the journal is brought in line with them
            store.reconcile(recorded, errors)
            for f, why in store.damaged:
                say(
                    f"warning: chunk {f.name} is damaged ({why}); set aside in "
                    f"{store.path / 'damaged'}, its runs will be run again"
                )
            say(
                f"sweep {exp.name}: {exp.n_runs} runs ({exp.n_points} points x {exp.replicates} "
                f"replicate{'s' if exp.replicates != 1 else ''}, {exp.design.kind} design), "
                f"{len(todo)} to run on {be.describe()}"
            )
            kept_failed = sum(1 for r, s in status.items() if s == "failed" and r not in todo_set)
            progress_bar = _Progress(exp.n_runs, exp.n_runs - len(todo), kept_failed, progress)
            for r in todo:
                status.pop(r, None)
            report.pool_restarts = _drive(
                exp,
                be,
                deque(todo),
                batch_size,
                seeds,
                record,
                flush,
                chunk_size,
                flush_seconds,
                buffer_rows,
                work or run_batch,
            )
            flush()
    except KeyboardInterrupt:
        interrupted = True
    except BaseException:
        fatal = True  # e.g. a full disk: stop the workers now rather than wait for them
        raise
    finally:
        if progress_bar is not None:
            progress_bar.close()
        try:
            if began:
                if buffer_rows:
                    flush()
                report.wall_seconds = time.perf_counter() - t0
                done = sum(1 for s in status.values() if s in ("ok", "failed"))
                store.end(
                    {
                        "ran": report.ran,
                        "interrupted": interrupted,
                        "wall_seconds": round(report.wall_seconds, 3),
                    },
                    complete=done == exp.n_runs,
                )
        finally:
            store.unlock()
            if own_backend and be is not None:
                be.close(cancel=interrupted or fatal)
    report.wall_seconds = time.perf_counter() - t0
    report.interrupted = interrupted
    report.ok = sum(1 for s in status.values() if s == "ok")
    report.failed = sum(1 for s in status.values() if s == "failed")
    report.missing = exp.n_runs - report.ok - report.failed
    report.errors = {r: e for r, e in errors.items() if status.get(r) == "failed"}
    return report


def _check_memory(exp: Experiment, backend: Any, workers: int | None, force: bool) -> None:
    """Refuse a sweep whose runs at once would not fit in this machine's memory."""
    from privmarket.experiments.resources import check_memory

    if isinstance(backend, Backend):
        at_once = backend.workers if backend.name == "local" else 1
    elif backend == "local":
        from privmarket.experiments.sweep.backends import default_workers

        at_once = workers or default_workers()
    elif backend == "dask" and workers:
        at_once = workers  # a LocalCluster here; a remote cluster's memory is its own
    else:
        at_once = 1
    biggest = max(
        [exp.base_params.n_users]
        + [int(pt.get("n_users", 0)) for pt in exp.points if isinstance(pt.get("n_users"), int)]
    )
    degree = max(
        [exp.base_params.contacts_mean_degree]
        + [
            int(pt["contacts_mean_degree"])
            for pt in exp.points
            if isinstance(pt.get("contacts_mean_degree"), int)
        ]
    )
    check_memory(
        biggest,
        degree,
        processes=at_once,
        force=force,
        what=f"this sweep ({at_once} run{'s' if at_once != 1 else ''} at once)",
    )


def _drive(
    exp: Experiment,
    be: Backend,
    queue: deque[int],
    batch_size: int | None,
    seeds: list[int],
    record: Callable[[list[dict[str, Any]], list[Any]], None],
    flush: Callable[[], None],
    chunk_size: int,
    flush_seconds: float,
    buffer: list[dict[str, Any]],
    work: Callable[[Task], TaskResult],
) -> int:
    """Keep tasks in flight until every run is recorded; return the number of pool renewals."""
    reps = exp.replicates

    def task(runs: list[int]) -> Task:
        specs = tuple(
            RunSpec(r, r // reps, r % reps, seeds[r], exp.points[r // reps]) for r in runs
        )
        return Task(exp.base_params, exp.scenario, specs, exp.series)

    inflight: dict[Future, tuple[list[int], bool]] = {}
    suspects: deque[int] = deque()
    deaths: dict[int, int] = {}  # isolated deaths per run
    max_inflight = max(2, 2 * be.workers)
    restarts = 0
    last_flush = last_result = time.monotonic()

    def submit(runs: list[int], alone: bool) -> bool:
        """Send a task; False if the pool broke before it could (the task never ran)."""
        try:
            inflight[be.executor.submit(work, task(runs))] = (runs, alone)
        except BrokenExecutor:  # a worker died since the last results came in
            return False
        return True

    while queue or suspects or inflight:
        unsent = False
        if suspects:
            if not inflight:  # a suspect runs alone, so a death names it
                r = suspects.popleft()
                be.settle()
                if not submit([r], True):
                    suspects.appendleft(r)
                    unsent = True
        else:
            while queue and len(inflight) < max_inflight:
                n = batch_size or auto_batch(len(queue), be.workers)
                runs = [queue.popleft() for _ in range(min(n, len(queue)))]
                if not submit(runs, False):
                    queue.extendleft(reversed(runs))
                    unsent = True
                    break
        done, _ = wait(list(inflight), timeout=0 if unsent else 1.0, return_when=FIRST_COMPLETED)
        if done or not inflight:
            last_result = time.monotonic()
        elif time.monotonic() - last_result > be.stall_seconds:
            be.check_alive()  # a silent scheduler must not hold the sweep for ever
            last_result = time.monotonic()
        broken = unsent
        for f in done:
            runs, alone = inflight.pop(f)
            try:
                res: TaskResult = f.result()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # the task died, or could not be delivered
                broken |= isinstance(exc, BrokenExecutor)
                if alone:
                    deaths[runs[0]] = deaths.get(runs[0], 0) + 1
                if alone and deaths[runs[0]] < be.confirm_deaths:
                    suspects.appendleft(runs[0])
                elif alone:
                    why = f"{type(exc).__name__}: {exc}".strip()
                    row = {
                        "run": runs[0],
                        "point": runs[0] // reps,
                        "replicate": runs[0] % reps,
                        "seed": seeds[runs[0]],
                        "status": "failed",
                        "error": f"worker process died while running this run ({why})",
                        "wall_seconds": None,
                    }
                    row.update({f"param.{k}": v for k, v in exp.points[runs[0] // reps].items()})
                    record([row], [])
                else:
                    suspects.extend(runs)
                continue
            record(res.rows, res.series)
        if broken and be.breaks_on_death:
            # every other task of the broken pool is lost too: rerun its runs alone
            for runs, _ in inflight.values():
                suspects.extend(runs)
            inflight.clear()
            be.renew()
            restarts += 1
        if len(buffer) >= chunk_size or (buffer and time.monotonic() - last_flush >= flush_seconds):
            flush()
            last_flush = time.monotonic()
    return restarts

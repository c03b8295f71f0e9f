"""Execution backends: each one is a :class:`concurrent.futures.Executor` plus its care.

The sweep driver (:mod:`experiments.sweep.runner`) knows only the standard
``Executor`` interface (``submit`` and futures), so the local and the
distributed paths share one implementation:

``local`` (default)
    A :class:`concurrent.futures.ProcessPoolExecutor` on this machine. Workers
    start from a fork server that has already imported the model, so starting
    (and restarting, after a worker dies) is cheap. No server is needed.
``dask``
    ``distributed.Client(...).get_executor()``: the standard executor interface
    of a Dask cluster. With ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``) it joins an existing cluster, whose workers must
    have this project installed; otherwise it starts a ``LocalCluster`` of
    single-threaded worker processes on 127.0.0.1.
``serial``
    Runs every task in this process, one after another: for debugging. A run
    that crashes its process (rather than raising) takes the sweep down with it.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

BACKENDS = ("local", "dask", "serial")
#: Address schemes a Dask scheduler can be reached by from here.
SCHEMES = ("tcp", "tls", "ws", "wss")
#: Seconds to wait for a scheduler to answer (connecting, then its first reply).
CONNECT_TIMEOUT = 15.0
#: Seconds without any finished task after which the driver asks the scheduler if it is alive.
STALL_SECONDS = 60.0

_WORKER_MODULES = [
    "privmarket.experiments.sweep.worker",
    "privmarket.sim.model",
    "pandas",
    "pyarrow",
]


def default_workers() -> int:
    """Worker processes by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Backend:
    """An executor, how many tasks it runs at once, and how to renew or close it."""

    name = "backend"
    #: Exceptions from ``future.result()`` meaning the worker died (not that a run raised).
    died: tuple[type[BaseException], ...] = ()
    #: Whether a dead worker leaves the executor unusable (it must be renewed).
    breaks_on_death = False
    #: How many times a run must kill its worker while running alone to be blamed.
    confirm_deaths = 1
    #: Seconds without a finished task before :meth:`check_alive` is asked.
    stall_seconds = STALL_SECONDS

    def __init__(self) -> None:
        self.workers = 1
        self.executor: Executor | None = None

    def renew(self) -> None:
        """Replace a broken executor with a fresh one."""

    def settle(self) -> None:
        """Before a suspect run goes alone: let the cluster recover from deaths."""

    def check_alive(self) -> None:
        """Called when no task has finished for a while: raise ``OSError`` if the executor
        can no longer answer (the driver would otherwise wait for ever)."""

    def close(self, cancel: bool = False) -> None:
        """Release the executor; with ``cancel``, stop work in progress now."""

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(cancel=exc[0] is not None)


class LocalBackend(Backend):
    name = "local"
    died = (BrokenProcessPool,)
    breaks_on_death = True
    # A worker can also die of something outside the run (a SIGKILL from outside,
    # the OOM killer making room for another process); a run is blamed only if
    # its worker dies under it twice while it runs alone.
    confirm_deaths = 2

    def __init__(self, workers: int | None = None) -> None:
        super().__init__()
        self.workers = workers or default_workers()
        self._ctx = self._context()
        self.executor = self._new()

    @staticmethod
    def _context():
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(_WORKER_MODULES)
            return ctx
        return multiprocessing.get_context("spawn")

    def _new(self) -> ProcessPoolExecutor:
        from privmarket.experiments.sweep.worker import init_worker

        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._ctx,
            initializer=init_worker,
            initargs=(os.getpid(),),
        )

    def renew(self) -> None:
        self._stop(self.executor)
        self.executor = self._new()

    @staticmethod
    def _stop(executor: Any, cancel: bool = True) -> None:
        if executor is None:
            return
        procs = list(getattr(executor, "_processes", {}).values()) if cancel else []
        executor.shutdown(wait=not cancel, cancel_futures=cancel)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)

    def close(self, cancel: bool = False) -> None:
        self._stop(self.executor, cancel=cancel)
        self.executor = None


class DaskBackend(Backend):
    name = "dask"
    breaks_on_death = False
    # A run that merely shared a worker with a crashing one can be blamed by the
    # scheduler; it has to die alone twice, after the workers are back.
    confirm_deaths = 2

    def __init__(
        self, workers: int | None = None, scheduler: str | None = None, timeout: float = 15.0
    ) -> None:
        super().__init__()
        import dask
        from distributed import Client, LocalCluster
        from distributed.scheduler import KilledWorker

        self.died = (KilledWorker,)
        self.scheduler = scheduler
        self.cluster = None
        self.timeout = timeout
        if scheduler:
            check_scheduler_address(scheduler)
            # Dask's own connect timeout does not cover a peer that accepts the
            # connection and then never answers: ask it first, with a hard deadline.
            probe_scheduler(scheduler, timeout)
            try:
                self.client = Client(scheduler, timeout=f"{timeout}s")
            except OSError as exc:
                raise OSError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
        else:
            n = workers or default_workers()
            # A task whose worker dies under it twice is failed (Dask's default
            # retries it three times). The driver then reruns its runs alone to
            # find the one that kills workers; one retry keeps runs that merely
            # shared a worker with it from being blamed.
            with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
                self.cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                    silence_logs=logging.CRITICAL,
                )
            for name in (
                "distributed.scheduler",
                "distributed.nanny",
                "distributed.core",
                "distributed.client",
            ):
                logging.getLogger(name).setLevel(logging.CRITICAL)
            self.client = Client(self.cluster)
        threads = sum(self.client.nthreads().values())
        self.workers = workers if (scheduler and workers) else max(1, threads)
        # pure=False: a resubmitted task is a new task, not the failed one again
        self.executor = self.client.get_executor(pure=False)

    def settle(self) -> None:
        if self.cluster is not None:
            with contextlib.suppress(TimeoutError):
                self.client.wait_for_workers(len(self.cluster.workers), timeout=60)

    def check_alive(self) -> None:
        address = self.scheduler or self.client.scheduler.address
        if self.client.status not in ("running", "connecting"):
            raise OSError(f"lost the Dask scheduler at {address!r} (client {self.client.status})")
        probe_scheduler(address, self.timeout, lost=True)

    def describe(self) -> str:
        where = self.scheduler or f"LocalCluster at {self.client.scheduler.address}"
        return f"dask {where} ({self.workers} worker thread{'s' if self.workers != 1 else ''})"

    def close(self, cancel: bool = False) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False)
            self.executor = None
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


class InlineExecutor(Executor):
    """An executor that runs each call at once, in this process."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        f: Future = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except Exception as exc:
            f.set_exception(exc)
        return f


class SerialBackend(Backend):
    name = "serial"

    def __init__(self) -> None:
        super().__init__()
        self.workers = 1
        self.executor = InlineExecutor()

    def describe(self) -> str:
        return "serial (in this process)"


def check_scheduler_address(address: str) -> None:
    """Refuse (``UsageError``, one line) an address that is not SCHEME://HOST:PORT."""
    from distributed.comm.addressing import parse_address, parse_host_port

    from privmarket.experiments.errors import UsageError

    example = "e.g. tcp://10.0.0.5:8786"
    try:
        scheme, location = parse_address(address, strict=True)
        host, port = parse_host_port(location)
    except (ValueError, TypeError):
        raise UsageError(
            f"--scheduler {address!r}: not a scheduler address; expected SCHEME://HOST:PORT, "
            f"{example}"
        ) from None
    if scheme not in SCHEMES:
        raise UsageError(
            f"--scheduler {address!r}: scheme {scheme!r} unknown; allowed: {', '.join(SCHEMES)} "
            f"({example})"
        )
    if not host or not 1 <= int(port) <= 65535:
        raise UsageError(
            f"--scheduler {address!r}: expected a host and a port from 1 to 65535 ({example})"
        )


def probe_scheduler(address: str, timeout: float, lost: bool = False) -> None:
    """Ask the scheduler at ``address`` who it is; ``OSError`` if no answer in ``timeout`` s.

    The whole exchange (connect, handshake, reply) runs under one ``asyncio``
    deadline, so a peer that accepts the connection and stays silent cannot hold
    the caller longer than ``timeout``.
    """
    import asyncio

    from distributed.core import rpc

    async def ask() -> Any:
        async with rpc(address, timeout=timeout) as scheduler:
            return await scheduler.identity()

    async def bounded() -> Any:
        return await asyncio.wait_for(ask(), timeout)

    def in_own_thread() -> Any:
        # a thread of its own, so that a running event loop in the caller's thread
        # (a notebook, a dashboard) does not matter
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1, thread_name_prefix="privmarket-probe")
        try:
            return pool.submit(asyncio.run, bounded()).result(timeout + 5)
        finally:
            pool.shutdown(wait=False)

    try:
        reply = in_own_thread()
    except TimeoutError:
        what = "stopped answering" if lost else "did not answer"
        raise OSError(
            f"cannot reach the Dask scheduler at {address!r}: it {what} within {timeout:g} s"
        ) from None
    except OSError as exc:
        raise OSError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
    except Exception as exc:  # a peer that answers, but not as a scheduler
        raise OSError(
            f"{address!r} is not a Dask scheduler ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise OSError(f"{address!r} answered, but is not a Dask scheduler")


def check_backend_args(name: str, workers: int | None, scheduler: str | None) -> None:
    """Reject backend options that do not fit together (a UsageError naming the choices)."""
    from privmarket.experiments.errors import UsageError

    if name not in BACKENDS:
        raise UsageError(f"--backend {name!r}: allowed: {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: expected at least 1")
    if scheduler and name != "dask":
        raise UsageError("--scheduler needs --backend dask")
    if scheduler:
        check_scheduler_address(scheduler)


def make_backend(
    name: str = "local", workers: int | None = None, scheduler: str | None = None
) -> Backend:
    """The backend called ``name`` (see the module docstring)."""
    check_backend_args(name, workers, scheduler)
    if name == "dask":
        return DaskBackend(workers, scheduler)
    if name == "serial":
        return SerialBackend()
    return LocalBackend(workers)

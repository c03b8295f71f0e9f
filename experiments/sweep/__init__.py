"""Sweep runner: experiment files, designs, seeds, backends, storage, resume.

=============  ============================================================
``spec``       the TOML experiment file and its validation (``load_experiment``)
``schema``     the experiment file's keys, types and ranges, as pydantic models
``tomlfile``   reading TOML safely: bounded size and nesting, the line of every key
``designs``    grid, one-at-a-time, LHS, Sobol', Saltelli and Morris designs
``seeds``      per-run seeds from the root seed (``numpy.random.SeedSequence``)
``backends``   local process pool, Dask, serial: each a ``concurrent.futures.Executor``
``worker``     what a worker runs: a batch of runs, one results row each
``store``      the results folder (manifest, journal, Parquet chunks, lock) and its loaders
``runner``     the one driver: ``run_sweep`` (resume, worker deaths, Ctrl-C, progress)
``cli``        ``privmarket sweep``, ``analyze`` and ``sweep-bench``
``compare``    the measurements against ``mesa.batch_run`` and 1 vs 2 workers
=============  ============================================================

The common entry points are importable from here::

    from privmarket.experiments.sweep import run_sweep, load_results, load_series, load_manifest

See ``docs/sweeps.md``.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "run_sweep": "privmarket.experiments.sweep.runner",
    "load_experiment": "privmarket.experiments.sweep.spec",
    "load_results": "privmarket.experiments.sweep.store",
    "load_series": "privmarket.experiments.sweep.store",
    "load_manifest": "privmarket.experiments.sweep.store",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    # lazy, so that worker processes importing experiments.sweep.worker stay light
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

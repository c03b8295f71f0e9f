"""Seeds: every run's seed derives from the experiment's root seed and the run's index.

The derivation uses :class:`numpy.random.SeedSequence` spawn keys, so a run's
seed depends on nothing but ``(root, run index)``: not on the number of
workers, the backend, the batch it travelled in or the order in which runs
finish. Two independent streams hang off the root:

* ``SeedSequence(root, spawn_key=(0, i))``: the seed of run ``i``. This is
  exactly ``SeedSequence(root, spawn_key=(0,)).spawn(n)[i]``.
* ``SeedSequence(root, spawn_key=(1,))``: the design's own randomness (Latin
  hypercube, scrambled Sobol, Saltelli and Morris samples).

With ``common_seeds = true`` in the experiment file, run ``i`` takes the seed
of its replicate number instead (``spawn_key=(0, replicate)``): replicate ``k``
of every design point sees the same random numbers (common random numbers, as
``mesa.batch_run`` and NetLogo's BehaviorSpace do), which sharpens comparisons
between points.

Seeds are handed to the model as plain non-negative integers below 2**63 (they
fit a Parquet int64 column and ``privmarket run --seed``).
"""

from __future__ import annotations

import numpy as np

RUNS_KEY = 0
DESIGN_KEY = 1


def _to_int(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def run_seed(root: int, index: int) -> int:
    """The integer seed of run (or, with common seeds, replicate) ``index``."""
    return _to_int(np.random.SeedSequence(root, spawn_key=(RUNS_KEY, index)))


def run_seeds(root: int, n: int) -> list[int]:
    """Seeds of runs ``0 .. n-1``; the same as ``run_seed(root, i)`` for each ``i``."""
    parent = np.random.SeedSequence(root, spawn_key=(RUNS_KEY,))
    return [_to_int(child) for child in parent.spawn(n)]


def seeds_for(root: int, n_points: int, replicates: int, common: bool = False) -> list[int]:
    """Seeds of all runs, run ``i = point * replicates + replicate``."""
    if common:
        per_rep = run_seeds(root, replicates)
        return [per_rep[i % replicates] for i in range(n_points * replicates)]
    return run_seeds(root, n_points * replicates)


def design_rng(root: int) -> np.random.Generator:
    """The generator that draws the design's samples."""
    return np.random.default_rng(np.random.SeedSequence(root, spawn_key=(DESIGN_KEY,)))


def design_seed(root: int) -> int:
    """An integer seed for samplers that take one (SALib)."""
    ss = np.random.SeedSequence(root, spawn_key=(DESIGN_KEY,))
    return int(ss.generate_state(1, dtype=np.uint32)[0])

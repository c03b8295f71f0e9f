"""A validated experiment, and the parameters it varies.

:class:`Experiment` is what :func:`privmarket.experiments.sweep.spec.load_experiment`
returns once a file has passed validation; :class:`Varied` is one varied
parameter with its levels or distribution. They live here, apart from the file
parsing, because both the parser (:mod:`.spec`) and the designs (:mod:`.designs`)
use them, and the parser uses the designs: kept in the parser, they made the two
import each other.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from privmarket.experiments.sweep.schema import DesignSpec
from privmarket.sim.params import Params

#: The fields of a :class:`Varied` that describe a range (``low`` to ``high``, with a
#: distribution), as opposed to a level list: an experiment file gives them, and a
#: range's fingerprint is made of them.
RANGE_FIELDS = ("low", "high", "steps", "distribution", "mean", "sd", "mode", "integer")

#: The fields of an :class:`Experiment` that determine its results (not its name,
#: description or analysis): what its fingerprint is made of.
RESULT_FIELDS = (
    "scenario",
    "quarters",
    "replicates",
    "seed",
    "common_seeds",
    "fixed",
    "varied",
    "design",
    "series",
)


@dataclass(frozen=True)
class Varied:
    """One varied parameter: a level list or a range with a distribution.

    ``path`` is the canonical path (vendors and countries by name); ``written``
    is the path as the file spells it.
    """

    path: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    steps: int | None = None
    distribution: str = "uniform"
    mean: float | None = None
    sd: float | None = None
    mode: float | None = None
    integer: bool = False
    base: Any = None
    has_base: bool = False
    line: int | None = None
    written: str = ""

    @property
    def is_levels(self) -> bool:
        return self.values is not None

    def whole_bounds(self) -> tuple[float, float]:
        """The smallest and largest whole number an integer range may give."""
        lo = -math.inf if self.low is None else math.ceil(self.low)
        hi = math.inf if self.high is None else math.floor(self.high)
        return lo, hi

    def _whole(self, x: float) -> int:
        # Round half up, then keep within [low, high]: rounding 0.2 to 0 would
        # leave a range that starts at 0.2.
        lo, hi = self.whole_bounds()
        return int(min(max(math.floor(float(x) + 0.5), lo), hi))

    def n_levels(self) -> int:
        """How many levels a grid or one-at-a-time design steps through."""
        return len(self.levels())

    def levels(self) -> list[Any]:
        """The values a grid or one-at-a-time design steps through."""
        if self.values is not None:
            return list(self.values)
        n = int(self.steps or 0)
        if self.distribution == "uniform":
            raw = np.linspace(self.low, self.high, n)
        elif self.distribution == "loguniform":
            raw = np.geomspace(self.low, self.high, n)
        else:
            raw = self._ppf((np.arange(n) + 0.5) / n)
        if self.integer:
            return list(dict.fromkeys(self._whole(x) for x in raw))
        return [float(f"{float(x):.12g}") for x in raw]

    def _ppf(self, u: np.ndarray) -> np.ndarray:
        from scipy import stats

        u = np.asarray(u, dtype=np.float64)
        if self.distribution == "normal":
            lo = -np.inf if self.low is None else (self.low - self.mean) / self.sd
            hi = np.inf if self.high is None else (self.high - self.mean) / self.sd
            # Unbounded sides are cut at the 0.1% and 99.9% quantiles so that
            # designs which reach u = 0 or 1 exactly (Morris) stay finite.
            lo = max(lo, stats.norm.ppf(0.001))
            hi = min(hi, stats.norm.ppf(0.999))
            raw = stats.truncnorm.ppf(u, lo, hi, loc=self.mean, scale=self.sd)
            # The quantile can land a rounding error outside the cut (-5.6e-17 for
            # a cut at 0), which the parameter's own range would then refuse.
            low = -np.inf if self.low is None else self.low
            high = np.inf if self.high is None else self.high
            return np.clip(raw, low, high)
        if self.distribution == "triangular":
            width = self.high - self.low
            return stats.triang.ppf(u, (self.mode - self.low) / width, loc=self.low, scale=width)
        if self.distribution == "loguniform":
            return np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        return self.low + u * (self.high - self.low)

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Values for unit-cube coordinates ``u`` (sampled designs)."""
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        if self.values is not None:
            k = len(self.values)
            idx = np.minimum((u * k).astype(np.int64), k - 1)
            return [self.values[i] for i in idx]
        if self.integer and self.distribution == "uniform":
            # every whole number from low to high with the same chance
            lo, hi = (int(b) for b in self.whole_bounds())
            idx = np.minimum(lo + np.floor(u * (hi - lo + 1)), hi)
            return [int(v) for v in idx]
        raw = self._ppf(u)
        if self.integer:
            return [self._whole(x) for x in raw]
        return [float(x) for x in raw]

    def canonical(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path}
        if self.values is not None:
            d["values"] = list(self.values)
        else:
            d.update((name, getattr(self, name)) for name in RANGE_FIELDS)
        if self.has_base:
            d["base"] = self.base
        return d

    def describe(self) -> str:
        if self.values is not None:
            return f"{len(self.values)} levels {list(self.values)}"
        d = f"{self.distribution} {self.low}..{self.high}"
        if self.distribution == "normal":
            d = f"normal(mean {self.mean}, sd {self.sd})" + (
                f" cut to {self.low}..{self.high}"
                if self.low is not None or self.high is not None
                else ""
            )
        if self.distribution == "triangular":
            d += f" (mode {self.mode})"
        if self.steps:
            d += f", {self.steps} steps"
        return d + (" (integers)" if self.integer else "")


@dataclass
class Experiment:
    """A validated experiment: what to run, how many times, and what to keep."""

    name: str
    source: str
    text: str
    scenario: str
    quarters: int
    replicates: int
    seed: int
    common_seeds: bool
    fixed: dict[str, Any]
    varied: list[Varied]
    design: DesignSpec
    series: bool | list[str]
    base_params: Params
    description: str = ""
    analysis: dict[str, Any] = field(default_factory=dict)
    points: list[dict[str, Any]] = field(default_factory=list)  # the design, filled by validation
    unit: np.ndarray | None = None  # unit-cube coordinates of the points (sampled designs)

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_runs(self) -> int:
        return len(self.points) * self.replicates

    @property
    def parameter_names(self) -> list[str]:
        """Canonical paths of the varied parameters, in the file's order."""
        return [v.path for v in self.varied]

    @property
    def safe_name(self) -> str:
        """The name as a single, harmless folder name (see :func:`safe_name`)."""
        return safe_name(self.name)

    def canonical(self) -> dict[str, Any]:
        """Everything that determines the results (not the name, description or analysis)."""
        d = {name: getattr(self, name) for name in RESULT_FIELDS}
        d.update(varied=[v.canonical() for v in self.varied], design=self.design.canonical())
        return d

    def fingerprint(self) -> str:
        return _digest(self.canonical())

    def params_fingerprint(self) -> str:
        return _digest(self.base_params.model_dump(mode="json"))

    def design_fingerprint(self) -> str:
        return _digest(self.points)

    def params_for(self, point: int) -> Params:
        return self.base_params.with_updates(self.points[point])


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def safe_name(name: str) -> str:
    """``name`` as one folder name that cannot climb out of its parent.

    Letters, digits, ``.``, ``_`` and ``-`` are kept, every other run of
    characters becomes ``-``; leading dots and dashes are dropped, so ``..``,
    ``../../x`` and ``/etc`` cannot name a path elsewhere.

    >>> safe_name("../../x"), safe_name("a b/c"), safe_name("..")
    ('x', 'a-b-c', 'experiment')
    """
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).lstrip(".-").rstrip("-")[:100]
    return cleaned or "experiment"

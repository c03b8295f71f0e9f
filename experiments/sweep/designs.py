"""Designs: which parameter combinations (points) a sweep runs.

=============  ====================================================================
``grid``       full factorial over every varied parameter's levels (last varies fastest)
``oat``        one at a time: a base point, then each parameter through its levels
               with the others at their base values
``lhs``        Latin hypercube, ``samples`` points (``scipy.stats.qmc.LatinHypercube``)
``sobol``      scrambled Sobol' sequence, ``samples`` points (``scipy.stats.qmc.Sobol``)
``saltelli``   Saltelli's scheme for Sobol' indices (``SALib.sample.sobol``):
               ``samples * (D + 2)`` points, ``samples * (2D + 2)`` with second order
``morris``     Morris trajectories (``SALib.sample.morris``): ``samples * (D + 1)`` points
=============  ====================================================================

Sampled designs draw points in the unit cube ``[0, 1]^D`` and map each
coordinate to a value through the parameter's distribution (or, for a level
list, to one of its levels). The unit coordinates are kept with the design
(``Experiment.unit``) because the Morris analysis needs them. All randomness
comes from the experiment's root seed (:func:`experiments.sweep.seeds.design_rng`).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from privmarket.experiments.sweep.seeds import design_rng, design_seed

if TYPE_CHECKING:
    from privmarket.experiments.sweep.experiment import Experiment, Varied


def salib_problem(names: list[str]) -> dict[str, Any]:
    """The SALib problem over the unit cube (values are mapped afterwards)."""
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def unit_sample(exp: Experiment) -> np.ndarray:
    """Unit-cube coordinates of a sampled design, shape (points, D)."""
    d = exp.design
    dims = len(exp.varied)
    if d.kind == "lhs":
        from scipy.stats import qmc

        return qmc.LatinHypercube(d=dims, scramble=d.scramble, rng=design_rng(exp.seed)).random(
            d.samples
        )
    if d.kind == "sobol":
        from scipy.stats import qmc

        m = int(d.samples).bit_length() - 1
        return qmc.Sobol(d=dims, scramble=d.scramble, rng=design_rng(exp.seed)).random_base2(m)
    problem = salib_problem([v.path for v in exp.varied])
    if d.kind == "saltelli":
        from SALib.sample import sobol as salib_sobol

        return salib_sobol.sample(
            problem,
            d.samples,
            calc_second_order=d.second_order,
            scramble=d.scramble,
            seed=design_seed(exp.seed),
        )
    if d.kind == "morris":
        from SALib.sample import morris as salib_morris

        return salib_morris.sample(
            problem, d.samples, num_levels=d.levels, seed=design_seed(exp.seed)
        )
    raise ValueError(f"design {d.kind!r} does not sample the unit cube")


def base_value(v: Varied, params) -> Any:
    """The base (one-at-a-time) value of a varied parameter."""
    if v.has_base:
        return v.base
    current = params.get(v.path)
    if isinstance(current, list):
        if len({repr(x) for x in current}) != 1:
            raise ValueError(
                f"the oat design needs base = ... for {v.path!r}: the scenario's values "
                f"differ ({current})"
            )
        current = current[0]
    return current


def build_design(exp: Experiment) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """The design's points (``{path: value}`` overrides) and unit coordinates (or None)."""
    kind = exp.design.kind
    names = [v.path for v in exp.varied]
    if kind == "grid":
        levels = [v.levels() for v in exp.varied]
        points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*levels)]
        return points, None
    if kind == "oat":
        base = {v.path: base_value(v, exp.base_params) for v in exp.varied}
        points = [dict(base)]
        for v in exp.varied:
            for level in v.levels():
                points.append({**base, v.path: level})
        return points, None
    unit = unit_sample(exp)
    columns = [v.from_unit(unit[:, j]) for j, v in enumerate(exp.varied)]
    points = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    return points, unit

"""The market as a ready EMA Workbench model: uncertainties, outcomes, replications by seed.

The Exploratory Modelling and Analysis Workbench (``ema_workbench``) samples
parameters, runs a model over them in sequence or in parallel, and finds the
regions where an outcome holds (PRIM). :func:`market_model` gives it this
project's model::

    from ema_workbench import MultiprocessingEvaluator, Samplers
    from ema_workbench.analysis import prim
    from privmarket.experiments.ema import market_model

    model = market_model(
        {"vendors.Aegis.stance": None,            # the catalogue's range, 0 to 1
         "countries.*.appetite": None,            # every government's appetite
         "privacy_salience": (0.25, 3.0)},        # a narrower range
        outcomes=["Aegis.alive", "privacy_exposure"],
        fixed={"n_users": 2000, "quarters": 12},
        replications=3,
    )
    with MultiprocessingEvaluator(model, n_processes=2) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(
            200, uncertainty_sampling=Samplers.LHS, uncertainty_sampling_kwargs={"rng": 1})
    survival = outcomes["Aegis_alive"].mean(axis=1)      # (experiments, replications) -> share
    box = prim.Prim(experiments[model.uncertainties.keys()], survival >= 0.5).find_box()

Names. EMA wants its parameter and outcome names to be Python identifiers
(dotted names are deprecated there); the project names parameters by path
(``vendors.Aegis.stance``) and outcomes by ``summary()`` key (``Aegis.alive``).
:func:`ema_name` maps one to the other (``vendors_Aegis_stance``,
``countries_all_appetite``, ``Aegis_alive``); each EMA parameter carries the
path as its ``variable_name``, so the model receives paths.

Bounds come from the parameter catalogue (:func:`catalogue`: the ranges
``Params`` declares and validates), so a sampled value is always one the model
accepts. Replication ``k`` of every experiment runs with the same seed (common
random numbers, as ``common_seeds = true`` in a sweep), derived from ``seed``
as the sweep runner derives replicate seeds; the seeds are in the model's
``replications``. Results do not depend on the evaluator or on the number of
processes.

:func:`run_market` is the model function: a plain module-level function, so
EMA's multiprocessing evaluator can send it to worker processes under any
start method (``spawn`` is the default on macOS and Windows, where a lambda or
a local function fails to pickle).
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from privmarket.experiments.sweep.seeds import run_seeds
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, Params
from privmarket.sim.scenarios import get_scenario

with warnings.catch_warnings():
    # EMA announces at import that an optional parallel backend (ipyparallel) is missing.
    warnings.filterwarnings("ignore", message="ipyparallel not installed")
    from ema_workbench import (
        ArrayOutcome,
        BooleanParameter,
        CategoricalParameter,
        Constant,
        IntegerParameter,
        RealParameter,
        ReplicatorModel,
    )

__all__ = ["catalogue", "ema_name", "market_model", "parameter_path", "run_market", "uncertainty"]

#: A range given for a parameter: None (the catalogue's), (low, high), or a list of levels.
Range = None | tuple[float, float] | Sequence[Any]

_SCHEMA_KINDS = {"number": "real", "integer": "integer", "boolean": "boolean", "string": "text"}


def ema_name(path: str) -> str:
    """The EMA Workbench name (a Python identifier) of a parameter path or outcome key.

    >>> ema_name("vendors.Aegis.stance")
    'vendors_Aegis_stance'
    >>> ema_name("countries.*.appetite")
    'countries_all_appetite'
    >>> ema_name("Aegis.alive")
    'Aegis_alive'
    """
    name = re.sub(r"\W", "_", path.replace("*", "all"))
    return name if name.isidentifier() else f"_{name}"


# --------------------------------------------------------------- catalogue
def _python_kind(default: Any) -> str:
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "real"
    if isinstance(default, str):
        return "text"
    return "vector"


@functools.cache
def _catalogue_rows(scenario: str) -> tuple[dict[str, Any], ...]:
    params = get_scenario(scenario).params
    rows = [
        dict(
            path=r["name"],
            kind=_python_kind(r["default"]),
            low=r["low"],
            high=r["high"],
            default=params.get(r["name"]),
            description=r["description"],
        )
        for r in Params.describe()
    ]
    # Vendors' and countries' fields, from the schema Params validates with.
    schema = Params.model_json_schema()
    for group in ("vendors", "countries"):
        ref = schema["properties"][group]["items"]["$ref"].rsplit("/", 1)[-1]
        fields = schema["$defs"][ref]["properties"]
        names = ["*"] + [item["name"] for item in params.model_dump()[group]]
        for who in names:
            for field, spec in fields.items():
                if field == "name":
                    continue
                path = f"{group}.{who}.{field}"
                rows.append(
                    dict(
                        path=path,
                        kind=_SCHEMA_KINDS.get(spec.get("type"), "vector"),
                        low=spec.get("minimum", spec.get("exclusiveMinimum")),
                        high=spec.get("maximum", spec.get("exclusiveMaximum")),
                        default=None if who == "*" else params.get(path),
                        description=spec.get("description", ""),
                    )
                )
    for r in rows:
        r["name"] = ema_name(r["path"])
    return tuple(rows)


def catalogue(scenario: str = "baseline") -> pd.DataFrame:
    """Every scalar parameter of ``scenario`` with its EMA name, kind and declared range.

    One row per path: the top-level fields (``Params.describe()``) and each
    vendor's and country's fields, by name and with ``*`` (all of them).
    ``kind`` is ``real``, ``integer``, ``boolean``, ``text`` or ``vector``
    (a tuple such as ``price``: not an EMA uncertainty). ``low`` and ``high``
    are the declared bounds (empty where there is none).

    >>> cat = catalogue().set_index("path")
    >>> cat.loc["vendors.Aegis.stance", "name"], cat.loc["vendors.Aegis.stance", "kind"]
    ('vendors_Aegis_stance', 'real')
    >>> float(cat.loc["n_users", "low"]), float(cat.loc["n_users", "high"])
    (1.0, 50000000.0)
    """
    rows = _catalogue_rows(scenario)
    columns = ["path", "name", "kind", "low", "high", "default", "description"]
    return pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=columns)


@functools.cache
def _paths_by_name(scenario: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for r in _catalogue_rows(scenario):
        # Two paths could share a name (a vendor called "all" and "*"); such a name is ambiguous.
        out[r["name"]] = r["path"] if out.get(r["name"], r["path"]) == r["path"] else None
    return out


def parameter_path(name: str, scenario: str = "baseline") -> str:
    """The project's parameter path for an EMA name or a path, spelled canonically.

    >>> parameter_path("vendors_Aegis_stance")
    'vendors.Aegis.stance'
    >>> parameter_path("vendors.0.stance")
    'vendors.Aegis.stance'
    """
    params = get_scenario(scenario).params
    try:
        return params.canonical_path(name)
    except ParameterError:
        pass
    paths = _paths_by_name(scenario)
    if name in paths and paths[name] is not None:
        return paths[name]
    if name in paths:
        raise ParameterError(f"EMA name {name!r} stands for two parameters; give the path instead")
    raise ParameterError(
        f"unknown parameter {name!r}: not a parameter path of scenario {scenario!r} nor the EMA "
        "name of one; privmarket.experiments.ema.catalogue() lists them"
    )


# ------------------------------------------------------------ uncertainties
def _check(params: Params, path: str, value: Any, what: str) -> None:
    try:
        params.with_updates({path: value})
    except ParameterError as exc:
        raise ParameterError(f"{path}: {what} {value!r} is not allowed ({exc})") from None


def uncertainty(path: str, values: Range = None, scenario: str = "baseline") -> Any:
    """An EMA parameter for ``path`` (or its EMA name), named for EMA, carrying the path.

    ``values`` is None (the catalogue's range; booleans: both), ``(low, high)``
    inside that range, or a list of levels (a categorical parameter). Every
    endpoint and level is validated by ``Params`` first, so sampled values are
    values the model accepts.

    >>> u = uncertainty("vendors.Aegis.stance")
    >>> (u.name, u.variable_name, u.lower_bound, u.upper_bound)
    ('vendors_Aegis_stance', ['vendors.Aegis.stance'], 0.0, 1.0)
    """
    path = parameter_path(path, scenario)
    rows = {r["path"]: r for r in _catalogue_rows(scenario)}
    if path not in rows:
        raise ParameterError(f"{path}: not a scalar parameter; catalogue() lists them")
    row, params, name = rows[path], get_scenario(scenario).params, ema_name(path)
    if isinstance(values, list) or (isinstance(values, tuple) and row["kind"] == "text"):
        levels = list(values)
        if len(levels) < 2:
            raise ParameterError(f"{path}: give at least two levels, not {levels!r}")
        for v in levels:
            _check(params, path, v, "level")
        return CategoricalParameter(name, levels, variable_name=path)
    if row["kind"] == "boolean" and values is None:
        return BooleanParameter(name, variable_name=path)
    if row["kind"] not in ("real", "integer"):
        raise ParameterError(
            f"{path} is a {row['kind']} parameter: give its levels as a list"
            + (
                ", e.g. ['principled', 'expected_value', 'adaptive']"
                if row["kind"] == "text"
                else ""
            )
        )
    if values is None:
        if row["low"] is None or row["high"] is None:
            raise ParameterError(
                f"{path} has no declared {'lower' if row['low'] is None else 'upper'} bound; "
                "give a range, e.g. (low, high)"
            )
        low, high = row["low"], row["high"]
    else:
        try:
            low, high = values
        except (TypeError, ValueError):
            raise ParameterError(
                f"{path}: range {values!r}: expected None, (low, high) or a list of levels"
            ) from None
    for v, what in ((low, "low end"), (high, "high end")):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ParameterError(f"{path}: {what} {v!r} is not a finite number")
    if not low < high:
        raise ParameterError(f"{path}: range ({low!r}, {high!r}): low must be below high")
    if row["kind"] == "integer":
        if int(low) != low or int(high) != high:
            raise ParameterError(f"{path} takes whole numbers; range ({low!r}, {high!r})")
        low, high = int(low), int(high)
    _check(params, path, low, "low end")
    _check(params, path, high, "high end")
    if row["kind"] == "integer":
        return IntegerParameter(name, low, high, variable_name=path)
    return RealParameter(name, float(low), float(high), variable_name=path)


# ------------------------------------------------------------------ model
def _value(v: Any) -> float | bool:
    # One type per outcome across all runs: EMA sizes its result arrays from the
    # first run, and an exit quarter is a number in one run and empty in another.
    if isinstance(v, bool):
        return v
    return float("nan") if v is None else float(v)


def run_market(scenario: str = "baseline", seed: int = 0, **params: Any) -> dict[str, Any]:
    """One run: ``MarketModel(scenario, rng=seed, **params).run()``, its ``summary()`` as values.

    ``params`` are parameter paths or their EMA names (EMA passes constants by
    name). Booleans stay booleans (``Aegis.alive``); every other outcome is a
    float, with NaN for an empty one (the exit quarter of a vendor still in
    the market). This is the function :func:`market_model` gives EMA.

    >>> out = run_market(seed=1, n_users=1000, quarters=4, vendors_Aegis_stance=0.9)
    >>> out["quarters"], type(out["Aegis.alive"]).__name__
    (4.0, 'bool')
    """
    updates = {parameter_path(k, scenario): v for k, v in params.items()}
    model = MarketModel(scenario=scenario, rng=int(seed), **updates)
    model.run()
    return {k: _value(v) for k, v in model.summary().items()}


def _outcome_keys(scenario: str, fixed: Mapping[str, Any]) -> list[str]:
    """The keys of ``summary()`` for this world (they name its vendors), from a one-quarter run."""
    probe = dict(fixed)
    probe.update(n_users=200, quarters=1)
    return list(run_market(scenario, 0, **probe))


def market_model(
    uncertainties: Mapping[str, Range] | Iterable[str],
    *,
    outcomes: Iterable[str] | None = None,
    scenario: str = "baseline",
    fixed: Mapping[str, Any] | None = None,
    replications: int = 1,
    seed: int = 0,
    name: str = "market",
) -> Any:
    """A ready ``ema_workbench.ReplicatorModel`` of the market.

    ``uncertainties`` maps parameter paths (or EMA names) to a range (see
    :func:`uncertainty`; a plain list of paths takes the catalogue's ranges).
    ``outcomes`` are ``summary()`` keys (default: all of them); each becomes
    an ``ArrayOutcome`` named by :func:`ema_name`, so results are arrays of
    shape (experiments, replications). ``fixed`` holds parameters set for
    every run (paths or names; e.g. ``{"n_users": 2000, "quarters": 12}``),
    validated now. Replication ``k`` runs with seed ``run_seeds(seed,
    replications)[k]`` in every experiment.

    >>> m = market_model(["vendors.Aegis.stance"], outcomes=["Aegis.alive"], replications=2)
    >>> [u.name for u in m.uncertainties], [o.name for o in m.outcomes], len(m.replications)
    (['vendors_Aegis_stance'], ['Aegis_alive'], 2)
    """
    get_scenario(scenario)  # an unknown scenario fails here, with the allowed names
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise ParameterError(f"replications {replications!r}: expected a whole number >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed {seed!r}: expected a non-negative whole number")
    given = (
        dict(uncertainties) if isinstance(uncertainties, Mapping) else dict.fromkeys(uncertainties)
    )
    if not given:
        raise ParameterError("give at least one uncertain parameter")
    params = [uncertainty(p, v, scenario) for p, v in given.items()]
    _no_two(p.variable_name[0] for p in params)
    fixed_paths = {parameter_path(k, scenario): v for k, v in (fixed or {}).items()}
    overlap = sorted(set(fixed_paths) & {p.variable_name[0] for p in params})
    if overlap:
        raise ParameterError(f"{', '.join(overlap)}: both fixed and uncertain")
    get_scenario(scenario).params.with_updates(fixed_paths)  # a bad fixed value fails here
    keys = _outcome_keys(scenario, fixed_paths)
    wanted = list(outcomes) if outcomes is not None else keys
    unknown = [k for k in wanted if k not in keys]
    if unknown:
        raise ParameterError(f"unknown outcome(s) {', '.join(map(repr, unknown))}; allowed: {keys}")
    _no_two(wanted)

    model = ReplicatorModel(ema_name(name), function=run_market)
    model.uncertainties = params
    model.outcomes = [ArrayOutcome(ema_name(k), variable_name=k) for k in wanted]
    # Constants reach the function by their EMA names, which run_market maps back to paths.
    model.constants = [Constant("scenario", scenario)] + [
        Constant(ema_name(p), v) for p, v in fixed_paths.items()
    ]
    model.replications = [{"seed": s} for s in run_seeds(seed, replications)]
    return model


def _no_two(paths: Iterable[str]) -> None:
    seen: dict[str, str] = {}
    for p in paths:
        n = ema_name(p)
        if n in seen:
            what = "given twice" if seen[n] == p else f"and {seen[n]!r} share the EMA name {n!r}"
            raise ParameterError(f"{p!r} {what}")
        seen[n] = p

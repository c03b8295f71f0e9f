"""Experiment files: a TOML description of a sweep, fully validated before anything runs.

An experiment file names the scenario, the fixed parameters, the varied
parameters (level lists, ranges, distributions), the design, the replicates,
the quarters, the root seed and which outcomes to keep. See ``docs/sweeps.md``
for the full reference. A minimal file, a grid of 3 x 3 points::

    name = "quick-grid"
    scenario = "baseline"

    [varied]
    "vendors.Aegis.stance" = [0.2, 0.6, 1.0]
    "countries.*.appetite" = { low = 0.1, high = 0.9, steps = 3 }

What it leaves out takes its default: the scenario's quarters and other
parameters (``quarters``, ``[fixed]``), one replicate, root seed 0 and the
grid design (``[design] kind = "grid"``).

:func:`load_experiment` reads the file (:mod:`.tomlfile`: bounded size and
nesting, the line of every key), checks its shape against the pydantic models
of :mod:`.schema`, then checks every parameter path and value against
:class:`~privmarket.sim.params.Params`, computes the design's size, builds the
design and checks every point. Problems are collected and raised together as
one :class:`SpecError`, one line each, naming the file, the line, the key (a
parameter by its canonical path) and what is allowed. Nothing is written
before validation has passed.

Parameters have one identity: ``vendors.0.stance`` and ``vendors.Aegis.stance``
are one parameter, recorded as ``vendors.Aegis.stance`` (the canonical path of
:meth:`Params.canonical_path`); giving both is an error, as is a ``*`` path
that overlaps a named one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from privmarket.experiments.names import name_problems
from privmarket.experiments.sweep.designs import build_design
from privmarket.experiments.sweep.experiment import RANGE_FIELDS, Experiment, Varied, safe_name
from privmarket.experiments.sweep.schema import (
    DESIGNS,
    DISTRIBUTIONS,
    MAX_RUNS,
    SAMPLED,
    AnalysisSpec,
    DesignSpec,
    ExperimentFile,
    OutputsSpec,
    VariedSpec,
)
from privmarket.experiments.sweep.tomlfile import MAX_BYTES, TomlError, decode, key_lines, read_toml
from privmarket.sim.params import ParameterError, Params

__all__ = [
    "DESIGNS",
    "DISTRIBUTIONS",
    "SAMPLED",
    "DesignSpec",
    "Experiment",
    "SpecError",
    "Varied",
    "design_size",
    "key_lines",
    "load_experiment",
    "parse_condition",
    "parse_experiment",
    "safe_name",
]

VARIED_KEYS = tuple(VariedSpec.model_fields)
_LISTS = ("vendors", "countries")
#: Top-level values of an experiment file that the experiment keeps as the file gives them.
AS_GIVEN = ("scenario", "replicates", "seed", "common_seeds", "description")
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.*]*)\s*(?:(<=|>=|==|!=|<|>)\s*(\S+))?\s*$")


class SpecError(ParameterError):
    """An experiment file that cannot be run; the message names file, line, value and allowed."""

    def __init__(self, source: str, problems: list[tuple[int | None, str]]) -> None:
        self.source = source
        self.problems = sorted(
            [(n, " ".join(str(msg).split())) for n, msg in problems], key=lambda p: p[0] or 0
        )
        lines = [
            f"{source}, line {n}: {msg}" if n else f"{source}: {msg}" for n, msg in self.problems
        ]
        if len(lines) == 1:
            text = lines[0]
        else:
            text = f"{source} has {len(lines)} problems:\n  " + "\n  ".join(lines)
        super().__init__(text)


def design_size(kind: str, varied: list[Varied], design: DesignSpec) -> int:
    """Points of a design, from its formula (docs/sweeps.md), without building it."""
    d = len(varied)
    if kind == "grid":
        return math.prod(v.n_levels() for v in varied)
    if kind == "oat":
        return 1 + sum(v.n_levels() for v in varied)
    samples = int(design.samples or 0)
    if kind in ("lhs", "sobol"):
        return samples
    if kind == "saltelli":
        return samples * ((2 * d + 2) if design.second_order else (d + 2))
    return samples * (d + 1)  # morris


# -------------------------------------------------------------- validation
class _Problems:
    """Problems found so far, each at the line of the key it concerns."""

    def __init__(self, source: str, lines: dict[tuple[str, ...], int]) -> None:
        self.source = source
        self.lines = lines
        self.items: list[tuple[int | None, str]] = []

    def line(self, *parts: str) -> int | None:
        key = tuple(parts)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    def add(self, parts: tuple[str, ...] | list[str], msg: str) -> None:
        self.items.append((self.line(*parts), msg))

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise SpecError(self.source, self.items)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_problems(
    p: _Problems,
    exc: ValidationError,
    model: type[BaseModel],
    parts: tuple[str, ...],
    label: str,
) -> set[str]:
    """Report pydantic's errors for ``model`` at ``parts``; return the fields at fault."""
    bad: set[str] = set()
    for err in exc.errors():
        loc = tuple(str(x) for x in err.get("loc", ()))
        kind, value = err["type"], err.get("input")
        key = loc[0] if loc else ""
        if loc and key in bad:  # a union reports each of its members: once is enough
            continue
        bad.add(key)
        section = label in ("design", "outputs", "analysis")
        prefix = f"{label}: " if label and not section else ""
        if kind == "extra_forbidden":
            name = f"{label}.{key}" if section else key
            allowed = ", ".join(model.model_fields)
            p.add((*parts, key), f"{prefix}unknown key {name!r}; allowed: {allowed}")
            continue
        name = f"{label}.{key}" if section else key
        if not loc:  # a rule across fields (a model validator)
            p.add(parts, prefix + err["msg"].removeprefix("Value error, "))
        elif kind == "value_error":  # a field's own rule, with its own message
            p.add((*parts, key), prefix + err["msg"].removeprefix("Value error, "))
        elif kind == "literal_error" and key == "kind":
            p.add((*parts, key), f"design kind {value!r} is unknown; allowed: {', '.join(DESIGNS)}")
        elif kind == "literal_error" and key == "distribution":
            p.add(
                (*parts, key),
                f"{prefix}distribution {value!r} is unknown; allowed: {', '.join(DISTRIBUTIONS)}",
            )
        else:
            what = model.model_fields[key].description if key in model.model_fields else ""
            p.add((*parts, key), f"{prefix}{name} = {_shown(value)}: expected {what}")
    return bad


def _validated(
    p: _Problems, model: type[BaseModel], raw: Any, parts: tuple[str, ...], label: str
) -> BaseModel | None:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        _schema_problems(p, exc, model, parts, label)
        return None


def _flatten(table: dict[str, Any], varied: bool) -> list[tuple[tuple[str, ...], Any]]:
    """Nested tables (unquoted dotted keys) as (key parts, value) pairs.

    In ``[varied]`` a table holding any range key (``low``, ``values``, ...) is
    one parameter's specification, not a level of the path.
    """
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in table.items():
        if isinstance(v, dict) and v and not (varied and any(x in VARIED_KEYS for x in v)):
            out.extend(((k, *q), vv) for q, vv in _flatten(v, varied))
        else:
            out.append(((k,), v))
    return out


def load_experiment(path: str | Path) -> Experiment:
    """Read and fully validate an experiment file (raises :class:`SpecError`)."""
    p = Path(path)
    try:
        if p.is_file() and p.stat().st_size > MAX_BYTES:
            raise SpecError(
                str(path),
                [(None, f"the file has {p.stat().st_size:,} bytes; at most {MAX_BYTES:,}")],
            )
        text = decode(p.read_bytes())
    except FileNotFoundError:
        raise SpecError(str(path), [(None, "no such experiment file")]) from None
    except IsADirectoryError:
        raise SpecError(str(path), [(None, "is a folder, not an experiment file")]) from None
    except TomlError as exc:
        raise SpecError(str(path), [(exc.line, str(exc))]) from None
    return parse_experiment(text, source=str(path), default_name=p.stem)


def parse_experiment(text: str, source: str = "<experiment>", default_name: str = "") -> Experiment:
    """Parse and validate experiment text (see :func:`load_experiment`)."""
    from privmarket.sim.scenarios import get_scenario, list_scenarios

    try:
        if len(text.encode("utf-8")) > MAX_BYTES:
            raise TomlError(f"the text has more than {MAX_BYTES:,} bytes")
        data, lines = read_toml(text)
    except TomlError as exc:
        raise SpecError(source, [(exc.line, str(exc))]) from None
    p = _Problems(source, lines)

    # ---- the top level: keys, types and ranges (the tables are checked below)
    try:
        top = ExperimentFile.model_validate(data)
    except ValidationError as exc:
        bad = _schema_problems(p, exc, ExperimentFile, (), "")
        top = ExperimentFile.model_validate({k: v for k, v in data.items() if k not in bad})
    name = top.name or default_name or "experiment"
    if top.scenario not in list_scenarios():
        p.add(
            ("scenario",),
            f"scenario = {top.scenario!r}: unknown scenario; allowed: {', '.join(list_scenarios())}",
        )
        p.raise_if_any()
    scenario_params = get_scenario(top.scenario).params

    # ---- the design (its kind decides some rules for the varied parameters)
    raw_design = top.design if top.design is not None else {"kind": "grid"}
    if isinstance(raw_design, str):
        raw_design = {"kind": raw_design}
    design = None
    if isinstance(raw_design, dict):
        design = _validated(p, DesignSpec, raw_design, ("design",), "design")
    else:
        p.add(
            ("design",),
            f"design = {_shown(raw_design)}: expected a design name or a [design] table",
        )
    kind = design.kind if design is not None else None
    if design is None:  # still check the parameters, without the design's own rules
        known = raw_design.get("kind") if isinstance(raw_design, dict) else None
        kind = known if known in DESIGNS and known not in SAMPLED else None

    # ---- fixed parameters
    fixed, base = _fixed(p, top, scenario_params)

    # ---- varied parameters
    varied = _varied_all(p, top, base, fixed, kind)
    if kind in SAMPLED and not varied and not len(p):
        p.add(("design", "kind"), f"design {kind!r} needs at least one varied parameter")

    # ---- outputs and analysis
    outputs = _table(p, OutputsSpec, top.outputs, "outputs")
    analysis = _table(p, AnalysisSpec, top.analysis, "analysis")
    p.raise_if_any()
    assert design is not None and outputs is not None and analysis is not None
    _check_names(p, base, varied, outputs, analysis)
    p.raise_if_any()
    plan = analysis.model_dump(exclude_none=True)
    if "heatmap" in plan:  # by canonical path, like the results' columns
        spelled = {v.written: v.path for v in varied}
        plan["heatmap"] = [spelled.get(x, x) for x in plan["heatmap"]]

    exp = Experiment(
        name=name,
        source=source,
        text=text,
        quarters=base.quarters,
        fixed=fixed,
        varied=varied,
        design=design,
        series=outputs.series,
        base_params=base,
        analysis=plan,
        **{key: getattr(top, key) for key in AS_GIVEN},
    )

    # ---- the design's size from its formula, then the design, then every point
    n_runs = design_size(design.kind, varied, design) * top.replicates
    if n_runs > MAX_RUNS:
        p.add(("design",), f"the design has {n_runs:,} runs; at most {MAX_RUNS:,} allowed")
        p.raise_if_any()
    try:
        exp.points, exp.unit = build_design(exp)
    except ValueError as exc:
        p.add(("design",), str(exc))
        p.raise_if_any()
    bad_points = 0
    for i, point in enumerate(exp.points):
        try:
            base.with_updates(point)
        except ParameterError as exc:
            bad_points += 1
            if bad_points <= 3:
                shown = ", ".join(f"{k}={v!r}" for k, v in point.items())
                p.add(
                    ("varied",), f"design point {i} ({shown}) is not a valid parameter set: {exc}"
                )
    if bad_points > 3:
        p.add(("varied",), f"... and {bad_points - 3} more invalid design points")
    p.raise_if_any()
    return exp


def _table(p: _Problems, model: type[BaseModel], raw: Any, label: str) -> BaseModel | None:
    if raw is None:
        return model()
    if not isinstance(raw, dict):
        p.add((label,), f"{label} = {_shown(raw)}: expected a [{label}] table")
        return None
    return _validated(p, model, raw, (label,), label)


def _canonical(
    p: _Problems, params: Params, parts: tuple[str, ...], written: str, label: str
) -> str | None:
    """The canonical path of ``written``, or None (reported) if it names nothing."""
    try:
        path = params.canonical_path(written)
        params.get(path)
    except ParameterError as exc:
        why = str(exc)
        try:  # setting a path explains more (it lists the known names)
            params.with_updates({written: None})
        except ParameterError as setting:
            if "unknown parameter" in str(setting) or "parameter path" in str(setting):
                why = str(setting)
        p.add(parts, f"{label} {written!r}: {why}")
        return None
    return path


def _named(path: str, written: str) -> str:
    """``'vendors.Aegis.stance'``, with the spelling used in the file if it differs."""
    return repr(path) if path == written else f"{path!r} (written {written!r})"


def _entries(
    p: _Problems, params: Params, section: str, table: dict[str, Any]
) -> Iterator[tuple[tuple[str, ...], str, str, Any]]:
    """The entries of ``[fixed]`` or ``[varied]`` (``section``) that name a parameter of
    ``params``, as (location, path as written, canonical path, value).

    Both tables are read the same way, so both report a path that names nothing
    (and skip it) the same way.
    """
    for parts, value in _flatten(table, varied=section == "varied"):
        written = ".".join(parts)
        loc = (section, *parts)
        path = _canonical(p, params, loc, written, section)
        if path is not None:
            yield loc, written, path, value


def _fixed(p: _Problems, top: ExperimentFile, scenario: Params) -> tuple[dict[str, Any], Params]:
    """The fixed values by canonical path, and the scenario's parameters with them applied."""
    fixed: dict[str, Any] = {}
    renames: dict[str, Any] = {}
    where: dict[str, tuple[str, ...]] = {}
    for loc, written, path, value in _entries(p, scenario, "fixed", top.fixed):
        if path in where:
            p.add(loc, f"fixed {_named(path, written)} is given twice; keep one")
            continue
        try:
            scenario.with_updates({path: value})
        except ParameterError as exc:
            p.add(loc, f"{path} = {_shown(value)}: {exc}")
            continue
        where[path] = loc
        bucket = renames if path.split(".")[-1] == "name" and path.startswith(_LISTS) else fixed
        bucket[path] = value
    if top.quarters is not None:
        if "quarters" in fixed:
            p.add(where["quarters"], "quarters is set both at the top and in [fixed]")
        fixed = {"quarters": top.quarters, **{k: v for k, v in fixed.items() if k != "quarters"}}
    # names last: every other fixed path names vendors and countries as the scenario does
    fixed.update(renames)
    try:
        base = scenario.with_updates(fixed)
    except ParameterError as exc:
        p.add(("fixed",), f"the fixed parameters do not fit together: {exc}")
        base = scenario
    for _, why in name_problems(base):
        loc = next((where[k] for k in where if k.endswith(".name")), ("fixed",))
        p.add(loc, why)
    return fixed, base


def _overlap(a: str, b: str) -> bool:
    """Whether two canonical paths set a common value (``vendors.*.x`` and ``vendors.A.x``)."""
    if a == b:
        return True
    pa, pb = a.split("."), b.split(".")
    return len(pa) == len(pb) == 3 and pa[0] == pb[0] and pa[2] == pb[2] and "*" in (pa[1], pb[1])


def _varied_all(
    p: _Problems, top: ExperimentFile, base: Params, fixed: dict[str, Any], kind: str | None
) -> list[Varied]:
    varied: list[Varied] = []
    for loc, written, path, raw in _entries(p, base, "varied", top.varied):
        label = f"varied {_named(path, written)}"
        if path.startswith(_LISTS) and path.endswith(".name"):
            p.add(loc, f"{label}: names cannot be varied (they name outcome columns and paths)")
            continue
        clash = next((v for v in varied if _overlap(v.path, path)), None)
        if clash is not None:
            same = "name one parameter" if clash.path == path else "overlap"
            p.add(
                loc,
                f"{label} and {_named(clash.path, clash.written)} {same}; give each parameter once",
            )
            continue
        if path in fixed:
            p.add(loc, f"{path} is both fixed and varied; keep one")
            continue
        # a fixed value for one vendor that a varied '*' path would silently override
        hidden = [f for f in fixed if f != path and _overlap(f, path) and "*" not in f]
        if hidden:
            p.add(loc, f"{label} would override fixed {hidden[0]!r}; keep one")
            continue
        v = _one_varied(p, loc, path, written, label, raw, base, kind)
        if v is not None:
            varied.append(v)
    return varied


def _one_varied(
    p: _Problems,
    loc: tuple[str, ...],
    path: str,
    written: str,
    label: str,
    raw: Any,
    base: Params,
    kind: str | None,
) -> Varied | None:
    current = base.get(path)
    sample = current[0] if isinstance(current, list) and current else current
    if isinstance(raw, list):
        raw = {"values": raw}
    elif not isinstance(raw, dict):
        p.add(
            loc,
            f"{label} = {_shown(raw)}: expected a list of values, or a table with "
            "values = [...] or low/high (and steps, distribution)",
        )
        return None
    spec = _validated(p, VariedSpec, raw, loc, label)
    if spec is None:
        return None
    n_before = len(p)

    def check(value: Any, what: str) -> None:
        try:
            base.with_updates({path: value})
        except ParameterError as exc:
            p.add(loc, f"{label}: {what} {_shown(value)} is not allowed: {exc}")

    has_base = "base" in spec.model_fields_set
    # what a varied parameter records besides its levels or its range
    recorded = {"base": spec.base, "has_base": has_base, "line": p.line(*loc), "written": written}
    if spec.values is not None:
        if len({json.dumps(x, sort_keys=True, default=str) for x in spec.values}) != len(
            spec.values
        ):
            p.add(loc, f"{label}: values {_shown(spec.values)} repeat a level")
            return None
        for x in spec.values:
            check(x, "value")
        if has_base:
            check(spec.base, "base")
        if len(p) > n_before:
            return None
        return Varied(path, values=tuple(spec.values), **recorded)

    # a range
    is_int = isinstance(sample, int) and not isinstance(sample, bool)
    if not isinstance(sample, int | float) or isinstance(sample, bool):
        p.add(
            loc,
            f"{label}: a {type(sample).__name__} parameter cannot take a range; "
            f"give values = [...] (now {_shown(current)})",
        )
        return None
    integer = spec.integer if spec.integer is not None else is_int
    if is_int and not integer:
        p.add(loc, f"{label}: {path} takes whole numbers; integer = false is not allowed")
        return None
    if kind in ("grid", "oat") and spec.steps is None:
        p.add(
            loc,
            f"{label}: the {kind} design needs steps = N (levels from low to high) "
            "or values = [...]",
        )
        return None
    if spec.steps is not None and kind is not None and kind not in ("grid", "oat"):
        p.add(loc, f"{label}: steps applies to the grid and oat designs, not {kind!r}")
        return None
    # the range as the file gives it, with ``integer`` settled from the parameter's type
    given = {name: getattr(spec, name) for name in RANGE_FIELDS} | {"integer": integer}
    v = Varied(path, **given, **recorded)
    if integer:
        lo, hi = v.whole_bounds()
        if lo > hi:
            p.add(loc, f"{label}: no whole number lies between low {v.low} and high {v.high}")
            return None
    # A range's values lie between its smallest and largest, and a parameter's
    # allowed values form an interval: the two ends (and the middle) say it all.
    # (Every design point is checked whole once the design is built.)
    if spec.steps and kind in ("grid", "oat"):
        levels = v.levels()
        probes = [min(levels), max(levels)]
    else:
        probes = v.from_unit(np.array([0.0, 0.5, 1.0]))
    for x in dict.fromkeys(probes):
        check(x, "value")
        if len(p) > n_before:
            return None
    if has_base:
        check(spec.base, "base")
    return None if len(p) > n_before else v


def _check_names(
    p: _Problems, base: Params, varied: list[Varied], outputs: OutputsSpec, analysis: AnalysisSpec
) -> None:
    """Series columns and analysis outcomes against a tiny probe model's names."""
    summary_keys, table_cols = _probe_names(base)
    series = outputs.series
    if isinstance(series, list) and table_cols:
        bad = [s for s in series if s not in table_cols and s != "quarter"]
        if bad:
            p.add(
                ("outputs", "series"),
                f"unknown per-quarter column(s) {bad}; allowed: {', '.join(table_cols)}",
            )
    names = [v.path for v in varied]
    written = {v.written: v.path for v in varied}
    o = analysis.outcome
    if o is not None and summary_keys and o.removeprefix("out.") not in summary_keys:
        p.add(
            ("analysis", "outcome"), f"outcome = {o!r}: unknown; allowed: {', '.join(summary_keys)}"
        )
    h = analysis.heatmap
    if h is not None and not all(x in names or x in written for x in h):
        p.add(
            ("analysis", "heatmap"), f"heatmap = {h!r}: expected two varied parameters from {names}"
        )
    d = analysis.discover
    if d is not None:
        m = _CONDITION.match(d)
        if not m or (summary_keys and m.group(1).removeprefix("out.") not in summary_keys):
            p.add(
                ("analysis", "discover"),
                f"discover = {d!r}: expected OUTCOME or 'OUTCOME OP NUMBER' "
                f"(OP one of < <= > >= == !=) with OUTCOME in: {', '.join(summary_keys)}",
            )
        elif m.group(3) is not None:
            try:
                float(m.group(3))
            except ValueError:
                p.add(("analysis", "discover"), f"discover = {d!r}: {m.group(3)!r} is not a number")


def _probe_names(base: Params) -> tuple[list[str], list[str]]:
    """Outcome names of ``model.summary()`` and per-quarter columns, from a tiny model."""
    try:
        from privmarket.sim.model import MarketModel

        probe = MarketModel(base.with_updates({"n_users": 60, "quarters": 1}), rng=0)
        return list(probe.summary()), list(probe.table().columns)
    except Exception:  # names are then checked when the analysis runs
        return [], []


def parse_condition(text: str) -> tuple[str, str | None, float | None]:
    """``"Aegis.alive"`` -> (name, None, None); ``"hhi > 5000"`` -> ("hhi", ">", 5000.0)."""
    m = _CONDITION.match(text or "")
    if not m:
        raise ParameterError(
            f"condition {text!r}: expected OUTCOME or 'OUTCOME OP NUMBER' with OP one of "
            "< <= > >= == !="
        )
    name, op, num = m.groups()
    if op is None:
        return name, None, None
    try:
        return name, op, float(num)
    except ValueError:
        raise ParameterError(f"condition {text!r}: {num!r} is not a number") from None

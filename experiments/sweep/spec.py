"""Experiment files: a TOML description of a sweep, fully validated before anything runs.

An experiment file names the scenario, the fixed parameters, the varied
parameters (level lists, ranges, distributions), the design, the replicates,
the quarters, the root seed and which outcomes to keep. See ``docs/sweeps.md``
for the full reference. A minimal file::

    name = "quick-grid"
    scenario = "baseline"
    quarters = 12
    replicates = 2
    seed = 7

    [fixed]
    n_users = 2000

    [varied]
    "vendors.Aegis.stance" = [0.2, 0.6, 1.0]
    "countries.*.appetite" = { low = 0.1, high = 0.9, steps = 3 }

    [design]
    kind = "grid"

:func:`load_experiment` parses and validates everything (each value, each
parameter path, and every design point through :meth:`sim.params.Params.with_updates`)
and raises :class:`SpecError` naming the file, the line, the value and what is
allowed. Nothing is written before validation has passed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from privmarket.sim.params import ParameterError, Params

DESIGNS = ("grid", "oat", "lhs", "sobol", "saltelli", "morris")
DISTRIBUTIONS = ("uniform", "loguniform", "normal", "triangular")
FAULT_KINDS = ("raise", "crash", "kill", "sleep")

TOP_KEYS = (
    "name",
    "description",
    "scenario",
    "quarters",
    "replicates",
    "seed",
    "common_seeds",
    "fixed",
    "varied",
    "design",
    "outputs",
    "analysis",
    "_fault",
)
VARIED_KEYS = (
    "values",
    "low",
    "high",
    "steps",
    "distribution",
    "mean",
    "sd",
    "mode",
    "integer",
    "base",
)
DESIGN_KEYS = ("kind", "samples", "levels", "second_order", "scramble")
OUTPUT_KEYS = ("series",)
ANALYSIS_KEYS = ("outcome", "heatmap", "discover")
FAULT_KEYS = ("kind", "run", "runs", "seconds")

#: Design kinds that sample the unit cube (every varied parameter maps [0, 1] to a value).
SAMPLED = ("lhs", "sobol", "saltelli", "morris")

_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.*]*)\s*(?:(<=|>=|==|!=|<|>)\s*(\S+))?\s*$")


class SpecError(ParameterError):
    """An experiment file that cannot be run; the message names file, line, value and allowed."""

    def __init__(self, source: str, problems: list[tuple[int | None, str]]) -> None:
        self.source = source
        self.problems = sorted(problems, key=lambda p: p[0] or 0)
        problems = self.problems
        lines = [f"{source}, line {n}: {msg}" if n else f"{source}: {msg}" for n, msg in problems]
        if len(lines) == 1:
            text = lines[0]
        else:
            text = f"{source} has {len(lines)} problems:\n  " + "\n  ".join(lines)
        super().__init__(text)


# --------------------------------------------------------------------- lines
def _parse_key(s: str) -> tuple[list[str], str]:
    """Parse a (dotted, possibly quoted) TOML key at the start of ``s``; return parts and rest."""
    parts: list[str] = []
    i, n = 0, len(s)
    while i < n:
        while i < n and s[i] in " \t":
            i += 1
        if i >= n:
            break
        if s[i] in "\"'":
            q = s[i]
            j = i + 1
            buf = []
            while j < n and s[j] != q:
                if q == '"' and s[j] == "\\" and j + 1 < n:
                    buf.append(s[j + 1])
                    j += 2
                    continue
                buf.append(s[j])
                j += 1
            parts.append("".join(buf))
            i = j + 1
        else:
            m = re.match(r"[A-Za-z0-9_-]+", s[i:])
            if not m:
                break
            parts.append(m.group(0))
            i += m.end()
        while i < n and s[i] in " \t":
            i += 1
        if i < n and s[i] == ".":
            i += 1
            continue
        break
    return parts, s[i:]


def _value_state(text: str, depth: int) -> tuple[int, str | None]:
    """Bracket depth after ``text`` (strings and comments skipped) and an open multi-line quote."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            break
        if text.startswith('"""', i) or text.startswith("'''", i):
            q = text[i : i + 3]
            end = text.find(q, i + 3)
            if end < 0:
                return depth, q
            i = end + 3
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if (c == '"' and text[j] == "\\") else 1
            i = j + 1
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        i += 1
    return depth, None


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line number (1-based) of every table header and key in a TOML text.

    Keys inside inline tables are attributed to the line of the key that holds
    the inline table; :func:`line_of` falls back to the longest known prefix.
    """
    out: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    depth = 0
    open_quote: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        if open_quote:
            if open_quote in raw:
                rest = raw[raw.index(open_quote) + 3 :]
                open_quote = None
                depth, open_quote = _value_state(rest, depth)
            continue
        if depth > 0:
            depth, open_quote = _value_state(raw, depth)
            continue
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("["):
            inner = s[2:] if s.startswith("[[") else s[1:]
            parts, _ = _parse_key(inner)
            table = tuple(parts)
            out.setdefault(table, lineno)
            continue
        parts, rest = _parse_key(s)
        if parts and rest.lstrip().startswith("="):
            out.setdefault(table + tuple(parts), lineno)
            depth, open_quote = _value_state(rest.lstrip()[1:], 0)
    return out


# ------------------------------------------------------------------- varied
@dataclass(frozen=True)
class Varied:
    """One varied parameter: a level list or a range with a distribution."""

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

    @property
    def is_levels(self) -> bool:
        return self.values is not None

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
        vals = [self._tidy(x) for x in raw]
        if self.integer:
            seen: list[Any] = []
            for v in vals:
                if v not in seen:
                    seen.append(v)
            vals = seen
        return vals

    def _tidy(self, x: float) -> Any:
        if self.integer:
            return int(math.floor(float(x) + 0.5))
        return float(f"{float(x):.12g}")

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
            return stats.truncnorm.ppf(u, lo, hi, loc=self.mean, scale=self.sd)
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
            lo, hi = int(round(self.low)), int(round(self.high))
            idx = np.minimum(lo + np.floor(u * (hi - lo + 1)), hi)
            return [int(v) for v in idx]
        raw = self._ppf(u)
        if self.integer:
            return [int(math.floor(float(x) + 0.5)) for x in raw]
        return [float(x) for x in raw]

    def canonical(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path}
        if self.values is not None:
            d["values"] = list(self.values)
        else:
            d.update(
                low=self.low,
                high=self.high,
                steps=self.steps,
                distribution=self.distribution,
                mean=self.mean,
                sd=self.sd,
                mode=self.mode,
                integer=self.integer,
            )
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


@dataclass(frozen=True)
class DesignSpec:
    kind: str = "grid"
    samples: int | None = None
    levels: int = 4
    second_order: bool = False
    scramble: bool = True

    def canonical(self) -> dict[str, Any]:
        return dict(
            kind=self.kind,
            samples=self.samples,
            levels=self.levels,
            second_order=self.second_order,
            scramble=self.scramble,
        )


@dataclass(frozen=True)
class Fault:
    """Test-only hook: make chosen runs fail on purpose (see docs/sweeps.md)."""

    kind: str
    runs: tuple[int, ...] | None  # None: every run
    seconds: float = 0.0

    def applies(self, run: int) -> bool:
        return self.runs is None or run in self.runs

    def canonical(self) -> dict[str, Any]:
        return dict(
            kind=self.kind,
            runs=None if self.runs is None else list(self.runs),
            seconds=self.seconds,
        )


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
    fault: Fault | None = None
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
        return [v.path for v in self.varied]

    def canonical(self) -> dict[str, Any]:
        """Everything that determines the results (not the name, description or analysis)."""
        return dict(
            scenario=self.scenario,
            quarters=self.quarters,
            replicates=self.replicates,
            seed=self.seed,
            common_seeds=self.common_seeds,
            fixed=self.fixed,
            varied=[v.canonical() for v in self.varied],
            design=self.design.canonical(),
            series=self.series,
            fault=None if self.fault is None else self.fault.canonical(),
        )

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


# -------------------------------------------------------------- validation
class _Collector:
    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = key_lines(text)
        self.problems: list[tuple[int | None, str]] = []

    def line(self, *parts: str) -> int | None:
        key = tuple(parts)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    def add(self, parts: tuple[str, ...] | list[str], msg: str) -> None:
        self.problems.append((self.line(*parts), msg))

    def fail_if_any(self) -> None:
        if self.problems:
            raise SpecError(self.source, self.problems)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _flatten(table: dict[str, Any], stop=None) -> list[tuple[tuple[str, ...], Any]]:
    """Flatten nested tables (unquoted dotted keys) into (key parts, value)."""
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in table.items():
        if isinstance(v, dict) and not (stop and stop(v)):
            out.extend(((k, *p), vv) for p, vv in _flatten(v, stop))
        else:
            out.append(((k,), v))
    return out


def _is_varied_table(v: dict) -> bool:
    return bool(v) and all(k in VARIED_KEYS for k in v)


def load_experiment(path: str | Path) -> Experiment:
    """Read and fully validate an experiment file (raises :class:`SpecError`)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")  # TOML is UTF-8, whatever the locale
    except FileNotFoundError:
        raise SpecError(str(path), [(None, "no such experiment file")]) from None
    except IsADirectoryError:
        raise SpecError(str(path), [(None, "is a folder, not an experiment file")]) from None
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise SpecError(
            str(path),
            [(line, f"not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x}); TOML is UTF-8")],
        ) from None
    return parse_experiment(text, source=str(path), default_name=p.stem)


def parse_experiment(text: str, source: str = "<experiment>", default_name: str = "") -> Experiment:
    """Parse and validate experiment text (see :func:`load_experiment`)."""
    from privmarket.sim.scenarios import get_scenario, list_scenarios

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        msg = f"not valid TOML: {re.sub(r'\s*\(at line.*\)$', '', str(exc))}"
        raise SpecError(source, [(int(m.group(1)) if m else None, msg)]) from None
    c = _Collector(source, text)

    for k in data:
        if k not in TOP_KEYS:
            c.add((k,), f"unknown key {k!r}; allowed: {', '.join(TOP_KEYS)}")

    name = data.get("name", default_name or "experiment")
    if not isinstance(name, str) or not name.strip():
        c.add(("name",), f"name = {name!r}: expected a non-empty string")
        name = default_name or "experiment"
    description = data.get("description", "")
    if not isinstance(description, str):
        c.add(("description",), f"description = {description!r}: expected a string")
        description = ""

    scenario = data.get("scenario", "baseline")
    if not isinstance(scenario, str) or scenario not in list_scenarios():
        c.add(
            ("scenario",),
            f"scenario = {scenario!r}: unknown scenario; allowed: {', '.join(list_scenarios())}",
        )
        c.fail_if_any()
    base = get_scenario(scenario).params

    def integer(key: str, default: Any, lo: int, hi: int | None = None) -> Any:
        v = data.get(key, default)
        if v is None:
            return None
        if not _is_int(v) or v < lo or (hi is not None and v > hi):
            rng = f"an integer >= {lo}" if hi is None else f"an integer in {lo}..{hi}"
            c.add((key,), f"{key} = {v!r}: expected {rng}")
            return default
        return v

    quarters = integer("quarters", None, 1, 400)
    replicates = integer("replicates", 1, 1, 100_000)
    seed = integer("seed", 0, 0, 2**63 - 1)
    common = data.get("common_seeds", False)
    if not isinstance(common, bool):
        c.add(("common_seeds",), f"common_seeds = {common!r}: expected true or false")
        common = False

    # ---- fixed
    fixed: dict[str, Any] = {}
    fixed_raw = data.get("fixed", {})
    if not isinstance(fixed_raw, dict):
        c.add(("fixed",), "[fixed] must be a table of parameter path = value")
        fixed_raw = {}
    fixed_parts: dict[str, tuple[str, ...]] = {}
    for parts, value in _flatten(fixed_raw):
        path = ".".join(parts)
        fixed_parts[path] = ("fixed", *parts)
        try:
            base.with_updates({path: value})
        except ParameterError as exc:
            c.add(("fixed", *parts), f"{path} = {value!r}: {exc}")
            continue
        fixed[path] = value
    if quarters is not None:
        if "quarters" in fixed:
            c.add(fixed_parts["quarters"], "quarters is set both at the top and in [fixed]")
        fixed = {"quarters": quarters, **{k: v for k, v in fixed.items() if k != "quarters"}}
    try:  # the values that are fine one by one, together (the rest is reported above)
        base = base.with_updates(fixed)
    except ParameterError as exc:
        c.add(("fixed",), f"the fixed parameters do not fit together: {exc}")
    quarters = base.quarters

    # ---- design
    design_raw = data.get("design", {"kind": "grid"})
    if isinstance(design_raw, str):
        design_raw = {"kind": design_raw}
    if not isinstance(design_raw, dict):
        c.add(("design",), f"design = {design_raw!r}: expected a design name or a [design] table")
        design_raw = {"kind": "grid"}
    for k in design_raw:
        if k not in DESIGN_KEYS:
            c.add(("design", k), f"unknown key design.{k}; allowed: {', '.join(DESIGN_KEYS)}")
    kind = design_raw.get("kind", "grid")
    if kind not in DESIGNS:
        c.add(("design", "kind"), f"design kind {kind!r} is unknown; allowed: {', '.join(DESIGNS)}")
        kind = None  # the parameters are still checked, without design-specific rules
    samples = design_raw.get("samples")
    if kind in SAMPLED:
        what = {
            "lhs": "the number of points",
            "sobol": "the number of points, a power of 2",
            "saltelli": "the base sample N, a power of 2 (runs N*(D+2), or N*(2D+2) "
            "with second_order)",
            "morris": "the number of trajectories (points N*(D+1))",
        }[kind]
        if samples is None:
            c.add(("design",), f"design {kind!r} needs samples = ... ({what})")
        elif not _is_int(samples) or samples < 1 or samples > 10_000_000:
            c.add(("design", "samples"), f"samples = {samples!r}: expected {what}")
        elif kind in ("sobol", "saltelli") and samples & (samples - 1):
            c.add(("design", "samples"), f"samples = {samples}: {kind} needs {what}")
    elif samples is not None and kind is not None:
        c.add(
            ("design", "samples"),
            f"samples applies to the {', '.join(SAMPLED)} designs, not {kind!r} "
            "(grid and oat take steps or values per parameter)",
        )
    levels = design_raw.get("levels", 4)
    if not _is_int(levels) or not 2 <= levels <= 1000:
        c.add(("design", "levels"), f"levels = {levels!r}: expected an integer >= 2 (Morris grid)")
        levels = 4
    if "levels" in design_raw and kind not in ("morris", None):
        c.add(("design", "levels"), "design.levels applies to the morris design only")
    second = design_raw.get("second_order", False)
    if not isinstance(second, bool):
        c.add(("design", "second_order"), f"second_order = {second!r}: expected true or false")
        second = False
    if "second_order" in design_raw and kind not in ("saltelli", None):
        c.add(("design", "second_order"), "design.second_order applies to saltelli only")
    scramble = design_raw.get("scramble", True)
    if not isinstance(scramble, bool):
        c.add(("design", "scramble"), f"scramble = {scramble!r}: expected true or false")
        scramble = True
    if "scramble" in design_raw and kind not in ("lhs", "sobol", "saltelli", None):
        c.add(("design", "scramble"), "design.scramble applies to lhs, sobol and saltelli only")
    design = DesignSpec(kind or "grid", samples, levels, second, scramble)

    # ---- varied
    varied_raw = data.get("varied", {})
    if not isinstance(varied_raw, dict):
        c.add(("varied",), "[varied] must be a table of parameter path = values or range")
        varied_raw = {}
    varied: list[Varied] = []
    for parts, spec in _flatten(varied_raw, stop=_is_varied_table):
        v = _parse_varied(c, ("varied", *parts), ".".join(parts), spec, base, kind)
        if v is None:
            continue
        if v.path in fixed:
            c.add(("varied", *parts), f"{v.path} is both fixed and varied; keep one")
            continue
        varied.append(v)
    if kind in SAMPLED and not varied and not c.problems:
        c.add(("design", "kind"), f"design {kind!r} needs at least one varied parameter")

    # ---- outputs
    outputs = data.get("outputs", {})
    if not isinstance(outputs, dict):
        c.add(("outputs",), "[outputs] must be a table")
        outputs = {}
    for k in outputs:
        if k not in OUTPUT_KEYS:
            c.add(("outputs", k), f"unknown key outputs.{k}; allowed: {', '.join(OUTPUT_KEYS)}")
    series = outputs.get("series", False)
    if not (
        isinstance(series, bool)
        or (isinstance(series, list) and series and all(isinstance(s, str) for s in series))
    ):
        c.add(
            ("outputs", "series"),
            f"series = {series!r}: expected true, false or a list of per-quarter column names",
        )
        series = False

    # ---- analysis
    analysis = data.get("analysis", {})
    if not isinstance(analysis, dict):
        c.add(("analysis",), "[analysis] must be a table")
        analysis = {}
    for k in analysis:
        if k not in ANALYSIS_KEYS:
            c.add(("analysis", k), f"unknown key analysis.{k}; allowed: {', '.join(ANALYSIS_KEYS)}")

    # ---- fault (test-only)
    fault = _parse_fault(c, data.get("_fault")) if "_fault" in data else None
    c.fail_if_any()

    # ---- names of outcomes and series columns, from a tiny probe model
    summary_keys, table_cols = _probe_names(base)
    if isinstance(series, list) and table_cols:
        bad = [s for s in series if s not in table_cols and s != "quarter"]
        if bad:
            c.add(
                ("outputs", "series"),
                f"unknown per-quarter column(s) {bad}; allowed: {', '.join(table_cols)}",
            )
    names = [v.path for v in varied]
    if "outcome" in analysis:
        o = analysis["outcome"]
        if not isinstance(o, str) or (summary_keys and o.removeprefix("out.") not in summary_keys):
            c.add(
                ("analysis", "outcome"),
                f"outcome = {o!r}: unknown; allowed: {', '.join(summary_keys)}",
            )
    if "heatmap" in analysis:
        h = analysis["heatmap"]
        if not (isinstance(h, list) and len(h) == 2 and all(x in names for x in h)):
            c.add(
                ("analysis", "heatmap"),
                f"heatmap = {h!r}: expected two varied parameters from {names}",
            )
    if "discover" in analysis:
        d = analysis["discover"]
        m = _CONDITION.match(d) if isinstance(d, str) else None
        if not m or (summary_keys and m.group(1).removeprefix("out.") not in summary_keys):
            c.add(
                ("analysis", "discover"),
                f"discover = {d!r}: expected OUTCOME or 'OUTCOME OP NUMBER' "
                f"(OP one of < <= > >= == !=) with OUTCOME in: {', '.join(summary_keys)}",
            )
        elif m.group(3) is not None:
            try:
                float(m.group(3))
            except ValueError:
                c.add(("analysis", "discover"), f"discover = {d!r}: {m.group(3)!r} is not a number")
    c.fail_if_any()

    exp = Experiment(
        name=name,
        source=source,
        text=text,
        scenario=scenario,
        quarters=quarters,
        replicates=replicates,
        seed=seed,
        common_seeds=common,
        fixed=fixed,
        varied=varied,
        design=design,
        series=series,
        base_params=base,
        description=description,
        analysis=analysis,
        fault=fault,
    )

    # ---- the design, and every point through Params.with_updates
    from privmarket.experiments.sweep.designs import build_design

    try:
        exp.points, exp.unit = build_design(exp)
    except ValueError as exc:
        c.add(("design",), str(exc))
        c.fail_if_any()
    if exp.n_runs > 10_000_000:
        c.add(("design",), f"the design has {exp.n_runs} runs; at most 10,000,000 allowed")
    bad_points = 0
    for i, point in enumerate(exp.points):
        try:
            base.with_updates(point)
        except ParameterError as exc:
            bad_points += 1
            if bad_points <= 3:
                shown = ", ".join(f"{k}={v!r}" for k, v in point.items())
                c.add(
                    ("varied",), f"design point {i} ({shown}) is not a valid parameter set: {exc}"
                )
    if bad_points > 3:
        c.add(("varied",), f"... and {bad_points - 3} more invalid design points")
    if fault is not None and fault.runs is not None:
        out_of = [r for r in fault.runs if r >= exp.n_runs]
        if out_of:
            c.add(("_fault",), f"_fault runs {out_of} out of range; allowed 0..{exp.n_runs - 1}")
    c.fail_if_any()
    return exp


def _parse_varied(
    c: _Collector, parts: tuple[str, ...], path: str, spec: Any, base: Params, kind: str | None
) -> Varied | None:
    where = f"varied {path!r}"
    try:
        current = base.get(path)
        sample = current[0] if isinstance(current, list) and current else current
        # ``get`` does not reject unknown fields of vendors/countries; setting does
        base.with_updates({path: sample})
    except ParameterError as exc:
        c.add(parts, f"{where}: {exc}")
        return None
    if isinstance(spec, list):
        spec = {"values": spec}
    elif not isinstance(spec, dict):
        c.add(
            parts,
            f"{where} = {spec!r}: expected a list of values, or a table with "
            "values = [...] or low/high (and steps, distribution)",
        )
        return None
    for k in spec:
        if k not in VARIED_KEYS:
            c.add(parts, f"{where}: unknown key {k!r}; allowed: {', '.join(VARIED_KEYS)}")
            return None
    n_before = len(c.problems)

    def check(value: Any, label: str) -> None:
        try:
            base.with_updates({path: value})
        except ParameterError as exc:
            c.add(parts, f"{where}: {label} {value!r} is not allowed: {exc}")

    base_val = spec.get("base")
    has_base = "base" in spec
    if "values" in spec:
        vals = spec["values"]
        extra = [k for k in spec if k not in ("values", "base")]
        if extra:
            c.add(parts, f"{where}: values = [...] cannot be combined with {extra}")
            return None
        if not isinstance(vals, list) or not vals:
            c.add(parts, f"{where}: values = {vals!r}: expected a non-empty list")
            return None
        if len({json.dumps(x, sort_keys=True) for x in vals}) != len(vals):
            c.add(parts, f"{where}: values {vals} repeat a level")
            return None
        for x in vals:
            check(x, "value")
        if has_base:
            check(base_val, "base")
        if len(c.problems) > n_before:
            return None
        return Varied(
            path, values=tuple(vals), base=base_val, has_base=has_base, line=c.line(*parts)
        )

    # a range
    if not _is_num(sample):
        c.add(
            parts,
            f"{where}: a {type(sample).__name__} parameter cannot take a range; "
            f"give values = [...] (now {current!r})",
        )
        return None
    dist = spec.get("distribution", "uniform")
    if dist not in DISTRIBUTIONS:
        c.add(
            parts, f"{where}: distribution {dist!r} is unknown; allowed: {', '.join(DISTRIBUTIONS)}"
        )
        return None
    low, high = spec.get("low"), spec.get("high")
    mean, sd, mode = spec.get("mean"), spec.get("sd"), spec.get("mode")
    for label, x in (("low", low), ("high", high), ("mean", mean), ("sd", sd), ("mode", mode)):
        if x is not None and not _is_num(x):
            c.add(parts, f"{where}: {label} = {x!r}: expected a number")
            return None
    if dist == "normal":
        if mean is None or sd is None or sd <= 0:
            c.add(parts, f"{where}: a normal distribution needs mean and sd > 0 (got {mean}, {sd})")
            return None
        if low is not None and high is not None and not low < high:
            c.add(parts, f"{where}: low {low} must be below high {high}")
            return None
    else:
        if low is None or high is None:
            c.add(parts, f"{where}: a range needs low and high (or give values = [...])")
            return None
        if not low < high:
            c.add(parts, f"{where}: low {low} must be below high {high}")
            return None
        if dist == "loguniform" and low <= 0:
            c.add(parts, f"{where}: a loguniform range needs low > 0 (got {low})")
            return None
        if dist == "triangular" and (mode is None or not low <= mode <= high):
            c.add(parts, f"{where}: a triangular distribution needs low <= mode <= high")
            return None
    for label, x in (("mean", mean), ("sd", sd), ("mode", mode)):
        if (
            x is not None
            and {"mean": "normal", "sd": "normal", "mode": "triangular"}[label] != dist
        ):
            c.add(parts, f"{where}: {label} does not apply to a {dist} distribution")
            return None
    integer = spec.get("integer", _is_int(sample))
    if not isinstance(integer, bool):
        c.add(parts, f"{where}: integer = {integer!r}: expected true or false")
        return None
    if _is_int(sample) and not integer:
        c.add(parts, f"{where}: {path} takes whole numbers; integer = false is not allowed")
        return None
    steps = spec.get("steps")
    if kind in ("grid", "oat"):
        if steps is None:
            c.add(
                parts,
                f"{where}: the {kind} design needs steps = N (levels from low to high) "
                "or values = [...]",
            )
            return None
        if not _is_int(steps) or steps < 1 or steps > 100_000:
            c.add(parts, f"{where}: steps = {steps!r}: expected an integer >= 1")
            return None
    elif steps is not None and kind is not None:
        c.add(parts, f"{where}: steps applies to the grid and oat designs, not {kind!r}")
        return None
    v = Varied(
        path,
        low=low,
        high=high,
        steps=steps,
        distribution=dist,
        mean=mean,
        sd=sd,
        mode=mode,
        integer=integer,
        base=base_val,
        has_base=has_base,
        line=c.line(*parts),
    )
    probes = (
        v.levels() if steps and kind in ("grid", "oat") else v.from_unit(np.array([0.0, 0.5, 1.0]))
    )
    for x in dict.fromkeys(probes):
        check(x, "value")
        if len(c.problems) > n_before:
            return None
    if has_base:
        check(base_val, "base")
    return None if len(c.problems) > n_before else v


def _parse_fault(c: _Collector, raw: Any) -> Fault | None:
    if not isinstance(raw, dict):
        c.add(("_fault",), "_fault must be a table {kind = ..., runs = [...]}")
        return None
    for k in raw:
        if k not in FAULT_KEYS:
            c.add(("_fault",), f"unknown key _fault.{k}; allowed: {', '.join(FAULT_KEYS)}")
            return None
    kind = raw.get("kind")
    if kind not in FAULT_KINDS:
        c.add(("_fault",), f"_fault kind {kind!r} is unknown; allowed: {', '.join(FAULT_KINDS)}")
        return None
    runs = raw.get("runs", [raw["run"]] if "run" in raw else None)
    if runs is not None and not (
        isinstance(runs, list) and all(_is_int(r) and r >= 0 for r in runs)
    ):
        c.add(("_fault",), f"_fault runs {runs!r}: expected a list of run indices")
        return None
    if runs is None and kind != "sleep":
        c.add(("_fault",), f"_fault kind {kind!r} needs run = N or runs = [...]")
        return None
    seconds = raw.get("seconds", 0.0)
    if not _is_num(seconds) or seconds < 0:
        c.add(("_fault",), f"_fault seconds {seconds!r}: expected a number >= 0")
        return None
    return Fault(kind, None if runs is None else tuple(runs), float(seconds))


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

"""Analysis of sweep results: sensitivity indices, survival maps, scenario discovery, figures.

Every function takes either a results folder (as written by ``privmarket sweep``)
or the frame :func:`experiments.sweep.store.load_results` returns, so the same
calls work in a notebook and behind ``privmarket analyze``::

    from privmarket.experiments.analysis import sobol_indices, survival_map, discover
    si = sobol_indices("out/sweeps/sobol", "privacy_exposure")
    grid = survival_map("out/sweeps/survival-map", "vendors.Aegis.stance",
                        "countries.*.appetite", outcome="Aegis.alive")
    found = discover("out/sweeps/discovery-lhs", "Aegis.alive", method="prim")
    print(found.text())

Outcomes are named as in ``model.summary()`` (``"privacy_exposure"``,
``"Aegis.alive"``), with or without the ``out.`` prefix; parameters by their
path (``"vendors.Aegis.stance"``), with or without ``param.``. An analysis of
an outcome uses the runs with status ``ok`` and a finite value of it; the
others (failed, not run yet, empty or NaN, infinite) are left out and counted,
never silently: :func:`runs_used` gives both, each result carries the count
(``.attrs["left_out"]`` or ``Discovery.left_out``) and ``privmarket analyze``
prints it. Replicates of a design point are averaged where a method needs one
value per point (Sobol and Morris indices); boolean outcomes become shares (a
survival probability).

Scenario discovery is EMA Workbench's PRIM and scikit-learn's decision tree;
sensitivity indices are SALib's. This module arranges their inputs and
outputs and draws the figures.

Figures are :class:`matplotlib.figure.Figure` objects (no pyplot), to save
with ``fig.savefig(path)`` or show in a notebook.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from privmarket.experiments.sweep.spec import parse_condition
from privmarket.experiments.sweep.store import load_manifest, load_results

__all__ = [
    "Box",
    "Discovery",
    "IndexOptions",
    "LeftOut",
    "bands_figure",
    "discover",
    "driver_text",
    "heatmap_figure",
    "index_intervals",
    "leading_driver",
    "morris_indices",
    "outcome_figure",
    "point_summary",
    "runs_used",
    "sensitivity_figure",
    "sobol_indices",
    "survival_map",
    "tradeoff_figure",
]

Results = str | os.PathLike | pd.DataFrame


# ------------------------------------------------------------------ inputs
def _frame(results: Results) -> pd.DataFrame:
    if isinstance(results, pd.DataFrame):
        return results
    return load_results(results)


def _manifest(results: Results, manifest: dict[str, Any] | None) -> dict[str, Any]:
    if manifest is not None:
        return manifest
    if isinstance(results, pd.DataFrame):
        raise ValueError("pass manifest=load_manifest(folder) along with a results frame")
    return load_manifest(results)


def outcome_column(df: pd.DataFrame, name: str) -> str:
    """The ``out.`` column for outcome ``name``; a clear error listing the choices."""
    col = name if name.startswith("out.") else f"out.{name}"
    if col not in df.columns:
        allowed = [c.removeprefix("out.") for c in df.columns if c.startswith("out.")]
        raise ValueError(f"unknown outcome {name!r}; allowed: {', '.join(allowed)}")
    return col


def parameter_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith("param.")]


def parameter_column(df: pd.DataFrame, name: str) -> str:
    col = name if name.startswith("param.") else f"param.{name}"
    if col not in df.columns:
        allowed = [c.removeprefix("param.") for c in parameter_columns(df)]
        raise ValueError(f"unknown varied parameter {name!r}; allowed: {', '.join(allowed)}")
    return col


@dataclass(frozen=True)
class LeftOut:
    """The runs an analysis of one outcome left out, and why.

    >>> LeftOut("hhi", recorded=10, failed=2, infinite=1).text()
    'left out 3 of 10 runs for hhi: 2 failed; 1 with an infinite value; 7 used'
    """

    outcome: str
    recorded: int  # runs in the results
    failed: int = 0  # status failed
    not_run: int = 0  # status missing (a sweep not finished)
    no_value: int = 0  # ok, but the outcome is empty or NaN
    infinite: int = 0  # ok, but the outcome is +-inf
    reasons: tuple[tuple[str, int], ...] = ()  # failure messages, most common first

    @property
    def count(self) -> int:
        return self.failed + self.not_run + self.no_value + self.infinite

    @property
    def used(self) -> int:
        return self.recorded - self.count

    def text(self) -> str:
        if not self.count:
            return f"all {self.recorded} runs used for {self.outcome} (none failed or non-finite)"
        parts = []
        if self.failed:
            why = "; ".join(f"{n} x {msg}" for msg, n in self.reasons)
            parts.append(f"{self.failed} failed" + (f" ({why})" if why else ""))
        if self.not_run:
            parts.append(f"{self.not_run} not run yet")
        if self.no_value:
            parts.append(f"{self.no_value} with no value (empty or NaN)")
        if self.infinite:
            parts.append(f"{self.infinite} with an infinite value")
        return (
            f"left out {self.count} of {self.recorded} runs for {self.outcome}: "
            + "; ".join(parts)
            + f"; {self.used} used"
        )


def _reasons(errors: pd.Series, shown: int = 3) -> tuple[tuple[str, int], ...]:
    """The most common failure messages, without their source location, shortened."""
    short = errors.fillna("no error recorded").astype(str).str.split(" (at ", regex=False).str[0]
    short = short.map(lambda m: m if len(m) <= 90 else m[:87] + "...")
    return tuple((str(m), int(n)) for m, n in short.value_counts().head(shown).items())


def _usable(df: pd.DataFrame, col: str) -> tuple[pd.DataFrame, LeftOut]:
    status = df["status"] if "status" in df.columns else pd.Series("ok", index=df.index)
    ok = (status == "ok").to_numpy()
    failed = (status == "failed").to_numpy()
    v = _numeric(df[col]).to_numpy()
    empty = ok & np.isnan(v)
    infinite = ok & np.isinf(v)
    errors = df.loc[failed, "error"] if "error" in df.columns else pd.Series(dtype=str)
    left_out = LeftOut(
        _label(col),
        recorded=len(df),
        failed=int(failed.sum()),
        not_run=int((~ok & ~failed).sum()),
        no_value=int(empty.sum()),
        infinite=int(infinite.sum()),
        reasons=_reasons(errors) if failed.any() else (),
    )
    return df[ok & ~empty & ~infinite], left_out


def runs_used(results: Results, outcome: str) -> tuple[pd.DataFrame, LeftOut]:
    """The runs an analysis of ``outcome`` uses (ok, with a finite value), and what it left out.

    >>> used, left_out = runs_used("out/sweeps/sobol", "privacy_exposure")  # doctest: +SKIP
    >>> print(left_out.text())  # doctest: +SKIP
    all 1024 runs used for privacy_exposure (none failed or non-finite)
    """
    df = _frame(results)
    return _usable(df, outcome_column(df, outcome))


def _numeric(s: pd.Series) -> pd.Series:
    if s.dtype == bool or str(s.dtype) == "boolean":
        return s.astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _label(col: str) -> str:
    return col.removeprefix("param.").removeprefix("out.")


def point_summary(results: Results, outcome: str) -> pd.DataFrame:
    """One row per design point: its parameters, runs used, mean, sd and 95% half-width.

    Runs left out (failed, or without a finite value) are counted in
    ``.attrs["left_out"]``.
    """
    df = _frame(results)
    col = outcome_column(df, outcome)
    df, left_out = _usable(df, col)
    params = parameter_columns(df)
    y = _numeric(df[col])
    g = pd.DataFrame({"point": df["point"].to_numpy(), "y": y.to_numpy()}).groupby("point")["y"]
    out = pd.DataFrame({"n": g.count(), "mean": g.mean(), "sd": g.std(ddof=1)})
    out["ci95"] = 1.96 * out["sd"] / np.sqrt(out["n"].clip(lower=1))
    first = df.drop_duplicates("point").set_index("point")[params]
    out = first.join(out, how="right").reset_index()
    out.columns = [_label(c) for c in out.columns]
    out.attrs.update(outcome=_label(col), left_out=left_out)
    return out


def _point_means(
    df: pd.DataFrame, col: str, n_points: int, design: str
) -> tuple[np.ndarray, LeftOut]:
    used, left_out = _usable(df, col)
    means = _numeric(used[col]).groupby(used["point"].to_numpy()).mean()
    missing = [p for p in range(n_points) if p not in means.index or pd.isna(means.get(p))]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ValueError(
            f"the {design} design needs every point; {len(missing)} point(s) have no ok run "
            f"with a finite {_label(col)} ({shown}); {left_out.text()}; finish the sweep or "
            "rerun failed runs with --retry-failed"
        )
    values = means.reindex(range(n_points)).to_numpy(dtype=np.float64)
    if np.nanstd(values) == 0:
        raise ValueError(
            f"outcome {_label(col)!r} is the same at every design point "
            f"({values[0]!r}); its sensitivity indices are undefined"
        )
    return values, left_out


# ------------------------------------------------------------- sensitivity
class IndexOptions(TypedDict, total=False):
    """The keyword options of :func:`sobol_indices` and :func:`morris_indices`.

    ``manifest``: the sweep's manifest, needed when ``results`` is a table
    (``manifest=load_manifest(folder)``). ``conf_level`` (default 0.95) and
    ``num_resamples`` (default 200): the bootstrap behind the confidence
    half-widths; ``seed`` (default 1): its seed, a positive integer (SALib
    ignores 0).
    """

    manifest: dict[str, Any] | None
    conf_level: float
    num_resamples: int
    seed: int


@dataclass(frozen=True)
class _IndexInput:
    """What a sensitivity method reads from a sweep: the design's manifest entry, the
    outcome's column, its mean at every design point, the runs left out, and the
    bootstrap's settings (:class:`IndexOptions`)."""

    design: dict[str, Any]
    column: str
    y: np.ndarray
    left_out: LeftOut
    conf_level: float = 0.95
    num_resamples: int = 200
    seed: int = 1

    def attrs(self, method: str) -> dict[str, Any]:
        """The ``.attrs`` of ``method``'s table of indices."""
        return dict(
            outcome=_label(self.column),
            method=method,
            conf_level=self.conf_level,
            left_out=self.left_out,
        )


def _index_input(
    results: Results, outcome: str, kind: str, method: str, options: IndexOptions
) -> _IndexInput:
    """The outcome at every point of the sweep's design, which must be of ``kind``:
    each method's indices are defined on the sample of its own design only."""
    unknown = sorted(set(options) - set(IndexOptions.__annotations__))
    if unknown:
        raise TypeError(
            f"{method} indices: unknown option(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(IndexOptions.__annotations__)}"
        )
    m = _manifest(results, options.get("manifest"))
    d = m["design"]
    if d["kind"] != kind:
        raise ValueError(f"{method} indices need a {kind} design; this sweep used {d['kind']!r}")
    df = _frame(results)
    col = outcome_column(df, outcome)
    y, left_out = _point_means(df, col, m["n_points"], kind)
    bootstrap = {k: v for k, v in options.items() if k != "manifest"}
    return _IndexInput(d, col, y, left_out, **bootstrap)


def sobol_indices(results: Results, outcome: str, **options: Unpack[IndexOptions]) -> pd.DataFrame:
    """First-order and total Sobol' indices (SALib) with confidence half-widths.

    Needs a sweep with the ``saltelli`` design; ``options`` are those of
    :class:`IndexOptions`. Returns one row per varied parameter with columns
    ``S1``, ``S1_conf``, ``ST``, ``ST_conf``; with ``second_order = true`` the
    second-order indices are in ``.attrs["S2"]``.
    """
    from SALib.analyze import sobol as salib_sobol

    from privmarket.experiments.sweep.designs import salib_problem

    sample = _index_input(results, outcome, "saltelli", "Sobol", options)
    d = sample.design
    si = salib_sobol.analyze(
        salib_problem(d["names"]),
        sample.y,
        calc_second_order=bool(d["second_order"]),
        num_resamples=sample.num_resamples,
        conf_level=sample.conf_level,
        seed=sample.seed,
    )
    out = pd.DataFrame(
        {k: si[k] for k in ("S1", "S1_conf", "ST", "ST_conf")},
        index=pd.Index(d["names"], name="parameter"),
    )
    if d["second_order"]:
        out.attrs["S2"] = pd.DataFrame(si["S2"], index=d["names"], columns=d["names"])
        out.attrs["S2_conf"] = pd.DataFrame(si["S2_conf"], index=d["names"], columns=d["names"])
    out.attrs.update(sample.attrs("sobol"))
    return out


def morris_indices(results: Results, outcome: str, **options: Unpack[IndexOptions]) -> pd.DataFrame:
    """Morris elementary-effect measures (SALib): ``mu``, ``mu_star``, ``sigma``, ``mu_star_conf``.

    Needs a sweep with the ``morris`` design; ``options`` are those of
    :class:`IndexOptions`. Effects are per unit of each parameter's normalised
    range (the design's unit cube), so they compare across parameters of
    different units.
    """
    from SALib.analyze import morris as salib_morris

    from privmarket.experiments.sweep.designs import salib_problem

    sample = _index_input(results, outcome, "morris", "Morris", options)
    d = sample.design
    si = salib_morris.analyze(
        salib_problem(d["names"]),
        np.asarray(d["unit"], dtype=np.float64),
        sample.y,
        num_resamples=sample.num_resamples,
        conf_level=sample.conf_level,
        num_levels=int(d["levels"]),
        seed=sample.seed,
    )
    out = pd.DataFrame(
        {
            k: np.asarray(si[k], dtype=np.float64)
            for k in ("mu", "mu_star", "sigma", "mu_star_conf")
        },
        index=pd.Index(d["names"], name="parameter"),
    )
    out.attrs.update(sample.attrs("morris"))
    return out


def _index_column(indices: pd.DataFrame, index: str | None) -> str:
    if index is None:
        index = "ST" if "ST" in indices.columns else "mu_star"
    if index not in indices.columns or f"{index}_conf" not in indices.columns:
        have = [c for c in indices.columns if f"{c}_conf" in indices.columns]
        raise ValueError(f"no index {index!r} with an interval; allowed: {', '.join(have)}")
    return index


def index_intervals(indices: pd.DataFrame, index: str | None = None) -> pd.DataFrame:
    """Each parameter's index with its confidence interval, largest first.

    ``index`` is a column of :func:`sobol_indices` (``"ST"``, the default, or
    ``"S1"``) or of :func:`morris_indices` (``"mu_star"``). Columns: ``value``,
    ``low``, ``high`` (value minus and plus the half-width at the indices'
    confidence level) and ``resolved``: whether the interval lies wholly above
    zero, the least a sample must show before it names the parameter as one
    that matters.
    """
    index = _index_column(indices, index)
    value = indices[index].astype("float64")
    half = indices[f"{index}_conf"].astype("float64")
    out = pd.DataFrame({"value": value, "low": value - half, "high": value + half})
    out["resolved"] = (out["low"] > 0).fillna(False).astype(bool)
    out = out.sort_values("value", ascending=False, kind="stable")
    out.attrs.update(index=index, conf_level=indices.attrs.get("conf_level", 0.95))
    return out


def leading_driver(indices: pd.DataFrame, index: str | None = None) -> str | None:
    """The parameter that drives the outcome, or None when the sample cannot tell.

    A parameter is named only when its index's interval excludes zero and lies
    wholly above every other parameter's interval. An estimate such as
    S1 = 1.00 +- 1.46 names nothing, however large its point value.

    >>> si = pd.DataFrame({"ST": [1.00, 0.2], "ST_conf": [1.46, 0.1]}, index=["a", "b"])
    >>> leading_driver(si) is None
    True
    >>> si = pd.DataFrame({"ST": [0.9, 0.2], "ST_conf": [0.1, 0.1]}, index=["a", "b"])
    >>> leading_driver(si)
    'a'
    """
    iv = index_intervals(indices, index)
    if iv.empty or not iv["resolved"].iloc[0]:
        return None
    others = iv["high"].iloc[1:]
    return str(iv.index[0]) if (iv["low"].iloc[0] > others).all() else None


def driver_text(indices: pd.DataFrame, index: str | None = None) -> str:
    """One sentence on what drives the outcome that never names an unresolved parameter.

    Names the leading driver when :func:`leading_driver` finds one; else the
    parameters whose intervals exclude zero, saying the sample cannot rank
    them; else says the sample is too small to resolve any.
    """
    iv = index_intervals(indices, index)
    name, level = iv.attrs["index"], f"{100 * iv.attrs['conf_level']:.0f}%"

    def show(p: Any) -> str:
        r = iv.loc[p]
        return f"{name} {r['value']:.2f}, {level} interval {r['low']:.2f} to {r['high']:.2f}"

    lead = leading_driver(indices, index)
    if lead is not None:
        return f"**{lead}** ({show(lead)}; its interval lies above every other parameter's)"
    resolved = list(iv.index[iv["resolved"]])
    if resolved:
        listed = "; ".join(f"**{p}** ({show(p)})" for p in resolved)
        each = "each interval excludes" if len(resolved) > 1 else "its interval excludes"
        return (
            f"{listed}: {each} zero, but the largest overlaps another parameter's interval, "
            "so the sample cannot say which matters most"
        )
    if iv.empty:
        return "not estimated (no parameters)"
    top = iv.index[0]
    return (
        f"not resolved: the sample is too small, every parameter's {level} interval of {name} "
        f"includes zero (largest point value: {top}, {show(top)})"
    )


# ------------------------------------------------------------ survival map
def _levels(s: pd.Series, bins: int, max_levels: int = 12) -> pd.Series:
    """Grid values as they are; many distinct values binned into ``bins`` equal intervals."""
    values = pd.to_numeric(s, errors="coerce")
    if values.isna().any() or s.nunique() <= max_levels:
        return s
    edges = np.linspace(values.min(), values.max(), bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    idx = np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, bins - 1)
    return pd.Series(np.round(centres[idx], 6), index=s.index)


def default_alive_outcome(df: pd.DataFrame) -> str:
    alive = [c for c in df.columns if c.startswith("out.") and c.endswith(".alive")]
    if not alive:
        raise ValueError("no '<vendor>.alive' outcome in these results; name an outcome")
    return alive[0]


def survival_map(
    results: Results,
    x: str,
    y: str,
    outcome: str | None = None,
    bins: int = 8,
) -> pd.DataFrame:
    """Mean of ``outcome`` over runs for each (``y``, ``x``) pair: heatmap data.

    With a boolean outcome such as ``"Aegis.alive"`` (the default is the first
    vendor's) the cells are survival probabilities. Grid levels are used as
    they are; sampled parameters with many distinct values are binned into
    ``bins`` equal intervals (labelled by their centres). Rows are ``y``
    values (ascending), columns ``x`` values; ``.attrs["n"]`` holds the run
    counts per cell in the same shape, ``.attrs["left_out"]`` the runs left
    out (failed, or without a finite value).
    """
    df = _frame(results)
    xc, yc = parameter_column(df, x), parameter_column(df, y)
    col = outcome_column(df, outcome) if outcome else default_alive_outcome(df)
    df, left_out = _usable(df, col)
    tidy = pd.DataFrame(
        {
            "x": _levels(df[xc], bins).to_numpy(),
            "y": _levels(df[yc], bins).to_numpy(),
            "v": _numeric(df[col]).to_numpy(),
        }
    )
    mean = tidy.pivot_table(index="y", columns="x", values="v", aggfunc="mean", sort=True)
    count = tidy.pivot_table(index="y", columns="x", values="v", aggfunc="count", sort=True)
    mean.index.name, mean.columns.name = _label(yc), _label(xc)
    mean.attrs.update(
        n=count.reindex_like(mean).fillna(0).astype(int),
        outcome=_label(col),
        x=_label(xc),
        y=_label(yc),
        left_out=left_out,
    )
    return mean


# -------------------------------------------------------- scenario discovery
@dataclass
class Box:
    """A region of parameter space: limits per restricted parameter and how well it fits."""

    limits: dict[str, Any]  # parameter -> (low, high) or a list of levels
    density: float  # share of runs in the box where the condition holds
    coverage: float  # share of all runs where it holds that fall in the box
    mass: float  # share of all runs in the box
    n: int  # runs in the box
    # PRIM only: quasi-p-value of each restriction (Bryant and Lempert 2010), the
    # one-sided binomial test EMA Workbench computes; small means the limit matters.
    p_values: dict[str, float] = field(default_factory=dict)

    def rule(self) -> str:
        parts = []
        for p, lim in self.limits.items():
            if isinstance(lim, list):
                parts.append(f"{p} in {{{', '.join(map(str, lim))}}}")
            else:
                lo, hi = lim
                if lo is not None and hi is not None:
                    parts.append(f"{_fmt(lo)} <= {p} <= {_fmt(hi)}")
                elif lo is not None:
                    parts.append(f"{p} >= {_fmt(lo)}")
                else:
                    parts.append(f"{p} <= {_fmt(hi)}")
        return " and ".join(parts) if parts else "anywhere"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


@dataclass
class Discovery:
    """Regions where a condition holds, found by PRIM (EMA Workbench) or a tree (scikit-learn).

    For PRIM, ``boxes`` holds the chosen box when one reaches the density
    ``threshold``, and is empty when none does; ``best`` is then the densest
    box PRIM found (shown, but not a finding). For a tree, ``boxes`` are the
    leaves where the condition holds in most runs.
    """

    method: str
    condition: str
    n: int  # runs analysed
    positives: int  # runs where the condition holds
    boxes: list[Box]
    threshold: float = 0.8
    best: Box | None = None  # PRIM: the densest box when no box reaches the threshold
    trajectory: pd.DataFrame = field(default_factory=pd.DataFrame)  # PRIM peeling steps
    left_out: LeftOut | None = None

    @property
    def base_rate(self) -> float:
        return self.positives / self.n if self.n else float("nan")

    def table(self) -> pd.DataFrame:
        shown = self.boxes or ([self.best] if self.best is not None else [])
        rows = [
            dict(
                box=i + 1,
                rule=b.rule(),
                density=b.density,
                coverage=b.coverage,
                mass=b.mass,
                runs=b.n,
                meets_threshold=b.density >= self.threshold,
            )
            for i, b in enumerate(shown)
        ]
        columns = ["box", "rule", "density", "coverage", "mass", "runs", "meets_threshold"]
        return pd.DataFrame(rows, columns=columns)

    def text(self) -> str:
        lines = [
            f"{self.method}: '{self.condition}' holds in {self.positives} of {self.n} runs "
            f"({100 * self.base_rate:.0f}%)"
        ]
        if self.left_out is not None and self.left_out.count:
            lines.append("  " + self.left_out.text())
        if self.method == "PRIM":
            lines += self._prim_lines()
        else:
            if not self.boxes:
                lines.append("  no leaf where it holds in most runs")
            for i, b in enumerate(self.boxes, 1):
                lines.append(f"  {i}. {b.rule()}: {_fit(b)}")
        return "\n".join(lines)

    def _prim_lines(self) -> list[str]:
        t = f"{self.threshold:.2f}"
        if self.boxes:
            b = self.boxes[0]
            return [f"  box (density threshold {t}): {b.rule()}", f"    {_fit(b)}"]
        if self.n and self.base_rate >= self.threshold:
            return [
                f"  it holds in {100 * self.base_rate:.0f}% of all runs, at or above the density "
                f"threshold {t} without any restriction: there is no region to single out"
            ]
        if self.best is None:
            return [f"  no box reaches the density threshold {t}; PRIM found no restriction at all"]
        b = self.best
        return [
            f"  no box reaches the density threshold {t}; the densest box PRIM found "
            f"has density {b.density:.2f}, below it, and is not a finding:",
            f"    {b.rule()}: {_fit(b)}",
            "    lower the threshold, or add runs or parameters that explain the condition",
        ]


def _fit(b: Box) -> str:
    return (
        f"density {b.density:.2f} (holds in {round(b.density * b.n)} of its {b.n} runs), "
        f"coverage {b.coverage:.2f} (of the runs where it holds), mass {b.mass:.2f}"
    )


def _target(df: pd.DataFrame, condition: str) -> tuple[pd.DataFrame, np.ndarray, LeftOut]:
    """The runs with a finite value of the condition's outcome, whether it holds, what was left out."""
    name, op, value = parse_condition(condition)
    col = outcome_column(df, name)
    df, left_out = _usable(df, col)
    s = df[col]
    if op is None:
        if not (s.dtype == bool or str(s.dtype) == "boolean"):
            raise ValueError(
                f"outcome {name!r} is not true/false; give a comparison, e.g. '{name} > 0.5'"
            )
        return df, s.astype(bool).to_numpy(), left_out
    v = _numeric(s).to_numpy()
    y = {
        "<": v < value,
        "<=": v <= value,
        ">": v > value,
        ">=": v >= value,
        "==": v == value,
        "!=": v != value,
    }[op]
    return df, y, left_out


def _design_frame(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The varied parameters as PRIM and trees take them: numbers as numbers, the rest as levels."""
    x: dict[str, Any] = {}
    for c in cols:
        s = df[c]
        num = None if s.dtype == bool or str(s.dtype) == "boolean" else pd.to_numeric(s, "coerce")
        if num is not None and num.notna().all():
            integer = pd.api.types.is_integer_dtype(num.dtype)
            x[_label(c)] = num.to_numpy(dtype=np.int64 if integer else np.float64)
        else:
            x[_label(c)] = s.astype(str).to_numpy()
    return pd.DataFrame(x)


@contextlib.contextmanager
def _quiet_ema() -> Iterator[None]:
    """Silence EMA Workbench's own notices, which concern its code, not ours or the user's.

    At import it says an optional parallel backend (ipyparallel) is missing; EMA 3.0
    also calls pandas in ways pandas 3 deprecates (``drop(inplace=True)``). Neither
    changes a result.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ipyparallel not installed")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ema_workbench\.")
        yield


def _prim_box(box: Any, i: int, init: pd.DataFrame) -> Box:
    """Entry ``i`` of an EMA PrimBox's trajectory as a :class:`Box` (read from ``box_lims``)."""
    lims, row = box.box_lims[i], box.peeling_trajectory.iloc[i]
    limits: dict[str, Any] = {}
    for col in init.columns:
        lo, hi = lims[col].iloc[0], lims[col].iloc[1]
        full_lo, full_hi = init[col].iloc[0], init[col].iloc[1]
        if isinstance(lo, set):
            if lo != full_lo:
                limits[col] = sorted(lo, key=str)
        elif lo > full_lo or hi < full_hi:
            limits[col] = (
                float(lo) if lo > full_lo else None,
                float(hi) if hi < full_hi else None,
            )
    p_values = {}
    for col, sides in box.p_values[i].items():
        valid = [float(p) for p in sides if p >= 0]  # EMA marks an unrestricted side with -1
        if valid:
            p_values[col] = min(valid)
    return Box(
        limits,
        density=float(row["density"]),
        coverage=float(row["coverage"]),
        mass=float(row["mass"]),
        n=int(row["n"]),
        p_values=p_values,
    )


def _drop_insignificant(box: Any, i: int, threshold: float, significance: float) -> int:
    """Drop restrictions that do not matter, as long as the box keeps the density threshold.

    A restriction goes (with EMA's ``drop_restriction``) when every side of it
    has a quasi-p-value of at least ``significance``, the least significant
    first. Returns the trajectory entry of the simplified box.
    """
    while True:
        candidates = []
        for col, sides in box.p_values[i].items():
            valid = [p for p in sides if p >= 0]
            if valid and min(valid) >= significance:
                candidates.append((min(valid), col))
        for _, col in sorted(candidates, reverse=True):
            box.drop_restriction(col, i)
            j = len(box.peeling_trajectory) - 1
            if box.peeling_trajectory["density"].iloc[j] >= threshold:
                i = j
                break
        else:
            return i


def _prim(
    x: pd.DataFrame,
    y: np.ndarray,
    threshold: float,
    alpha: float,
    min_mass: float,
    significance: float,
) -> tuple[list[Box], Box | None, pd.DataFrame]:
    """PRIM by EMA Workbench: the chosen box (or none) and the densest one, with the trajectory.

    EMA 3.0 leaves the choice of a box on the peeling trajectory to its user:
    here the box with the largest coverage among those that reach the density
    threshold (fewest restrictions on a tie), simplified by dropping the
    restrictions that are not significant.
    """
    with _quiet_ema():
        from ema_workbench.analysis.prim import Prim

        box = Prim(x, y, peel_alpha=alpha, mass_min=min_mass).find_box()
    init = box.box_lims[0]
    steps = box.peeling_trajectory.copy()
    traj = pd.DataFrame(
        {
            "step": range(len(steps)),
            "density": steps["density"].to_numpy(dtype=float),
            "coverage": steps["coverage"].to_numpy(dtype=float),
            "mass": steps["mass"].to_numpy(dtype=float),
            "restricted": steps["res_dim"].to_numpy(dtype=int),
        }
    )
    restricted = [i for i in range(len(traj)) if traj["restricted"][i] > 0]
    meeting = [i for i in restricted if traj["density"][i] >= threshold]
    if meeting:
        pick = max(meeting, key=lambda i: (traj["coverage"][i], -traj["restricted"][i], -i))
        with _quiet_ema():
            pick = _drop_insignificant(box, pick, threshold, significance)
        return [_prim_box(box, pick, init)], None, traj
    if not restricted:
        return [], None, traj
    best = max(restricted, key=lambda i: (traj["density"][i], traj["coverage"][i]))
    return [], _prim_box(box, best, init), traj


def _tree(x: pd.DataFrame, y: np.ndarray, max_depth: int, min_leaf: int) -> list[Box]:
    """Every leaf of a scikit-learn classification tree as a box (levels one-hot encoded)."""
    from sklearn.tree import DecisionTreeClassifier

    features: list[tuple[str, Any]] = []  # (parameter, level or None for a number)
    columns = []
    levels: dict[str, list[str]] = {}
    for col in x.columns:
        if pd.api.types.is_numeric_dtype(x[col]):
            features.append((col, None))
            columns.append(x[col].to_numpy(dtype=np.float64))
        else:
            levels[col] = sorted(x[col].unique())
            for lv in levels[col]:
                features.append((col, lv))
                columns.append((x[col] == lv).to_numpy(dtype=np.float64))
    matrix = np.column_stack(columns)
    # random_state fixes how ties between equally good splits are broken.
    clf = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_leaf, random_state=0)
    clf.fit(matrix, y)
    t, leaf_of = clf.tree_, clf.apply(matrix)
    n, total = len(y), int(y.sum())
    boxes = []

    def walk(node: int, limits: dict[str, Any]) -> None:
        left, right = t.children_left[node], t.children_right[node]
        if left == -1:
            inside = leaf_of == node
            k, pos = int(inside.sum()), int(y[inside].sum())
            boxes.append(
                Box(
                    limits,
                    density=pos / k if k else 0.0,
                    coverage=pos / total if total else 0.0,
                    mass=k / n,
                    n=k,
                )
            )
            return
        col, level = features[t.feature[node]]
        cut = float(t.threshold[node])
        for child, below in ((left, True), (right, False)):
            lim = dict(limits)
            if level is None:
                lo, hi = lim.get(col, (None, None))
                if below:
                    hi = cut if hi is None else min(hi, cut)
                else:
                    lo = cut if lo is None else max(lo, cut)
                lim[col] = (lo, hi)
            else:
                allowed = lim.get(col, levels[col])
                lim[col] = [v for v in allowed if (v != level) == below]
            walk(child, lim)

    walk(0, {})
    return boxes


def discover(
    results: Results,
    condition: str,
    *,
    params: list[str] | None = None,
    method: str = "prim",
    threshold: float = 0.8,
    alpha: float = 0.05,
    min_mass: float = 0.05,
    max_depth: int = 3,
    min_leaf: int | None = None,
    significance: float = 0.05,
) -> Discovery:
    """Scenario discovery: the parameter regions where ``condition`` holds.

    ``condition`` is a boolean outcome (``"Aegis.alive"``) or a comparison
    (``"privacy_exposure < 0.2"``). Runs that failed, or whose outcome has no
    finite value, are left out and counted in ``.left_out``.

    ``method="prim"`` runs EMA Workbench's PRIM (Friedman and Fisher 1999;
    peeling ``alpha`` of the runs at a time down to ``min_mass`` of them, then
    pasting) and takes, from its peeling trajectory, the box with the largest
    coverage whose density reaches ``threshold``, without the restrictions
    whose quasi-p-values are above ``significance`` (Bryant and Lempert 2010).
    When no box reaches the threshold, ``boxes`` is empty and ``best`` holds
    the densest box, and :meth:`Discovery.text` says so. The trajectory is in
    ``.trajectory``.

    ``method="tree"`` grows a scikit-learn classification tree (Gini,
    ``max_depth``, leaves of at least ``min_leaf`` runs) and returns every leaf
    where the condition holds in most runs, largest coverage first.

    >>> found = discover("out/sweeps/sobol", "Aegis.alive")  # doctest: +SKIP
    >>> print(found.text())  # doctest: +SKIP
    """
    if method not in ("prim", "tree"):
        raise ValueError(f"method {method!r}: allowed: prim, tree")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold {threshold!r}: allowed: a density above 0 and at most 1")
    df = _frame(results)
    cols = [parameter_column(df, p) for p in params] if params else parameter_columns(df)
    if not cols:
        raise ValueError("the results have no varied parameters to discover regions in")
    df, y, left_out = _target(df, condition)
    if len(df) == 0:
        raise ValueError(f"no runs to analyse: {left_out.text()}")
    x = _design_frame(df, cols)
    n, total = len(y), int(y.sum())
    if method == "prim":
        boxes, best, traj = _prim(x, y, threshold, alpha, min_mass, significance)
        return Discovery("PRIM", condition, n, total, boxes, threshold, best, traj, left_out)
    leaves = _tree(x, y, max_depth, min_leaf or max(5, n // 50))
    found = sorted((b for b in leaves if b.density > 0.5), key=lambda b: -b.coverage)
    return Discovery("decision tree", condition, n, total, found, threshold, left_out=left_out)


# ----------------------------------------------------------------- figures
def _grid(n: int, width: float = 4.0, height: float = 3.2) -> tuple[Figure, list[Any]]:
    cols = min(3, max(1, n))
    rows = math.ceil(max(1, n) / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(max(1, n))]
    return fig, axes


def outcome_figure(results: Results, outcome: str, params: list[str] | None = None) -> Figure:
    """The outcome against each varied parameter: runs as dots, means with 95% intervals.

    Runs without a finite value of the outcome are left out; the title counts them.
    """
    df = _frame(results)
    col = outcome_column(df, outcome)
    df, left_out = _usable(df, col)
    cols = [parameter_column(df, p) for p in params] if params else parameter_columns(df)
    y = _numeric(df[col])
    fig, axes = _grid(len(cols))
    rng = np.random.default_rng(0)  # jitter only; does not touch results
    for ax, pc in zip(axes, cols, strict=False):
        xs = pd.to_numeric(df[pc], errors="coerce")
        categorical = xs.isna().any()
        if categorical:
            levels = sorted(df[pc].astype(str).unique())
            xs = df[pc].astype(str).map({lv: i for i, lv in enumerate(levels)}).astype(float)
            ax.set_xticks(range(len(levels)), levels, rotation=20)
        span = (xs.max() - xs.min()) or 1.0
        distinct = xs.nunique()
        jitter = rng.uniform(-0.015, 0.015, len(xs)) * span if distinct <= 12 else 0.0
        ax.scatter(xs + jitter, y, s=6, alpha=0.35, color="tab:blue", linewidths=0)
        groups = _levels(xs, 10) if distinct > 12 else xs
        g = pd.DataFrame({"x": groups.to_numpy(), "y": y.to_numpy()}).groupby("x")["y"]
        m, s, k = g.mean(), g.std(ddof=1).fillna(0), g.count()
        ax.errorbar(
            m.index,
            m.to_numpy(),
            yerr=1.96 * s / np.sqrt(k),
            color="black",
            marker="o",
            ms=3,
            lw=1.2,
            capsize=2,
        )
        ax.set_xlabel(_label(pc))
        ax.set_ylabel(_label(col))
        ax.grid(alpha=0.3)
    if not cols:
        axes[0].hist(y.dropna(), bins=20)
        axes[0].set_xlabel(_label(col))
    dropped = f"; {left_out.count} left out" if left_out.count else ""
    fig.suptitle(f"{_label(col)} by parameter ({len(df)} runs{dropped})")
    return fig


def heatmap_figure(grid: pd.DataFrame, title: str | None = None, annotate: bool = True) -> Figure:
    """A heatmap of :func:`survival_map` output (x across, y up)."""
    fig = Figure(figsize=(6.4, 5.0), layout="constrained")
    ax = fig.add_subplot()
    values = grid.to_numpy(dtype=np.float64)
    outcome = grid.attrs.get("outcome", "")
    share = outcome.endswith(".alive")
    im = ax.imshow(
        values,
        origin="lower",
        aspect="auto",
        cmap="RdYlGn" if outcome.endswith(".alive") else "viridis",
        vmin=0 if share else None,
        vmax=1 if share else None,
    )

    def tick(v: Any) -> str:
        return f"{float(v):.3g}" if _isnum(v) else str(v)

    ax.set_xticks(
        range(grid.shape[1]),
        [tick(v) for v in grid.columns],
        rotation=45 if grid.shape[1] > 6 else 0,
    )
    ax.set_yticks(range(grid.shape[0]), [tick(v) for v in grid.index])
    ax.set_xlabel(grid.columns.name or grid.attrs.get("x", "x"))
    ax.set_ylabel(grid.index.name or grid.attrs.get("y", "y"))
    if annotate and values.size <= 225:
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7)
    label = f"share of runs with {outcome}" if outcome.endswith(".alive") else f"mean {outcome}"
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(title or label)
    return fig


def _isnum(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def sensitivity_figure(indices: pd.DataFrame, title: str | None = None) -> Figure:
    """Bars of Sobol' S1 and ST (or Morris mu* with sigma), with confidence intervals."""
    fig = Figure(figsize=(7.0, 0.5 * len(indices) + 2.0), layout="constrained")
    ax = fig.add_subplot()
    names = list(indices.index)
    pos = np.arange(len(names))

    def bars(offset: float, column: str, label: str) -> None:
        # two bars per parameter, side by side; a measure with a confidence
        # half-width (its "_conf" column) shows it as an error bar
        conf = f"{column}_conf"
        xerr = indices[conf] if conf in indices.columns else None
        ax.barh(pos + offset, indices[column], 0.4, xerr=xerr, label=label, capsize=2)

    if "ST" in indices.columns:
        bars(-0.2, "S1", "first order S1")
        bars(0.2, "ST", "total ST")
        ax.set_xlabel("Sobol' index")
    elif "mu_star" in indices.columns:
        bars(-0.2, "mu_star", "mu* (mean |effect|)")
        bars(0.2, "sigma", "sigma (interactions, non-linearity)")
        ax.set_xlabel("elementary effect per unit of the normalised range")
    else:
        raise ValueError("expected the output of sobol_indices or morris_indices")
    ax.set_yticks(pos, names)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or f"sensitivity of {indices.attrs.get('outcome', 'the outcome')}")
    return fig


def bands_figure(
    series: pd.DataFrame | str | os.PathLike,
    column: str,
    results: Results | None = None,
    by: str | None = None,
) -> Figure:
    """Per-quarter median with 50% and 90% bands over runs (optionally one band per level of ``by``).

    ``series`` is :func:`~experiments.sweep.store.load_series` output (or a
    results folder); ``by`` names a varied parameter (then ``results`` is
    needed, unless ``series`` is a folder).
    """
    from privmarket.experiments.sweep.store import load_series

    if not isinstance(series, pd.DataFrame):
        if results is None:
            results = series
        series = load_series(series)
    if column not in series.columns:
        allowed = [c for c in series.columns if c not in ("run", "point", "replicate", "quarter")]
        raise ValueError(f"no per-quarter column {column!r} kept; allowed: {', '.join(allowed)}")
    data = series[["run", "quarter", column]].copy()
    data[column] = _numeric(data[column])
    groups: list[tuple[str, pd.DataFrame]] = [("all runs", data)]
    if by:
        res = _frame(results) if results is not None else None
        if res is None:
            raise ValueError("bands by a parameter need the results (pass results=...)")
        pc = parameter_column(res, by)
        level = _levels(res.set_index("run")[pc], 5)
        data["level"] = data["run"].map(level)
        groups = [(f"{by} = {lv}", g) for lv, g in data.groupby("level", sort=True)][:8]
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    colors = [f"C{i}" for i in range(10)]
    for (name, g), c in zip(groups, colors, strict=False):
        q = g.groupby("quarter")[column].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
        ax.fill_between(q.index, q[0.05], q[0.95], color=c, alpha=0.15, lw=0)
        ax.fill_between(q.index, q[0.25], q[0.75], color=c, alpha=0.3, lw=0)
        ax.plot(q.index, q[0.5], color=c, lw=1.6, label=f"{name} ({g['run'].nunique()} runs)")
    ax.set_xlabel("quarter")
    ax.set_ylabel(column)
    ax.set_title(f"{column}: median, 50% and 90% bands over runs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def tradeoff_figure(found: Discovery) -> Figure:
    """PRIM's peeling trajectory: coverage against density, coloured by restricted parameters.

    The density threshold is drawn as a line; the chosen box is circled in
    red, or, when no box reaches the threshold, the densest box in grey.
    """
    fig = Figure(figsize=(5.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    t = found.trajectory
    if t.empty:
        raise ValueError("only PRIM results have a trajectory")
    sc = ax.scatter(t["coverage"], t["density"], c=t["restricted"], cmap="viridis", s=18)
    ax.plot(t["coverage"], t["density"], color="grey", lw=0.6)
    fig.colorbar(sc, ax=ax, label="parameters restricted")
    ax.axhline(found.threshold, color="red", lw=0.8, ls="--", label="density threshold")
    for b in found.boxes:
        ax.scatter([b.coverage], [b.density], s=90, facecolors="none", edgecolors="red")
    if found.best is not None:
        ax.scatter(
            [found.best.coverage],
            [found.best.density],
            s=90,
            facecolors="none",
            edgecolors="black",
            label="densest box (below the threshold)",
        )
    ax.set_xlabel("coverage")
    ax.set_ylabel("density")
    ax.set_title(f"PRIM trade-off: {found.condition}")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return fig


# ------------------------------------------------------- the analyze command
def _check_manifest(manifest: Any, folder: str | os.PathLike) -> None:
    """A one-line error for a manifest.json that is not a sweep's (rather than a KeyError later)."""
    design = manifest.get("design") if isinstance(manifest, dict) else None
    if not (
        isinstance(design, dict)
        and isinstance(manifest.get("name"), str)
        and isinstance(manifest.get("n_runs"), int)
        and isinstance(design.get("kind"), str)
        and isinstance(design.get("names"), list)
    ):
        raise ValueError(
            f"{os.fspath(folder)!r}: its manifest.json is not a sweep's (no name, run count or "
            "design); give a folder written by privmarket sweep"
        )


def analyze_folder(
    folder: str | os.PathLike,
    outcome: str | None = None,
    x: str | None = None,
    y: str | None = None,
    condition: str | None = None,
    method: str = "prim",
    threshold: float = 0.8,
    series_column: str | None = None,
    out: str | os.PathLike | None = None,
    echo=print,
) -> list[Path]:
    """What ``privmarket analyze`` does: tables and figures into ``out``; returns their paths."""
    from privmarket.experiments.sweep.store import load_series

    manifest = load_manifest(folder)
    _check_manifest(manifest, folder)
    df = load_results(folder)
    plan = manifest.get("analysis", {}) or {}
    names = manifest["design"]["names"]
    outcome = outcome or plan.get("outcome") or "privacy_exposure"
    condition = condition or plan.get("discover")
    # Bad input fails here, with the allowed values, before anything is written.
    outcome_column(df, outcome)
    if method not in ("prim", "tree"):
        raise ValueError(f"method {method!r}: allowed: prim, tree")
    if not 0 < threshold <= 1:
        raise ValueError(f"--threshold {threshold!r}: allowed: a density above 0 and at most 1")
    if condition and names:
        _target(df, condition)
    target = Path(out) if out else Path(folder) / "analysis"
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save_fig(fig: Figure, name: str) -> None:
        p = target / name
        fig.savefig(p, dpi=110)
        written.append(p)

    def save_csv(frame: pd.DataFrame, name: str, index: bool = False) -> None:
        p = target / name
        frame.to_csv(p, index=index)
        written.append(p)

    counts = df["status"].value_counts().to_dict()
    echo(
        f"{manifest['name']}: {len(df)} of {manifest['n_runs']} runs recorded "
        f"({counts.get('ok', 0)} ok, {counts.get('failed', 0)} failed); "
        f"{manifest['design']['kind']} design over {len(names)} parameter(s); outcome {outcome!r}"
    )
    col = outcome_column(df, outcome)
    used, left_out = _usable(df, col)
    echo("  " + left_out.text())
    if used.empty:
        echo(f"no runs with a finite {outcome} to analyse")
        return written
    summary = point_summary(df, outcome)
    save_csv(summary, "points.csv")
    yv = _numeric(used[col])
    echo(
        f"  {outcome}: mean {yv.mean():.4g}, sd {yv.std():.4g}, "
        f"min {yv.min():.4g}, max {yv.max():.4g} over {len(used)} runs"
    )
    if names:
        save_fig(outcome_figure(df, outcome), "outcome.png")

    kind = manifest["design"]["kind"]
    if kind in ("saltelli", "morris"):
        fn = sobol_indices if kind == "saltelli" else morris_indices
        try:
            idx = fn(df, outcome, manifest=manifest)
        except ValueError as exc:
            echo(f"  no {kind} indices: {exc}")
        else:
            label = "Sobol' indices" if kind == "saltelli" else "Morris measures"
            echo(f"  {label} for {outcome} ({int(100 * idx.attrs['conf_level'])}% intervals):")
            echo("    " + idx.round(4).to_string().replace("\n", "\n    "))
            stem = "sobol" if kind == "saltelli" else "morris"
            save_csv(idx.reset_index(), f"{stem}.csv")
            save_fig(sensitivity_figure(idx), f"{stem}.png")
    else:
        echo(f"  (sensitivity indices need a saltelli or morris design; this is {kind})")

    hx, hy = x, y
    if not (hx and hy) and isinstance(plan.get("heatmap"), list) and len(plan["heatmap"]) == 2:
        hx, hy = hx or plan["heatmap"][0], hy or plan["heatmap"][1]
    if not (hx and hy) and len(names) >= 2:
        hx, hy = hx or names[0], hy or names[1]
    if hx and hy:
        grid = survival_map(df, hx, hy, outcome=outcome)
        save_csv(grid, "heatmap.csv", index=True)
        save_fig(heatmap_figure(grid), "heatmap.png")
        echo(f"  heatmap of {outcome} over {hx} (across) and {hy} (up) -> heatmap.png")

    series = load_series(folder)
    if not series.empty:
        kept = [c for c in series.columns if c not in ("run", "point", "replicate", "quarter")]
        column = series_column or (outcome if outcome in kept else (kept[0] if kept else None))
        if column:
            if column not in kept:
                raise ValueError(
                    f"no per-quarter column {column!r} kept; allowed: {', '.join(kept)}"
                )
            save_fig(bands_figure(series, column, df, by=names[0] if names else None), "bands.png")

    if condition and names:
        found = discover(df, condition, method=method, threshold=threshold)
        echo("  " + found.text().replace("\n", "\n  "))
        p = target / "discovery.txt"
        p.write_text(found.text() + "\n")
        written.append(p)
        save_csv(found.table(), "discovery.csv")
        if method == "prim":
            save_fig(tradeoff_figure(found), "prim_tradeoff.png")
    (target / "analysis.json").write_text(
        json.dumps({"outcome": outcome, "files": [p.name for p in written]}, indent=1)
    )
    written.append(target / "analysis.json")
    echo(f"  wrote {len(written)} files to {target}/")
    return written

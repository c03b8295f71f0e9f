"""Analysis of sweep results: sensitivity indices, survival maps, scenario discovery, figures.

Every function takes either a results folder (as written by ``privmarket sweep``)
or the frame :func:`experiments.sweep.store.load_results` returns, so the same
calls work in a notebook and behind ``privmarket analyze``::

    from privmarket.experiments.analysis import sobol_indices, survival_map, discover
    si = sobol_indices("out/sweeps/sobol", "privacy_exposure")
    grid = survival_map("out/sweeps/survival-map", "vendors.Aegis.stance",
                        "countries.*.appetite", outcome="Aegis.alive")
    found = discover("out/sweeps/lhs-discovery", "Aegis.alive", method="prim")
    print(found.text())

Outcomes are named as in ``model.summary()`` (``"privacy_exposure"``,
``"Aegis.alive"``), with or without the ``out.`` prefix; parameters by their
path (``"vendors.Aegis.stance"``), with or without ``param.``. Only runs with
status ``ok`` enter an analysis. Replicates of a design point are averaged
where a method needs one value per point (Sobol and Morris indices); boolean
outcomes become shares (a survival probability).

Figures are :class:`matplotlib.figure.Figure` objects (no pyplot), to save
with ``fig.savefig(path)`` or show in a notebook.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from privmarket.experiments.sweep.spec import parse_condition
from privmarket.experiments.sweep.store import load_manifest, load_results

__all__ = [
    "Discovery",
    "bands_figure",
    "discover",
    "heatmap_figure",
    "morris_indices",
    "outcome_figure",
    "point_summary",
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


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"] if "status" in df.columns else df


def _numeric(s: pd.Series) -> pd.Series:
    if s.dtype == bool or str(s.dtype) == "boolean":
        return s.astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _label(col: str) -> str:
    return col.removeprefix("param.").removeprefix("out.")


def point_summary(results: Results, outcome: str) -> pd.DataFrame:
    """One row per design point: its parameters, runs ok, mean, sd and 95% half-width."""
    df = _ok(_frame(results))
    col = outcome_column(df, outcome)
    params = parameter_columns(df)
    y = _numeric(df[col])
    g = pd.DataFrame({"point": df["point"].to_numpy(), "y": y.to_numpy()}).groupby("point")["y"]
    out = pd.DataFrame({"n": g.count(), "mean": g.mean(), "sd": g.std(ddof=1)})
    out["ci95"] = 1.96 * out["sd"] / np.sqrt(out["n"].clip(lower=1))
    first = df.drop_duplicates("point").set_index("point")[params]
    out = first.join(out, how="right").reset_index()
    out.columns = [_label(c) for c in out.columns]
    out.attrs["outcome"] = _label(col)
    return out


def _point_means(df: pd.DataFrame, col: str, n_points: int, design: str) -> np.ndarray:
    y = _numeric(_ok(df)[col])
    means = y.groupby(_ok(df)["point"].to_numpy()).mean()
    missing = [p for p in range(n_points) if p not in means.index or pd.isna(means.get(p))]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise ValueError(
            f"the {design} design needs every point; {len(missing)} point(s) have no ok run "
            f"({shown}); finish the sweep or rerun failed runs with --retry-failed"
        )
    values = means.reindex(range(n_points)).to_numpy(dtype=np.float64)
    if np.nanstd(values) == 0:
        raise ValueError(
            f"outcome {_label(col)!r} is the same at every design point "
            f"({values[0]!r}); its sensitivity indices are undefined"
        )
    return values


# ------------------------------------------------------------- sensitivity
def sobol_indices(
    results: Results,
    outcome: str,
    *,
    manifest: dict[str, Any] | None = None,
    conf_level: float = 0.95,
    num_resamples: int = 200,
    seed: int = 1,
) -> pd.DataFrame:
    """First-order and total Sobol' indices (SALib) with confidence half-widths.

    The confidence intervals come from a bootstrap seeded with ``seed`` (a
    positive integer: SALib ignores 0). Needs a sweep with the ``saltelli``
    design. Returns one row per varied
    parameter with columns ``S1``, ``S1_conf``, ``ST``, ``ST_conf``; with
    ``second_order = true`` the second-order indices are in ``.attrs["S2"]``.
    """
    from SALib.analyze import sobol as salib_sobol

    from privmarket.experiments.sweep.designs import salib_problem

    m = _manifest(results, manifest)
    d = m["design"]
    if d["kind"] != "saltelli":
        raise ValueError(f"Sobol indices need a saltelli design; this sweep used {d['kind']!r}")
    df = _frame(results)
    col = outcome_column(df, outcome)
    y = _point_means(df, col, m["n_points"], "saltelli")
    problem = salib_problem(d["names"])
    si = salib_sobol.analyze(
        problem,
        y,
        calc_second_order=bool(d["second_order"]),
        num_resamples=num_resamples,
        conf_level=conf_level,
        seed=seed,
    )
    out = pd.DataFrame(
        {k: si[k] for k in ("S1", "S1_conf", "ST", "ST_conf")},
        index=pd.Index(d["names"], name="parameter"),
    )
    if d["second_order"]:
        out.attrs["S2"] = pd.DataFrame(si["S2"], index=d["names"], columns=d["names"])
        out.attrs["S2_conf"] = pd.DataFrame(si["S2_conf"], index=d["names"], columns=d["names"])
    out.attrs.update(outcome=_label(col), method="sobol", conf_level=conf_level)
    return out


def morris_indices(
    results: Results,
    outcome: str,
    *,
    manifest: dict[str, Any] | None = None,
    conf_level: float = 0.95,
    num_resamples: int = 200,
    seed: int = 1,
) -> pd.DataFrame:
    """Morris elementary-effect measures (SALib): ``mu``, ``mu_star``, ``sigma``, ``mu_star_conf``.

    Needs a sweep with the ``morris`` design. Effects are per unit of each
    parameter's normalised range (the design's unit cube), so they compare
    across parameters of different units.
    """
    from SALib.analyze import morris as salib_morris

    from privmarket.experiments.sweep.designs import salib_problem

    m = _manifest(results, manifest)
    d = m["design"]
    if d["kind"] != "morris":
        raise ValueError(f"Morris indices need a morris design; this sweep used {d['kind']!r}")
    df = _frame(results)
    col = outcome_column(df, outcome)
    y = _point_means(df, col, m["n_points"], "morris")
    x = np.asarray(d["unit"], dtype=np.float64)
    si = salib_morris.analyze(
        salib_problem(d["names"]),
        x,
        y,
        num_resamples=num_resamples,
        conf_level=conf_level,
        num_levels=int(d["levels"]),
        seed=seed,
    )
    out = pd.DataFrame(
        {
            k: np.asarray(si[k], dtype=np.float64)
            for k in ("mu", "mu_star", "sigma", "mu_star_conf")
        },
        index=pd.Index(d["names"], name="parameter"),
    )
    out.attrs.update(outcome=_label(col), method="morris", conf_level=conf_level)
    return out


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
    counts per cell in the same shape.
    """
    df = _ok(_frame(results))
    xc, yc = parameter_column(df, x), parameter_column(df, y)
    col = outcome_column(df, outcome) if outcome else default_alive_outcome(df)
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
    """Regions where a condition holds, found by PRIM or a decision tree."""

    method: str
    condition: str
    n: int  # runs analysed
    positives: int  # runs where the condition holds
    boxes: list[Box]
    trajectory: pd.DataFrame = field(default_factory=pd.DataFrame)  # PRIM peeling steps

    def table(self) -> pd.DataFrame:
        rows = []
        for i, b in enumerate(self.boxes):
            rows.append(
                dict(
                    box=i + 1,
                    rule=b.rule(),
                    density=b.density,
                    coverage=b.coverage,
                    mass=b.mass,
                    runs=b.n,
                )
            )
        return pd.DataFrame(rows)

    def text(self) -> str:
        share = self.positives / self.n if self.n else float("nan")
        lines = [
            f"{self.method}: '{self.condition}' holds in {self.positives} of {self.n} runs "
            f"({100 * share:.0f}%)"
        ]
        if not self.boxes:
            lines.append("  no region found where it holds more often than overall")
        for i, b in enumerate(self.boxes, 1):
            lines.append(
                f"  {i}. {b.rule()}: holds in {100 * b.density:.0f}% of its {b.n} runs, "
                f"covers {100 * b.coverage:.0f}% of the runs where it holds "
                f"({100 * b.mass:.0f}% of all runs)"
            )
        return "\n".join(lines)


def _target(df: pd.DataFrame, condition: str) -> tuple[pd.DataFrame, np.ndarray]:
    name, op, value = parse_condition(condition)
    col = outcome_column(df, name)
    s = df[col]
    keep = s.notna().to_numpy()
    df, s = df[keep], s[keep]
    if op is None:
        if not (s.dtype == bool or str(s.dtype) == "boolean"):
            raise ValueError(
                f"outcome {name!r} is not true/false; give a comparison, e.g. '{name} > 0.5'"
            )
        return df, s.astype(bool).to_numpy()
    v = _numeric(s).to_numpy()
    y = {
        "<": v < value,
        "<=": v <= value,
        ">": v > value,
        ">=": v >= value,
        "==": v == value,
        "!=": v != value,
    }[op]
    return df, y


def _encode(df: pd.DataFrame, params: list[str]) -> tuple[np.ndarray, list[list[Any] | None]]:
    """Numeric matrix of parameters; non-numeric ones as codes of their sorted levels."""
    cols, cats = [], []
    for p in params:
        s = df[p]
        num = pd.to_numeric(s, errors="coerce") if s.dtype != bool else s.astype(float)
        if num.notna().all():
            cols.append(num.to_numpy(dtype=np.float64))
            cats.append(None)
        else:
            levels = sorted(s.astype(str).unique())
            cols.append(s.astype(str).map({lv: i for i, lv in enumerate(levels)}).to_numpy(float))
            cats.append(levels)
    return np.column_stack(cols) if cols else np.empty((len(df), 0)), cats


def _limits(lo, hi, full_lo, full_hi, names, cats) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for j, name in enumerate(names):
        if lo[j] <= full_lo[j] and hi[j] >= full_hi[j]:
            continue
        if cats[j] is not None:
            out[name] = [cats[j][k] for k in range(len(cats[j])) if lo[j] <= k <= hi[j]]
        else:
            out[name] = (
                None if lo[j] <= full_lo[j] else float(lo[j]),
                None if hi[j] >= full_hi[j] else float(hi[j]),
            )
    return out


def _prim(
    x: np.ndarray, y: np.ndarray, alpha: float, min_mass: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """PRIM peeling (Friedman and Fisher 1999): the trajectory of boxes as (lo, hi, inside)."""
    n, d = x.shape
    inside = np.ones(n, dtype=bool)
    lo, hi = x.min(axis=0).copy(), x.max(axis=0).copy()
    steps = [(lo.copy(), hi.copy(), inside.copy())]
    while True:
        idx = np.flatnonzero(inside)
        current = y[idx].mean()
        best = None
        for j in range(d):
            xj = x[idx, j]
            if xj.min() == xj.max():
                continue
            for side in ("low", "high"):
                if side == "low":
                    t = np.quantile(xj, alpha)
                    keep = xj > t if (xj < t).sum() == 0 else xj >= t
                else:
                    t = np.quantile(xj, 1 - alpha)
                    keep = xj < t if (xj > t).sum() == 0 else xj <= t
                k = int(keep.sum())
                if k == 0 or k == len(idx) or k < min_mass * n:
                    continue
                score = y[idx[keep]].mean()
                cand = (score, k, j, side, keep)
                if best is None or (score, k) > (best[0], best[1]):
                    best = cand
        if best is None or best[0] <= current:
            break
        _, _, j, side, keep = best
        new_inside = np.zeros(n, dtype=bool)
        new_inside[idx[keep]] = True
        inside = new_inside
        kept = x[idx[keep], j]
        if side == "low":
            lo[j] = kept.min()
        else:
            hi[j] = kept.max()
        steps.append((lo.copy(), hi.copy(), inside.copy()))
    return steps


def _drop_insignificant(x, y, lo, hi, full_lo, full_hi, significance: float):
    """Drop box restrictions that do not matter (Bryant and Lempert 2010's quasi-p-values).

    For each restricted parameter, the box without that restriction has a
    density ``p0``; the restriction is kept only if seeing the box's positives
    in its runs would be unlikely (binomial tail probability below
    ``significance``) at density ``p0``. The least significant restriction is
    dropped first, until all remaining ones pass.
    """
    from scipy.stats import binom

    lo, hi = lo.copy(), hi.copy()
    while True:
        inside = np.all((x >= lo) & (x <= hi), axis=1)
        k, m = int(y[inside].sum()), int(inside.sum())
        worst, worst_p = None, significance
        for j in range(x.shape[1]):
            if lo[j] <= full_lo[j] and hi[j] >= full_hi[j]:
                continue
            wider = np.all(
                (np.delete(x, j, axis=1) >= np.delete(lo, j))
                & (np.delete(x, j, axis=1) <= np.delete(hi, j)),
                axis=1,
            )
            p0 = y[wider].mean() if wider.any() else 0.0
            p = float(binom.sf(k - 1, m, p0)) if m else 1.0
            if p >= worst_p:
                worst, worst_p = j, p
        if worst is None:
            return lo, hi
        lo[worst], hi[worst] = full_lo[worst], full_hi[worst]


def _gini_split(xj: np.ndarray, y: np.ndarray, min_leaf: int) -> tuple[float, float] | None:
    """Best threshold on one feature: (weighted Gini impurity, threshold) or None."""
    order = np.argsort(xj, kind="stable")
    xs, ys = xj[order], y[order].astype(np.float64)
    n = len(xs)
    pos_left = np.cumsum(ys)[:-1]
    n_left = np.arange(1, n)
    valid = (xs[1:] != xs[:-1]) & (n_left >= min_leaf) & (n - n_left >= min_leaf)
    if not valid.any():
        return None
    pos_total = ys.sum()
    p_l = pos_left / n_left
    p_r = (pos_total - pos_left) / (n - n_left)
    gini = (n_left * 2 * p_l * (1 - p_l) + (n - n_left) * 2 * p_r * (1 - p_r)) / n
    gini = np.where(valid, gini, np.inf)
    i = int(np.argmin(gini))
    return float(gini[i]), float((xs[i] + xs[i + 1]) / 2)


def _tree_leaves(
    x: np.ndarray, y: np.ndarray, idx: np.ndarray, lo, hi, depth: int, max_depth: int, min_leaf: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    yy = y[idx]
    p = yy.mean()
    if depth >= max_depth or len(idx) < 2 * min_leaf or p in (0.0, 1.0):
        return [(lo, hi, idx)]
    parent = 2 * p * (1 - p)
    best = None
    for j in range(x.shape[1]):
        s = _gini_split(x[idx, j], yy, min_leaf)
        if s is not None and (best is None or s[0] < best[0]):
            best = (s[0], s[1], j)
    if best is None or best[0] >= parent - 1e-12:
        return [(lo, hi, idx)]
    _, t, j = best
    left = idx[x[idx, j] <= t]
    right = idx[x[idx, j] > t]
    lhi, rlo = hi.copy(), lo.copy()
    lhi[j] = x[left, j].max()
    rlo[j] = x[right, j].min()
    return _tree_leaves(x, y, left, lo.copy(), lhi, depth + 1, max_depth, min_leaf) + _tree_leaves(
        x, y, right, rlo, hi.copy(), depth + 1, max_depth, min_leaf
    )


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
    (``"privacy_exposure < 0.2"``). ``method="prim"`` peels a box (PRIM,
    Friedman and Fisher 1999, peeling ``alpha`` of the runs at a time down to
    ``min_mass`` of them) and returns the box with the largest coverage whose
    density reaches ``threshold`` (or the densest box), without the restrictions
    that are not significant (quasi-p-value above ``significance``, as in
    Bryant and Lempert 2010); its peeling steps are in ``.trajectory``. ``method="tree"`` grows a classification tree (Gini,
    ``max_depth``, leaves of at least ``min_leaf`` runs) and returns every leaf
    where the condition holds in most runs, largest coverage first.
    """
    if method not in ("prim", "tree"):
        raise ValueError(f"method {method!r}: allowed: prim, tree")
    df = _ok(_frame(results))
    cols = [parameter_column(df, p) for p in params] if params else parameter_columns(df)
    if not cols:
        raise ValueError("the results have no varied parameters to discover regions in")
    df, y = _target(df, condition)
    if len(df) == 0:
        raise ValueError("no ok runs to analyse")
    x, cats = _encode(df, cols)
    names = [_label(c) for c in cols]
    n, total = len(y), int(y.sum())
    full_lo, full_hi = x.min(axis=0), x.max(axis=0)

    def box(lo, hi, inside_idx) -> Box:
        k = len(inside_idx)
        pos = int(y[inside_idx].sum())
        return Box(
            _limits(lo, hi, full_lo, full_hi, names, cats),
            density=pos / k if k else 0.0,
            coverage=pos / total if total else 0.0,
            mass=k / n,
            n=k,
        )

    if method == "prim":
        steps = _prim(x, y, alpha, min_mass)
        boxes = [box(lo, hi, np.flatnonzero(ins)) for lo, hi, ins in steps]
        traj = pd.DataFrame(
            {
                "step": range(len(boxes)),
                "density": [b.density for b in boxes],
                "coverage": [b.coverage for b in boxes],
                "mass": [b.mass for b in boxes],
                "restricted": [len(b.limits) for b in boxes],
                "rule": [b.rule() for b in boxes],
            }
        )
        good = [i for i, b in enumerate(boxes) if b.density >= threshold and b.limits]
        pick = (
            good[0]
            if good
            else max(range(len(boxes)), key=lambda i: (boxes[i].density, boxes[i].coverage))
        )
        lo, hi = steps[pick][0].copy(), steps[pick][1].copy()
        lo, hi = _drop_insignificant(x, y, lo, hi, full_lo, full_hi, significance)
        inside = np.all((x >= lo) & (x <= hi), axis=1)
        chosen = box(lo, hi, np.flatnonzero(inside))
        found = [chosen] if chosen.limits and chosen.density > total / n else []
        return Discovery("PRIM", condition, n, total, found, traj)

    leaf = min_leaf or max(5, n // 50)
    leaves = _tree_leaves(x, y, np.arange(n), full_lo.copy(), full_hi.copy(), 0, max_depth, leaf)
    boxes = [box(lo, hi, idx) for lo, hi, idx in leaves]
    found = sorted((b for b in boxes if b.density > 0.5), key=lambda b: -b.coverage)
    return Discovery("decision tree", condition, n, total, found)


# ----------------------------------------------------------------- figures
def _grid(n: int, width: float = 4.0, height: float = 3.2) -> tuple[Figure, list[Any]]:
    cols = min(3, max(1, n))
    rows = math.ceil(max(1, n) / cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(max(1, n))]
    return fig, axes


def outcome_figure(results: Results, outcome: str, params: list[str] | None = None) -> Figure:
    """The outcome against each varied parameter: runs as dots, means with 95% intervals."""
    df = _ok(_frame(results))
    col = outcome_column(df, outcome)
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
    fig.suptitle(f"{_label(col)} by parameter ({len(df)} runs)")
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
    if "ST" in indices.columns:
        ax.barh(
            pos - 0.2,
            indices["S1"],
            0.4,
            xerr=indices["S1_conf"],
            label="first order S1",
            capsize=2,
        )
        ax.barh(pos + 0.2, indices["ST"], 0.4, xerr=indices["ST_conf"], label="total ST", capsize=2)
        ax.set_xlabel("Sobol' index")
    elif "mu_star" in indices.columns:
        ax.barh(
            pos - 0.2,
            indices["mu_star"],
            0.4,
            xerr=indices["mu_star_conf"],
            label="mu* (mean |effect|)",
            capsize=2,
        )
        ax.barh(pos + 0.2, indices["sigma"], 0.4, label="sigma (interactions, non-linearity)")
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
    """PRIM's peeling trajectory: coverage against density, coloured by restricted parameters."""
    fig = Figure(figsize=(5.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    t = found.trajectory
    if t.empty:
        raise ValueError("only PRIM results have a trajectory")
    sc = ax.scatter(t["coverage"], t["density"], c=t["restricted"], cmap="viridis", s=18)
    ax.plot(t["coverage"], t["density"], color="grey", lw=0.6)
    fig.colorbar(sc, ax=ax, label="parameters restricted")
    for b in found.boxes:
        ax.scatter([b.coverage], [b.density], s=90, facecolors="none", edgecolors="red")
    ax.set_xlabel("coverage")
    ax.set_ylabel("density")
    ax.set_title(f"PRIM trade-off: {found.condition}")
    ax.grid(alpha=0.3)
    return fig


# ------------------------------------------------------- the analyze command
def analyze_folder(
    folder: str | os.PathLike,
    outcome: str | None = None,
    x: str | None = None,
    y: str | None = None,
    condition: str | None = None,
    method: str = "prim",
    series_column: str | None = None,
    out: str | os.PathLike | None = None,
    echo=print,
) -> list[Path]:
    """What ``privmarket analyze`` does: tables and figures into ``out``; returns their paths."""
    from privmarket.experiments.sweep.store import load_series

    manifest = load_manifest(folder)
    df = load_results(folder)
    ok = _ok(df)
    plan = manifest.get("analysis", {}) or {}
    names = manifest["design"]["names"]
    outcome = outcome or plan.get("outcome") or "privacy_exposure"
    outcome_column(df, outcome)  # fails early with the allowed names
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
    if ok.empty:
        echo("no ok runs to analyse")
        return written
    summary = point_summary(df, outcome)
    save_csv(summary, "points.csv")
    col = outcome_column(df, outcome)
    yv = _numeric(ok[col])
    echo(
        f"  {outcome}: mean {yv.mean():.4g}, sd {yv.std():.4g}, "
        f"min {yv.min():.4g}, max {yv.max():.4g} over {len(ok)} runs"
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

    condition = condition or plan.get("discover")
    if condition and names:
        found = discover(df, condition, method=method)
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

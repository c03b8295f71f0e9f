"""The sweep explorer: open a results folder written by ``privmarket sweep``.

It shows the sweep's survival map, sensitivity bars and the distribution of an
outcome within a chosen group of runs, and lists the runs; "Rerun live" rebuilds
that run (its scenario, parameters and seed) on the live page.

Only folders below the configured results root can be opened (``--results-root``
of ``privmarket dashboard``; default, the directory it was started in): paths
that resolve outside it, through ``..`` or symbolic links, are refused, and so
is a folder whose ``manifest.json``, ``chunks`` folder or any chunk file is a
link to something outside the root. Any error of the file system on a user's
path (a name too long, no permission, a loop of links) is a one-line message,
never a traceback.

Charts are Vega-Lite (hover for values); outcomes are shown in the same units
as on the live page (shares in %), parameters by their descriptions.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import solara

from privmarket.dashboard import charts, state
from privmarket.dashboard.labels import (
    display_value,
    outcome_label,
    outcome_unit,
    param_help,
    param_label,
)
from privmarket.dashboard.live import LiveSettings
from privmarket.dashboard.vega import VegaChart, records, to_json

MANIFEST = "manifest.json"
CHUNKS = "chunks"
#: Folders never searched for sweeps (environments, caches, version control).
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "site-packages", "chunks"}
ALL_RUNS = "all runs"
POINT = "design point"


class ExplorerError(ValueError):
    """A results folder that cannot be opened (the message says why)."""


# ------------------------------------------------------------------- paths
def _inside(root: Path, path: Path) -> bool:
    return path == root or path.is_relative_to(root)


def resolve_under(root: Path, text: str) -> Path:
    """The folder ``text`` names (relative to ``root``, or absolute), if it lies below ``root``.

    Symbolic links and ``..`` are resolved first, so neither can leave the root;
    the files the explorer will read (``manifest.json``, ``chunks`` and every
    file in it) are resolved too (:func:`check_files`). Raises
    :class:`ExplorerError` with a one-line message, for any error of the file
    system too.
    """
    raw = (text or "").strip()
    if not raw:
        raise ExplorerError("type the path of a results folder below the results root")
    if "\x00" in raw:
        raise ExplorerError("the path contains a NUL character")
    shown = raw if len(raw) <= 80 else raw[:60] + "..." + raw[-12:]
    try:
        root = root.resolve()
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = root / candidate
        resolved = candidate.resolve()
        if not _inside(root, resolved):
            raise ExplorerError(
                f"refused {shown!r}: it is outside the results root {str(root)!r} "
                "(start the dashboard with --results-root DIR to open other folders)"
            )
        if not resolved.is_dir():
            raise ExplorerError(f"{shown!r}: no such folder below the results root")
        if not (resolved / MANIFEST).exists() and not (resolved / MANIFEST).is_symlink():
            raise ExplorerError(
                f"{shown!r} is not a sweep results folder (no {MANIFEST}); "
                "make one with privmarket sweep EXPERIMENT --out DIR"
            )
        check_files(root, resolved, shown)
    except OSError as exc:
        raise ExplorerError(f"cannot open {shown!r}: {exc.strerror or exc}") from None
    except RuntimeError as exc:  # a loop of symbolic links on older Pythons
        raise ExplorerError(f"cannot open {shown!r}: {exc}") from None
    return resolved


def check_files(root: Path, folder: Path, shown: str = "") -> None:
    """Refuse a results folder whose manifest, chunks folder or chunk files lead outside ``root``.

    The loaders read ``folder/manifest.json`` and every file in ``folder/chunks``;
    each is resolved (following links) and must stay below the root and be a
    regular file (the chunks folder a folder).
    """
    shown = shown or str(folder)
    manifest = (folder / MANIFEST).resolve()
    if not _inside(root, manifest):
        raise ExplorerError(
            f"refused {shown!r}: its {MANIFEST} is a link to a file outside the results root"
        )
    if not manifest.is_file():
        raise ExplorerError(f"{shown!r}: its {MANIFEST} is not a regular file")
    chunks = folder / CHUNKS
    if not chunks.exists() and not chunks.is_symlink():
        return
    target = chunks.resolve()
    if not _inside(root, target):
        raise ExplorerError(
            f"refused {shown!r}: its {CHUNKS} folder is a link to a folder outside the results root"
        )
    if not target.is_dir():
        raise ExplorerError(f"{shown!r}: its {CHUNKS} is not a folder")
    for entry in target.iterdir():
        real = entry.resolve()
        if not _inside(root, real):
            raise ExplorerError(
                f"refused {shown!r}: {CHUNKS}/{entry.name[:60]} is a link to a file outside "
                "the results root"
            )


def find_sweeps(root: Path, max_depth: int = 4, limit: int = 200) -> list[str]:
    """Sweep results folders below ``root`` (relative paths), nearest first."""
    try:
        root = root.resolve()
    except OSError:
        return []
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        if MANIFEST in filenames and _is_dir(here / CHUNKS):
            if _confined(root, here):
                found.append(str(here.relative_to(root)) or ".")
            dirnames[:] = []
            continue
        if depth >= max_depth or len(found) >= limit:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and not d.startswith(".") and not _is_link(here / d)
        )
    return sorted(found, key=lambda p: (p.count(os.sep), p))[:limit]


def _confined(root: Path, folder: Path) -> bool:
    try:
        check_files(root, folder)
    except (ExplorerError, OSError):
        return False
    return True


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir() and not path.is_symlink()
    except OSError:
        return False


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:
        return True


# ------------------------------------------------------------------ loading
@dataclass
class Sweep:
    """One results folder, loaded."""

    path: Path
    label: str  # as shown (relative to the root)
    manifest: dict[str, Any]
    runs: pd.DataFrame
    params: list[str] = field(default_factory=list)  # varied parameter paths
    outcomes: list[str] = field(default_factory=list)  # outcome names (without "out.")

    @property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "ok"] if "status" in self.runs else self.runs

    def counts(self) -> dict[str, int]:
        st = self.runs["status"].value_counts() if len(self.runs) else pd.Series(dtype=int)
        n = int(self.manifest.get("n_runs", len(self.runs)))
        ok, failed = int(st.get("ok", 0)), int(st.get("failed", 0))
        return {"ok": ok, "failed": failed, "missing": max(0, n - ok - failed), "runs": n}


def load_sweep(path: Path, label: str = "") -> Sweep:
    """Read a results folder with the runner's public loaders."""
    try:
        from privmarket.experiments.sweep.store import load_manifest, load_results
    except ImportError as exc:  # pragma: no cover - the runner ships with the project
        raise ExplorerError(f"the sweep runner is not installed: {exc}") from None
    try:
        manifest = load_manifest(path)
        runs = load_results(path)
    except OSError as exc:
        raise ExplorerError(f"cannot read {label or str(path)!r}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ExplorerError(f"cannot read {label or str(path)!r}: {exc}") from None
    params = [c.removeprefix("param.") for c in runs.columns if c.startswith("param.")]
    outcomes = [c.removeprefix("out.") for c in runs.columns if c.startswith("out.")]
    return Sweep(path, label or str(path), manifest, runs, params, outcomes)


def default_outcome(sweep: Sweep) -> str | None:
    """The experiment's own analysis outcome, else the first vendor's survival, else any."""
    wanted = (sweep.manifest.get("analysis") or {}).get("outcome")
    if wanted in sweep.outcomes:
        return wanted
    alive = [o for o in sweep.outcomes if o.endswith(".alive")]
    for o in (*alive, "privacy_exposure"):
        if o in sweep.outcomes:
            return o
    return sweep.outcomes[0] if sweep.outcomes else None


def default_axes(sweep: Sweep) -> tuple[str | None, str | None]:
    wanted = (sweep.manifest.get("analysis") or {}).get("heatmap") or []
    if len(wanted) == 2 and all(w in sweep.params for w in wanted):
        return wanted[0], wanted[1]
    p = sweep.params
    return (p[0] if p else None), (p[1] if len(p) > 1 else None)


# ------------------------------------------------------------------ reruns
def _plain(value: Any) -> Any:
    """A stored value as a plain Python value (numpy scalars unwrapped, NA as None)."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, np.generic):
        return value.item()
    return value


def run_settings(sweep: Sweep, run: int) -> LiveSettings:
    """Live settings that rerun stored run ``run``: scenario, fixed and varied values, seed."""
    rows = sweep.runs[sweep.runs["run"] == run]
    if rows.empty:
        raise ExplorerError(f"run {run} is not in {sweep.label!r}")
    row = rows.iloc[0]
    values = dict(sweep.manifest.get("fixed") or {})
    for p in sweep.params:
        v = _plain(row.get(f"param.{p}"))
        if v is not None:
            values[p] = v
    expected = {}
    if row.get("status") == "ok":
        expected = {o: _plain(row[f"out.{o}"]) for o in sweep.outcomes if f"out.{o}" in row}
    return LiveSettings.for_run(
        sweep.manifest.get("scenario", "baseline"),
        values,
        int(row["seed"]),
        source=f"run {run} of sweep {sweep.manifest.get('name', '')!r} ({sweep.label})",
        expected=expected,
    )


# ---------------------------------------------------------------- analysis
def _numeric(s: pd.Series) -> pd.Series:
    if s.dtype == bool or str(s.dtype) == "boolean":
        return s.astype("float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


def _levels(s: pd.Series, bins: int = 8, max_levels: int = 12) -> pd.Series:
    """Grid levels as they are; many distinct numeric values binned into equal intervals."""
    x = pd.to_numeric(s, errors="coerce")
    if x.isna().any() or s.nunique() <= max_levels:
        return s.astype(str) if x.isna().any() else x
    edges = np.linspace(x.min(), x.max(), bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    idx = np.clip(np.searchsorted(edges, x.to_numpy(), side="right") - 1, 0, bins - 1)
    return pd.Series(np.round(centres[idx], 4), index=s.index)


def main_effects(sweep: Sweep, outcome: str) -> pd.DataFrame:
    """First-order effect of each varied parameter on ``outcome`` (correlation ratio).

    eta^2 = Var(E[Y | X_i]) / Var(Y), over the sweep's ok runs, with many-valued
    parameters binned. For a full grid this is the first-order Sobol' index
    estimated from the grid; for samples it is its binned estimate.
    """
    df = sweep.ok
    y = _numeric(df[f"out.{outcome}"])
    rows = []
    var = float(y.var(ddof=0)) if len(y) > 1 else 0.0
    for p in sweep.params:
        g = pd.DataFrame({"x": _levels(df[f"param.{p}"]).to_numpy(), "y": y.to_numpy()}).dropna()
        if var <= 0 or g.empty:
            eta = 0.0
        else:
            means = g.groupby("x")["y"].transform("mean")
            eta = float(((means - g["y"].mean()) ** 2).mean() / var)
        rows.append((p, eta))
    out = pd.DataFrame(rows, columns=["parameter", "eta2"]).set_index("parameter")
    out.attrs["outcome"] = outcome
    return out


def sensitivity(sweep: Sweep, outcome: str) -> tuple[dict, list[dict], str]:
    """Sensitivity of ``outcome``: Sobol' (saltelli), Morris, or first-order effects.

    Returns the bar chart's spec, its rows and a note saying which indices these are.
    """
    from privmarket.experiments import analysis

    kind = (sweep.manifest.get("design") or {}).get("kind", "")
    title = f"Sensitivity of {outcome_label(outcome, unit=False)}"
    note = ""
    try:
        if kind == "saltelli":
            idx = analysis.sobol_indices(sweep.runs, outcome, manifest=sweep.manifest)
            rows = _bars(idx, [("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total ST")])
            spec = charts.bars_spec(title, "Sobol' index", ["first order S1", "total ST"])
            return spec, rows, "Sobol' indices (SALib), with 95% intervals."
        if kind == "morris":
            idx = analysis.morris_indices(sweep.runs, outcome, manifest=sweep.manifest)
            names = ["mu* (mean |effect|)", "sigma (interactions)"]
            rows = _bars(idx, [("mu_star", "mu_star_conf", names[0]), ("sigma", None, names[1])])
            spec = charts.bars_spec(title, "elementary effect per unit of the range", names)
            return spec, rows, "Morris elementary effects (SALib), with 95% intervals for mu*."
    except (ValueError, KeyError, ZeroDivisionError) as exc:
        note = f"{kind} indices unavailable ({exc}); "
    eff = main_effects(sweep, outcome)
    rows = _bars(eff, [("eta2", None, "first-order effect")])
    spec = charts.bars_spec(
        title, "share of the outcome's variance explained", ["first-order effect"]
    )
    return (
        spec,
        rows,
        note
        + (
            f"First-order effects (correlation ratio) from this {kind or 'sweep'} design; "
            "a saltelli design gives Sobol' indices with intervals."
        ),
    )


def _bars(frame: pd.DataFrame, measures: list[tuple[str, str | None, str]]) -> list[dict]:
    rows = []
    for order, (path, row) in enumerate(frame.iterrows()):
        for col, conf, name in measures:
            value = float(row[col])
            half = float(row[conf]) if conf else None
            rows.append(
                {
                    "parameter": param_label(str(path)),
                    "order": order,
                    "measure": name,
                    "value": value,
                    "lo": value - half if half is not None else None,
                    "hi": value + half if half is not None else None,
                }
            )
    return records(rows)


def survival(sweep: Sweep, x: str, y: str, outcome: str) -> tuple[dict, list[dict]]:
    """The survival map of ``outcome`` over ``x`` and ``y``: spec and rows (values in %)."""
    from privmarket.experiments import analysis

    grid = analysis.survival_map(sweep.runs, x, y, outcome=outcome)
    counts = grid.attrs.get("n")
    rows = []
    for yo, yv in enumerate(grid.index):
        for xo, xv in enumerate(grid.columns):
            value = grid.loc[yv, xv]
            if not np.isfinite(value):
                continue
            shown = display_value(outcome, value)
            n = int(counts.loc[yv, xv]) if counts is not None else None
            rows.append(
                {"x": _tick(xv), "y": _tick(yv), "xo": xo, "yo": yo, "value": shown, "n": n}
            )
    share = outcome_unit(outcome) in ("%", "% of runs")
    top = 100.0 if share else max((r["value"] for r in rows), default=1.0)
    for r in rows:
        # viridis is light above about 60% of its range: black figures there
        r["light"] = bool(top and r["value"] / top > 0.6)
    title = (
        f"{outcome_label(outcome, unit=False)}: share of runs" if share else outcome_label(outcome)
    )
    spec = charts.heatmap_spec(
        title,
        param_label(x),
        param_label(y),
        "runs still in the market (%)" if outcome.endswith(".alive") else outcome_label(outcome),
        share,
    )
    return spec, records(rows)


def _tick(v: Any) -> str:
    try:
        return f"{float(v):.3g}"
    except (TypeError, ValueError):
        return str(v)


def groups(sweep: Sweep, by: str) -> list[str]:
    """The groups runs fall into when grouped ``by`` a varied parameter or design point."""
    df = sweep.runs
    if by == ALL_RUNS or df.empty:
        return [ALL_RUNS]
    if by == POINT:
        return [str(p) for p in sorted(df["point"].unique())]
    return [str(v) for v in sorted(_levels(df[f"param.{by}"]).unique(), key=_sort_key)]


def _sort_key(v: Any) -> tuple:
    try:
        return (0, float(v), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(v))


def group_runs(sweep: Sweep, by: str, group: str) -> pd.DataFrame:
    """The runs in ``group`` (as listed by :func:`groups`)."""
    df = sweep.runs
    if by == ALL_RUNS or group == ALL_RUNS:
        return df
    if by == POINT:
        return df[df["point"].astype(str) == group]
    return df[_levels(df[f"param.{by}"]).astype(str) == group]


def distribution(
    sweep: Sweep, outcome: str, chosen: pd.DataFrame, label: str
) -> tuple[dict, list[dict]]:
    """Histogram of ``outcome`` (in its shown unit) in the chosen runs, over all runs in grey."""
    col = f"out.{outcome}"
    every = _numeric(sweep.ok[col]).dropna().map(lambda v: display_value(outcome, v))
    mine = _numeric(chosen[chosen["status"] == "ok"][col]).dropna()
    mine = mine.map(lambda v: display_value(outcome, v))
    lo, hi = (float(every.min()), float(every.max())) if len(every) else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, min(30, max(6, int(math.sqrt(max(len(every), 1))) + 4)))
    rows: list[dict[str, Any]] = []
    group = f"{label} ({len(mine)})"
    for which, values in (("all runs", every), (group, mine)):
        counts, _ = np.histogram(values.to_numpy(dtype=float), bins=edges)
        rows += [
            {"lo": float(a), "hi": float(b), "count": int(n), "which": which}
            for a, b, n in zip(edges[:-1], edges[1:], counts, strict=True)
        ]
    if len(mine):
        rows.append({"mean": float(mine.mean())})
    spec = charts.histogram_spec(
        f"Distribution of {outcome_label(outcome, unit=False)}", outcome_label(outcome), group
    )
    return spec, records(rows)


# --------------------------------------------------------------- components
def _chooser(names: list[str], label) -> tuple[list[str], dict[str, str]]:
    """Readable choices for a select, and the way back to the names (labels kept unique)."""
    shown: dict[str, str] = {}
    for n in names:
        text = label(n)
        shown[text if text not in shown else f"{text} [{n}]"] = n
    return list(shown), shown


def _label_of(name: str | None, back: dict[str, str]) -> str | None:
    return next((k for k, v in back.items() if v == name), None)


@solara.component
def ExplorerPage():
    """Choose a results folder below the root, then explore it."""
    solara.Title("privmarket: sweep explorer")
    root = state.results_root()
    found = solara.use_memo(lambda: find_sweeps(root), dependencies=[str(root)])
    typed, set_typed = solara.use_state("")
    error, set_error = solara.use_state(None)
    opened = state.explorer_path.value

    def open_path(text: str) -> None:
        try:
            path = resolve_under(root, text)
        except ExplorerError as exc:
            set_error(str(exc))
            return
        set_error(None)
        state.explorer_path.value = str(path)

    with solara.Column(classes=["pm-explorer"], style={"padding": "8px", "max-width": "1500px"}):
        solara.HTML(tag="h2", unsafe_innerHTML="Sweep explorer")
        solara.Text(
            f"Results root: {state.results_root_label()} (sweep results folders below it, "
            "written by privmarket sweep, can be opened).",
            classes=["pm-root"],
        )
        with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
            if found:
                solara.Select(
                    label="Results folder",
                    value=None,
                    values=found,
                    on_value=lambda v: v and open_path(v),
                    style={"min-width": "320px"},
                )
            solara.InputText(
                "or type a folder path",
                value=typed,
                on_value=set_typed,
                continuous_update=True,
                style={"min-width": "320px"},
                error=bool(error),
            )
            solara.Button("Open", color="primary", on_click=lambda: open_path(typed))
        if error:
            solara.Error(error, classes=["pm-explorer-error"], dense=True)
        if not found:
            solara.Info(
                "No sweep results below the root yet. Make some with e.g. "
                "privmarket sweep quick-grid --out out/sweeps/quick-grid"
            )
        if opened:
            try:
                path = resolve_under(root, opened)
            except ExplorerError as exc:
                solara.Error(str(exc), classes=["pm-explorer-error"])
            else:
                label = str(path.relative_to(root.resolve())) if path != root.resolve() else "."
                SweepView(str(path), label)


@solara.component
def SweepView(path: str, label: str):
    """Load a results folder (again whenever it changes on disk) and show it."""
    mtime = _mtime(Path(path))
    loaded = solara.use_memo(lambda: _try_load(Path(path), label), dependencies=[path, mtime])
    if isinstance(loaded, str):
        solara.Error(loaded, classes=["pm-explorer-error"])
    else:
        SweepPanels(loaded, mtime).key(f"{path}:{mtime}")


@solara.component
def SweepPanels(sweep: Sweep, mtime: float):
    """Summary, survival map, sensitivity bars, a group's outcome distribution, and the runs."""
    c = sweep.counts()
    ax_x, ax_y = default_axes(sweep)
    outcome, set_outcome = solara.use_state(default_outcome(sweep))
    x, set_x = solara.use_state(ax_x)
    y, set_y = solara.use_state(ax_y)
    by, set_by = solara.use_state(sweep.params[0] if sweep.params else ALL_RUNS)
    group, set_group = solara.use_state(None)
    options = groups(sweep, by)
    if group not in options:
        group = options[0]
    chosen = group_runs(sweep, by, group)
    name = ALL_RUNS if by == ALL_RUNS else f"{param_label(by)} = {group}"
    ready = c["ok"] > 0 and outcome is not None
    key = str(sweep.path)
    outcome_choices, outcome_back = _chooser(sweep.outcomes, outcome_label)
    param_choices, param_back = _chooser(sweep.params, param_label)
    by_choices, by_back = _chooser([*sweep.params, POINT, ALL_RUNS], param_label)

    alive = [o for o in sweep.outcomes if o.endswith(".alive")]
    alive_choices, alive_back = _chooser(alive, lambda o: o.removesuffix(".alive"))
    survivor, set_survivor = solara.use_state(alive[0] if alive else None)
    survival_chart = solara.use_memo(
        lambda: (
            _safe(lambda: survival(sweep, x, y, survivor))
            if ready and survivor and x and y and x != y
            else None
        ),
        dependencies=[key, mtime, x, y, survivor],
    )
    sens = solara.use_memo(
        lambda: _safe(lambda: sensitivity(sweep, outcome)) if ready else None,
        dependencies=[key, mtime, outcome],
    )
    dist = solara.use_memo(
        lambda: _safe(lambda: distribution(sweep, outcome, chosen, name)) if ready else None,
        dependencies=[key, mtime, outcome, by, group],
    )

    with solara.Column(classes=["pm-sweep"]):
        solara.HTML(
            tag="div",
            unsafe_innerHTML=_summary_html(sweep, c),
            classes=["pm-box", "pm-sweep-summary", "pm-summary"],
        )
        if not ready:
            solara.Warning("No finished runs in this folder yet.")
            return
        solara.Select(
            label="Outcome",
            value=_label_of(outcome, outcome_back),
            values=outcome_choices,
            on_value=lambda v: set_outcome(outcome_back[v]),
            style={"max-width": "420px"},
        )
        with solara.Div(classes=["pm-grid"]):
            with solara.Column(classes=["pm-box", "pm-survival"]):
                solara.HTML(
                    tag="div",
                    unsafe_innerHTML="<b>Survival map</b>: share of runs in which the vendor "
                    "is still in the handset market at the end",
                )
                with solara.Row(style={"flex-wrap": "wrap"}):
                    if alive:
                        solara.Select(
                            label="vendor",
                            value=_label_of(survivor, alive_back),
                            values=alive_choices,
                            on_value=lambda v: set_survivor(alive_back[v]),
                        )
                    if len(sweep.params) >= 2:
                        solara.Select(
                            label="across",
                            value=_label_of(x, param_back),
                            values=param_choices,
                            on_value=lambda v: set_x(param_back[v]),
                        )
                        solara.Select(
                            label="up",
                            value=_label_of(y, param_back),
                            values=param_choices,
                            on_value=lambda v: set_y(param_back[v]),
                        )
                if not alive:
                    solara.Info("These results hold no '<vendor>.alive' outcome to map.")
                elif survival_chart is None:
                    solara.Info(
                        "A survival map needs two different varied parameters"
                        + ("; this sweep varies one." if len(sweep.params) < 2 else ".")
                    )
                else:
                    _chart_or_error(survival_chart, "survival")
            with solara.Column(classes=["pm-box", "pm-sensitivity"]):
                if isinstance(sens, str):
                    solara.Error(sens)
                elif sens is not None:
                    spec, rows, note = sens
                    VegaChart(to_json(spec), to_json(rows), "sensitivity")
                    solara.Text(note, classes=["pm-hint"])
            with solara.Column(classes=["pm-box", "pm-distribution"]):
                solara.HTML(tag="div", unsafe_innerHTML="<b>Outcome distribution in a group</b>")
                with solara.Row(style={"flex-wrap": "wrap"}):
                    solara.Select(
                        label="group by",
                        value=_label_of(by, by_back),
                        values=by_choices,
                        on_value=lambda v: (set_by(by_back[v]), set_group(None)),
                    )
                    solara.Select(label="group", value=group, values=options, on_value=set_group)
                _chart_or_error(dist, "distribution")
            with solara.Column(classes=["pm-box", "pm-runs"]):
                RunsTable(sweep, chosen, outcome, name)
            if sweep.params:
                with solara.Column(classes=["pm-box", "pm-params", "pm-wide"]):
                    solara.HTML(
                        tag="div",
                        unsafe_innerHTML="<b>Varied parameters</b><ul>"
                        + "".join(
                            f"<li><b>{html.escape(param_label(p))}</b> "
                            f"<span class='pm-muted'>({html.escape(p)})</span>: "
                            f"{html.escape(param_help(p))}</li>"
                            for p in sweep.params
                        )
                        + "</ul>",
                    )


@solara.component
def RunsTable(sweep: Sweep, runs: pd.DataFrame, outcome: str, name: str):
    """The runs of the chosen group; each can be rerun live on the first page."""
    router = solara.use_router()
    error, set_error = solara.use_state(None)
    limit = 60
    shown = runs.head(limit)

    def rerun(run: int) -> None:
        try:
            settings = run_settings(sweep, run)
        except (ExplorerError, ValueError) as exc:
            set_error(f"cannot rerun run {run}: {exc}")
            return
        state.rerun(settings)
        if router.set_path is not None:  # served as an app (no router inside a notebook)
            router.push("/")

    if error:
        solara.Error(error)

    solara.HTML(
        tag="div",
        unsafe_innerHTML=f"<b>Runs</b>: {html.escape(name)} ({len(runs)} runs"
        + (f", first {limit} shown" if len(runs) > limit else "")
        + "). Rerun one live, with its parameters and seed:",
    )
    unit = outcome_unit(outcome)
    with solara.Column(classes=["pm-runs-list"], style={"gap": "2px"}):
        for _, row in shown.iterrows():
            run = int(row["run"])
            params = ", ".join(
                f"{param_label(p)} = {_fmt(row[f'param.{p}'])}" for p in sweep.params
            )
            if row.get("status") == "ok":
                value = _fmt(display_value(outcome, _plain(row.get(f"out.{outcome}"))))
                value += f" {unit}" if unit and unit not in ("count", "0-1") else ""
            else:
                value = str(row["status"])
            with solara.Row(style={"align-items": "center", "gap": "6px"}, classes=["pm-run"]):
                solara.Button(
                    f"Rerun {run}",
                    on_click=lambda run=run: rerun(run),
                    small=True,
                    outlined=True,
                    classes=[f"pm-rerun-{run}"],
                )
                solara.Text(
                    f"seed {row['seed']} · {params} · {outcome_label(outcome, unit=False)} = {value}",
                    classes=["pm-run-text"],
                )


def _fmt(v: Any) -> str:
    v = _plain(v)
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _summary_html(sweep: Sweep, c: dict[str, int]) -> str:
    m = sweep.manifest
    e = html.escape
    design = m.get("design") or {}
    varied = ", ".join(e(param_label(p)) for p in sweep.params) or "none"
    state_ = "finished" if m.get("finished") else "unfinished (resume it with privmarket sweep)"
    return (
        f"<div><b>{e(str(m.get('name', sweep.label)))}</b> &middot; {e(sweep.label)}</div>"
        f"<div>{e(str(m.get('description') or ''))}</div>"
        f"<div>scenario <b>{e(str(m.get('scenario', '?')))}</b> &middot; "
        f"{e(str(design.get('kind', '?')))} design &middot; {e(str(m.get('n_points', '?')))} points "
        f"&times; {e(str(m.get('replicates', '?')))} replicates &middot; "
        f"{e(str(m.get('quarters', '?')))} quarters &middot; varied: {varied}</div>"
        f'<div class="pm-counts">{c["runs"]} runs: {c["ok"]} ok, {c["failed"]} failed, '
        f"{c['missing']} missing &middot; {e(state_)}</div>"
    )


def _mtime(path: Path) -> float:
    try:
        return max(
            (path / MANIFEST).stat().st_mtime,
            *(f.stat().st_mtime for f in (path / CHUNKS).glob("runs-*.parquet")),
        )
    except (OSError, ValueError):
        return 0.0


def _try_load(path: Path, label: str) -> Sweep | str:
    try:
        return load_sweep(path, label)
    except ExplorerError as exc:
        return str(exc)


def _safe(make):
    try:
        return make()
    except (ValueError, KeyError, TypeError, OSError) as exc:
        return f"cannot draw this: {exc}"


def _chart_or_error(chart, name: str) -> None:
    if isinstance(chart, str):
        solara.Error(chart)
    elif chart is not None:
        spec, rows = chart
        VegaChart(to_json(spec), to_json(rows), name)

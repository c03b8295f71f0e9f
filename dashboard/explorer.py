"""The sweep explorer: open a results folder written by ``privmarket sweep``.

It shows the sweep's survival map, sensitivity bars and the distribution of an
outcome within a chosen group of runs, and lists the runs; "Rerun live" rebuilds
that run (its scenario, parameters and seed) on the live page.

Only folders below the configured results root can be opened (``--results-root``
of ``privmarket dashboard``; default, the directory it was started in): paths
that resolve outside it, through ``..`` or symbolic links, are refused.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import solara
from matplotlib.figure import Figure

from privmarket.dashboard import state
from privmarket.dashboard.live import LiveSettings

MANIFEST = "manifest.json"
#: Folders never searched for sweeps (environments, caches, version control).
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "site-packages", "chunks"}
ALL_RUNS = "all runs"
POINT = "design point"


class ExplorerError(ValueError):
    """A results folder that cannot be opened (the message says why)."""


# ------------------------------------------------------------------- paths
def resolve_under(root: Path, text: str) -> Path:
    """The folder ``text`` names (relative to ``root``, or absolute), if it lies below ``root``.

    Symbolic links and ``..`` are resolved first, so neither can leave the root.
    """
    raw = (text or "").strip()
    if not raw:
        raise ExplorerError("type the path of a results folder below the results root")
    if "\x00" in raw:
        raise ExplorerError("the path contains a NUL character")
    root = root.resolve()
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        candidate = root / candidate
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as exc:
        raise ExplorerError(f"cannot resolve {raw!r}: {exc}") from None
    if resolved != root and not resolved.is_relative_to(root):
        raise ExplorerError(
            f"refused {raw!r}: it is outside the results root {str(root)!r} "
            "(start the dashboard with --results-root DIR to open other folders)"
        )
    if not resolved.is_dir():
        raise ExplorerError(f"{raw!r}: no such folder below the results root")
    if not (resolved / MANIFEST).is_file():
        raise ExplorerError(
            f"{raw!r} is not a sweep results folder (no {MANIFEST}); "
            "make one with `privmarket sweep EXPERIMENT --out DIR`"
        )
    return resolved


def find_sweeps(root: Path, max_depth: int = 4, limit: int = 200) -> list[str]:
    """Sweep results folders below ``root`` (relative paths), nearest first."""
    root = root.resolve()
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        if MANIFEST in filenames and (here / "chunks").is_dir():
            found.append(str(here.relative_to(root)) or ".")
            dirnames[:] = []
            continue
        if depth >= max_depth or len(found) >= limit:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and not d.startswith(".") and not (here / d).is_symlink()
        )
    return sorted(found, key=lambda p: (p.count(os.sep), p))[:limit]


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
    except (OSError, ValueError, KeyError) as exc:
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


def sensitivity(sweep: Sweep, outcome: str) -> tuple[Figure, str]:
    """Sensitivity bars for ``outcome``: Sobol' (saltelli), Morris, or first-order effects."""
    from privmarket.experiments import analysis

    kind = (sweep.manifest.get("design") or {}).get("kind", "")
    note = ""
    try:
        if kind == "saltelli":
            idx = analysis.sobol_indices(sweep.runs, outcome, manifest=sweep.manifest)
            return _small(
                analysis.sensitivity_figure(idx)
            ), "Sobol' indices (SALib), 95% intervals."
        if kind == "morris":
            idx = analysis.morris_indices(sweep.runs, outcome, manifest=sweep.manifest)
            return _small(analysis.sensitivity_figure(idx)), "Morris elementary effects (SALib)."
    except (ValueError, KeyError, ZeroDivisionError) as exc:
        note = f"{kind} indices unavailable ({exc}); "
    eff = main_effects(sweep, outcome)
    fig = Figure(figsize=(6.4, 0.45 * len(eff) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    pos = np.arange(len(eff))
    ax.barh(pos, eff["eta2"], color="#1f77b4")
    ax.set_yticks(pos, list(eff.index))
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the outcome's variance explained (first order)")
    ax.set_title(f"sensitivity of {outcome}", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    for i, v in enumerate(eff["eta2"]):
        ax.text(min(v + 0.01, 0.9), i, f"{v:.2f}", va="center", fontsize=8)
    return fig, note + (
        f"First-order effects (correlation ratio) from this {kind or 'sweep'} design; "
        "a saltelli design gives Sobol' indices with intervals."
    )


def survival_figure(sweep: Sweep, x: str, y: str, outcome: str) -> Figure:
    from privmarket.experiments import analysis

    grid = analysis.survival_map(sweep.runs, x, y, outcome=outcome)
    return _small(analysis.heatmap_figure(grid))


def _small(fig: Figure) -> Figure:
    """Cap a figure's size so that it fits a half-width panel."""
    w, h = fig.get_size_inches()
    if w > 6.4:
        fig.set_size_inches(6.4, h * 6.4 / w)
    return fig


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


def distribution_figure(sweep: Sweep, outcome: str, chosen: pd.DataFrame, label: str) -> Figure:
    """Histogram of ``outcome`` in the chosen runs, over all runs in grey."""
    col = f"out.{outcome}"
    every = _numeric(sweep.ok[col]).dropna()
    mine = _numeric(chosen[chosen["status"] == "ok"][col]).dropna()
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.add_subplot()
    lo, hi = (float(every.min()), float(every.max())) if len(every) else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    bins = np.linspace(lo, hi, min(30, max(6, int(math.sqrt(max(len(every), 1))) + 4)))
    ax.hist(every, bins=bins, color="0.8", label=f"all runs ({len(every)})")
    ax.hist(mine, bins=bins, color="#1f77b4", alpha=0.85, label=f"{label} ({len(mine)})")
    if len(mine):
        ax.axvline(float(mine.mean()), color="#0b3d66", lw=1.5, ls="--", label="group mean")
    ax.set_xlabel(outcome)
    ax.set_ylabel("runs")
    ax.set_title(f"distribution of {outcome}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _png(fig: Figure) -> bytes:
    from privmarket.dashboard.figures import png

    return png(fig)


# --------------------------------------------------------------- components
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

    with solara.Column(classes=["pm-explorer"], style={"padding": "8px", "max-width": "1400px"}):
        solara.Markdown("## Sweep explorer")
        solara.Text(
            f"Results root: {state.results_root_label()} (sweep results folders below it, "
            "written by `privmarket sweep`, can be opened).",
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
            )
            solara.Button("Open", color="primary", on_click=lambda: open_path(typed))
        if not found:
            solara.Info(
                "No sweep results below the root yet. Make some with e.g. "
                "`privmarket sweep quick-grid --out out/sweeps/quick-grid`."
            )
        if error:
            solara.Error(error, classes=["pm-explorer-error"])
        if opened:
            try:
                path = resolve_under(root, opened)
            except ExplorerError as exc:
                solara.Error(str(exc), classes=["pm-explorer-error"])
            else:
                label = str(path.relative_to(root)) if path != root else "."
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
    name = ALL_RUNS if by == ALL_RUNS else f"{by} = {group}"
    ready = c["ok"] > 0 and outcome is not None
    key = str(sweep.path)

    alive = [o for o in sweep.outcomes if o.endswith(".alive")]
    survivor, set_survivor = solara.use_state(alive[0] if alive else None)
    survival = solara.use_memo(
        lambda: (
            _safe_png(lambda: survival_figure(sweep, x, y, survivor))
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
        lambda: (
            _safe_png(lambda: distribution_figure(sweep, outcome, chosen, name)) if ready else None
        ),
        dependencies=[key, mtime, outcome, by, group],
    )

    with solara.Column(classes=["pm-sweep"]):
        solara.HTML(
            tag="div",
            unsafe_innerHTML=_summary_html(sweep, c),
            classes=["pm-box", "pm-sweep-summary"],
        )
        if not ready:
            solara.Warning("No finished runs in this folder yet.")
            return
        solara.Select(
            label="Outcome",
            value=outcome,
            values=sweep.outcomes,
            on_value=set_outcome,
            style={"max-width": "360px"},
        )
        with solara.Div(classes=["pm-grid"]):
            with solara.Column(classes=["pm-box", "pm-survival"]):
                solara.HTML(
                    tag="div",
                    unsafe_innerHTML="<b>Survival map</b>: share of runs in which the vendor "
                    "is still in the handset market at the end",
                )
                with solara.Row():
                    if alive:
                        solara.Select(
                            label="vendor", value=survivor, values=alive, on_value=set_survivor
                        )
                    if len(sweep.params) >= 2:
                        solara.Select(label="across", value=x, values=sweep.params, on_value=set_x)
                        solara.Select(label="up", value=y, values=sweep.params, on_value=set_y)
                if not alive:
                    solara.Info("These results hold no '<vendor>.alive' outcome to map.")
                elif survival is None:
                    solara.Info(
                        "A survival map needs two different varied parameters"
                        + ("; this sweep varies one." if len(sweep.params) < 2 else ".")
                    )
                else:
                    _image_or_error(survival)
            with solara.Column(classes=["pm-box", "pm-sensitivity"]):
                solara.HTML(tag="div", unsafe_innerHTML="<b>Sensitivity</b>")
                if isinstance(sens, str):
                    solara.Error(sens)
                elif sens is not None:
                    fig, note = sens
                    solara.Image(_png(fig), width="100%")
                    solara.Text(note, style={"font-size": "12px", "color": "#555"})
            with solara.Column(classes=["pm-box", "pm-distribution"]):
                solara.HTML(tag="div", unsafe_innerHTML="<b>Outcome distribution in a group</b>")
                with solara.Row():
                    solara.Select(
                        label="group by",
                        value=by,
                        values=[*sweep.params, POINT, ALL_RUNS],
                        on_value=lambda v: (set_by(v), set_group(None)),
                    )
                    solara.Select(label="group", value=group, values=options, on_value=set_group)
                _image_or_error(dist)
            with solara.Column(classes=["pm-box", "pm-runs"]):
                RunsTable(sweep, chosen, outcome, name)


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
        unsafe_innerHTML=f"<b>Runs</b>: {name} ({len(runs)} runs"
        + (f", first {limit} shown" if len(runs) > limit else "")
        + "). Rerun one live, with its parameters and seed:",
    )
    with solara.Column(style={"max-height": "420px", "overflow-y": "auto", "gap": "2px"}):
        for _, row in shown.iterrows():
            run = int(row["run"])
            params = ", ".join(
                f"{p.split('.')[-2] if p.count('.') >= 2 else p}"
                f"{'.' + p.split('.')[-1] if p.count('.') >= 2 else ''}={_fmt(row[f'param.{p}'])}"
                for p in sweep.params
            )
            value = _fmt(row.get(f"out.{outcome}")) if row.get("status") == "ok" else row["status"]
            with solara.Row(style={"align-items": "center", "gap": "6px"}, classes=["pm-run"]):
                solara.Button(
                    f"Rerun {run}",
                    on_click=lambda run=run: rerun(run),
                    small=True,
                    outlined=True,
                    classes=[f"pm-rerun-{run}"],
                )
                solara.Text(
                    f"seed {row['seed']} · {params} · {outcome} = {value}",
                    style={"font-size": "12px"},
                )


def _fmt(v: Any) -> str:
    v = _plain(v)
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _summary_html(sweep: Sweep, c: dict[str, int]) -> str:
    import html

    m = sweep.manifest
    e = html.escape
    design = m.get("design") or {}
    varied = ", ".join(e(p) for p in sweep.params) or "none"
    state_ = "finished" if m.get("finished") else "unfinished (resume it with privmarket sweep)"
    return (
        f"<div><b>{e(str(m.get('name', sweep.label)))}</b> &middot; {e(sweep.label)}</div>"
        f"<div>{e(str(m.get('description') or ''))}</div>"
        f"<div>scenario <b>{e(str(m.get('scenario', '?')))}</b> &middot; "
        f"{e(str(design.get('kind', '?')))} design &middot; {m.get('n_points', '?')} points "
        f"&times; {m.get('replicates', '?')} replicates &middot; {m.get('quarters', '?')} "
        f"quarters &middot; varied: {varied}</div>"
        f'<div class="pm-counts">{c["runs"]} runs: {c["ok"]} ok, {c["failed"]} failed, '
        f"{c['missing']} missing &middot; {e(state_)}</div>"
    )


def _mtime(path: Path) -> float:
    try:
        return max(
            (path / MANIFEST).stat().st_mtime,
            *(f.stat().st_mtime for f in (path / "chunks").glob("runs-*.parquet")),
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
    except (ValueError, KeyError, TypeError) as exc:
        return f"cannot draw this: {exc}"


def _safe_png(make) -> bytes | str:
    result = _safe(make)
    return result if isinstance(result, str) else _png(result)


def _image_or_error(image: bytes | str) -> None:
    if isinstance(image, str):
        solara.Error(image)
    else:
        solara.Image(image, width="100%")

"""A scenario run over the posterior: outcomes as intervals and patterns as probabilities.

The world's behavioural parameters are uncertain: the calibration returns a
posterior *sample* of them (``sim/posterior/posterior.parquet``). One run at
the point estimate hides that uncertainty; ``privmarket run SCENARIO
--posterior N`` instead runs the scenario once for each of the first ``N``
posterior draws, each with its own seed, and reports every outcome as a median
with a 90% interval and every yes/no outcome (a vendor alive, a case's pattern)
as a probability with its 90% interval.

Each run's parameters are the scenario's, then the draw's world parameters on
top, then the user's own ``--set`` and ``--params`` values on top of those (what
the user asks for explicitly wins). Seeds come from the root seed through
``numpy.random.SeedSequence``: the same root seed and ``N`` give the same runs
whatever the number of workers.

>>> from privmarket.experiments.ensemble import run_ensemble
>>> runs, quarters = run_ensemble("pakistan-2015", draws=4, seed=0, updates={"n_users": 1000})
>>> runs["draw"].tolist()
[0, 1, 2, 3]
>>> table = intervals(runs)  # outcome, kind, runs, value, low, high
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from privmarket.experiments.calibrate import posterior_sample, world_updates
from privmarket.experiments.patterns import PATTERNS
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, Params
from privmarket.sim.scenarios import get_scenario

#: The interval reported for every outcome: the central 90%.
LEVEL = 0.9


def draw_seeds(seed: int, n: int) -> list[int]:
    """``n`` run seeds from a root seed (independent of how the runs are spread)."""
    ss = np.random.SeedSequence(seed, spawn_key=(5,))
    return [int(s % 2**62) for s in ss.generate_state(n, dtype=np.uint64)]


def draw_params(base: Params, theta: dict[str, float], updates: dict[str, Any]) -> Params:
    """The scenario's parameters with a posterior draw's world, then ``updates``, on top."""
    params = base.with_updates(world_updates(theta))
    return params.with_updates(updates) if updates else params


#: Per-quarter figures kept from every run (for the bands): these, and each vendor's.
QUARTER_FIGURES = ("privacy_exposure", "demands", "bans", "backdowns")
VENDOR_QUARTER_FIGURES = ("installed_share", "sales_share", "cash", "trust")


def _one(task: tuple[str, Params, int, int, dict[str, float]]) -> tuple[dict, pd.DataFrame]:
    scenario, params, draw, seed, theta = task
    m = MarketModel(params, rng=seed).run()
    row: dict[str, Any] = {"draw": draw, "seed": seed}
    row.update({f"world.{k}": float(v) for k, v in theta.items()})
    row.update({k: v for k, v in m.summary().items() if np.isscalar(v)})
    for p in PATTERNS.get(scenario, ()):
        row[f"pattern.{p.key}"] = bool(p.check(m))
    table = m.table()
    keep = ["quarter", "date", *QUARTER_FIGURES] + [
        f"{v.name}.{f}" for v in m.vendor_list for f in VENDOR_QUARTER_FIGURES
    ]
    return row, table[keep].assign(draw=draw)


def run_ensemble(
    scenario: str,
    draws: int,
    seed: int = 0,
    updates: dict[str, Any] | None = None,
    base: Params | None = None,
    executor: Executor | None = None,
    holdout: str | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``scenario`` once for each of the first ``draws`` posterior draws.

    Returns ``(runs, quarters)``. ``quarters`` is every run's per-quarter
    figures (:data:`QUARTER_FIGURES` and each vendor's
    :data:`VENDOR_QUARTER_FIGURES`) with a ``draw`` column. ``runs`` has one row per run: ``draw``, ``seed``, the draw's world parameters
    (``world.*``), the run's summary figures and, for a case with patterns, each
    pattern's verdict (``pattern.*``). ``base`` replaces the scenario's own
    parameters (e.g. with a parameter file applied); ``updates`` go on top of the
    draw. ``holdout`` takes the draws from an out-of-sample posterior instead.
    """
    sample = posterior_sample(holdout)
    if not 1 <= draws <= len(sample):
        raise ParameterError(
            f"--posterior {draws}: the posterior holds {len(sample)} draws; "
            f"give a number from 1 to {len(sample)}"
        )
    base = base if base is not None else get_scenario(scenario).params
    thetas = sample.head(draws).to_dict("records")
    # Every draw's parameters are built (and so validated) before any run starts.
    tasks = [
        (scenario, draw_params(base, theta, updates or {}), i, s, theta)
        for i, (theta, s) in enumerate(zip(thetas, draw_seeds(seed, draws), strict=True))
    ]
    mapper = executor.map if executor is not None else map
    results = mapper(_one, tasks)
    if progress is not None:
        results = progress(results)
    rows, tables = zip(*results, strict=True)
    return pd.DataFrame(list(rows)), pd.concat(tables, ignore_index=True)


def _proportion_interval(hits: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Jeffreys interval for a probability from ``hits`` of ``n`` (good at small ``n``)."""
    a = (1 - level) / 2
    low = 0.0 if hits == 0 else float(stats.beta.ppf(a, hits + 0.5, n - hits + 0.5))
    high = 1.0 if hits == n else float(stats.beta.ppf(1 - a, hits + 0.5, n - hits + 0.5))
    return low, high


def intervals(runs: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """Every outcome of :func:`run_ensemble` summarised over the runs.

    Numbers: median and the central ``level`` interval of the runs (the spread the
    posterior and the seeds give). Yes/no outcomes: the probability (share of
    runs) and its Jeffreys interval. Columns: outcome, kind, runs, value, low,
    high.
    """
    rows = []
    q = (1 - level) / 2
    for col in runs.columns:
        if col in ("draw", "seed") or col.startswith("world."):
            continue
        values = runs[col]
        if values.dtype == bool:
            hits = int(values.sum())
            low, high = _proportion_interval(hits, len(values), level)
            rows.append(
                dict(
                    outcome=col,
                    kind="probability",
                    runs=len(values),
                    value=hits / len(values),
                    low=low,
                    high=high,
                )
            )
        elif pd.api.types.is_numeric_dtype(values):
            v = values.astype(float).dropna()
            if v.empty:
                continue
            rows.append(
                dict(
                    outcome=col,
                    kind="median",
                    runs=len(v),
                    value=float(v.median()),
                    low=float(v.quantile(q)),
                    high=float(v.quantile(1 - q)),
                )
            )
    return pd.DataFrame(rows, columns=["outcome", "kind", "runs", "value", "low", "high"])


def format_intervals(table: pd.DataFrame, scenario: str) -> str:
    """The terminal report: patterns first (with their words), then the headline figures."""
    words = {f"pattern.{p.key}": (p.text, p.probability) for p in PATTERNS.get(scenario, ())}
    lines = []
    pats = table[table["outcome"].isin(words)]
    if len(pats):
        lines.append("  patterns (probability over posterior draws, 90% interval; required):")
        for r in pats.itertuples():
            text, need = words[r.outcome]
            ok = "ok " if r.value >= need else "LOW"
            lines.append(
                f"    {ok} {r.value:5.2f} [{r.low:.2f}, {r.high:.2f}] >= {need:.2f}  {text}"
            )
    head = [
        "privacy_exposure",
        "demands",
        "bans",
        "backdowns",
        "country_exits",
        "hhi",
    ]
    shown = table[
        table["outcome"].isin(head) | table["outcome"].str.endswith((".installed_share", ".alive"))
    ]
    lines.append("  outcomes (median [90% interval], or probability [90% interval]):")
    for r in shown.itertuples():
        lines.append(f"    {r.outcome:<28} {r.value:10.4g} [{r.low:.4g}, {r.high:.4g}]")
    return "\n".join(lines)


def bands_figure(quarters: pd.DataFrame, figure: str = "installed_share", level: float = LEVEL):
    """Each vendor's ``figure`` over the quarters: the median run and the central band."""
    from matplotlib.figure import Figure

    from privmarket.sim.plots import plot_bands

    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    plot_bands(ax, quarters, figure, level)
    ax.set_title(
        f"{figure.replace('_', ' ')}: median of {quarters['draw'].nunique()} posterior runs "
        f"and the central {round(100 * level)}% band"
    )
    ax.legend(fontsize="small")
    return fig

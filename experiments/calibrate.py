"""Fit parameters to an observed series of yearly shares (``privmarket calibrate``).

The observed file is a CSV with columns ``year``, ``vendor`` and ``share`` (percent
of the year's unit sales; extra columns such as ``source`` are kept for reference).
For a trial parameter set the model runs over several seeds; its yearly *sales*
shares (units sold in the year's quarters over all units) are averaged over the
seeds and compared with the observed ones. The loss is the mean absolute error in
share points, averaged over vendors. Optuna's TPE sampler (seeded, so a
calibration is repeatable) searches the named parameters within their bounds.

Example
-------
::

    privmarket calibrate platform-decline-2009-2016 \\
        --data sim/scenarios/data/os_sales_share.csv \\
        --params b_ecosystem=1:8 rd_effect=0.01:0.2 --budget 100 --out out/calib
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, Params
from privmarket.sim.scenarios import get_scenario

REQUIRED_COLUMNS = ("year", "vendor", "share")


class DataError(ValueError):
    """An observed-data file the calibration cannot use."""


@dataclass(frozen=True)
class Bound:
    """A free parameter and its search interval."""

    path: str
    low: float
    high: float
    integer: bool = False


def load_observed(path: str | Path, params: Params | None = None) -> pd.DataFrame:
    """Read and check an observed-shares CSV; raise :class:`DataError` naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"data file {str(path)!r} is not a readable CSV ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"data file {str(path)!r} lacks column(s) {missing}; required: "
            f"{list(REQUIRED_COLUMNS)} (share in percent of the year's unit sales)"
        )
    if df.empty:
        raise DataError(f"data file {str(path)!r} has no rows")
    years = pd.to_numeric(df["year"], errors="coerce")
    if years.isna().any() or (years != years.round()).any():
        bad = df.loc[years.isna() | (years != years.round()), "year"].iloc[0]
        raise DataError(f"data file {str(path)!r}: year {bad!r} is not a whole year")
    shares = pd.to_numeric(df["share"], errors="coerce")
    bad_rows = shares.isna() | (shares < 0) | (shares > 100)
    if bad_rows.any():
        row = df[bad_rows].iloc[0]
        raise DataError(
            f"data file {str(path)!r}: share {row['share']!r} for {row['vendor']} in "
            f"{row['year']} is out of range; allowed 0 to 100 (percent)"
        )
    df = df.assign(year=years.astype(int), share=shares.astype(float))
    for vendor, g in df.groupby("vendor", sort=False):
        y = g["year"].to_numpy()
        if (np.diff(y) <= 0).any():
            raise DataError(
                f"data file {str(path)!r}: years for {vendor} are out of order or repeated "
                f"({y.tolist()}); list each vendor's years once, in increasing order"
            )
    totals = df.groupby("year")["share"].sum()
    if (totals > 100.5).any():
        year = int(totals.idxmax())
        raise DataError(
            f"data file {str(path)!r}: shares in {year} add up to {totals.max():.1f}%, "
            "more than 100%"
        )
    if params is not None:
        names = [v.name for v in params.vendors]
        unknown = sorted(set(df["vendor"]) - set(names))
        if unknown:
            raise DataError(
                f"data file names vendor(s) {unknown} not in the scenario; allowed: {names}"
            )
        first = params.start_year
        last = params.start_year + (params.start_quarter - 1 + params.quarters - 1) // 4
        outside = sorted(set(df["year"]) - set(range(first, last + 1)))
        if outside:
            raise DataError(
                f"data file has year(s) {outside} outside the run ({first} to {last}); "
                "change the years or the scenario's quarters"
            )
    return df


def parse_bounds(items: list[str], base: Params) -> list[Bound]:
    """``["b_price=0.5:3", ...]`` -> bounds, each checked against the parameter set."""
    bounds = []
    for item in items:
        if "=" not in item or ":" not in item.split("=", 1)[1]:
            raise ParameterError(f"--params {item!r}: expected name=low:high, e.g. b_price=0.5:3")
        name, rng = item.split("=", 1)
        lo_s, hi_s = rng.split(":", 1)
        try:
            lo, hi = float(lo_s), float(hi_s)
        except ValueError:
            raise ParameterError(f"--params {item!r}: bounds must be numbers") from None
        if not lo < hi:
            raise ParameterError(f"--params {item!r}: low {lo} must be below high {hi}")
        current = base.get(name)  # raises for unknown names
        if isinstance(current, list):
            current = current[0]
        integer = isinstance(current, int) and not isinstance(current, bool)
        base.with_updates({name: int(lo) if integer else lo})  # each end must be legal
        base.with_updates({name: int(hi) if integer else hi})
        bounds.append(Bound(name, lo, hi, integer))
    if not bounds:
        raise ParameterError("give at least one parameter to fit with --params name=low:high")
    return bounds


def simulated_shares(params: Params, seeds: list[int]) -> pd.DataFrame:
    """Yearly sales shares (percent), averaged over ``seeds``: index year, columns vendors."""
    frames = []
    for seed in seeds:
        m = MarketModel(params, rng=seed).run()
        units = m.tallies.sales[1 : m.quarter + 1].sum(axis=(2, 3)).astype(float)  # (T, V)
        first = params.start_quarter - 1
        years = params.start_year + (first + np.arange(m.quarter)) // 4
        df = pd.DataFrame(units, columns=[v.name for v in m.vendor_list])
        df["year"] = years
        yearly = df.groupby("year").sum()
        tot = yearly.sum(axis=1).replace(0, np.nan)
        frames.append(100 * yearly.div(tot, axis=0).fillna(0.0))
    return sum(frames) / len(frames)


def fit_error(observed: pd.DataFrame, simulated: pd.DataFrame) -> dict[str, float]:
    """Mean absolute error in share points per vendor, and their mean under ``"mean"``."""
    errs = {}
    for vendor, g in observed.groupby("vendor", sort=False):
        sim = simulated.loc[g["year"], vendor].to_numpy()
        errs[vendor] = float(np.mean(np.abs(sim - g["share"].to_numpy())))
    errs["mean"] = float(np.mean(list(errs.values())))
    return errs


def comparison(observed: pd.DataFrame, simulated: pd.DataFrame) -> pd.DataFrame:
    """Observed and simulated side by side: year, vendor, observed, simulated."""
    rows = [
        dict(
            year=int(r.year),
            vendor=r.vendor,
            observed=float(r.share),
            simulated=float(simulated.loc[r.year, r.vendor]),
        )
        for r in observed.itertuples()
    ]
    return pd.DataFrame(rows)


def calibrate(
    scenario: str,
    data: str | Path,
    bounds: list[Bound] | list[str],
    budget: int = 50,
    seeds: int = 3,
    sampler_seed: int = 0,
    base: Params | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Search the bounds for the parameters that best reproduce the observed shares."""
    import optuna

    base = base or get_scenario(scenario).params
    observed = load_observed(data, base)
    if bounds and isinstance(bounds[0], str):
        bounds = parse_bounds(bounds, base)  # type: ignore[arg-type]
    if budget < 1:
        raise ParameterError(f"--budget {budget}: must be at least 1")
    if seeds < 1:
        raise ParameterError(f"--seeds {seeds}: must be at least 1")
    seed_list = list(range(seeds))

    def objective(trial: optuna.Trial) -> float:
        values = {
            b.path: trial.suggest_int(b.path, int(b.low), int(b.high))
            if b.integer
            else trial.suggest_float(b.path, b.low, b.high)
            for b in bounds  # type: ignore[union-attr]
        }
        sim = simulated_shares(base.with_updates(values), seed_list)
        return fit_error(observed, sim)["mean"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=sampler_seed)
    )
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=budget, show_progress_bar=progress)
    best = dict(study.best_params)
    best_params = base.with_updates(best)
    sim = simulated_shares(best_params, seed_list)
    return dict(
        scenario=scenario,
        parameters=best,
        error=fit_error(observed, sim),
        comparison=comparison(observed, sim),
        trials=len(study.trials),
        seeds=seeds,
        seconds=time.perf_counter() - t0,
        data=str(data),
    )


def fit_figure(comp: pd.DataFrame, title: str = ""):
    """Observed (points) against simulated (lines) shares, one colour per vendor."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    for i, (vendor, g) in enumerate(comp.groupby("vendor", sort=False)):
        colour = f"C{i}"
        ax.plot(g["year"], g["simulated"], "-", color=colour, label=f"{vendor} (model)")
        ax.plot(g["year"], g["observed"], "o", color=colour, label=f"{vendor} (observed)")
    ax.set_xlabel("year")
    ax.set_ylabel("share of unit sales (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    ax.legend(fontsize="small", ncols=2)
    return fig


def write_result(result: dict[str, Any], out: Path, overwrite: bool = False) -> None:
    """Write best_params.json, fit.csv and fit.png into ``out`` (rules: :mod:`.output`)."""
    from privmarket.experiments.output import OutputFolder
    from privmarket.experiments.provenance import provenance
    from privmarket.experiments.runs import versions

    folder = OutputFolder.claim(out, "calibrate", overwrite=overwrite)
    with folder.writing() as tmp:
        payload = {k: v for k, v in result.items() if k != "comparison"}
        payload["versions"] = versions()
        payload["provenance"] = provenance()
        (tmp / "best_params.json").write_text(json.dumps(payload, indent=2))
        result["comparison"].to_csv(tmp / "fit.csv", index=False)
        err = result["error"]["mean"]
        fit_figure(result["comparison"], f"{result['scenario']}: MAE {err:.2f} points").savefig(
            tmp / "fit.png", dpi=110
        )


def _cmd(args: argparse.Namespace) -> int:
    from privmarket.experiments.names import check_names
    from privmarket.experiments.output import OutputFolder
    from privmarket.experiments.resources import check_memory

    base = get_scenario(args.scenario).params
    check_names(base)
    observed = load_observed(args.data, base)  # fail early on bad data
    bounds = parse_bounds(args.params, base)
    out = Path(args.out or f"out/calibrate-{args.scenario}")
    # refused before any trial: a folder of other files, or too little memory
    OutputFolder.claim(out, "calibrate", overwrite=args.overwrite)
    check_memory(
        base.n_users,
        base.contacts_mean_degree,
        force=args.force,
        what=f"a calibration run of {base.n_users:,} users",
    )
    print(
        f"calibrating {args.scenario}: {len(bounds)} parameter(s), {args.budget} trials x "
        f"{args.seeds} seeds against {len(observed)} observations"
    )
    result = calibrate(
        args.scenario,
        args.data,
        bounds,
        args.budget,
        args.seeds,
        args.sampler_seed,
        base=base,
        progress=not args.quiet,
    )
    write_result(result, out, overwrite=args.overwrite)
    print("best parameters:")
    for k, v in result["parameters"].items():
        print(f"  {k} = {v:.4g}" if isinstance(v, float) else f"  {k} = {v}")
    print("mean absolute error (share points per year):")
    for k, v in result["error"].items():
        print(f"  {k:<12} {v:6.2f}")
    print(
        f"wrote {out}/ (best_params.json, fit.csv, fit.png); "
        f"use it with: privmarket run {args.scenario} --params {out}/best_params.json"
    )
    return 0


def _error_to_usage(func):
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except DataError as exc:
            raise ParameterError(str(exc)) from None

    return wrapped


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit parameters to observed yearly shares",
        description="Fit the named parameters of a scenario to an observed series of "
        "yearly sales shares (CSV: year, vendor, share in percent) with Optuna, over "
        "several seeds per trial; writes best_params.json (loadable with `privmarket run "
        "--params`), fit.csv and fit.png.",
    )
    p.add_argument("scenario", help="scenario to calibrate")
    p.add_argument("--data", required=True, metavar="FILE", help="observed shares CSV")
    p.add_argument(
        "--params",
        required=True,
        nargs="+",
        metavar="NAME=LOW:HIGH",
        help="parameters to fit and their bounds, e.g. b_ecosystem=1:8",
    )
    p.add_argument("--budget", type=int, default=50, help="number of trials (default 50)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per trial (default 3)")
    p.add_argument(
        "--sampler-seed",
        type=int,
        default=0,
        help="seed of the optimiser, for a repeatable search (default 0)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default out/calibrate-SCENARIO); new, empty, or an earlier "
        "calibration's output",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the files an earlier `privmarket calibrate` wrote in --out "
        "(other files are kept)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="run even if the memory estimate exceeds the memory available",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_error_to_usage(_cmd))

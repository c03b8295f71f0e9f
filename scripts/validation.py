"""Compute the figures of docs/validation.md from the shipped posterior.

    python scripts/validation.py patterns --out out/validation   # >= 100 runs per pattern
    python scripts/validation.py routes --out out/validation     # how each pattern held
    python scripts/validation.py money --out out/validation      # revenue and cash against reports
    python scripts/validation.py causes --out out/validation     # mechanisms switched off
    python scripts/validation.py holdout --out out/validation    # out-of-sample calibrations

Each writes CSV files into the folder (which it creates; it never deletes
anything). The out-of-sample part runs privmarket calibrate once per held-out
case (and once on 2009-2012 for the decline) at a smaller budget, then predicts
what was held out with that calibration's posterior.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from privmarket.experiments.calibrate import (
    DECLINE,
    CalibrationSpec,
    calibration_runs,
    decline_fit,
    pattern_probabilities,
    pattern_routes,
    posterior_runs,
    posterior_sample,
    world_updates,
)
from privmarket.experiments.causes import counterfactuals
from privmarket.experiments.patterns import STANDOFFS
from privmarket.sim.model import MarketModel

#: Reported revenue (US$M a year) and cash (US$M) at each real case's start,
#: with the fiscal year they come from (docs/cases.md, vendor finances).
REPORTED = {
    "pakistan-2015": ("BlackBerry", 2160.0, 3350.0, "FY2016 revenue; cash Aug 2015"),
    "uae-2010": ("BlackBerry", 19907.0, 2500.0, "FY2011 revenue; cash Nov 2010"),
    "saudi-2010": ("BlackBerry", 19907.0, 2500.0, "FY2011 revenue; cash Nov 2010"),
    "india-2010-2013": ("BlackBerry", 19907.0, 2500.0, "FY2011 revenue; cash Nov 2010"),
    "us-2016": ("Apple", 215639.0, 237585.0, "FY2016 net sales; cash Sep 2016"),
    "uk-2025": ("Apple", 416161.0, 132420.0, "FY2025 net sales; cash Sep 2025"),
}


def patterns(out: Path, draws: int, seeds: int, users: int) -> None:
    sample = posterior_sample()
    spec = CalibrationSpec.load()
    with ProcessPoolExecutor(2) as ex:
        runs = posterior_runs(
            sample,
            [*STANDOFFS, DECLINE],
            draws,
            seeds,
            users,
            ex,
            spec.seed + 1,
            decline_users=spec.decline_users,
        )
    runs.to_parquet(out / "pattern_runs.parquet", index=False)
    pattern_probabilities(runs).to_csv(out / "patterns.csv", index=False, float_format="%.3f")
    decline_fit(runs).to_csv(out / "decline_fit.csv", index=False, float_format="%.2f")


def routes(out: Path) -> None:
    """The stand-offs' runs of the shipped pattern probabilities, again, by route.

    The same draws, seeds and sizes as the calibration's own posterior runs
    (``sim/posterior/patterns.csv``), so the probabilities are the shipped ones.
    """
    with ProcessPoolExecutor(2) as ex:
        runs = calibration_runs(posterior_sample(), STANDOFFS, CalibrationSpec.load(), ex)
    pattern_routes(runs).to_csv(out / "routes.csv", index=False, float_format="%.3f")
    pattern_probabilities(runs).to_csv(out / "route_patterns.csv", index=False, float_format="%.4g")


def _first_year(task: tuple[str, dict, int]) -> dict:
    case, theta, seed = task
    vendor = REPORTED[case][0]
    m = MarketModel(case, rng=seed, n_users=4000, **world_updates(theta)).run(4)
    i = m.vendor_index(vendor)
    rev = float(m.results.vendor["revenue"][1:5, i].sum())
    return dict(
        case=case, vendor=vendor, seed=seed, revenue=rev, cash=float(m.results.vendor["cash"][0, i])
    )


def money(out: Path, draws: int) -> None:
    sample = posterior_sample().head(draws).to_dict("records")
    tasks = [(c, theta, i) for c in REPORTED for i, theta in enumerate(sample)]
    with ProcessPoolExecutor(2) as ex:
        df = pd.DataFrame(list(ex.map(_first_year, tasks)))
    rows = []
    for case, g in df.groupby("case", sort=False):
        vendor, revenue, cash, note = REPORTED[case]
        model = float(g["revenue"].median())
        rows.append(
            dict(
                case=case,
                vendor=vendor,
                model_revenue=model,
                reported_revenue=revenue,
                ratio=model / revenue,
                model_cash=float(g["cash"].median()),
                reported_cash=cash,
                source=note,
            )
        )
    decline = pd.read_csv(out / "decline_fit.csv") if (out / "decline_fit.csv").exists() else None
    if decline is not None:
        rev = decline[decline["vendor"].str.startswith("BlackBerry revenue")]
        for r in rev.itertuples():
            rows.append(
                dict(
                    case=f"{DECLINE} {r.year}",
                    vendor="BlackBerry",
                    model_revenue=r.median,
                    reported_revenue=r.observed,
                    ratio=r.median / r.observed,
                    source="data/vendor_revenue.csv",
                )
            )
    pd.DataFrame(rows).to_csv(out / "money.csv", index=False, float_format="%.3g")


def causes(out: Path, draws: int, seeds: int) -> None:
    sample = posterior_sample()
    frames = []
    with ProcessPoolExecutor(2) as ex:
        for case in [*STANDOFFS, DECLINE]:
            users = CalibrationSpec.load().decline_users if case == DECLINE else 3000
            t = counterfactuals(case, sample, draws, seeds, users, executor=ex, root_seed=7)
            frames.append(t.assign(scenario=case))
    pd.concat(frames).to_csv(out / "causes.csv", float_format="%.3f")


def _spec_toml(spec: CalibrationSpec) -> str:
    d = spec.model_dump()
    lines = [f"{k} = {v!r}" for k, v in d.items() if k not in ("weights", "priors")]
    lines += ["[weights]", *(f"{k} = {v!r}" for k, v in d["weights"].items())]
    lines += ["[priors]", *(f"{k} = [{lo!r}, {hi!r}]" for k, (lo, hi) in d["priors"].items())]
    return "\n".join(lines) + "\n"


def holdout(out: Path, population: int, generations: int) -> None:
    """Out-of-sample: calibrate without each case (and on 2009-2012), predict it."""
    # The shipped spec at this budget, predicting each case over 50 draws x 2 seeds
    # (100 runs a pattern) rather than the main calibration's 100 x 2.
    spec = CalibrationSpec.load().model_copy(
        update=dict(population=population, generations=generations, draws=50)
    )
    spec_file = out / "holdout-spec.toml"
    spec_file.write_text(_spec_toml(spec))
    plans = [("decline-2009-2012", ["--fit-years", "2009-2012"])]
    plans += [(f"without-{c}", ["--leave-out", c]) for c in STANDOFFS]
    for name, extra in plans:
        folder = out / name
        if (folder / "patterns.csv").exists():
            continue  # done in an earlier session of this script
        cmd = [
            sys.executable,
            "-m",
            "privmarket.experiments.cli",
            "calibrate",
            *extra,
            "--spec",
            str(spec_file),
            "--out",
            str(folder),
        ]
        print("running:", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)
    rows = []
    for case in STANDOFFS:
        probs = pd.read_csv(out / f"without-{case}" / "patterns.csv")
        for r in probs[probs["case"] == case].itertuples():
            rows.append(
                dict(
                    case=case,
                    pattern=r.pattern,
                    predicted=r.probability,
                    runs=r.runs,
                    required=r.required,
                )
            )
    pd.DataFrame(rows).to_csv(out / "leave_one_out.csv", index=False, float_format="%.3f")
    fit = pd.read_csv(out / "decline-2009-2012" / "decline_fit.csv")
    shares = fit[~fit["vendor"].str.contains("revenue")]
    late = shares[shares["year"] >= 2013]
    err = late.assign(error=(late["median"] - late["observed"]).abs())
    err.groupby("vendor")["error"].mean().rename("mean abs error 2013-2016 (points)").to_csv(
        out / "decline_out_of_sample.csv", float_format="%.2f"
    )
    late.to_csv(out / "decline_out_of_sample_years.csv", index=False, float_format="%.2f")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("part", choices=["patterns", "routes", "money", "causes", "holdout"])
    p.add_argument("--out", default="out/validation")
    p.add_argument("--draws", type=int, default=50)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--users", type=int, default=3000)
    p.add_argument("--population", type=int, default=60)
    p.add_argument("--generations", type=int, default=4)
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.part == "patterns":
        patterns(out, a.draws, a.seeds, a.users)
    elif a.part == "routes":
        routes(out)
    elif a.part == "money":
        money(out, a.draws)
    elif a.part == "causes":
        causes(out, a.draws, a.seeds)
    else:
        holdout(out, a.population, a.generations)
    print(json.dumps(sorted(p.name for p in out.iterdir())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure the sweep runner: against ``mesa.batch_run``, and 2 workers against 1.

Run ``python -m privmarket.experiments.sweep.compare`` (or ``privmarket sweep-bench``);
``--quick`` uses small sizes, ``--json FILE`` also writes the figures.

1. **Against mesa.batch_run.** The same grid (Aegis's stance x every
   government's appetite) and the same seeds (common seeds: replicate ``k`` of
   every point gets seed ``k``, which is how ``batch_run`` seeds) run through
   ``mesa.batch_run`` and through the sweep runner, serial (1 process each) and
   in parallel (2 processes each). The end-of-run figures both report are
   compared value by value, and the end-to-end times are put side by side.
2. **2 workers against 1.** A 64-run sweep with 1 worker and then 2 workers;
   the speed-up, and the per-run overhead (the time not spent inside runs).

Each case is repeated (``--repeat``, default 3) alternating the order, and the
median of the ratios is reported: the machines are
shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Market figures both mesa.batch_run (model reporters) and model.summary() report.
#: (batch_run merges agent-type reporter rows over model rows, so figures whose
#: names a vendor or government reporter shares, such as ``bans``, are compared
#: per vendor below instead.)
COMPARED = ("active_vendors", "hhi", "privacy_exposure", "consumer_welfare", "demands")
#: Per-vendor figures in both (batch_run's vendor rows; ``<vendor>.<figure>`` in the summary).
COMPARED_VENDOR = ("installed_share", "sales_share", "cash", "trust", "alive", "bans_suffered")

STANCE = [0.2, 0.6, 1.0]
APPETITE = [0.2, 0.5, 0.8]


def _grid_toml(users: int, quarters: int, replicates: int, seed: int) -> str:
    return f"""
name = "bench-grid"
scenario = "baseline"
quarters = {quarters}
replicates = {replicates}
seed = {seed}
common_seeds = true

[fixed]
n_users = {users}

[varied]
"vendors.Aegis.stance" = {STANCE}
"countries.*.appetite" = {APPETITE}

[design]
kind = "grid"
"""


def _sixty_four_toml(users: int, quarters: int, points: int, seed: int) -> str:
    return f"""
name = "bench-64"
scenario = "baseline"
quarters = {quarters}
replicates = 1
seed = {seed}

[fixed]
n_users = {users}

[varied]
"vendors.Aegis.stance" = {{ low = 0.0, high = 1.0 }}
"countries.*.appetite" = {{ low = 0.0, high = 1.0 }}
hazard = {{ low = 0.05, high = 0.2 }}

[design]
kind = "lhs"
samples = {points}
"""


def _batch_run(exp, processes: int) -> tuple[list[dict[str, Any]], float]:
    from mesa.batchrunner import batch_run

    from privmarket.experiments.sweep.seeds import run_seeds
    from privmarket.sim.model import MarketModel

    parameters: dict[str, Any] = {"n_users": exp.fixed["n_users"], "quarters": exp.quarters}
    for v in exp.varied:
        parameters[v.path] = v.levels()
    seeds = run_seeds(exp.seed, exp.replicates)
    t0 = time.perf_counter()
    rows = batch_run(
        MarketModel,
        parameters=parameters,
        number_processes=processes,
        data_collection_period=-1,
        max_steps=exp.quarters,
        display_progress=False,
        rng=seeds,
    )
    return rows, time.perf_counter() - t0


def _sweep(exp, backend: str, workers: int, folder: Path) -> tuple[Any, float]:
    from privmarket.experiments.sweep.runner import run_sweep
    from privmarket.experiments.sweep.store import load_results

    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    report = run_sweep(exp, folder, backend=backend, workers=workers, progress=False, echo=None)
    wall = time.perf_counter() - t0
    if report.failed or report.missing:
        raise RuntimeError(f"benchmark sweep had failures: {report.text()}")
    return load_results(folder), wall


def _agreement(exp, batch_rows: list[dict[str, Any]], results) -> dict[str, Any]:
    """Compare batch_run's final rows with the sweep's, matched by parameters and seed."""
    from privmarket.experiments.sweep.seeds import run_seeds

    names = exp.parameter_names
    ours = {}
    for _, r in results.iterrows():
        ours[(*(r[f"param.{n}"] for n in names), int(r["seed"]))] = r
    seeds = run_seeds(exp.seed, exp.replicates)
    by_run: dict[int, list[dict[str, Any]]] = {}
    for row in batch_rows:
        by_run.setdefault(row["RunId"], []).append(row)
    identical = different = values = 0
    worst = 0.0
    for rows in by_run.values():
        first = rows[0]
        mine = ours.get((*(first[n] for n in names), seeds[first["iteration"]]))
        if mine is None:
            different += 1
            continue
        pairs = [(first[f], mine[f"out.{f}"]) for f in COMPARED]
        for row in rows:
            if row.get("installed_share") is not None and isinstance(row.get("name"), str):
                key = row["name"]
                pairs += [(row[f], mine[f"out.{key}.{f}"]) for f in COMPARED_VENDOR]
        same = True
        for a, b in pairs:
            values += 1
            if float(a) != float(b):
                same = False
                worst = max(worst, abs(float(a) - float(b)))
        identical += same
        different += not same
    return {
        "runs_compared": len(by_run),
        "values_compared": values,
        "identical": identical,
        "different": different,
        "largest_difference": worst,
        "figures": [*COMPARED, *(f"<vendor>.{f}" for f in COMPARED_VENDOR)],
    }


def measure(quick: bool = False, repeat: int = 3, echo=print) -> dict[str, Any]:
    from privmarket.experiments.runs import versions
    from privmarket.experiments.sweep.spec import parse_experiment

    if quick:
        grid = parse_experiment(_grid_toml(2000, 8, 2, 11), "bench-grid")
        many = parse_experiment(_sixty_four_toml(2000, 8, 16, 12), "bench-64")
    else:
        grid = parse_experiment(_grid_toml(20000, 40, 4, 11), "bench-grid")
        many = parse_experiment(_sixty_four_toml(50000, 40, 64, 12), "bench-64")
    tmp = Path(tempfile.mkdtemp(prefix="privmarket-bench-"))
    out: dict[str, Any] = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "versions": versions(),
        "quick": quick,
        "repeat": repeat,
    }
    try:
        # -- 1. against mesa.batch_run, same grid and seeds
        echo(
            f"1. mesa.batch_run against the sweep runner: {grid.n_runs} runs "
            f"({grid.n_points} points x {grid.replicates} seeds), "
            f"{grid.fixed['n_users']} users, {grid.quarters} quarters"
        )
        cases = []
        agreement = None
        for procs in (1, 2):
            b_times, s_times = [], []
            for i in range(repeat):
                order = ("batch", "sweep") if i % 2 == 0 else ("sweep", "batch")
                for which in order:
                    if which == "batch":
                        rows, t = _batch_run(grid, procs)
                        b_times.append(t)
                    else:
                        backend = "serial" if procs == 1 else "local"
                        res, t = _sweep(grid, backend, procs, tmp / "grid")
                        s_times.append(t)
                if agreement is None:
                    agreement = _agreement(grid, rows, res)
            ratios = [b / s for b, s in zip(b_times, s_times, strict=True)]
            case = {
                "processes": procs,
                "sweep_backend": "serial" if procs == 1 else "local",
                "batch_run_seconds": b_times,
                "sweep_seconds": s_times,
                "batch_run_median": statistics.median(b_times),
                "sweep_median": statistics.median(s_times),
                "speedup_median": statistics.median(ratios),
            }
            cases.append(case)
            echo(
                f"   {procs} process{'es' if procs > 1 else ''}: batch_run "
                f"{case['batch_run_median']:.2f} s, sweep {case['sweep_median']:.2f} s "
                f"(median of {repeat}); sweep is {case['speedup_median']:.2f}x as fast"
            )
        out["batch_run"] = {"cases": cases, "agreement": agreement}
        echo(
            f"   same numbers: {agreement['identical']} of {agreement['runs_compared']} runs "
            f"identical ({agreement['values_compared']} values: {', '.join(agreement['figures'])})"
        )

        # -- 2. two workers against one
        echo(
            f"2. {many.n_runs}-run sweep ({many.fixed['n_users']} users, {many.quarters} "
            "quarters): 1 worker against 2"
        )
        one, two, over1, over2, loads = [], [], [], [], []
        same = True
        reference = None
        for i in range(repeat):
            loads.append(os.getloadavg()[0])  # others' work on the machine shows here
            for workers in (1, 2) if i % 2 == 0 else (2, 1):
                res, t = _sweep(many, "local", workers, tmp / f"many{workers}")
                model_time = float(res["wall_seconds"].sum())
                overhead = (t * workers - model_time) / model_time
                (one if workers == 1 else two).append(t)
                (over1 if workers == 1 else over2).append(overhead)
                table = res.drop(columns=["wall_seconds"])
                if reference is None:
                    reference = table
                elif not table.equals(reference):
                    same = False
        speedups = [a / b for a, b in zip(one, two, strict=True)]
        out["workers"] = {
            "runs": many.n_runs,
            "one_worker_seconds": one,
            "two_worker_seconds": two,
            "speedup_median": statistics.median(speedups),
            "speedups": speedups,
            "load_average_before": loads,
            "overhead_one_worker_median": statistics.median(over1),
            "overhead_two_workers_median": statistics.median(over2),
            "identical_results": same,
        }
        w = out["workers"]
        echo(
            f"   1 worker {statistics.median(one):.2f} s, 2 workers {statistics.median(two):.2f} s: "
            f"speed-up {w['speedup_median']:.2f}x (median of {repeat}; target >= 1.7)"
        )
        echo(
            "   each repetition: "
            + ", ".join(f"{x:.2f}x (load {lo:.1f})" for x, lo in zip(speedups, loads, strict=True))
        )
        echo(
            f"   per-run overhead outside the model: {100 * w['overhead_one_worker_median']:.1f}% "
            f"with 1 worker, {100 * w['overhead_two_workers_median']:.1f}% with 2 "
            f"(target < 5%); results identical: {same}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


WRITTEN_BY = "privmarket sweep-bench"


def _is_ours(path: Path) -> bool:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("written_by") == WRITTEN_BY


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m privmarket.experiments.sweep.compare", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    p.add_argument("--repeat", type=int, default=None, help="repetitions (default 3; quick 1)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an earlier sweep-bench JSON at --json"
    )
    args = p.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    target = None
    if args.json:  # refused before measuring: a file this command did not write
        from privmarket.experiments.output import OutputFile

        target = OutputFile.claim(
            args.json, "sweep-bench", _is_ours, overwrite=args.overwrite, flag="--json"
        )
    result = measure(quick=args.quick, repeat=repeat)
    if target is not None:
        result["written_by"] = WRITTEN_BY
        target.write(lambda f: f.write_text(json.dumps(result, indent=1)), _is_ours)
        print(f"wrote {args.json}")
    agree = result["batch_run"]["agreement"]
    return 0 if agree["different"] == 0 and result["workers"]["identical_results"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""``privmarket sweep``, ``privmarket analyze`` and ``privmarket sweep-bench``."""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example_names() -> list[str]:
    return sorted(p.stem for p in EXAMPLES.glob("*.toml"))


def resolve_experiment(name: str) -> Path:
    """A path to an experiment file; a bare name such as ``quick-grid`` finds a shipped example."""
    from privmarket.experiments.errors import UsageError

    p = Path(name)
    if p.exists():
        return p
    for cand in (EXAMPLES / name, EXAMPLES / f"{name}.toml"):
        if cand.is_file():
            return cand
    raise UsageError(
        f"no experiment file {name!r}; give a path to a .toml file or one of the shipped "
        f"examples: {', '.join(example_names())}"
    )


def _plan_text(exp) -> str:
    lines = [
        f"{exp.name}: scenario {exp.scenario}, {exp.quarters} quarters, {exp.design.kind} design, "
        f"{exp.n_points} points x {exp.replicates} replicate(s) = {exp.n_runs} runs, root seed "
        f"{exp.seed}" + (" (common seeds across points)" if exp.common_seeds else ""),
    ]
    if exp.fixed:
        lines.append("  fixed: " + ", ".join(f"{k}={v!r}" for k, v in exp.fixed.items()))
    for v in exp.varied:
        lines.append(f"  varied {v.path}: {v.describe()}")
    series = exp.series if isinstance(exp.series, list) else ("all columns" if exp.series else "no")
    lines.append(f"  kept per run: model.summary(); per-quarter series: {series}")
    for i, pt in enumerate(exp.points[:5]):
        lines.append(
            f"  point {i}: " + (", ".join(f"{k}={v!r}" for k, v in pt.items()) or "(scenario)")
        )
    if exp.n_points > 5:
        lines.append(f"  ... {exp.n_points - 5} more points")
    return "\n".join(lines)


def _sweep(args: argparse.Namespace) -> int:
    """Run a sweep described by an experiment file (TOML); resumes an interrupted one.

    Run every run of an experiment file (scenario, fixed and varied parameters,
    design, replicates, quarters, seed, outputs) into a results folder:
    manifest.json plus Parquet chunks. Rerunning on the same folder finishes only
    the missing runs. Exit status: 0 all runs ok, 1 some failed, 2 bad input,
    130 interrupted.
    """
    from privmarket.experiments.errors import UsageError
    from privmarket.experiments.sweep.runner import run_sweep
    from privmarket.experiments.sweep.spec import load_experiment

    exp = load_experiment(resolve_experiment(args.experiment))
    if args.check:
        print(_plan_text(exp))
        print("  the experiment file is valid; nothing was run or written")
        return 0
    for flag, value in (("--batch-size", args.batch_size), ("--chunk-size", args.chunk_size)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} {value}: expected at least 1")
    # the experiment's name becomes a folder name only after sanitising (``../../x`` -> ``x``)
    out = args.out or str(Path("out") / "sweeps" / exp.safe_name)
    report = run_sweep(
        exp,
        out,
        backend=args.backend,
        workers=args.workers,
        scheduler=args.scheduler,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size or 200,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
        allow_code_change=args.allow_code_change,
        force=args.force,
    )
    print(report.text())
    if report.ok and not report.interrupted:
        print(f"  analyse with: privmarket analyze {out}")
    return report.exit_code


def _analyze(args: argparse.Namespace) -> int:
    """Tables, figures, sensitivity indices and scenario discovery for a sweep folder.

    Analyse a sweep results folder: per-point table, the outcome against each
    parameter, Sobol' or Morris indices (for saltelli and morris designs), a
    two-parameter heatmap (survival probability for a '<vendor>.alive' outcome),
    per-quarter bands (if series were kept) and scenario discovery. Writes into
    DIR/analysis/ unless --out is given.
    """
    from privmarket.experiments.analysis import analyze_folder
    from privmarket.experiments.errors import UsageError
    from privmarket.experiments.output import OutputFolder
    from privmarket.experiments.sweep.store import SweepDirError, load_manifest

    load_manifest(args.folder)  # a folder that is not a sweep's is refused first
    target = Path(args.out) if args.out else Path(args.folder) / "analysis"
    folder = OutputFolder.claim(target, "analyze", overwrite=args.overwrite)
    try:
        with folder.writing() as tmp:
            # the files are written into a temporary folder and moved into place at the end
            analyze_folder(
                args.folder,
                outcome=args.outcome,
                x=args.x,
                y=args.y,
                condition=args.discover,
                method=args.method,
                threshold=args.threshold,
                series_column=args.series,
                out=tmp,
                echo=lambda line: print(line.replace(str(tmp), str(target))),
            )
    except SweepDirError:
        raise
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _bench(args: argparse.Namespace) -> int:
    """Measure the sweep runner against mesa.batch_run, and 2 workers against 1.

    Runs the same grid and seeds through mesa.batch_run and through the sweep
    runner (checking that the numbers agree), then a 64-run sweep with 1 and with
    2 workers; prints the time ratios and writes them as JSON.
    """
    from privmarket.experiments.sweep.compare import main as compare_main

    argv = ["--quick"] if args.quick else []
    if args.json:
        argv += ["--json", args.json]
    if args.repeat:
        argv += ["--repeat", str(args.repeat)]
    if args.overwrite:
        argv += ["--overwrite"]
    return compare_main(argv)


def register(sub: argparse._SubParsersAction) -> None:
    from privmarket.experiments.cli_options import (
        add_backend_arguments,
        add_command,
        add_force_argument,
        add_output_arguments,
    )

    p = add_command(sub, "sweep", _sweep)
    p.description = f"{p.description} Shipped examples: {', '.join(example_names())}"
    p.add_argument("experiment", help="experiment file, or the name of a shipped example")
    p.add_argument(
        "--out",
        metavar="DIR",
        help="results folder (default: out/sweeps/NAME); new, empty, or this experiment's "
        "folder to resume",
    )
    add_backend_arguments(p)
    p.add_argument(
        "--batch-size", type=int, default=None, help="runs per task (default: automatic, <= 16)"
    )
    p.add_argument(
        "--chunk-size", type=int, default=None, help="runs per Parquet chunk (default 200)"
    )
    p.add_argument("--retry-failed", action="store_true", help="also rerun runs recorded as failed")
    p.add_argument(
        "--allow-code-change",
        action="store_true",
        help="resume a folder whose runs were made by other model code (refused by default: "
        "the results would mix two versions of the model)",
    )
    add_force_argument(p, "the memory estimate (runs at once x users)")
    p.add_argument(
        "--check",
        action="store_true",
        help="validate the experiment file and print the plan; run and write nothing",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    a = add_command(sub, "analyze", _analyze)
    a.add_argument("folder", help="sweep results folder")
    a.add_argument(
        "--outcome",
        help="outcome from model.summary(), e.g. privacy_exposure or Aegis.alive "
        "(default: the experiment's [analysis] outcome, else privacy_exposure)",
    )
    a.add_argument("--x", help="heatmap parameter across (a varied parameter path)")
    a.add_argument("--y", help="heatmap parameter up")
    a.add_argument(
        "--discover",
        metavar="CONDITION",
        help="scenario discovery for e.g. 'Aegis.alive' or 'privacy_exposure < 0.2'",
    )
    a.add_argument(
        "--method",
        choices=["prim", "tree"],
        default="prim",
        help="discovery method: PRIM (EMA Workbench) or a decision tree (scikit-learn)",
    )
    a.add_argument(
        "--threshold",
        type=float,
        default=0.8,
        metavar="DENSITY",
        help="PRIM: the density the chosen box must reach (default 0.8); "
        "the report says so when no box reaches it",
    )
    a.add_argument("--series", metavar="COLUMN", help="per-quarter column for the bands figure")
    add_output_arguments(a, "analyze", "FOLDER/analysis", memory=False)

    b = add_command(sub, "sweep-bench", _bench)
    b.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    b.add_argument("--repeat", type=int, default=None, help="repetitions (median is reported)")
    b.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    b.add_argument(
        "--overwrite", action="store_true", help="replace an earlier sweep-bench JSON at --json"
    )

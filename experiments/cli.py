"""The ``privmarket`` command line.

Each subcommand lives in its own module, which offers ``register(subparsers)``
(adding its parser, with ``func`` set to a handler returning an exit code).
Errors the user can fix (bad parameters, unknown scenarios, unwritable output)
are printed as one line and exit with status 2; nothing half-written is left.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from privmarket.experiments.errors import UsageError  # noqa: F401 (re-exported)
from privmarket.sim.params import ParameterError

#: Modules that register subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "privmarket.experiments.cli",  # run, scenarios
    "privmarket.experiments.calibrate",  # calibrate
    "privmarket.experiments.sweep.cli",  # sweep, analyze, sweep-bench
    "privmarket.experiments.bench",  # bench
    "privmarket.dashboard.cli",  # dashboard
]


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON (numbers, true/false, lists) or a plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``["a=1", "vendors.X.stance=0.9"]`` -> ``{"a": 1, "vendors.X.stance": 0.9}``."""
    out = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--set {item!r}: expected name=value, e.g. --set hazard=0.15")
        name, value = item.split("=", 1)
        out[name.strip()] = parse_value(value.strip())
    return out


#: Largest parameter file read (bytes); a real one is a few kilobytes.
MAX_PARAM_FILE = 10_000_000
#: Largest seed (seeds are stored as 64-bit signed integers, like a sweep's).
MAX_SEED = 2**63 - 1


def read_param_file(param_file: str) -> dict[str, Any]:
    """The ``{path: value}`` mapping of a parameter file: JSON (the object, or its
    "parameters" entry) or a calibration's ``world.toml`` (its ``[estimate]`` table)."""
    path = Path(param_file)
    if not path.is_file():
        raise UsageError(f"--params {param_file!r}: no such file")
    if path.stat().st_size > MAX_PARAM_FILE:
        raise UsageError(
            f"--params {param_file!r}: {path.stat().st_size:,} bytes; at most "
            f"{MAX_PARAM_FILE:,} are read"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"--params {param_file!r}: not a UTF-8 text file (byte 0x{raw[exc.start]:02x} at "
            f"offset {exc.start}); JSON is UTF-8"
        ) from None
    if path.suffix == ".toml":
        # a calibration's world.toml: its [estimate] table holds the values
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"--params {param_file!r}: not valid TOML ({exc})") from None
        return data.get("estimate", data)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--params {param_file!r}: not valid JSON ({exc})") from None
    except RecursionError:
        raise UsageError(
            f"--params {param_file!r}: nested too deeply to be a parameter file"
        ) from None
    values = data.get("parameters", data) if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise UsageError(f"--params {param_file!r}: expected a JSON object of name: value")
    return values


def load_params(scenario: str, sets: dict[str, Any], param_file: str | None = None):
    """The scenario's parameters, with a parameter file and ``--set`` values on top."""
    from privmarket.experiments.names import check_names
    from privmarket.sim.params import Params
    from privmarket.sim.scenarios import get_scenario

    params = get_scenario(scenario).params
    if param_file:
        params = Params.from_flat(read_param_file(param_file), base=params)
    params = params.with_updates(sets) if sets else params
    check_names(params)
    return params


def check_seed(seed: int, flag: str = "--seed") -> int:
    """A seed the model and the stored results can both hold: 0 .. 2**63-1."""
    if not 0 <= seed <= MAX_SEED:
        raise UsageError(f"{flag} {seed}: expected a whole number from 0 to {MAX_SEED}")
    return seed


# ----------------------------------------------------------------- run
def _run(args: argparse.Namespace) -> int:
    """Run one scenario and write its tables, summary and figures.

    Run one scenario and write the per-quarter table and event log (CSV and
    Parquet), summary.json and PNG figures to --out, then print a short summary.
    """
    from privmarket.experiments.output import OutputFolder
    from privmarket.experiments.resources import check_memory
    from privmarket.experiments.runs import format_summary, run_to_dir

    check_seed(args.seed)
    sets = parse_sets(args.set or [])
    if args.users is not None:
        sets["n_users"] = args.users
    if args.quarters is not None:
        sets["quarters"] = args.quarters
    params = load_params(args.scenario, sets, args.params)
    if args.posterior is not None:
        return _run_posterior(args, params, sets)
    if args.workers is not None:
        raise UsageError("--workers: only with --posterior N (one run uses one core)")
    out = args.out or f"out/{args.scenario}"
    # everything that can be refused is refused here, before the run
    OutputFolder.claim(out, "run", overwrite=args.overwrite)
    check_memory(
        params.n_users,
        params.contacts_mean_degree,
        force=args.force,
        what=f"a run of {params.n_users:,} users",
    )
    summary = run_to_dir(
        params,
        args.seed,
        out,
        scenario=args.scenario,
        figures=not args.no_figures,
        overwrite=args.overwrite,
    )
    print(format_summary(summary))
    print(
        f"  wrote {out}/ (quarters.csv/.parquet, events.csv/.parquet, summary.json"
        + ("" if args.no_figures else ", shares.png, cash_trust.png, demands.png")
        + ")"
    )
    return 0


def _run_posterior(args: argparse.Namespace, params, sets: dict[str, Any]) -> int:
    """``run --posterior N``: the scenario over N posterior draws (see :mod:`.ensemble`)."""
    from tqdm import tqdm

    from privmarket.experiments.ensemble import (
        bands_figure,
        format_intervals,
        intervals,
        run_ensemble,
    )
    from privmarket.experiments.output import OutputFolder
    from privmarket.experiments.provenance import provenance
    from privmarket.experiments.resources import check_memory
    from privmarket.experiments.runs import versions
    from privmarket.experiments.sweep.backends import check_backend_args, make_backend

    if args.posterior < 1:
        raise UsageError(f"--posterior {args.posterior}: expected a number of draws, 1 or more")
    check_backend_args("local", args.workers, None)
    out = args.out or f"out/{args.scenario}-posterior"
    folder = OutputFolder.claim(out, "run", overwrite=args.overwrite)
    check_memory(
        params.n_users,
        params.contacts_mean_degree,
        processes=args.workers or 1,
        force=args.force,
        what=f"{args.posterior} runs of {params.n_users:,} users",
    )
    # sets (from --set, --users, --quarters) go on top of each draw's world; a
    # parameter file's values are part of the base, under the draw's world
    # parameters only where it does not name them
    updates = dict(sets)
    if args.params:
        updates = {**read_param_file(args.params), **updates}
    print(
        f"{args.scenario}: {args.posterior} runs over the posterior's draws, root seed {args.seed}"
    )
    with make_backend("local", args.workers) as backend:
        runs, quarters = run_ensemble(
            args.scenario,
            args.posterior,
            seed=args.seed,
            updates=updates,
            base=params,
            executor=backend.executor,
            progress=lambda it: tqdm(it, total=args.posterior, unit="run", disable=None),
        )
    table = intervals(runs)
    summary = {
        "scenario": args.scenario,
        "seed": args.seed,
        "posterior_draws": args.posterior,
        "versions": versions(),
        "provenance": provenance(),
        "parameters": params.model_dump(mode="json"),
        "intervals": table.to_dict("records"),
    }
    with folder.writing() as tmp:
        runs.to_csv(tmp / "runs.csv", index=False)
        runs.to_parquet(tmp / "runs.parquet", index=False)
        quarters.to_parquet(tmp / "quarters.parquet", index=False)
        table.to_csv(tmp / "intervals.csv", index=False, float_format="%.6g")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        if not args.no_figures:
            bands_figure(quarters, "installed_share").savefig(tmp / "bands.png", dpi=110)
    print(format_intervals(table, args.scenario))
    print(
        f"  wrote {out}/ (runs.csv/.parquet, quarters.parquet, intervals.csv, summary.json"
        + ("" if args.no_figures else ", bands.png")
        + ")"
    )
    return 0


def _scenarios(args: argparse.Namespace) -> int:
    """List scenarios, or show one's note and parameters."""
    from privmarket.sim.scenarios import get_scenario, list_scenarios

    if args.action == "show":
        if not args.name:
            raise UsageError("scenarios show NAME: give a scenario name")
        sc = get_scenario(args.name)
        print(f"{sc.name}: {sc.summary}\n")
        print(sc.note)
        if sc.sources:
            print("\nSources:")
            for s in sc.sources:
                print(f"  - {s}")
        if sc.patterns:
            print("\nPatterns it must reproduce:")
            for s in sc.patterns:
                print(f"  - {s}")
        print("\nParameters:")
        print(json.dumps(sc.params.model_dump(mode="json"), indent=2))
        return 0
    if args.action not in (None, "list"):
        raise UsageError(f"scenarios {args.action!r}: allowed actions are list and show")
    for name in list_scenarios():
        print(f"{name:<28} {get_scenario(name).summary}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from privmarket.experiments.cli_options import add_command, add_output_arguments

    p = add_command(sub, "run", _run)
    p.add_argument(
        "scenario", nargs="?", default="baseline", help="scenario name (see `privmarket scenarios`)"
    )
    p.add_argument(
        "--quarters", type=int, default=None, help="quarters to run (default: the scenario's)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same numbers")
    p.add_argument(
        "--users", type=int, default=None, help="simulated users (default: the scenario's)"
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="override a parameter, e.g. --set hazard=0.15 or "
        "--set vendors.Aegis.stance=1 or --set countries.*.appetite=0.8; repeatable",
    )
    p.add_argument(
        "--params",
        metavar="FILE",
        help="parameter values: a JSON file of name: value, or a calibration's world.toml",
    )
    add_output_arguments(p, "run", "out/SCENARIO, or out/SCENARIO-posterior")
    p.add_argument(
        "--posterior",
        type=int,
        metavar="N",
        help="run once for each of the first N draws of the calibrated world's posterior "
        "(each with its own seed) and report outcomes as intervals, patterns as "
        "probabilities",
    )
    p.add_argument(
        "--workers", type=int, help="with --posterior: processes at once (default: the cores)"
    )
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")

    s = add_command(sub, "scenarios", _scenarios)
    s.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    s.add_argument("name", nargs="?", help="scenario to show")


# ---------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="privmarket",
        description="Agent-based market of phone vendors, users and governments "
        "that demand access to private communications.",
    )
    from privmarket.experiments.runs import versions

    parser.add_argument(
        "--version", action="version", version=f"privmarket {versions()['privmarket']}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ParameterError, UsageError, OSError) as exc:
        print(f"privmarket {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"privmarket {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # Run through the package module, so `python -m privmarket.experiments.cli` and the
    # console script share one copy of this module (and its exception classes).
    from privmarket.experiments.cli import main as _main

    sys.exit(_main())

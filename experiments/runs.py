"""One run to files: the per-quarter table, the event log, a summary and figures.

``run_to_dir`` claims its output folder before it runs the model (a folder of
someone else's files is refused at once), writes into a temporary folder and
moves the files into place only when everything is written, so a failed or
interrupted run leaves no partial output behind (see :mod:`.output`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from privmarket.experiments.output import OutputError, OutputFolder
from privmarket.experiments.provenance import provenance, versions
from privmarket.sim.model import MarketModel
from privmarket.sim.params import Params

__all__ = ["OutputError", "format_summary", "run_model", "run_to_dir", "versions", "write_figures"]


def check_writable(out: Path) -> None:
    """Fail early, before any work, if ``out`` cannot be created or replaced."""
    parent = out.resolve().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write output folder {str(out)!r}: {str(probe)!r} is not writable"
        )
    if out.exists() and not out.is_dir():
        raise OutputError(f"cannot write output folder {str(out)!r}: a file of that name exists")
    if out.exists() and not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write output folder {str(out)!r}: it is not writable")


def run_model(
    params: Params, seed: int, quarters: int | None = None, scenario: str = "custom"
) -> MarketModel:
    """Build and run one model."""
    model = MarketModel(params, rng=seed)
    model.scenario_name = scenario
    return model.run(quarters)


def run_to_dir(
    params: Params,
    seed: int,
    out: str | os.PathLike,
    quarters: int | None = None,
    scenario: str = "custom",
    figures: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run once and write ``quarters.{csv,parquet}``, ``events.{csv,parquet}``,
    ``summary.json`` and PNG figures into ``out``. Returns the summary.

    ``out`` must be new, empty, or an earlier ``privmarket run`` output (whose
    files are replaced only with ``overwrite``); see :mod:`.output`.
    """
    folder = OutputFolder.claim(out, "run", overwrite=overwrite)
    t0 = time.perf_counter()
    model = run_model(params, seed, quarters, scenario)
    wall = time.perf_counter() - t0
    table, events = model.table(), model.event_frame()
    summary = {
        "scenario": scenario,
        "seed": seed,
        "quarters": model.quarter,
        "wall_seconds": round(wall, 3),
        "versions": versions(),
        "provenance": provenance(),
        "outcomes": model.summary(),
        "parameters": params.model_dump(mode="json"),
    }
    with folder.writing() as tmp:
        table.to_csv(tmp / "quarters.csv", index=False)
        table.to_parquet(tmp / "quarters.parquet", index=False)
        events.to_csv(tmp / "events.csv", index=False)
        events.to_parquet(tmp / "events.parquet", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        if figures:
            write_figures(table, tmp)
    return summary


def write_figures(table, folder: Path) -> list[Path]:
    """The run's standard PNG figures."""
    from privmarket.sim.plots import cash_trust_figure, demands_figure, shares_figure

    paths = []
    for name, make in [
        ("shares.png", shares_figure),
        ("cash_trust.png", cash_trust_figure),
        ("demands.png", demands_figure),
    ]:
        path = folder / name
        make(table).savefig(path, dpi=110)
        paths.append(path)
    return paths


def format_summary(summary: dict[str, Any]) -> str:
    """A short readable summary of a run for the terminal."""
    o = summary["outcomes"]
    # vendor names may not contain dots, but strip the known suffix rather than split
    names = [k.removesuffix(".installed_share") for k in o if k.endswith(".installed_share")]
    lines = [
        f"{summary['scenario']}: {summary['quarters']} quarters, seed {summary['seed']}, "
        f"{summary['wall_seconds']:.2f} s",
        f"  demands {o['demands']}, bans {o['bans']}, back-downs {o['backdowns']}, "
        f"partial deals {o['deals']}, country exits {o['country_exits']}",
        f"  privacy exposure {100 * o['privacy_exposure']:.1f}% of users; "
        f"HHI {o['hhi']:.0f}; active vendors {o['active_vendors']}",
        f"  {'vendor':<12}{'installed':>10}{'sales':>8}{'cash $bn':>10}{'trust':>7}  status",
    ]
    for n in names:
        status = "alive" if o[f"{n}.alive"] else f"left in quarter {o[f'{n}.exit_quarter']}"
        lines.append(
            f"  {n:<12}{100 * o[f'{n}.installed_share']:>9.1f}%{100 * o[f'{n}.sales_share']:>7.1f}%"
            f"{o[f'{n}.cash'] / 1000:>10.1f}{o[f'{n}.trust']:>7.2f}  {status}"
        )
    return "\n".join(lines)

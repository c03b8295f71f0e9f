"""Redraw the figures the README shows, from real runs and the shipped calibration.

.venv/bin/python scripts/readme_figures.py
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pandas as pd

from privmarket.experiments.calibrate import fit_figure
from privmarket.sim.model import MarketModel
from privmarket.sim.plots import overview

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    m = MarketModel(scenario="baseline", rng=0).run()
    fig = overview(m.table())
    fig.suptitle("baseline, seed 0: 40 quarters")
    fig.savefig(IMG / "baseline-overview.png", dpi=90)

    # The decline's fit as the joint calibration left it: every posterior draw
    # run with every case's shared world (privmarket calibrate writes this table).
    fit = pd.read_csv(str(files("privmarket.sim").joinpath("posterior/decline_fit.csv")))
    title = "platform decline: posterior median, 90% band; observed (points)"
    fit_figure(fit, title).savefig(IMG / "platform-decline-fit.png", dpi=90)
    print(f"wrote {IMG}/baseline-overview.png and platform-decline-fit.png")


if __name__ == "__main__":
    main()

"""Redraw the figures the README shows, from real runs.

.venv/bin/python scripts/readme_figures.py
"""

from __future__ import annotations

from pathlib import Path

from privmarket.experiments.calibrate import comparison, fit_figure, load_observed, simulated_shares
from privmarket.sim.model import MarketModel
from privmarket.sim.plots import overview
from privmarket.sim.scenarios import get_scenario

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    m = MarketModel(scenario="baseline", rng=0).run()
    fig = overview(m.table())
    fig.suptitle("baseline, seed 0: 50,000 users standing for 1.2bn, 40 quarters")
    fig.savefig(IMG / "baseline-overview.png", dpi=90)

    sc = get_scenario("platform-decline-2009-2016")
    observed = load_observed(sc.extra["observed"], sc.params)
    comp = comparison(observed, simulated_shares(sc.params, [0, 1, 2]))
    fit_figure(comp, "platform-decline-2009-2016: model (lines) vs observed (points)").savefig(
        IMG / "platform-decline-fit.png", dpi=90
    )
    print(f"wrote {IMG}/baseline-overview.png and platform-decline-fit.png")


if __name__ == "__main__":
    main()

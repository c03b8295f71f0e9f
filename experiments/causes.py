"""What carries each case: the model's mechanisms switched off one at a time.

A fit shows that the model *can* reproduce a case; switching each mechanism off
in turn, over the same posterior draws and seeds, shows how much of the outcome
each mechanism carries. For a stand-off the outcome is the probability of its
patterns; for the platform decline it is the secure platform's share of sales
and the error against the observed shares.

>>> from privmarket.experiments.causes import MECHANISMS
>>> sorted(MECHANISMS)[:3]
['R&D', 'contacts', 'contagion']
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

from privmarket.experiments.calibrate import (
    DECLINE,
    DECLINE_VENDORS,
    observed_shares,
    world_updates,
    yearly_revenue,
)
from privmarket.experiments.patterns import PATTERNS, yearly_sales_shares
from privmarket.sim.model import MarketModel

#: Each mechanism, and the parameter values that switch it off.
MECHANISMS: dict[str, dict[str, Any]] = {
    "ecosystem feedback": {"ecosystem_rate": 0.0},
    "contacts": {"b_contacts": 0.0},
    "trust": {"trust_loss_comply": 0.0, "trust_gain_refuse": 0.0},
    "R&D": {"rd_effect": 0.0},
    "developers follow spending": {"developer_value_weight": 0.0},
    "contagion": {"contagion": 0.0},
    "growth": {"units_sold": {}, "growth_rate": 0.0},
}


def _outcomes(task: tuple[str, str, dict[str, float], int, int]) -> dict[str, Any]:
    scenario, mechanism, theta, seed, users = task
    updates = {**world_updates(theta), **MECHANISMS.get(mechanism, {})}
    m = MarketModel(scenario, rng=seed, n_users=users, **updates).run()
    out: dict[str, Any] = {"scenario": scenario, "mechanism": mechanism, "seed": seed}
    hits = [bool(p.check(m)) for p in PATTERNS[scenario]]
    for p, hit in zip(PATTERNS[scenario], hits, strict=True):
        out[f"pattern:{p.key}"] = hit
    out["all patterns"] = all(hits)
    if scenario == DECLINE:
        shares = yearly_sales_shares(m)
        obs = observed_shares()
        err = [
            abs(shares[r.year][m.vendor_index(r.vendor)] - r.share)
            for r in obs.itertuples()
            if r.year in shares
        ]
        out["share error (points)"] = 100 * float(np.mean(err))
        out["secure share 2014 (%)"] = 100 * float(shares[2014][m.vendor_index("BlackBerry")])
        out["secure revenue 2013 (US$M)"] = yearly_revenue(m, "BlackBerry").get(2013, 0.0)
        for v in DECLINE_VENDORS:
            out[f"{v} share 2016 (%)"] = 100 * float(shares[2016][m.vendor_index(v)])
    return out


def counterfactuals(
    scenario: str,
    sample: pd.DataFrame,
    draws: int = 20,
    seeds: int = 2,
    users: int = 3000,
    mechanisms: Iterable[str] | None = None,
    executor: Executor | None = None,
    root_seed: int = 0,
) -> pd.DataFrame:
    """The scenario's outcomes as calibrated ("none" switched off) and with each
    mechanism switched off, over ``draws`` posterior draws x ``seeds`` seeds.

    Returns one row per mechanism: the mean of each outcome (a pattern's mean is
    its probability) and the number of runs. The same draws and seeds serve every
    mechanism, so differences are the mechanism's, not the noise's.
    """
    names = ["none", *(mechanisms if mechanisms is not None else MECHANISMS)]
    unknown = [n for n in names if n != "none" and n not in MECHANISMS]
    if unknown:
        raise ValueError(f"unknown mechanism(s) {unknown}; allowed: {', '.join(MECHANISMS)}")
    thetas = sample.head(draws).to_dict("records")
    ss = np.random.SeedSequence(root_seed, spawn_key=(5,))
    run_seeds = [int(s % 2**62) for s in ss.generate_state(len(thetas) * seeds, dtype=np.uint64)]
    tasks = [
        (scenario, name, theta, run_seeds[i * seeds + j], users)
        for name in names
        for i, theta in enumerate(thetas)
        for j in range(seeds)
    ]
    mapper = executor.map if executor is not None else map
    runs = pd.DataFrame(list(mapper(_outcomes, tasks)))
    table = runs.drop(columns=["scenario", "seed"]).groupby("mechanism", sort=False).mean()
    table.insert(0, "runs", runs.groupby("mechanism", sort=False).size())
    table.index = ["as calibrated" if i == "none" else f"without {i}" for i in table.index]
    return table

"""A growing market: how many new users arrive in each country, each quarter.

Smartphone users grew about nine-fold between 2009 and 2016 (units sold went
from 172M to about 1.5bn a year; docs/cases.md). New users arrive along a path
given by the scenario and choose their first device like users whose device
comes due. The path is fixed in advance (it is data, not an outcome), so the
column store can be sized for the run's last quarter:

* ``units_sold`` (a real case): each quarter a quarter of the year's units are
  sold; those not needed to replace devices coming due (``hazard`` times the
  users there are) go to new users;
* ``growth_rate`` (a synthetic world): that share of the users there are arrives
  each quarter.

New users are shared among countries by population times ``growth_weight``.
"""

from __future__ import annotations

import numpy as np

from privmarket.sim.params import ParameterError, Params

#: The most simulated users a run may reach with its arrivals: the same ceiling as
#: ``n_users`` itself (a store this size needs several GB).
MAX_USERS = Params.model_fields["n_users"].metadata[-1].le


def calendar_year(params: Params, quarter: int) -> int:
    """Calendar year of a model quarter (quarter 1 is ``start_quarter start_year``)."""
    return params.start_year + (params.start_quarter - 1 + quarter - 1) // 4


def arrivals(params: Params, initial: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Simulated users arriving in each country each quarter: (quarters + 1, countries) int64.

    ``initial`` is the number of simulated users per country at the start and
    ``scale`` the real users each stands for there; row 0 (the start) is zero.
    The path is in real users, so it gives the same market at any number of
    simulated users.
    """
    horizon, n_c = params.quarters, len(initial)
    out = np.zeros((horizon + 1, n_c), dtype=np.int64)
    if not params.units_sold and params.growth_rate <= 0:
        return out
    weights = np.array([c.population * c.growth_weight for c in params.countries], dtype=float)
    if weights.sum() <= 0:
        return out
    weights /= weights.sum()
    users = float((initial * scale).sum())  # real users
    owed = np.zeros(n_c)  # fractional simulated users carried to the next quarter
    total = int(initial.sum())  # simulated users so far
    for t in range(1, horizon + 1):
        if params.units_sold:
            year = calendar_year(params, t)
            sold = params.units_sold.get(year, 0.0) * 1e6 / 4
            new = max(0.0, sold - params.hazard * users)
        else:
            new = params.growth_rate * users
        share = new * weights / scale + owed
        whole = np.floor(share)
        total += int(min(whole.sum(), MAX_USERS + 1))
        if total > MAX_USERS:
            path = "units_sold" if params.units_sold else f"growth_rate={params.growth_rate:g}"
            raise ParameterError(
                f"{path}: the market would pass {MAX_USERS:,} simulated users by quarter {t} "
                f"of quarters={params.quarters} from n_users={params.n_users:,}; "
                "allowed: a path that stays below it (lower the growth, the quarters or n_users)"
            )
        owed = share - whole
        out[t] = whole.astype(np.int64)
        users += float((whole * scale).sum())
    return out

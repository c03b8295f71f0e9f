"""What a demand is worth to each side: the rules both governments and vendors weigh.

Each rule lives here once. A government uses them to decide whether to ban; a
vendor's decision rule uses the same functions to foresee that decision (the
vendor knows the government's rule) and to value its own answers.

All money is in US$ millions; gains and costs of a government are
dimensionless (appetite-weighted shares of users).
"""

from __future__ import annotations

import numpy as np

from privmarket.sim.params import CountrySpec, Params
from privmarket.sim.vocabulary import Demand


def gain_from_access(
    appetite: float,
    demand: Demand,
    local_stance: float,
    params: Params,
    granted: np.ndarray | None = None,
) -> float:
    """What a government expects to gain by enforcing ``demand``.

    The gain grows with its appetite, the demand's severity and the share of the
    asked traffic still closed to it (weighted by segment, as enterprise and state
    traffic matter more), times the vendor's local stance (a vendor that has
    withdrawn its strongest feature there has less to open). A partial deal
    already struck is worth ``partial_deal_value`` of the rest to it.

    ``granted`` defaults to what the demand has obtained so far; a vendor pricing
    an answer passes what that answer would grant.
    """
    granted = demand.granted if granted is None else granted
    w = np.asarray(params.segment_weights)
    asked = float(w[demand.segments].sum()) or 1.0
    missing = float(w[demand.segments & ~granted].sum()) / asked
    value = appetite * demand.severity * missing * local_stance
    if granted.any():
        # Something was conceded: the government values the deal it has.
        value *= 1 - params.partial_deal_value
    return value


def cost_of_losing(weighted_share: float, country: CountrySpec, params: Params) -> float:
    """A government's domestic cost of banning a vendor with this weighted local share.

    Users who must switch, weighted toward business and state users (whose
    switching disrupts banks and ministries), times income, less what the
    government tolerates (docs/ODD.md, section 7.3; ECIPE 2014 puts the GDP cost
    of data-localisation rules at 0.1-1.7 %, see docs/ODD.md).
    """
    return params.ban_cost_weight * weighted_share * country.income * (1 - country.ban_tolerance)


def trust_loss(severity: float, params: Params) -> float:
    """Trust a vendor loses by granting full access for a demand of this severity.

    Even targeted access costs a part (``trust_loss_base``): users learn that the
    vendor can and will read; bulk access costs the whole ``trust_loss_comply``.
    """
    return params.trust_loss_comply * (params.trust_loss_base + params.trust_loss_slope * severity)


def negotiable(demand: Demand) -> np.ndarray:
    """Segments a negotiated deal would open: the consumer tier, if it was asked.

    Vendors concede consumer tiers and resist enterprise tiers and tiers whose
    keys the users hold (docs/cases.md: India 2010-13, Saudi Arabia 2010).
    """
    granted = np.zeros(3, dtype=bool)
    granted[0] = bool(demand.segments[0])
    return granted

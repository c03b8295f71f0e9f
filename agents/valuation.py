"""What a demand is worth to each side: the rules both governments and vendors weigh.

Each rule lives here once. A government uses them to decide whether to ban; a
vendor's decision rule uses the same functions to foresee that decision (the
vendor knows the government's rule) and to value its own answers.

All money is in US$ millions; gains and costs of a government are
dimensionless (appetite-weighted shares of users).
"""

from __future__ import annotations

import math
from typing import NamedTuple

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
    switching disrupts banks and ministries), times income to the power
    ``ban_cost_income_elasticity``, less what the government tolerates
    (docs/ODD.md, section 7.3; ECIPE 2014 puts the GDP cost of data-localisation
    rules at 0.1-1.7 %).
    """
    income = country.income**params.ban_cost_income_elasticity
    return params.ban_cost_weight * weighted_share * income * (1 - country.ban_tolerance)


def ban_probability(gain: float, cost: float, params: Params) -> float:
    """The chance a government bans when its gain from access is ``gain`` and the cost
    of losing the vendor is ``cost``.

    A logit on the difference relative to what is at stake, with the shared
    ``decision_temperature``: at 0 a sharp threshold (ban exactly when the gain
    is larger); above 0 the outcome of a close call is uncertain, to the vendor
    foreseeing it as much as to an observer.
    """
    t = params.decision_temperature
    if t <= 0 or gain + cost <= 0:
        return 1.0 if gain > cost else 0.0
    z = (gain - cost) / (t * (gain + cost))
    return 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, z))))


def lift_probability(gain: float, cost: float, rule_of_law: float, params: Params) -> float:
    """The chance a ban is lifted in a quarter's review.

    Of 13 blocks of a communications service that were lifted, 2010-2024, courts
    and the number of users hurt were the reasons given; 9 ended within a quarter,
    4 lasted years where courts were slow (docs/cases.md, blocks that were
    lifted). So the review's pressure is the mean of the rule of law and the
    ban's cost against its gain, times ``ban_review_rate``.
    """
    if params.ban_review_rate <= 0 or gain + cost <= 0:
        return 0.0
    pressure = 0.5 * (rule_of_law + cost / (gain + cost))
    return 1.0 - math.exp(-params.ban_review_rate * pressure)


def trust_loss(severity: float, params: Params) -> float:
    """Trust a vendor loses by granting full access for a demand of this severity.

    Even targeted access costs a part (``trust_loss_base``): users learn that the
    vendor can and will read; bulk access costs the whole ``trust_loss_comply``.
    """
    return params.trust_loss_comply * (params.trust_loss_base + params.trust_loss_slope * severity)


def trust_cost(
    opened: np.ndarray, readable: np.ndarray, severity: float, weight: float, params: Params
) -> float:
    """Trust lost by opening the tiers ``opened`` for a demand of this severity.

    All three tiers cost the whole :func:`trust_loss`, each tier a third. A tier
    the vendor cannot read costs ``backdoor_trust_factor`` times more, and as
    much as the broadest demand whatever the severity of the one that asked: the
    vendor had to build a back door, which users fear most, and once built it
    opens every user's traffic in that tier, not only the one first asked for
    (the vendor's argument against unlocking one phone in the United States in
    2016, docs/cases.md, case 6). ``weight`` scales it (a negotiated, disclosed
    deal costs less than compliance).
    """
    read = trust_loss(severity, params) * float((opened & readable).sum())
    built = (
        params.backdoor_trust_factor * trust_loss(1.0, params) * float((opened & ~readable).sum())
    )
    return weight * (read + built) / 3


def negotiable(demand: Demand, readable: np.ndarray) -> np.ndarray:
    """Tiers a negotiated deal would open: those asked whose traffic the vendor can read,
    keeping back the most sensitive one when it could open everything asked.

    A deal hands over what the vendor holds the keys to and nothing it would have
    to build: the secure maker opened its consumer messaging and never its
    enterprise servers, whose keys its customers hold (docs/cases.md, cases 2-3).
    A deal that gave everything asked would be compliance, so a vendor that can
    read every tier asked keeps the most sensitive of them back.
    """
    granted = demand.segments & readable
    asked = np.flatnonzero(demand.segments)
    if len(asked) > 1 and granted[asked].all():
        granted = granted.copy()
        granted[asked[-1]] = False
    return granted


def deal_severity(demand: Demand, granted: np.ndarray, cuts: tuple[float, ...]) -> float:
    """Severity a deal's grant amounts to: the demand's, but no more than that of the
    broadest demand that would have asked for only the tiers granted.

    Users judge access by what is opened, not by what was asked: a deal that opens
    only the consumer tier a vendor can read is a targeted intercept, as any carrier
    provides, whatever the demand it settled asked for (the secure maker's consumer
    deal in India, docs/cases.md, case 3).
    """
    tiers = np.flatnonzero(granted)
    if len(tiers) == 0:
        return demand.severity
    ceiling = (*cuts, 1.0)[int(tiers[-1])]
    return min(demand.severity, ceiling)


class Deal(NamedTuple):
    """The terms of a negotiated deal: what it opens and how users judge it."""

    granted: np.ndarray  #: tiers opened (consumer, enterprise, government)
    severity: float  #: the severity users judge it by (:func:`deal_severity`)
    weight: float  #: share of a compliance's trust cost it carries (disclosed, partial)


def deal_for(demand: Demand, readable: np.ndarray, params: Params) -> Deal:
    """The deal a vendor that can read ``readable`` would strike on ``demand``.

    One place for the terms, so that a vendor valuing a deal and the deal it then
    makes cannot drift apart.
    """
    granted = negotiable(demand, readable)
    return Deal(
        granted,
        deal_severity(demand, granted, params.severity_bands),
        params.negotiation_trust_weight,
    )


def legal_exposure(
    rule_of_law: float, severity: float, local_value: float, params: Params
) -> float:
    """Expected cost to a vendor of refusing a lawful demand, US$M.

    Where law rules, an order is enforced by courts (fines, injunctions) rather
    than by a ban: the more so the stronger the rule of law and the broader the
    order (a capability notice against a single-phone warrant).
    """
    return params.legal_penalty * rule_of_law * severity * local_value

"""The kinds of answer a vendor can give to a demand, and what each one does.

A vendor's decision rule picks an answer by name; the model looks the name up
here and applies its effect (``MarketModel.step``, step 2). The five answers of
the model (docs/ODD.md, section 7.2) are registered below. A new kind of answer is one
:func:`register_answer` call: a name, whether giving it needs the vendor to be
able to read its users' traffic, and a function that changes the vendor and
the demand and says what changed (:class:`AnswerEffect`). See
docs/architecture.md for a worked example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from privmarket.agents.valuation import deal_for, negotiable
from privmarket.agents.vendor import Vendor
from privmarket.sim.params import Params
from privmarket.sim.vocabulary import Answer, Demand, Outcome


@dataclass(frozen=True)
class AnswerEffect:
    """What an answer changed, for the model to book and log.

    ``settles``: the demand ends at once with this outcome (otherwise it waits for
    the government's verdict at its deadline). ``opened``: tiers newly opened to
    the government. ``local_stance``: the stance left in that country after a
    feature was withdrawn. ``left_country``: the vendor left the country.
    """

    settles: Outcome | None = None
    opened: np.ndarray | None = None
    local_stance: float | None = None
    left_country: bool = False


@dataclass(frozen=True)
class AnswerType:
    """One kind of answer: its name, when it can be given, and its effect."""

    name: str
    #: A vendor that cannot read its users' traffic at all (stance 1) cannot give it.
    needs_reading: bool
    apply: Callable[[Vendor, Demand, Params], AnswerEffect]
    #: Whether the vendor can take it back later; an adaptive rule does not try an
    #: irreversible answer just to learn what it is worth.
    reversible: bool = True
    #: Whether it can be given to this demand at all (None: always).
    applies: Callable[[Vendor, Demand], bool] | None = None


#: Every kind of answer, by name, in the order decision rules consider them.
ANSWERS: dict[str, AnswerType] = {}


def register_answer(answer: AnswerType) -> AnswerType:
    """Make a new kind of answer available to decision rules and to the model."""
    ANSWERS[answer.name] = answer
    return answer


def unregister_answer(name: str) -> None:
    """Remove an answer kind added with :func:`register_answer` (built-ins stay)."""
    if name in set(Answer):
        raise ValueError(f"{name!r} is one of the five built-in answers and cannot be removed")
    ANSWERS.pop(name, None)


def feasible_answers(vendor: Vendor, demand: Demand) -> tuple[str, ...]:
    """Answers open to ``vendor`` for ``demand``: one that cannot read its users'
    traffic at all (stance 1) can only give answers that need no access to it, a
    deal needs a tier it can read, and withdrawing a feature needs an optional one
    (``VendorSpec.optional_feature``)."""
    return tuple(
        a.name
        for a in ANSWERS.values()
        if (vendor.stance < 1.0 or not a.needs_reading)
        and (a.applies is None or a.applies(vendor, demand))
    )


def is_reversible(answer: str) -> bool:
    return ANSWERS[answer].reversible


# ------------------------------------------------------------ the five answers
def _open(
    vendor: Vendor,
    demand: Demand,
    segments: np.ndarray,
    severity: float,
    weight: float,
    params: Params,
) -> np.ndarray:
    """Open ``segments`` on ``demand``, recording on it the trust this cost (what the
    vendor learns from, :func:`privmarket.agents.strategies.realised_value`)."""
    before = vendor.trust
    opened = vendor.grant(demand.country, segments, severity, weight, params)
    demand.trust_lost += before - vendor.trust
    demand.granted = demand.granted | segments
    return opened


def _comply(vendor: Vendor, demand: Demand, params: Params) -> AnswerEffect:
    # Every tier asked is opened; a tier it cannot read means building access.
    opened = _open(vendor, demand, demand.segments.copy(), demand.severity, 1.0, params)
    return AnswerEffect(settles=Outcome.COMPLIED, opened=opened)


def _negotiate(vendor: Vendor, demand: Demand, params: Params) -> AnswerEffect:
    # A deal opens part of what was asked and is disclosed as such, so it costs
    # less trust than compliance; the government weighs the rest at its deadline.
    deal = deal_for(demand, vendor.readable, params)
    opened = _open(vendor, demand, deal.granted, deal.severity, deal.weight, params)
    return AnswerEffect(opened=opened)


def _refuse(vendor: Vendor, demand: Demand, params: Params) -> AnswerEffect:
    vendor.gain_trust(params.trust_gain_refuse)
    return AnswerEffect()


def _withdraw(vendor: Vendor, demand: Demand, params: Params) -> AnswerEffect:
    # Lower the stance in that country only: no back door, one feature fewer
    # (as with encrypted backups in the United Kingdom in 2025, docs/cases.md, case 14).
    return AnswerEffect(local_stance=vendor.withdraw_feature(demand.country, params.withdraw_cut))


def _exit(vendor: Vendor, demand: Demand, params: Params) -> AnswerEffect:
    vendor.gain_trust(params.trust_gain_refuse)
    vendor.leave_country(demand.country)
    return AnswerEffect(settles=Outcome.EXITED, left_country=True)


for _answer in (
    AnswerType(Answer.COMPLY, needs_reading=True, apply=_comply),
    AnswerType(
        Answer.NEGOTIATE,
        needs_reading=True,
        apply=_negotiate,
        applies=lambda vendor, demand: bool(negotiable(demand, vendor.readable).any()),
    ),
    AnswerType(Answer.REFUSE, needs_reading=False, apply=_refuse),
    AnswerType(
        Answer.WITHDRAW,
        needs_reading=False,
        apply=_withdraw,
        applies=lambda vendor, demand: vendor.spec.optional_feature,
    ),
    AnswerType(Answer.EXIT, needs_reading=False, apply=_exit, reversible=False),
):
    register_answer(_answer)

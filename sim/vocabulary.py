"""The market's plain vocabulary: segments, presence, answers, outcomes, demands and events.

This is the ground floor of the package: every other module may import it, and
it imports nothing of the project's. Nothing here decides or computes anything
about the market; it only names what the other layers talk about.

>>> Answer.REFUSE == "refuse"
True
>>> Presence(2).name
'BANNED'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import numpy as np

#: The three user segments, in the order of every per-segment array.
SEGMENTS: tuple[str, ...] = ("consumer", "enterprise", "government")
N_SEGMENTS = len(SEGMENTS)

#: Words for the severity bands of a demand, from the lowest band to the highest
#: (the cuts between bands are a parameter: ``Params.severity_bands``).
SEVERITY_LABELS: tuple[str, ...] = (
    "targeted lawful intercept",
    "broad interception",
    "bulk access",
)


class Presence(IntEnum):
    """Where a vendor stands in one country."""

    ACTIVE = 0
    EXITED = 1
    BANNED = 2


class Answer(StrEnum):
    """The five answers every vendor can give to a demand.

    Answers are strings: a new kind of answer is a new name registered with
    :func:`privmarket.agents.answers.register_answer`, not a member of this enum.
    """

    COMPLY = "comply"
    NEGOTIATE = "negotiate"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"
    EXIT = "exit"


class Outcome(StrEnum):
    """How a demand ended."""

    OPEN = "open"
    COMPLIED = "complied"
    DEAL = "partial deal"
    BANNED = "banned"
    DROPPED = "dropped"
    EXITED = "exited"


class StrategyName(StrEnum):
    """The decision rules that ship with the model (more can be registered)."""

    PRINCIPLED = "principled"
    EXPECTED_VALUE = "expected_value"
    ADAPTIVE = "adaptive"


#: Names a vendor's ``strategy`` may take. The built-in rules are always here;
#: :func:`privmarket.agents.strategies.register_strategy` adds the name of a new one.
STRATEGY_NAMES: set[str] = {s.value for s in StrategyName}


class EventKind(StrEnum):
    """What an event in the log records."""

    DEMAND = "demand"
    ANSWER = "answer"
    ACCESS_GRANTED = "access granted"
    WITHDRAW_FEATURE = "withdraw feature"
    BAN = "ban"
    BACKDOWN = "back-down"
    BAN_LIFTED = "ban lifted"
    PARTIAL_DEAL = "partial deal"
    COUNTRY_EXIT = "country exit"
    VENDOR_FAILURE = "vendor failure"


def severity_band(severity: float, cuts: tuple[float, ...]) -> int:
    """Index of the band a severity falls in: 0 below the first cut, 1 below the second..."""
    return sum(severity >= c for c in cuts)


def segment_names(segments: np.ndarray | tuple[bool, ...]) -> tuple[str, ...]:
    """Names of the segments flagged True, in segment order."""
    return tuple(s for s, on in zip(SEGMENTS, segments, strict=True) if on)


@dataclass
class Demand:
    """A government's demand for access to a vendor's users' traffic in its country."""

    id: int
    country: int
    vendor: int
    segments: np.ndarray  # bool[3]: consumer, enterprise, government traffic asked
    severity: float
    made: int  # quarter made
    deadline: int  # quarter of enforcement
    scripted: bool = False
    answer: str | None = None
    granted: np.ndarray = field(default_factory=lambda: np.zeros(N_SEGMENTS, dtype=bool))
    trust_lost: float = 0.0  # trust the vendor lost by what it opened on this demand
    outcome: Outcome = Outcome.OPEN

    @property
    def is_open(self) -> bool:
        return self.outcome is Outcome.OPEN


@dataclass(frozen=True)
class Event:
    """One entry of the event log: what happened, when, between whom, with its figures.

    The fields that a kind does not use stay ``None`` (or empty). Sentences are
    made from events by one renderer, :func:`privmarket.sim.events.describe`.
    """

    quarter: int
    label: str  # calendar quarter, e.g. "Q3 2015"
    kind: EventKind
    actor: str
    target: str
    demand: int | None = None
    severity: float | None = None  # demand
    band: int | None = None  # demand: index into SEVERITY_LABELS
    segments: tuple[str, ...] = ()  # demand: asked; access granted: opened
    deadline: str | None = None  # demand: calendar quarter of enforcement
    answer: str | None = None  # answer
    local_stance: float | None = None  # withdraw feature: the stance left in that country
    gain: float | None = None  # ban, back-down, partial deal: the government's gain
    cost: float | None = None  # ... and its cost of losing the vendor
    reason: str | None = None  # vendor failure, country exit

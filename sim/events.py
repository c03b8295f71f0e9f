"""The event log, and the one renderer that turns events into sentences.

Events are typed records (:class:`privmarket.sim.vocabulary.Event`); the
command line, the notebooks and the dashboard all word them with
:func:`describe`, so a change of wording is made here once.

>>> from privmarket.sim.vocabulary import Event, EventKind
>>> describe(Event(3, "Q3 2015", EventKind.ANSWER, "BlackBerry", "Pakistan", answer="refuse"))
"BlackBerry refuses Pakistan's demand."
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pandas as pd

from privmarket.sim.vocabulary import SEVERITY_LABELS, Answer, Event, EventKind

#: Columns of :meth:`EventLog.to_frame`, in order.
FRAME_COLUMNS = (
    "quarter",
    "label",
    "event",
    "actor",
    "target",
    "demand",
    "severity",
    "segments",
    "deadline",
    "answer",
    "local_stance",
    "gain",
    "cost",
    "reason",
    "sentence",
)


def _and(items: Sequence[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_ANSWER_WORDS = {
    Answer.COMPLY: "{a} agrees to {t}'s demand",
    Answer.NEGOTIATE: "{a} negotiates with {t}, offering partial access",
    Answer.REFUSE: "{a} refuses {t}'s demand",
    Answer.WITHDRAW: "{a} answers {t} by withdrawing a privacy feature there",
    Answer.EXIT: "{a} answers {t} by leaving the country",
}


#: How each kind of event is worded, for ``str.format``: ``a`` is the actor, ``t``
#: the target, ``e`` the event itself, ``segments`` its traffic in words, and, for a
#: demand, ``what`` is the access asked and ``prep`` the word that joins it to the
#: traffic. Answers are worded by :data:`_ANSWER_WORDS`.
_SENTENCES: dict[EventKind, str] = {
    EventKind.DEMAND: (
        "the government of {a} demands {what} {prep} {segments} traffic from {t} "
        "(severity {e.severity:.2f}); deadline {e.deadline}"
    ),
    EventKind.ACCESS_GRANTED: "{a} gives the government of {t} access to {segments} traffic",
    EventKind.WITHDRAW_FEATURE: (
        "{a} withdraws a privacy feature in {t} rather than build access "
        "(its privacy stance there is now {e.local_stance:.2f})"
    ),
    EventKind.BAN: (
        "{a} bans {t} for refusing its demand "
        "(its gain from access {e.gain:.2f} outweighs its cost of a ban {e.cost:.2f})"
    ),
    EventKind.BACKDOWN: (
        "the government of {a} backs down and drops its demand on {t} "
        "(its gain from access {e.gain:.2f} does not outweigh its cost of a ban {e.cost:.2f})"
    ),
    EventKind.PARTIAL_DEAL: (
        "the government of {a} settles for partial access from {t} "
        "(what is left to gain, {e.gain:.2f}, does not outweigh its cost of a ban "
        "{e.cost:.2f})"
    ),
    EventKind.BAN_LIFTED: (
        "the government of {a} lifts its ban on {t} "
        "(the ban cost {e.cost:.2f} against a gain of {e.gain:.2f})"
    ),
    EventKind.COUNTRY_EXIT: "{a} leaves {t} rather than grant access",
    EventKind.VENDOR_FAILURE: "{a} leaves the handset market ({e.reason})",
}


def describe(e: Event) -> str:
    """One event in plain words, as a sentence (without its calendar quarter)."""
    a, t = e.actor, e.target
    if e.kind is EventKind.ANSWER:
        s = _ANSWER_WORDS.get(e.answer, "{a} answers {t}: {x}").format(a=a, t=t, x=e.answer)
    elif e.kind in _SENTENCES:
        what = SEVERITY_LABELS[e.band or 0]
        prep = "to" if "access" in what else "of"
        s = _SENTENCES[e.kind].format(
            a=a, t=t, e=e, segments=_and(e.segments), what=what, prep=prep
        )
    else:  # pragma: no cover - every kind is worded above
        s = f"{a} {e.kind} {t}"
    return s[:1].upper() + s[1:] + "."


class EventLog:
    """Every demand, answer, ban, back-down, exit and failure, in the order they happened."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, event: Event) -> None:
        self.events.append(event)

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __getitem__(self, i: int) -> Event:
        return self.events[i]

    def to_frame(self) -> pd.DataFrame:
        """One typed row per event; ``event`` is its kind, ``sentence`` its words."""
        rows = [
            (
                e.quarter,
                e.label,
                str(e.kind),
                e.actor,
                e.target,
                e.demand,
                e.severity,
                ", ".join(e.segments) or None,
                e.deadline,
                None if e.answer is None else str(e.answer),
                e.local_stance,
                e.gain,
                e.cost,
                e.reason,
                describe(e),
            )
            for e in self.events
        ]
        df = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
        df = df.astype(
            {
                "quarter": "int64",
                "demand": "Int64",
                "severity": "float64",
                "local_stance": "float64",
                "gain": "float64",
                "cost": "float64",
            }
        )
        for col in ("label", "event", "actor", "target", "segments", "deadline", "answer"):
            df[col] = df[col].astype("string")
        df["reason"] = df["reason"].astype("string")
        df["sentence"] = df["sentence"].astype("string")
        return df

    def sentences(self, last: int | None = None) -> list[str]:
        """The log in plain words, each sentence after its calendar quarter, newest last."""
        events = self.events if last is None else self.events[-last:]
        return [f"{e.label}: {describe(e)}" for e in events]

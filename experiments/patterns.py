"""The patterns each real case must reproduce, as checks on a finished run.

Each scenario file states its patterns in words; here each becomes a function of
a finished :class:`~privmarket.sim.model.MarketModel` that says whether the run
shows it. A pattern holds *with a probability*: the share of runs, over seeds
and posterior draws of the world parameters, that show it. The scenario states
the least probability it must reach (0.7 for every real case).

>>> from privmarket.experiments.patterns import PATTERNS, pattern_hits
>>> from privmarket.sim.model import MarketModel
>>> hits = pattern_hits(MarketModel("us-2016", rng=1, n_users=3000).run())
>>> sorted(hits) == sorted(p.key for p in PATTERNS["us-2016"])
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from privmarket.sim.model import MarketModel
from privmarket.sim.vocabulary import EventKind, Presence

#: The least probability a real case's pattern must reach (docs/validation.md).
REQUIRED = 0.7


@dataclass(frozen=True)
class Pattern:
    """One pattern of one case: a key, its words, its least probability, its check."""

    key: str
    text: str
    check: Callable[[MarketModel], bool]
    probability: float = REQUIRED


def _country(m: MarketModel, name: str) -> int:
    return next(g.country for g in m.government_list if g.name == name)


def _events(m: MarketModel, kind: EventKind, actor: str, target: str) -> list:
    return [e for e in m.events if e.kind is kind and e.actor == actor and e.target == target]


def no_access(vendor: str, country: str) -> Callable[[MarketModel], bool]:
    def check(m: MarketModel) -> bool:
        v = m.vendor_list[m.vendor_index(vendor)]
        return not v.access[_country(m, country)].any()

    return check


def no_ban(vendor: str, country: str) -> Callable[[MarketModel], bool]:
    def check(m: MarketModel) -> bool:
        return not _events(m, EventKind.BAN, country, vendor)

    return check


def stays(vendor: str, country: str) -> Callable[[MarketModel], bool]:
    """Serves the country at the end: not left, nothing blocked (a lifted ban is fine)."""

    def check(m: MarketModel) -> bool:
        v = m.vendor_list[m.vendor_index(vendor)]
        c = _country(m, country)
        return bool(v.presence[c] == Presence.ACTIVE and not v.blocked[c].any())

    return check


def tier_open(vendor: str, country: str, tier: int, is_open: bool) -> Callable[[MarketModel], bool]:
    def check(m: MarketModel) -> bool:
        v = m.vendor_list[m.vendor_index(vendor)]
        return bool(v.access[_country(m, country), tier]) is is_open

    return check


def withdrew(vendor: str, country: str) -> Callable[[MarketModel], bool]:
    def check(m: MarketModel) -> bool:
        return bool(_events(m, EventKind.WITHDRAW_FEATURE, vendor, country))

    return check


def trust_kept(vendor: str, tolerance: float = 0.005) -> Callable[[MarketModel], bool]:
    def check(m: MarketModel) -> bool:
        trust = m.results.vendor["trust"][: m.quarter + 1, m.vendor_index(vendor)]
        return bool(trust[-1] >= trust[0] - tolerance)

    return check


def yearly_sales_shares(m: MarketModel) -> dict[int, np.ndarray]:
    """Each calendar year's share of units sold per vendor (what analysts publish)."""
    sales = m.results.sales[1 : m.quarter + 1].sum(axis=3)  # (T, V, C) simulated
    real = (sales * m.country_scale).sum(axis=2)  # (T, V)
    years = np.array([m.quarter_date(t).year for t in range(1, m.quarter + 1)])
    out = {}
    for y in np.unique(years):
        units = real[years == y].sum(axis=0)
        out[int(y)] = units / units.sum() if units.sum() > 0 else units
    return out


def falls_tenfold(vendor: str, first: int, last: int) -> Callable[[MarketModel], bool]:
    def check(m: MarketModel) -> bool:
        shares = yearly_sales_shares(m)
        i = m.vendor_index(vendor)
        return bool(shares[last][i] < 0.1 * shares[first][i])

    return check


def together_above(vendors: tuple[str, ...], year: int, share: float) -> Callable[..., bool]:
    def check(m: MarketModel) -> bool:
        s = yearly_sales_shares(m)[year]
        return bool(sum(s[m.vendor_index(v)] for v in vendors) > share)

    return check


PATTERNS: dict[str, list[Pattern]] = {
    "pakistan-2015": [
        Pattern(
            "no-access",
            "The vendor does not grant access in Pakistan.",
            no_access("BlackBerry", "Pakistan"),
        ),
        Pattern(
            "no-ban",
            "The vendor is not banned in Pakistan (the government backs down, or the vendor leaves first).",
            no_ban("BlackBerry", "Pakistan"),
        ),
    ],
    "uae-2010": [
        Pattern(
            "settled",
            "The demand is settled without a ban: a partial deal or a back-down, and the "
            "vendor stays.",
            lambda m: no_ban("BlackBerry", "UAE")(m) and stays("BlackBerry", "UAE")(m),
        ),
    ],
    "saudi-2010": [
        Pattern(
            "consumer-open",
            "The consumer tier becomes readable in Saudi Arabia.",
            tier_open("BlackBerry", "Saudi Arabia", 0, True),
        ),
        Pattern(
            "stays",
            "The vendor stays in Saudi Arabia and is not banned at the end.",
            stays("BlackBerry", "Saudi Arabia"),
        ),
    ],
    "india-2010-2013": [
        Pattern(
            "consumer-open",
            "The consumer tier is readable in India by the end.",
            tier_open("BlackBerry", "India", 0, True),
        ),
        Pattern(
            "enterprise-closed",
            "The enterprise tier is never readable in India.",
            tier_open("BlackBerry", "India", 1, False),
        ),
        Pattern(
            "no-ban",
            "The vendor is not banned in India (the government backs down, or the vendor has left).",
            no_ban("BlackBerry", "India"),
        ),
    ],
    "us-2016": [
        Pattern("no-access", "The vendor gives no access.", no_access("Apple", "United States")),
        Pattern("no-ban", "The order is dropped: no ban.", no_ban("Apple", "United States")),
        Pattern("trust-kept", "The vendor's trust does not fall.", trust_kept("Apple")),
    ],
    "uk-2025": [
        Pattern(
            "withdraws",
            "The vendor withdraws the feature in the UK.",
            withdrew("Apple", "United Kingdom"),
        ),
        Pattern(
            "no-access",
            "The vendor builds no access in the UK.",
            no_access("Apple", "United Kingdom"),
        ),
        Pattern(
            "stays",
            "The vendor stays in the UK: it does not leave and is not banned.",
            stays("Apple", "United Kingdom"),
        ),
    ],
    "platform-decline-2009-2016": [
        Pattern(
            "falls-tenfold",
            "The secure platform's sales share falls more than tenfold within five years.",
            falls_tenfold("BlackBerry", 2009, 2014),
        ),
        Pattern(
            "two-ecosystems",
            "The open and the premium ecosystems end above 90% of sales together.",
            together_above(("Android", "Apple"), 2016, 0.9),
        ),
    ],
}

#: The stand-off cases (a government's demand), as against the market-only decline.
STANDOFFS = ("pakistan-2015", "uae-2010", "saudi-2010", "india-2010-2013", "us-2016", "uk-2025")


def pattern_hits(model: MarketModel) -> dict[str, bool]:
    """Which of its scenario's patterns a finished run shows, by key."""
    return {p.key: bool(p.check(model)) for p in PATTERNS[model.scenario_name]}


#: Whose stand-off each case is: the vendor its patterns are about and the country.
PARTIES: dict[str, tuple[str, str]] = {
    "pakistan-2015": ("BlackBerry", "Pakistan"),
    "uae-2010": ("BlackBerry", "UAE"),
    "saudi-2010": ("BlackBerry", "Saudi Arabia"),
    "india-2010-2013": ("BlackBerry", "India"),
    "us-2016": ("Apple", "United States"),
    "uk-2025": ("Apple", "United Kingdom"),
}

#: The events a route is made of: what was opened, withdrawn, banned, lifted,
#: dropped or left (demands and answers are left out: every route starts with one).
ROUTE_EVENTS = (
    EventKind.ACCESS_GRANTED,
    EventKind.PARTIAL_DEAL,
    EventKind.WITHDRAW_FEATURE,
    EventKind.BAN,
    EventKind.BAN_LIFTED,
    EventKind.BACKDOWN,
    EventKind.COUNTRY_EXIT,
    EventKind.VENDOR_FAILURE,
)


def route(model: MarketModel, vendor: str, country: str) -> str:
    """How a stand-off went: the kinds of its key events, each once, in the order they
    first happened, joined by " > " ("none" if nothing happened).

    A pattern can hold by more than one route: "not banned" holds when the government
    backs down and also when the vendor leaves first. Counting runs by route says
    which (:func:`privmarket.experiments.calibrate.pattern_routes`).

    >>> from privmarket.sim.model import MarketModel
    >>> m = MarketModel("us-2016", rng=1, n_users=3000).run()
    >>> route(m, "Apple", "United States")
    'back-down'
    """
    kinds = [
        str(e.kind)
        for e in model.events
        if e.kind in ROUTE_EVENTS
        and (
            {e.actor, e.target} == {vendor, country}
            or (e.kind is EventKind.VENDOR_FAILURE and e.actor == vendor)
        )
    ]
    return " > ".join(dict.fromkeys(kinds)) or "none"

"""A per-object reference for the user side: one plain ``mesa.Agent`` per user.

This is the user side written the idiomatic Mesa way, and tuned: every user is
a :class:`ReferenceUser` agent registered with the model, randomness comes from
the model's stdlib ``random`` (``model.random``), and there is no numpy call per
agent (numpy appears only once per quarter, to hand the few vendor- and
country-level figures to plain Python lists and to return the counts).
:class:`ReferenceUsers` is a second implementation of the one call the model
makes of its users each quarter (``choose(offer)``, see
:mod:`privmarket.agents.user_market`); vendors, governments, parameters, the step
order and every other rule are the model's own.

It serves two purposes (``docs/performance.md``):

* a fair baseline for speed and memory in ``privmarket bench``;
* an oracle for correctness: the vectorised user side (Gumbel-max sampling,
  CSR gathers, ``bincount`` counts) and this one (inverse-CDF sampling, loops
  over contact lists) must agree statistically (``tests/test_equivalence_*``).

The world is built here too, per user and from ``model.random``, following the
same rules as :mod:`privmarket.sim.world` (``world="own"``, the default). With
``world="shared"`` the agents copy the vectorised world drawn from the same
seed instead, so that the two implementations start from identical users and
contacts and differ only in how they step.

Example
-------
>>> from privmarket.experiments.reference import ReferenceMarketModel
>>> m = ReferenceMarketModel(n_users=500, quarters=2, rng=1).run()
>>> int(m.installed.sum())
500
"""

from __future__ import annotations

import math
from itertools import accumulate
from typing import Any

import mesa
import numpy as np

from privmarket.agents.user_market import (
    NO_VENDOR,
    PRICE_UNIT,
    Offer,
    QuarterChoices,
    ecosystem_utility,
)
from privmarket.sim.growth import arrivals
from privmarket.sim.model import MarketModel
from privmarket.sim.params import Params
from privmarket.sim.world import build_population, country_scale

WORLDS = ("own", "shared")


class ReferenceUser(mesa.Agent):
    """One user as a plain Mesa agent, with its contacts as a list of agents."""

    def __init__(
        self,
        model: mesa.Model,
        country: int,
        segment: int,
        privacy: float,
        price_sens: float,
        vendor: int,
        device_age: int,
        arrival: int = 0,
    ) -> None:
        super().__init__(model)
        self.country = country
        self.segment = segment
        self.privacy = privacy
        self.price_sens = price_sens
        self.vendor = vendor
        self.device_age = device_age
        self.arrival = arrival  # the quarter it enters the market (0: there from the start)
        self.banned_from = NO_VENDOR  # the vendor a ban forced it off
        self.contacts: list[ReferenceUser] = []

    def choose(self, quarter: QuarterFigures) -> tuple[int, float]:
        """This quarter's logit choice and its log-sum, from last quarter's state.

        Reads only the contacts' current vendors, so calling it for every due
        user before any of them switches is a simultaneous update.
        """
        options = quarter.options[self.country * 3 + self.segment]
        if not options:
            return NO_VENDOR, -math.inf
        current = self.vendor
        share = None
        contacts = self.contacts
        if quarter.b_contacts > 0 and contacts:
            share = [0] * quarter.n_vendors
            with_vendor = 0
            for other in contacts:
                v = other.vendor
                if v >= 0:
                    share[v] += 1
                    with_vendor += 1
            # among the contacts who have a vendor, as the vectorised side does
            weight = quarter.b_contacts / max(with_vendor, 1)
        ps, pr, cost = self.price_sens, self.privacy, quarter.switching_cost
        utils = []
        for v, base, price, perceived in options:
            u = base - ps * price + pr * perceived
            if share is not None:
                u += weight * share[v]
            if v != current:
                u -= cost
            utils.append(u)
        top = max(utils)
        weights = [math.exp(u - top) for u in utils]
        total = sum(weights)
        # Inverse-CDF draw: one uniform per chooser (the vectorised side uses
        # Gumbel-max, one per chooser and vendor; both are exact logit draws).
        r = self.model.random.random() * total
        pick = options[-1][0]
        for (v, *_), w in zip(options, weights, strict=True):
            r -= w
            if r < 0:
                pick = v
                break
        return pick, top + math.log(total)


class QuarterFigures:
    """What every user sees this quarter, as plain Python lists.

    ``options[country * 3 + segment]`` lists, for each vendor available in the
    country, ``(vendor, b_q * q, price term, perceived privacy)`` with the price
    term ``b_p * price / (PRICE_UNIT * income)`` that is multiplied by the
    user's price sensitivity (the same utility as
    :mod:`privmarket.agents.user_market`).
    """

    def __init__(self, offer: Offer, params: Params) -> None:
        p = params
        self.n_vendors = len(offer.alive)
        self.b_contacts = p.b_contacts
        self.switching_cost = p.switching_cost
        avail = offer.available.tolist()  # (C, 3, V)
        perceived = offer.perceived.tolist()  # (C, 3, V)
        income = offer.income.tolist()
        base = ecosystem_utility(offer.ecosystem, p).tolist()
        price = offer.price.tolist()  # (3, V)
        n_c = len(income)
        self.options: list[list[tuple[int, float, float, float]]] = []
        for c in range(n_c):
            for s in range(3):
                self.options.append(
                    [
                        (
                            v,
                            base[v],
                            (p.b_price / PRICE_UNIT) * price[s][v] / income[c],
                            perceived[c][s][v],
                        )
                        for v in range(self.n_vendors)
                        if avail[c][s][v]
                    ]
                )
        alive = offer.alive.tolist()
        # forced[c][s][v]: users of live vendor v in country c and segment s must
        # switch now (it left, or its service to them was blocked); the extra last
        # entry, read as forced[c][s][-1], is for users with no vendor.
        self.forced = [
            [
                [alive[v] and not avail[c][s][v] for v in range(self.n_vendors)] + [True]
                for s in range(3)
            ]
            for c in range(n_c)
        ]


class ReferenceUsers:
    """The users as one ``mesa.Agent`` each: the model's user side, the per-object way.

    ``users`` holds the agents in creation order; ``installed`` the counts by
    (vendor, country, segment) the model reads.
    """

    def __init__(
        self,
        model: mesa.Model,
        world: str = "own",
        figures_class: type[QuarterFigures] = QuarterFigures,
    ) -> None:
        if world not in WORLDS:
            raise ValueError(f"world={world!r}; allowed: {', '.join(WORLDS)}")
        p: Params = model.params
        self.model = model
        self.params = p
        self.world = world
        self.figures_class = figures_class
        if world == "shared":
            population = build_population(p, model.rng)
            self.users = _copy_world(model, population)
            self.arrivals = population.arrivals
        else:
            self.users, self.arrivals = _draw_world(model, p)
        self.quarter = 0
        self.n_vendors, self.n_countries = len(p.vendors), len(p.countries)
        self.installed = self.installed_counts()
        model.users = model.agents_by_type[ReferenceUser]

    @property
    def population(self) -> ReferenceUsers:
        return self

    @property
    def n(self) -> int:
        """Users present now (in a growing market, fewer than there will be)."""
        return sum(u.arrival <= self.quarter for u in self.users)

    def __len__(self) -> int:
        return self.n

    def installed_counts(self) -> np.ndarray:
        n_c = self.n_countries
        counts = [0] * (self.n_vendors * n_c * 3)
        for u in self.users:
            if u.vendor >= 0:
                counts[(u.vendor * n_c + u.country) * 3 + u.segment] += 1
        return np.array(counts, dtype=np.int64).reshape(self.n_vendors, n_c, 3)

    def privacy_totals(self) -> np.ndarray:
        """(vendors, countries): recounted over every agent each quarter, as a
        per-object model would."""
        n_c = self.n_countries
        totals = [0.0] * (self.n_vendors * n_c)
        for u in self.users:
            if u.vendor >= 0:
                totals[u.vendor * n_c + u.country] += u.privacy
        return np.array(totals, dtype=np.float64).reshape(self.n_vendors, n_c)

    @property
    def present(self) -> np.ndarray:
        """Users present in each country now."""
        counts = [0] * self.n_countries
        for u in self.users:
            if u.arrival <= self.quarter:
                counts[u.country] += 1
        return np.array(counts, dtype=np.int64)

    def choose(self, offer: Offer) -> QuarterChoices:
        figures = self.figures_class(offer, self.params)
        forced = figures.forced
        hazard = self.params.hazard
        draw = self.model.random.random
        self.quarter = quarter = offer.quarter
        banned = None if offer.banned is None else offer.banned.tolist()
        returned = None if offer.returned is None else offer.returned.tolist()
        choosers = []
        for u in self.users:
            if u.arrival > quarter:
                continue  # not in the market yet
            # One hazard draw per present user and quarter, whether or not it is forced.
            due = draw() < hazard
            u.device_age += 1
            forced_now = forced[u.country][u.segment][u.vendor]
            if (
                forced_now
                and banned is not None
                and u.vendor >= 0
                and banned[u.country][u.segment][u.vendor]
            ):
                u.banned_from = u.vendor
            back = returned is not None and u.banned_from >= 0
            back = back and returned[u.country][u.banned_from]
            if back:
                u.banned_from = NO_VENDOR
            if due or forced_now or back:
                choosers.append(u)
        # Two phases, so that all choosers see last quarter's contacts.
        decisions = [u.choose(figures) for u in choosers]
        n_v, n_c = figures.n_vendors, self.n_countries
        sales = [0] * (n_v * n_c * 3)
        # Counts move with each switch (as in the vectorised market), rather than
        # being recounted over every user.
        installed = self.installed.ravel().tolist()
        welfare, counted = 0.0, 0
        for u, (pick, logsum) in zip(choosers, decisions, strict=True):
            cell = u.country * 3 + u.segment
            if u.vendor >= 0:
                installed[u.vendor * n_c * 3 + cell] -= 1
            u.vendor = pick
            u.device_age = 0
            if pick >= 0:
                sales[pick * n_c * 3 + cell] += 1
                installed[pick * n_c * 3 + cell] += 1
                welfare += logsum
                counted += 1
        self.installed = np.array(installed, dtype=np.int64).reshape(n_v, n_c, 3)
        return QuarterChoices(
            choosers=len(choosers),
            sales=np.array(sales, dtype=np.int64).reshape(n_v, n_c, 3),
            welfare=welfare / counted if counted else 0.0,
        )


class ReferenceMarketModel(MarketModel):
    """:class:`MarketModel` with :class:`ReferenceUsers` as its user side.

    Parameters are those of :class:`MarketModel`, plus ``world``: ``"own"``
    (default) draws the users and contacts per agent from ``model.random``;
    ``"shared"`` copies the vectorised world drawn from the same seed.
    ``model.users`` is the Mesa ``AgentSet`` of :class:`ReferenceUser`.
    """

    #: What users see each quarter; a subclass may swap it (the equivalence tests
    #: use that to check that a wrong rule is caught).
    figures_class: type[QuarterFigures] = QuarterFigures

    def __init__(
        self,
        params: Params | str | None = None,
        *,
        scenario: Any = None,
        rng: Any = None,
        world: str = "own",
        **overrides: Any,
    ) -> None:
        def users(model: MarketModel) -> ReferenceUsers:
            return ReferenceUsers(model, world, self.figures_class)

        super().__init__(params, scenario=scenario, rng=rng, user_market=users, **overrides)
        self.world = world


# ------------------------------------------------------------------- worlds
def _poisson(random: Any, lam: float) -> int:
    """A Poisson draw by inversion (one uniform; the stdlib has no Poisson)."""
    if lam <= 0:
        return 0
    u = random.random()
    k, term = 0, math.exp(-lam)
    cum = term
    cap = int(lam * 10 + 100)  # guards the float sum that may stop just short of u
    while u > cum and k < cap:
        k += 1
        term *= lam / k
        cum += term
    return k


def _draw_world(model: mesa.Model, p: Params) -> tuple[list[ReferenceUser], np.ndarray]:
    """Users and contacts drawn per agent from ``model.random``, by the rules of
    :func:`privmarket.sim.world.build_population` (country by population, segment by the
    country's mix, gamma privacy sensitivity, lognormal price sensitivity,
    initial vendor by initial share times segment affinity, Poisson contacts,
    mostly at home)."""
    rnd = model.random
    n_c, n_v = len(p.countries), len(p.vendors)
    pops = [c.population * c.oversample for c in p.countries]
    cum_pop = list(accumulate(pops))
    countries = rnd.choices(range(n_c), cum_weights=cum_pop, k=p.n_users)
    countries.sort()  # users are stored by country, as in the vectorised world
    cum_mix = [list(accumulate(c.segment_mix)) for c in p.countries]
    means = [m * p.privacy_salience for m in p.privacy_sensitivity]
    cv = p.privacy_dispersion
    shape = 1.0 / cv**2 if cv**2 > 0 else math.inf  # as sim.world: tiny cv, no spread
    spread = math.isfinite(shape)
    sigma = p.price_sensitivity_spread
    w = [[v.initial_share * a for a in v.segment_affinity] for v in p.vendors]
    cum_w = []
    for s in range(3):
        col = [w[v][s] for v in range(n_v)]
        if sum(col) <= 0:
            col = [sum(w[v]) for v in range(n_v)]
        cum_w.append(list(accumulate(col)))
    max_age = max(int(round(p.initial_age_cycles / p.hazard)) if p.hazard > 0 else 8, 1)
    vendors = range(n_v)
    initial = np.bincount(countries, minlength=n_c)
    later = arrivals(p, initial, country_scale(p, initial))
    # Each country's users: those there at the start, then those who arrive later
    # (with no vendor yet), in the order they arrive.
    entries = []
    for c in range(n_c):
        entries += [(c, 0)] * int(initial[c])
        for t in range(1, len(later)):
            entries += [(c, t)] * int(later[t, c])
    users = []
    for c, t in entries:
        x = rnd.random()
        seg = (x >= cum_mix[c][0]) + (x >= cum_mix[c][1])
        privacy = means[seg] * (rnd.gammavariate(shape, 1.0) / shape if spread else 1.0)
        price_sens = rnd.lognormvariate(-(sigma**2) / 2, sigma)
        if t == 0:
            vendor = rnd.choices(vendors, cum_weights=cum_w[seg])[0]
            age = rnd.randrange(max_age)
        else:
            vendor, age = NO_VENDOR, 0
        users.append(ReferenceUser(model, c, seg, privacy, price_sens, vendor, age, t))
    # Contacts: a Poisson number each; abroad with the segment's cross-border
    # chance, in a country drawn by population; a uniform user of that country.
    members: list[list[ReferenceUser]] = [[] for _ in range(n_c)]
    for u in users:
        members[u.country].append(u)
    non_empty = [c for c in range(n_c) if members[c]]
    cum_sizes = list(accumulate(len(members[c]) for c in non_empty))
    k = p.contacts_mean_degree
    cross = [p.contacts_cross_border] + [p.contacts_cross_border_enterprise] * 2
    for u in users:
        degree = _poisson(rnd, k)
        if not degree:
            continue
        chance = cross[u.segment]
        home = members[u.country]
        picked = []
        for _ in range(degree):
            if rnd.random() < chance:
                group = members[rnd.choices(non_empty, cum_weights=cum_sizes)[0]]
            else:
                group = home
            picked.append(group[int(rnd.random() * len(group))])
        u.contacts = picked
    return users, later


def _copy_world(model: mesa.Model, pop: Any) -> list[ReferenceUser]:
    """Agents that copy the vectorised population row by row (same users, same contacts)."""
    cols = [
        pop.country.tolist(),
        pop.segment.tolist(),
        pop.privacy.tolist(),
        pop.price_sens.tolist(),
        pop.vendor.tolist(),
        pop.device_age.tolist(),
    ]
    arrival = np.zeros(pop.n, dtype=np.int64)
    for c in range(len(pop.initial)):
        row = int(pop.block_start[c] + pop.initial[c])
        for t in range(1, len(pop.arrivals)):
            k = int(pop.arrivals[t, c])
            arrival[row : row + k] = t
            row += k
    cols.append(arrival.tolist())
    users = [ReferenceUser(model, *row) for row in zip(*cols, strict=True)]
    indptr, indices = pop.indptr.tolist(), pop.indices.tolist()
    for i, u in enumerate(users):
        u.contacts = [users[j] for j in indices[indptr[i] : indptr[i + 1]]]
    return users

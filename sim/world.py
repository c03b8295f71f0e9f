"""Building the world from parameters: the user population and its contact graph.

Everything random draws from the generator passed in (the model's), in a fixed
order, so the same parameters and seed build the same world.
"""

from __future__ import annotations

import math

import numpy as np

from privmarket.agents.user_market import NO_VENDOR, UserPopulation
from privmarket.sim.growth import arrivals
from privmarket.sim.params import Params

#: Users per chunk when drawing contacts. Each chunk makes its draws in a fixed
#: order (who is abroad, then where abroad, then whom), so this number is part of
#: what a seed means for worlds larger than one chunk: do not change it.
CONTACT_CHUNK = 1_000_000

#: Users per block inside a chunk. Blocks only bound temporary memory: a chunk's
#: uniform draws made block by block are the same numbers as made at once.
#: Drawing a whole chunk at once held about 60 bytes per edge of temporaries
#: (650 MB at 10M users, the largest peak of a 10M-user run); blocks hold a few MB.
BLOCK = 65_536


def country_sizes(params: Params, rng: np.random.Generator) -> np.ndarray:
    """Simulated users per country, proportional to real population times ``oversample``
    (multinomial)."""
    pop = np.array([c.population * c.oversample for c in params.countries], dtype=np.float64)
    return rng.multinomial(params.n_users, pop / pop.sum()).astype(np.int64)


def country_scale(params: Params, initial: np.ndarray) -> np.ndarray:
    """Real users per simulated user in each country (the same everywhere unless a
    country is oversampled)."""
    real = np.array([c.population for c in params.countries], dtype=np.float64) * 1e6
    return np.where(initial > 0, real / np.maximum(initial, 1), params.scale)


def build_population(params: Params, rng: np.random.Generator) -> UserPopulation:
    """Draw every user's country, segment, sensitivities, vendor and contacts.

    Users are stored sorted by country, so a country's users are one contiguous
    block; contact draws and per-country counts rely on this. In a growing
    market the store holds every user the run will have: in each country's block
    the users there at the start come first, with a vendor, and those who
    arrive later follow in the order they arrive, with none yet
    (``UserPopulation.arrivals``, see :mod:`privmarket.sim.growth`).
    """
    initial = country_sizes(params, rng)
    pop_scale = country_scale(params, initial)
    later = arrivals(params, initial, pop_scale)
    sizes = initial + later.sum(axis=0)
    n = int(sizes.sum())
    pop = UserPopulation(n)
    pop.country[:] = np.repeat(np.arange(len(sizes), dtype=np.int16), sizes)
    pop.block_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    pop.initial = initial
    pop.arrivals = later
    pop.scale = pop_scale
    present = None  # every user is there from the start
    if later.any():
        present = np.zeros(n, dtype=bool)
        for c, k in enumerate(initial):
            present[pop.block_start[c] : pop.block_start[c] + k] = True

    # Segment: by the country's segment mix, one country block at a time (a
    # (users, 3) table of mixes would dominate the build's peak memory).
    _draw_segments(pop, params, sizes, rng)

    # Privacy sensitivity: gamma with the segment's mean and coefficient of
    # variation `privacy_dispersion` (a skewed, non-negative spread: most users
    # care a little, a few care a lot, as the stated/revealed gap suggests).
    means = np.asarray(params.privacy_sensitivity, dtype=np.float64) * params.privacy_salience
    cv = params.privacy_dispersion
    # A cv so small that 1 / cv^2 overflows (or cv^2 underflows) is no spread.
    shape = 1.0 / cv**2 if cv**2 > 0 else math.inf
    if math.isfinite(shape):
        draws = rng.gamma(shape, 1.0, size=n)
        draws /= shape
    else:
        draws = np.ones(n)
    draws *= means[pop.segment]
    pop.privacy[:] = draws
    del draws

    # Price sensitivity: lognormal with mean 1.
    sigma = params.price_sensitivity_spread
    pop.price_sens[:] = rng.lognormal(-(sigma**2) / 2, sigma, size=n).astype(np.float32)

    # Initial vendor, by initial installed-base weights times the vendor's
    # affinity with the user's segment (a vendor strong with enterprises);
    # where a vendor's share of a country is known, by that share there.
    if any(v.country_shares for v in params.vendors):
        _draw_vendors_by_country(pop, params, present, rng)
    else:
        w = np.array(
            [[v.initial_share * a for a in v.segment_affinity] for v in params.vendors],
            dtype=np.float64,
        )  # (vendors, segments)
        for s in range(3):
            in_s = pop.segment == s
            if present is not None:
                in_s &= present  # those still to come have no vendor yet
            col = w[:, s] if w[:, s].sum() > 0 else w.sum(axis=1)
            pop.vendor[in_s] = rng.choice(len(col), size=int(in_s.sum()), p=col / col.sum())
        del in_s
    # Ages spread over a few replacement cycles (a market already in its
    # replacement rhythm), capped at 100 years (an int16 and a tiny hazard must
    # not overflow).
    cycles = params.initial_age_cycles
    max_age = int(round(min(cycles / params.hazard, 400))) if params.hazard > 0 else 8
    pop.device_age[:] = rng.integers(0, max(max_age, 1), size=n, dtype=np.int16)

    build_contacts(pop, params, sizes, rng)
    assert present is not None or (pop.vendor != NO_VENDOR).all()
    return pop


def _draw_vendors_by_country(
    pop: UserPopulation, params: Params, present: np.ndarray | None, rng: np.random.Generator
) -> None:
    """Initial vendors country by country: a vendor with a known share of a country
    holds about that share there (its segment affinity tilts it toward some
    segments); the others share the rest by their initial_share weights."""
    vendors = params.vendors
    affinity = np.array([v.segment_affinity for v in vendors], dtype=np.float64)  # (V, 3)
    for c, country in enumerate(params.countries):
        known = np.array([v.country_shares.get(country.name, np.nan) for v in vendors])
        share = np.where(np.isnan(known), 0.0, known)
        rest = np.isnan(known)
        free = max(0.0, 1.0 - share.sum())
        weights = np.array([v.initial_share for v in vendors]) * rest
        if weights.sum() > 0:
            share = share + free * weights / weights.sum()
        lo, hi = int(pop.block_start[c]), int(pop.block_start[c + 1])
        for s in range(3):
            rows = np.flatnonzero(pop.segment[lo:hi] == s) + lo
            if present is not None:
                rows = rows[present[rows]]
            col = share * affinity[:, s]
            if col.sum() <= 0:
                col = share if share.sum() > 0 else np.ones(len(vendors))
            pop.vendor[rows] = rng.choice(len(col), size=len(rows), p=col / col.sum())


def _draw_segments(
    pop: UserPopulation, params: Params, sizes: np.ndarray, rng: np.random.Generator
) -> None:
    """Each user's segment, by its country's segment mix (one uniform per user)."""
    cum_mix = np.cumsum([c.segment_mix for c in params.countries], axis=1)
    u = rng.random(pop.n)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    for c in np.flatnonzero(sizes):
        block = u[bounds[c] : bounds[c + 1]]
        seg = pop.segment[bounds[c] : bounds[c + 1]]
        np.greater_equal(block, cum_mix[c, 0], out=seg, casting="unsafe")
        seg += block >= cum_mix[c, 1]


def build_contacts(
    pop: UserPopulation, params: Params, sizes: np.ndarray, rng: np.random.Generator
) -> None:
    """A directed contact graph in CSR form, mostly within each country.

    Each user draws a Poisson number of contacts (mean ``contacts_mean_degree``).
    Each contact is abroad with the user's cross-border chance (higher for
    enterprise and government users), in a country drawn by population, and is a
    uniformly drawn user of the chosen country.
    """
    n = pop.n
    k = params.contacts_mean_degree
    indptr = np.zeros(n + 1, dtype=np.int64)
    if k > 0:
        np.cumsum(rng.poisson(k, size=n), out=indptr[1:])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    non_empty = np.flatnonzero(sizes > 0)
    weights = sizes[non_empty] / sizes[non_empty].sum()
    cross = np.array(
        [params.contacts_cross_border] + [params.contacts_cross_border_enterprise] * 2
    )  # by segment
    # int32 ids address 2^31 users; the int64 indptr allows more than 2^31 edges.
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    for lo in range(0, n, CONTACT_CHUNK):
        hi = min(n, lo + CONTACT_CHUNK)
        first = int(indptr[lo])
        total = int(indptr[hi]) - first
        if total == 0:
            continue
        deg = np.diff(indptr[lo : hi + 1])
        blocks = [(a, min(hi, a + BLOCK)) for a in range(lo, hi, BLOCK)]
        # Who is abroad: with the cross-border chance of the user's segment.
        abroad = np.empty(total, dtype=bool)
        for a, b in blocks:
            e_a, e_b = int(indptr[a]) - first, int(indptr[b]) - first
            chance = np.repeat(cross[pop.segment[a:b]], deg[a - lo : b - lo])
            np.less(rng.random(e_b - e_a), chance, out=abroad[e_a:e_b])
        # Where: at home, or abroad in a country drawn by population.
        target = np.repeat(pop.country[lo:hi], deg)
        n_abroad = int(abroad.sum())
        if n_abroad:
            target[abroad] = non_empty[rng.choice(len(non_empty), n_abroad, p=weights)]
        del abroad
        # Whom: a uniformly drawn user of that country.
        for a, b in blocks:
            e_a, e_b = int(indptr[a]) - first, int(indptr[b]) - first
            t = target[e_a:e_b]
            offset = (rng.random(e_b - e_a) * sizes[t]).astype(np.int64)
            offset += starts[t]
            indices[first + e_a : first + e_b] = offset
    pop.indptr = indptr
    pop.indices = indices

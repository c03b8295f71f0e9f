"""Building the world from parameters: the user population and its contact graph.

Everything random draws from the generator passed in (the model's), in a fixed
order, so the same parameters and seed build the same world.
"""

from __future__ import annotations

import numpy as np

from agents.users import NO_VENDOR, UserPopulation
from sim.params import Params

#: Users handled per chunk when drawing contacts. Bounds the temporary memory
#: (about 60 bytes per edge) so that 10M users fit in a few GB.
CONTACT_CHUNK = 1_000_000


def country_sizes(params: Params, rng: np.random.Generator) -> np.ndarray:
    """Simulated users per country, proportional to real population (multinomial)."""
    pop = np.array([c.population for c in params.countries], dtype=np.float64)
    return rng.multinomial(params.n_users, pop / pop.sum()).astype(np.int64)


def build_population(params: Params, rng: np.random.Generator) -> UserPopulation:
    """Draw every user's country, segment, sensitivities, vendor and contacts.

    Users are stored sorted by country, so a country's users are one contiguous
    block; contact draws and per-country tallies rely on this.
    """
    n = params.n_users
    pop = UserPopulation(n)
    sizes = country_sizes(params, rng)
    pop.country[:] = np.repeat(np.arange(len(sizes), dtype=np.int16), sizes)

    # Segment: by the country's segment mix.
    cum_mix = np.cumsum([c.segment_mix for c in params.countries], axis=1)
    u = rng.random(n)
    seg = (u[:, None] >= cum_mix[pop.country][:, :2]).sum(axis=1)
    pop.segment[:] = seg.astype(np.int8)

    # Privacy sensitivity: gamma with the segment's mean and coefficient of
    # variation `privacy_dispersion` (a skewed, non-negative spread: most users
    # care a little, a few care a lot, as the stated/revealed gap suggests).
    means = np.asarray(params.privacy_sensitivity, dtype=np.float64) * params.privacy_salience
    cv = params.privacy_dispersion
    if cv > 0:
        shape = 1.0 / cv**2
        draws = rng.gamma(shape, 1.0, size=n) / shape
    else:
        draws = np.ones(n)
    pop.privacy[:] = (means[pop.segment] * draws).astype(np.float32)

    # Price sensitivity: lognormal with mean 1.
    sigma = params.price_sensitivity_spread
    pop.price_sens[:] = rng.lognormal(-(sigma**2) / 2, sigma, size=n).astype(np.float32)

    # Initial vendor, by initial installed-base weights times the vendor's
    # affinity with the user's segment (a vendor strong with enterprises);
    # then initial device ages.
    w = np.array(
        [[v.initial_share * a for a in v.segment_affinity] for v in params.vendors],
        dtype=np.float64,
    )  # (vendors, segments)
    for s in range(3):
        rows = np.flatnonzero(pop.segment == s)
        col = w[:, s] if w[:, s].sum() > 0 else w.sum(axis=1)
        pop.vendor[rows] = rng.choice(len(col), size=len(rows), p=col / col.sum())
    # Ages spread over two replacement cycles, capped at 100 years (an int16 and
    # a tiny hazard must not overflow).
    max_age = int(round(min(2 / params.hazard, 400))) if params.hazard > 0 else 8
    pop.device_age[:] = rng.integers(0, max(max_age, 1), size=n, dtype=np.int16)

    build_contacts(pop, params, sizes, rng)
    assert (pop.vendor != NO_VENDOR).all()
    return pop


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
    degree = rng.poisson(k, size=n).astype(np.int64) if k > 0 else np.zeros(n, np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    non_empty = np.flatnonzero(sizes > 0)
    weights = sizes[non_empty] / sizes[non_empty].sum()
    cross = np.where(
        pop.segment == 0, params.contacts_cross_border, params.contacts_cross_border_enterprise
    )
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(degree, out=indptr[1:])
    # int32 ids address 2^31 users; the int64 indptr allows more than 2^31 edges.
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    for lo in range(0, n, CONTACT_CHUNK):
        hi = min(n, lo + CONTACT_CHUNK)
        deg = degree[lo:hi]
        total = int(deg.sum())
        if total == 0:
            continue
        owner = np.repeat(np.arange(lo, hi), deg)
        own_country = pop.country[owner].astype(np.int64)
        abroad = rng.random(total) < cross[owner]
        target_country = own_country.copy()
        n_abroad = int(abroad.sum())
        if n_abroad:
            target_country[abroad] = non_empty[rng.choice(len(non_empty), n_abroad, p=weights)]
        offset = (rng.random(total) * sizes[target_country]).astype(np.int64)
        indices[indptr[lo] : indptr[hi]] = (starts[target_country] + offset).astype(np.int32)
    pop.indptr = indptr
    pop.indices = indices

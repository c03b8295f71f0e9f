"""The optimised pieces of the users' quarter against plain, obviously-correct versions.

Each trick of the hot path (see docs/performance.md) must give exactly what the
straightforward computation gives: running tallies against full recounts,
CSR gathers against a loop over users, the column-loop logit draw against
numpy's row reductions, block-wise world building against building at once.
"""

from __future__ import annotations

import numpy as np
import pytest

import privmarket.agents.user_market as users_mod
import privmarket.sim.world as world
from privmarket.agents.user_market import (
    COLUMN_LOOP_MAX,
    NO_VENDOR,
    UserMarket,
    UserPopulation,
    gumbel_argmax,
)
from privmarket.sim.model import MarketModel
from privmarket.sim.params import Params


def naive_installed(m: MarketModel) -> np.ndarray:
    pop = m.population
    out = np.zeros_like(m.installed)
    for v, c, s in zip(pop.vendor, pop.country, pop.segment, strict=True):
        if v != NO_VENDOR:
            out[v, c, s] += 1
    return out


def test_running_tallies_equal_full_recounts_every_quarter():
    # appetite and demand rate high: bans and exits force switches too
    m = MarketModel(n_users=3_000, rng=5, **{"countries.*.appetite": 0.9, "demand_rate": 1.0})
    forced_seen = False
    for _ in range(20):
        before = m.population.vendor.copy()
        m.step()
        np.testing.assert_array_equal(m.installed, naive_installed(m))
        np.testing.assert_array_equal(
            m.installed, m.population.installed_counts(*m.installed.shape[:2])
        )
        changed = before != m.population.vendor
        assert m.choosers >= changed.sum()
        forced_seen |= any((v.presence != 0).any() for v in m.vendor_list)
        pop = m.population
        priv = np.zeros(m.installed.shape[:2])  # (vendors, countries)
        for v, c, z in zip(pop.vendor, pop.country, pop.privacy, strict=True):
            if v != NO_VENDOR:  # users still to arrive have no vendor
                priv[v, c] += z  # sequential float64 sum, as bincount does
        np.testing.assert_array_equal(pop.privacy_totals(*priv.shape), priv)
        # the running sums the model reads stay within rounding of the recount
        np.testing.assert_allclose(m.user_market.privacy_totals(), priv, rtol=1e-12)
    assert forced_seen


def test_writing_a_vendor_through_a_user_view_recounts():
    m = MarketModel(n_users=1_000, rng=1)
    u = m.users[7]
    new = (u.vendor + 1) % len(m.vendor_list)
    u.vendor = new
    np.testing.assert_array_equal(m.installed, naive_installed(m))
    m.step()
    np.testing.assert_array_equal(m.installed, naive_installed(m))


def test_contact_shares_equal_a_loop_over_users(monkeypatch):
    m = MarketModel(n_users=4_000, rng=2).run(2)
    pop = m.population
    # Contacts with no vendor (not yet arrived, or set so here) count nowhere:
    # shares are among the contacts who have a vendor.
    pop.vendor[::17] = NO_VENDOR
    assert (pop.vendor == NO_VENDOR).sum() > pop.n // 17 + 1  # arrivals to come, too
    n_v = len(m.vendor_list)
    rows = np.flatnonzero(np.random.default_rng(0).random(pop.n) < 0.3)
    expected = np.zeros((len(rows), n_v), dtype=np.float32)
    for i, r in enumerate(rows):
        with_vendor = 0
        for c in pop.contacts_of(r):
            if pop.vendor[c] >= 0:
                expected[i, pop.vendor[c]] += 1
                with_vendor += 1
        expected[i] /= max(with_vendor, 1)
    whole = pop.contact_shares(rows, n_v)
    np.testing.assert_allclose(whole, expected, rtol=1e-6)
    # row blocks give the same numbers
    monkeypatch.setattr(users_mod, "ROW_BLOCK", 97)
    np.testing.assert_array_equal(pop.contact_shares(rows, n_v), whole)
    assert pop.contact_shares(rows[:0], n_v).shape == (0, n_v)


def test_tracked_contact_counts_equal_the_gather_every_quarter():
    # bans and exits force switches, and a failed vendor's users drift away
    m = MarketModel(n_users=4_000, rng=3, **{"countries.*.appetite": 0.9, "demand_rate": 1.0})
    pop, n_v, n_c = m.population, len(m.vendor_list), len(m.government_list)
    everyone = np.arange(pop.n)
    # the reverse graph: j's followers are exactly the users that list j
    naive = [[] for _ in range(pop.n)]
    for i in range(pop.n):
        for j in pop.contacts_of(i):
            naive[j].append(i)
    for j in range(pop.n):
        mine = pop.followers[pop.followers_ptr[j] : pop.followers_ptr[j + 1]]
        assert sorted(mine.tolist()) == naive[j]
    moved = 0
    for _ in range(20):
        before = pop.vendor.copy()
        m.step()
        moved += int((before != pop.vendor).sum())
        # bit for bit what the gather over the CSR graph gives
        np.testing.assert_array_equal(
            pop.tracked_contact_shares(everyone, n_v), pop.contact_shares(everyone, n_v)
        )
        # the running privacy sums stay within rounding of a recount
        np.testing.assert_allclose(
            m.user_market.privacy_totals(), pop.privacy_totals(n_v, n_c), rtol=1e-12
        )
    assert moved > 1_000


def test_tracked_counts_follow_a_write_through_a_user_view():
    m = MarketModel(n_users=1_000, rng=1).run(2)
    pop, n_v, n_c = m.population, len(m.vendor_list), len(m.government_list)
    present = np.flatnonzero(pop.vendor != NO_VENDOR)
    known_by = np.diff(pop.followers_ptr)[present]
    followed = int(present[np.argmax(known_by)])  # a user there now whom many know
    u = m.users[followed]
    u.vendor = (u.vendor + 1) % n_v
    everyone = np.arange(pop.n)
    np.testing.assert_array_equal(
        pop.tracked_contact_shares(everyone, n_v), pop.contact_shares(everyone, n_v)
    )
    np.testing.assert_allclose(
        m.user_market.privacy_totals(), pop.privacy_totals(n_v, n_c), rtol=1e-12
    )


def test_no_contact_term_tracks_no_contacts():
    m = MarketModel(n_users=1_000, rng=1, b_contacts=0.0).run(2)
    assert m.population.contact_counts is None and m.population.followers is None


@pytest.mark.parametrize("n_v", [1, 2, 4, COLUMN_LOOP_MAX, COLUMN_LOOP_MAX + 1, 12])
def test_logit_draw_equals_row_reductions(n_v):
    rng = np.random.default_rng(n_v)
    util = rng.normal(size=(5_000, n_v)) * 2
    avail = rng.random((5_000, n_v)) < 0.7
    avail[:50] = False  # rows with nothing available
    avail[50:100] = np.arange(n_v) == n_v - 1  # rows with one vendor available
    choice, logsum = gumbel_argmax(util, avail, np.random.default_rng(1))
    # the same uniforms, reduced the plain way
    g = np.random.default_rng(1).random(util.shape, dtype=np.float32)
    g = np.clip(g, np.finfo(np.float32).tiny, 1 - np.finfo(np.float32).eps)
    u = np.where(avail, util, -np.inf)
    expected = np.argmax(u - np.log(-np.log(g)), axis=1)
    expected[~avail.any(axis=1)] = -1
    np.testing.assert_array_equal(choice, expected)
    with np.errstate(divide="ignore"):
        top = np.where(avail.any(axis=1), u.max(axis=1), 0.0)
        ls = top + np.log(np.exp(u - top[:, None]).sum(axis=1))
    ls[~avail.any(axis=1)] = -np.inf
    np.testing.assert_allclose(logsum, ls, rtol=1e-12)
    # a row with one vendor available: its log-sum is that vendor's utility, exactly
    one = avail.sum(axis=1) == 1
    assert one.any()
    np.testing.assert_array_equal(logsum[one], u[one].max(axis=1))
    np.testing.assert_array_equal(logsum[one], ls[one])
    # every column available: the same draw without the mask
    c_all, l_all = gumbel_argmax(util, None, np.random.default_rng(2))
    c_mask, l_mask = gumbel_argmax(util, np.ones_like(avail), np.random.default_rng(2))
    np.testing.assert_array_equal(c_all, c_mask)
    np.testing.assert_array_equal(l_all, l_mask)


def test_world_built_in_blocks_is_the_world_built_at_once(monkeypatch):
    params = Params(n_users=30_000)
    a = world.build_population(params, np.random.default_rng(9))
    monkeypatch.setattr(world, "BLOCK", 1_000)
    b = world.build_population(params, np.random.default_rng(9))
    for name in ("country", "segment", "privacy", "price_sens", "vendor", "device_age"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    # users are stored by country; contacts are real users, mostly at home
    assert (np.diff(a.country) >= 0).all()
    assert a.indices.min() >= 0 and a.indices.max() < a.n
    owner = np.repeat(np.arange(a.n), np.diff(a.indptr))
    assert (a.country[a.indices] == a.country[owner]).mean() > 0.8
    # a spread too small to square is no spread, not a crash
    tiny = world.build_population(
        Params(n_users=50, privacy_dispersion=5e-324), np.random.default_rng(0)
    )
    assert np.isfinite(tiny.privacy).all()


def bare_market(n: int, seed: int) -> UserMarket:
    """A real user market of ``n`` users in one country, all there from the start."""
    return UserMarket(UserPopulation(n), Params(), 1, 1, np.random.default_rng(seed))


def test_due_users_drawn_by_gaps_are_bernoulli_draws():
    n, h = 200_000, 0.1
    market = bare_market(n, 4)
    rows = market._due_rows(h)
    assert (np.diff(rows) > 0).all() and rows[0] >= 0 and rows[-1] < n
    # the count is binomial(n, h): within 5 standard deviations
    assert abs(len(rows) - n * h) < 5 * (n * h * (1 - h)) ** 0.5
    # every user equally likely: due users spread evenly over ten slices
    per_slice = np.bincount(rows * 10 // n, minlength=10)
    expected = n * h / 10
    chi2 = float(((per_slice - expected) ** 2 / expected).sum())
    assert chi2 < 30  # 9 degrees of freedom: p ~ 4e-4
    # and the gaps are geometric: P(gap = 1) = h
    assert abs((np.diff(rows) == 1).mean() - h) < 0.01
    # edges: nobody, everybody, a hazard so small its gaps overflow, and a draw
    # that needs more than one batch of gaps
    assert len(market._due_rows(0.0)) == 0
    np.testing.assert_array_equal(bare_market(50, 0)._due_rows(1.0), np.arange(50))
    assert len(market._due_rows(1e-45)) == 0
    assert len(bare_market(10, 0)._due_rows(0.999)) >= 8
    # same seed, same draws
    np.testing.assert_array_equal(bare_market(n, 4)._due_rows(h), rows)


def test_due_users_of_a_growing_market_are_only_those_there_now():
    m = MarketModel(n_users=20_000, rng=4)  # the baseline market grows
    market, pop = m.user_market, m.population
    assert market.growing
    there = np.concatenate(
        [np.arange(s, s + k) for s, k in zip(pop.block_start[:-1], pop.initial, strict=True)]
    )
    assert len(there) == market.n < pop.n
    # everybody due: exactly the users there now, none still to arrive
    np.testing.assert_array_equal(market._due_rows(1.0), there)
    # some due: among them, binomial in number, spread evenly over them
    h = 0.3
    rows = market._due_rows(h)
    assert (np.diff(rows) > 0).all() and np.isin(rows, there).all()
    k = len(there)
    assert abs(len(rows) - k * h) < 5 * (k * h * (1 - h)) ** 0.5
    rank = np.searchsorted(there, rows)  # position among the users there
    per_slice = np.bincount(rank * 10 // k, minlength=10)
    expected = len(rows) / 10
    assert float(((per_slice - expected) ** 2 / expected).sum()) < 30


def test_forced_users_by_country_block_equal_the_lookup_over_everyone():
    m = MarketModel(n_users=5_000, rng=6).run(2)  # the market grows: some still to come
    market, pop = m.user_market, m.population
    there = np.zeros(pop.n, dtype=bool)
    for lo, hi in zip(pop.block_start[:-1], market.active_end, strict=True):
        there[lo:hi] = True
    assert not there.all()
    present_rows = np.flatnonzero(there)
    pop.vendor[present_rows[::50]] = NO_VENDOR  # users with no vendor are always forced
    market.recount()
    rng = np.random.default_rng(0)
    n_c, n_v = len(m.government_list), len(m.vendor_list)
    forced = np.ones((n_c, 3, n_v + 1), dtype=bool)
    forced[:, :, :n_v] = rng.random((n_c, 3, n_v)) < 0.2
    banned = forced[:, :, :n_v] & (rng.random((n_c, 3, n_v)) < 0.5)
    unvended = m.installed.sum(axis=(0, 2)) < market.present
    assert unvended.any()
    pop.banned_from[:] = NO_VENDOR

    def cell(i):
        return pop.country[i], pop.segment[i], pop.vendor[i] if pop.vendor[i] >= 0 else n_v

    # every user there now whose cell is forced; nobody still to arrive
    expected = [i for i in range(pop.n) if there[i] and forced[cell(i)]]
    np.testing.assert_array_equal(market._forced_rows(forced, unvended, banned), expected)
    # those a ban forced off remember the vendor, to come back when it is lifted
    off = [i for i in expected if pop.vendor[i] >= 0 and banned[cell(i)]]
    assert off
    np.testing.assert_array_equal(np.flatnonzero(pop.banned_from != NO_VENDOR), off)
    np.testing.assert_array_equal(pop.banned_from[off], pop.vendor[off])
    # users stay stored by country: a user's country cannot be rewritten
    with pytest.raises(AttributeError, match="country is fixed"):
        m.users[0].country = n_c - 1


def test_the_quarter_record_equals_the_model_and_the_reporters():
    m = MarketModel(n_users=3_000, rng=2, **{"countries.*.appetite": 0.9, "demand_rate": 1.0})
    for _ in range(12):
        m.step()
        row = m.table().iloc[-1]
        np.testing.assert_allclose(row["privacy_exposure"], m.exposure(), rtol=0)
        for v in m.vendor_list:
            assert row[f"{v.name}.installed_share"] == m.installed_share()[v.index]
            assert row[f"{v.name}.sales_share"] == m.sales_share()[v.index]
        for g in m.government_list:
            assert row[f"{g.name}.readable_share"] == m.readable_share()[g.country]
    # Mesa's DataCollector reads the same record
    dc = m.datacollector.get_model_vars_dataframe().iloc[-1]
    assert dc["privacy_exposure"] == m.table().iloc[-1]["privacy_exposure"]
    assert dc["bans"] == m.summary()["bans"]


def test_choosers_and_movers_in_blocks_give_the_same_run(monkeypatch):
    kw = dict(n_users=3_000, rng=8, **{"countries.*.appetite": 0.9, "demand_rate": 1.0})
    whole = MarketModel(**kw).run(12)
    monkeypatch.setattr(users_mod, "CHOICE_BLOCK", 97)
    monkeypatch.setattr(users_mod, "MOVE_BLOCK", 13)
    blocked = MarketModel(**kw).run(12)
    np.testing.assert_array_equal(blocked.population.vendor, whole.population.vendor)
    np.testing.assert_array_equal(
        blocked.population.contact_counts, whole.population.contact_counts
    )
    assert blocked.table().equals(whole.table())

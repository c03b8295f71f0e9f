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
from privmarket.agents.user_market import COLUMN_LOOP_MAX, NO_VENDOR, gumbel_argmax
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
        priv = np.zeros(len(m.vendor_list))
        for v, z in zip(m.population.vendor, m.population.privacy, strict=True):
            priv[v] += z  # sequential float64 sum, as bincount does
        np.testing.assert_array_equal(m.population.privacy_totals(len(priv)), priv)
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
    pop.vendor[::17] = NO_VENDOR  # contacts with no vendor count only in the denominator
    n_v = len(m.vendor_list)
    rows = np.flatnonzero(np.random.default_rng(0).random(pop.n) < 0.3)
    expected = np.zeros((len(rows), n_v), dtype=np.float32)
    for i, r in enumerate(rows):
        contacts = pop.contacts_of(r)
        for c in contacts:
            if pop.vendor[c] >= 0:
                expected[i, pop.vendor[c]] += 1
        expected[i] /= max(len(contacts), 1)
    whole = pop.contact_shares(rows, n_v)
    np.testing.assert_allclose(whole, expected, rtol=1e-6)
    # row blocks give the same numbers
    monkeypatch.setattr(users_mod, "ROW_BLOCK", 97)
    np.testing.assert_array_equal(pop.contact_shares(rows, n_v), whole)
    assert pop.contact_shares(rows[:0], n_v).shape == (0, n_v)


def test_tracked_contact_counts_equal_the_gather_every_quarter():
    # bans and exits force switches, and a failed vendor's users drift away
    m = MarketModel(n_users=4_000, rng=3, **{"countries.*.appetite": 0.9, "demand_rate": 1.0})
    pop, n_v = m.population, len(m.vendor_list)
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
            m.user_market.privacy_totals(), pop.privacy_totals(n_v), rtol=1e-12
        )
    assert moved > 1_000


def test_tracked_counts_follow_a_write_through_a_user_view():
    m = MarketModel(n_users=1_000, rng=1).run(2)
    pop, n_v = m.population, len(m.vendor_list)
    followed = int(np.argmax(np.diff(pop.followers_ptr)))  # someone many users know
    u = m.users[followed]
    u.vendor = (u.vendor + 1) % n_v
    everyone = np.arange(pop.n)
    np.testing.assert_array_equal(
        pop.tracked_contact_shares(everyone, n_v), pop.contact_shares(everyone, n_v)
    )
    np.testing.assert_allclose(m.user_market.privacy_totals(), pop.privacy_totals(n_v), rtol=1e-12)


def test_no_contact_term_tracks_no_contacts():
    m = MarketModel(n_users=1_000, rng=1, b_contacts=0.0).run(2)
    assert m.population.contact_counts is None and m.population.followers is None


@pytest.mark.parametrize("n_v", [1, 2, 4, COLUMN_LOOP_MAX, COLUMN_LOOP_MAX + 1, 12])
def test_logit_draw_equals_row_reductions(n_v):
    rng = np.random.default_rng(n_v)
    util = rng.normal(size=(5_000, n_v)) * 2
    avail = rng.random((5_000, n_v)) < 0.7
    avail[:50] = False  # rows with nothing available
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


def test_due_users_drawn_by_gaps_are_bernoulli_draws():
    m = MarketModel(n_users=1_000, rng=4)
    n, h = 200_000, 0.1
    rows = m.user_market._due_rows(n, h)
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
    assert len(m.user_market._due_rows(n, 0.0)) == 0
    np.testing.assert_array_equal(m.user_market._due_rows(50, 1.0), np.arange(50))
    assert len(m.user_market._due_rows(n, 1e-45)) == 0
    assert len(m.user_market._due_rows(10, 0.999)) >= 8
    # same seed, same draws
    again = MarketModel(n_users=1_000, rng=4).user_market._due_rows(n, h)
    np.testing.assert_array_equal(again, rows)


def test_forced_users_by_country_block_equal_the_lookup_over_everyone():
    m = MarketModel(n_users=5_000, rng=6).run(2)
    pop = m.population
    pop.vendor[::50] = NO_VENDOR  # users with no vendor are always forced
    m.user_market.recount()
    rng = np.random.default_rng(0)
    n_c, n_v = len(m.government_list), len(m.vendor_list)
    forced_cv = np.ones((n_c, n_v + 1), dtype=bool)
    forced_cv[:, :n_v] = rng.random((n_c, n_v)) < 0.2
    expected = [
        i
        for i in range(pop.n)
        if forced_cv[pop.country[i], pop.vendor[i] if pop.vendor[i] >= 0 else n_v]
    ]
    np.testing.assert_array_equal(m.user_market._forced_rows(forced_cv), expected)
    # users no longer stored by country: the lookup over everyone is used
    m.users[0].country = n_c - 1
    assert m.user_market._country_bounds is None
    expected = [
        i
        for i in range(pop.n)
        if forced_cv[pop.country[i], pop.vendor[i] if pop.vendor[i] >= 0 else n_v]
    ]
    np.testing.assert_array_equal(m.user_market._forced_rows(forced_cv), expected)


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

"""The vectorised user side against the per-object Mesa reference (experiments.reference).

Three levels, from exact to statistical:

* the same world and the same quarter give the same utilities (the mean logit
  log-sum agrees to float32 rounding) and choice frequencies that a chi-square
  homogeneity test cannot tell apart;
* the reference's own per-agent world has the same distributions as the
  vectorised one;
* over 24 seeds of the default world at 4,000 users and 40 quarters, the
  headline outcomes agree: final installed share per vendor, privacy exposure
  and HHI by Welch's two-sample t-test, vendor survival by Fisher's exact test,
  each at p >= 0.001, and every mean difference within a stated tolerance.

With 13 figures tested at 0.001, the chance that correct code fails is about
1.3 %; the seeds are fixed, so the outcome is deterministic rather than flaky.
The last test shows that the procedure has teeth: a reference whose contact
term has half its weight (a plausible normalisation bug) is caught.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import pytest
from scipy import stats

from privmarket.experiments.reference import QuarterFigures, ReferenceMarketModel, ReferenceUser
from privmarket.sim.model import MarketModel

ALPHA = 0.001
SEEDS = range(24)
USERS = 4_000
#: Largest accepted difference of means, whatever the p-value says.
TOLERANCE = {"share": 0.03, "privacy_exposure": 0.08, "hhi": 600.0, "alive": 0.3}


def tolerance(figure: str) -> float:
    if figure.endswith(".installed_share"):
        return TOLERANCE["share"]
    if figure.endswith(".alive"):
        return TOLERANCE["alive"]
    return TOLERANCE[figure]


def headline_runs(cls: type[MarketModel]) -> list[dict]:
    return [cls(n_users=USERS, rng=seed).run().summary() for seed in SEEDS]


def compare(a: list[dict], b: list[dict]) -> list[str]:
    """Figures on which two sets of runs disagree (empty list: they agree)."""
    figures = [
        k for k in a[0] if k.endswith(".installed_share") or k.endswith(".alive") or k in TOLERANCE
    ]
    bad = []
    for k in figures:
        x = np.array([r[k] for r in a], dtype=float)
        y = np.array([r[k] for r in b], dtype=float)
        diff = abs(x.mean() - y.mean())
        if k.endswith(".alive"):
            table = [[int(x.sum()), int(len(x) - x.sum())], [int(y.sum()), int(len(y) - y.sum())]]
            p = stats.fisher_exact(table).pvalue
        elif x.std() == 0 and y.std() == 0:
            p = 1.0 if diff == 0 else 0.0
        else:
            p = stats.ttest_ind(x, y, equal_var=False).pvalue
        if p < ALPHA or diff > tolerance(k):
            bad.append(f"{k}: {x.mean():.4f} vs {y.mean():.4f} (p={p:.2g})")
    return bad


@pytest.fixture(scope="module")
def vectorised_runs():
    return headline_runs(MarketModel)


# ----------------------------------------------------------- exact level
def test_reference_users_are_plain_mesa_agents():
    m = ReferenceMarketModel(n_users=600, quarters=2, rng=3)
    users = m.agents_by_type[ReferenceUser]
    # One agent for every user the run will have; 600 are there at the start,
    # the others arrive as the market grows (with no vendor until they choose).
    assert len(users) == len(m.population.users) > 600 == m.population.n
    assert sum(u.arrival == 0 for u in users) == 600
    u = m.population.users[0]
    assert isinstance(u, mesa.Agent) and u.model is m
    assert all(isinstance(c, ReferenceUser) for c in u.contacts)
    m.run()
    arrived = sum(u.arrival <= 2 for u in users)
    assert arrived > 600 and arrived == m.population.n == int(m.population.present.sum())
    assert int(m.installed.sum()) == arrived
    assert m.table()["users"].iloc[-1] == pytest.approx(
        (m.population.present * m.country_scale).sum()
    )
    assert len(m.table()) == 3  # the initial row, once, and two quarters


def test_same_world_same_quarter_same_utilities_and_choice_frequencies():
    for seed in range(3):
        kw = dict(n_users=30_000, rng=seed, hazard=1.0)  # everyone chooses
        vec = MarketModel(**kw)
        ref = ReferenceMarketModel(world="shared", **kw)
        np.testing.assert_array_equal(vec.installed, ref.installed)
        # the same users arrive in both
        np.testing.assert_array_equal(vec.population.arrivals, ref.population.arrivals)
        vec.step()
        ref.step()
        # everyone there chooses: the first ones and the quarter's new users
        arrived = 30_000 + int(vec.population.arrivals[1].sum())
        assert vec.choosers == ref.choosers == vec.user_market.n == ref.population.n == arrived
        # The mean log-sum is a deterministic function of every user's
        # utilities: equal up to float32 rounding of the stored columns.
        assert vec.welfare == pytest.approx(ref.welfare, rel=1e-6)
        # Same probabilities, independent draws: by vendor and segment.
        a = vec.sales.sum(axis=1).ravel()
        b = ref.sales.sum(axis=1).ravel()
        keep = (a + b) > 0
        p = stats.chi2_contingency(np.array([a[keep], b[keep]])).pvalue
        assert p >= ALPHA, (a, b)


def test_forced_switch_when_a_vendor_is_banned():
    for cls in (MarketModel, ReferenceMarketModel):
        m = cls(n_users=5_000, rng=2, endogenous_demands=False)
        big = int(m.installed.sum(axis=(0, 2)).argmax())
        v = int(m.installed[:, big].sum(axis=1).argmax())
        stranded = int(m.installed[v, big].sum())
        assert stranded > 0
        m.vendor_list[v].banned_in(big, np.ones(3, dtype=bool))  # every tier blocked
        m.step()
        assert m.installed[v, big].sum() == 0, cls.__name__
        # every stranded user bought a device this quarter, on another vendor
        assert m.sales[:, big].sum() >= stranded
        assert m.sales[v, big].sum() == 0
        # its users elsewhere only move when their device comes due
        assert m.installed[v].sum() > 0


# ----------------------------------------------------------- world level
def test_reference_world_has_the_vectorised_distributions():
    n = 40_000
    vec = MarketModel(n_users=n, rng=11)
    ref = ReferenceMarketModel(n_users=n, rng=11)
    pop, users = vec.population, ref.population.users
    r_country = np.array([u.country for u in users])
    r_segment = np.array([u.segment for u in users])
    r_privacy = np.array([u.privacy for u in users])
    r_price = np.array([u.price_sens for u in users])
    r_degree = np.array([len(u.contacts) for u in users])
    r_abroad = sum(c.country != u.country for u in users for c in u.contacts)

    def same_counts(a, b, what):
        table = np.array([np.bincount(a, minlength=8), np.bincount(b, minlength=8)])
        table = table[:, table.sum(axis=0) > 0]
        assert stats.chi2_contingency(table).pvalue >= ALPHA, what

    same_counts(pop.country, r_country, "country sizes")
    same_counts(pop.segment, r_segment, "segments")
    # the market grows alike: when users arrive (0: there from the start)
    r_arrival = np.array([u.arrival for u in users])
    arrival = np.zeros(pop.n, dtype=np.int64)
    for c, first in enumerate(pop.block_start[:-1]):
        row = first + pop.initial[c]
        for t, k in enumerate(pop.arrivals[:, c]):
            arrival[row : row + k] = t
            row += k
    assert (r_arrival == 0).sum() == (arrival == 0).sum() == n
    assert r_arrival.max() > 0
    same_counts(arrival, r_arrival, "arrival quarters")
    # initial vendors of the users there from the start (those to come have none)
    r_vendor = np.array([u.vendor for u in users])
    assert (pop.vendor[arrival > 0] == -1).all() and (r_vendor[r_arrival > 0] == -1).all()
    for s in range(3):
        mine, theirs = pop.segment == s, r_segment == s
        assert stats.ttest_ind(pop.privacy[mine], r_privacy[theirs]).pvalue >= ALPHA
        same_counts(
            pop.vendor[mine & (arrival == 0)],
            r_vendor[theirs & (r_arrival == 0)],
            f"initial vendors, segment {s}",
        )
    assert stats.ttest_ind(pop.price_sens, r_price).pvalue >= ALPHA
    degree = np.diff(pop.indptr)
    assert stats.ttest_ind(degree, r_degree).pvalue >= ALPHA
    owner = np.repeat(np.arange(pop.n), degree)
    abroad = int((pop.country[pop.indices] != pop.country[owner]).sum())
    table = [[abroad, len(pop.indices) - abroad], [r_abroad, r_degree.sum() - r_abroad]]
    assert stats.chi2_contingency(table).pvalue >= ALPHA


# ------------------------------------------------------- headline level
@pytest.mark.slow
def test_headline_outcomes_agree_over_24_seeds(vectorised_runs):
    reference = headline_runs(ReferenceMarketModel)
    disagreements = compare(vectorised_runs, reference)
    assert not disagreements, disagreements


class HalfContactWeight(QuarterFigures):
    """A wrong rule: the contacts term with half its weight."""

    def __init__(self, offer, params) -> None:
        super().__init__(offer, params)
        self.b_contacts *= 0.5


class WrongReference(ReferenceMarketModel):
    figures_class = HalfContactWeight


@pytest.mark.slow
def test_the_comparison_catches_a_wrong_rule(vectorised_runs):
    wrong = headline_runs(WrongReference)
    disagreements = compare(vectorised_runs, wrong)
    assert disagreements, "half the contacts weight should be detected"
    assert any("Open.installed_share" in d or "hhi" in d for d in disagreements)


def test_compare_flags_a_clear_difference_and_accepts_identical_runs():
    runs = [{"Aegis.installed_share": 0.1 + 0.01 * i, "Aegis.alive": True} for i in range(10)]
    shifted = [dict(r, **{"Aegis.installed_share": r["Aegis.installed_share"] + 0.2}) for r in runs]
    assert compare(runs, runs) == []
    assert compare(runs, shifted)
    dead = [dict(r, **{"Aegis.alive": False}) for r in runs]
    assert any("alive" in d for d in compare(runs, dead))
    assert math.isclose(tolerance("privacy_exposure"), 0.08)

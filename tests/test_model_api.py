"""The model as a Mesa citizen: parameters, user views, DataCollector, batch_run."""

from __future__ import annotations

import warnings

import mesa
import numpy as np
import pytest

from privmarket.agents.government import Government
from privmarket.agents.user_market import NO_VENDOR
from privmarket.agents.users import User
from privmarket.agents.vendor import Vendor
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, Params


def test_parameter_errors_name_field_value_and_range():
    with pytest.raises(ParameterError) as e:
        Params(hazard=1.5)
    msg = str(e.value)
    assert "'hazard'" in msg and "1.5" in msg and "[0, 1]" in msg

    with pytest.raises(ParameterError, match="unknown parameter 'hazzard'"):
        Params().with_updates({"hazzard": 0.1})
    with pytest.raises(ParameterError, match=r"vendors\.0\.stance.*2.*\[0, 1\]"):
        Params().with_updates({"vendors.Aegis.stance": 2})
    with pytest.raises(ParameterError, match="no entry 'Nobody'"):
        Params().with_updates({"vendors.Nobody.stance": 0.5})
    with pytest.raises(ParameterError, match="unknown parameter 'vendors.Aegis.colour'"):
        Params().with_updates({"vendors.Aegis.colour": "red"})
    with pytest.raises(ParameterError, match="segment_mix"):
        Params().with_updates({"countries.0.segment_mix": [0.5, 0.5, 0.5]})
    with pytest.raises(ParameterError, match="valid number"):
        Params().with_updates({"b_price": "cheap"})


def test_parameter_paths_set_one_or_all():
    p = Params().with_updates({"countries.*.appetite": 0.9, "vendors.Open.stance": 0.1})
    assert p.get("countries.*.appetite") == [0.9] * len(p.countries)
    assert p.vendor("Open").stance == 0.1
    assert Params().vendor("Open").stance != 0.1  # the default is untouched
    with pytest.raises(ParameterError, match="unknown parameter 'countries.*.nonsense'"):
        Params().get("countries.*.nonsense")
    with pytest.raises(ParameterError, match="unknown parameter 'nonsense'"):
        Params().get("nonsense")
    rows = {r["name"]: r for r in Params.describe()}
    assert rows["hazard"]["low"] == 0 and rows["hazard"]["high"] == 1


def test_model_accepts_keyword_parameters_and_scenario():
    m = MarketModel(scenario="baseline", n_users=1000, rng=1, **{"vendors.Aegis.stance": 1.0})
    assert m.params.vendor("Aegis").stance == 1.0
    # n_users is the population at the start; the market grows from there, and
    # the store holds every user the run will have (those to come have no vendor)
    assert int(m.population.initial.sum()) == m.user_market.n == 1000
    arriving = int(m.population.arrivals.sum())
    assert m.params.growth_rate > 0 and arriving > 0
    assert m.population.n == 1000 + arriving
    assert int((m.population.vendor == NO_VENDOR).sum()) == arriving
    with pytest.raises(ParameterError, match="unknown scenario"):
        MarketModel(scenario="atlantis", rng=1)


def test_user_view_reads_and_writes_the_columns():
    m = MarketModel(n_users=1000, rng=3)
    u = m.users[10]
    assert isinstance(u, User) and isinstance(u, mesa.Agent)
    assert u.vendor == m.population.vendor[10]
    assert u.country == m.population.country[10]
    assert u.segment_name in ("consumer", "enterprise", "government")
    u.privacy = 9.5
    assert m.population.privacy[10] == pytest.approx(9.5)
    assert list(u.contacts) == m.population.contacts_of(10).tolist()
    assert len(m.agents) == len(m.vendor_list) + len(m.government_list)  # views not registered
    # every row of the store can be looked at, those still to arrive included
    last = m.population.n - 1
    assert m.users[last].unique_id == m.users[-1].unique_id == last
    with pytest.raises(IndexError):
        m.users[m.population.n]
    with pytest.raises(IndexError):
        m.users[-m.population.n - 1]


def test_user_collection_offers_agentset_calls():
    # A market that does not grow: every user is there from the start.
    m = MarketModel(n_users=2000, rng=3, growth_rate=0.0)
    users = m.users
    assert len(users) == 2000
    ent = users.select(segment=1)
    assert len(ent) == int((m.population.segment == 1).sum())
    mean_priv = users.agg("privacy", np.mean)
    assert mean_priv == pytest.approx(float(m.population.privacy.mean()))
    groups = users.groupby("country")
    assert sum(len(g) for g in groups.values()) == 2000
    sensitive = users.select(lambda u: u.privacy > 3, at_most=5)
    assert isinstance(sensitive, mesa.agent.AgentSet) and len(sensitive) <= 5
    assert all(u.privacy > 3 for u in sensitive)
    counts = users.count("vendor")
    assert sum(counts.values()) == 2000
    assert NO_VENDOR not in counts
    # looking at users never changes the run (of a growing market too)
    a = MarketModel(n_users=2000, rng=3)
    a.users.sample(20)
    b = MarketModel(n_users=2000, rng=3)
    a.run(3)
    b.run(3)
    assert a.table().equals(b.table())


def test_datacollector_reports_vendors_and_governments():
    m = MarketModel(n_users=1000, quarters=3, rng=0).run()
    dc = m.datacollector
    assert len(dc.get_model_vars_dataframe()) == 4
    vend = dc.get_agenttype_vars_dataframe(Vendor)
    assert set(vend["name"]) == {v.name for v in m.vendor_list}
    gov = dc.get_agenttype_vars_dataframe(Government)
    assert len(gov) == 4 * len(m.government_list)


def test_mesa_batch_run_drives_the_model():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        results = mesa.batch_run(
            MarketModel,
            parameters={"n_users": 500, "hazard": [0.1, 0.2]},
            rng=[1, 2],
            max_steps=3,
            number_processes=1,
            display_progress=False,
        )
    # batch_run returns one row per agent; keep one per run
    results = list({r["RunId"]: r for r in results}.values())
    assert len(results) == 4
    assert all(r["quarter"] == 3 for r in results)
    direct = MarketModel(n_users=500, hazard=0.1, rng=1).run(3).table().iloc[-1]
    first = next(r for r in results if r["hazard"] == 0.1 and r["iteration"] == 0)
    assert first["privacy_exposure"] == direct["privacy_exposure"]
    assert first["hhi"] == direct["hhi"]


def test_run_to_end_when_every_vendor_fails():
    # (every vendor its own maker: a platform of many makers never leaves)
    p = Params(n_users=500).with_updates(
        {
            "vendors.*.fixed_cost": 1e6,
            "vendors.*.cash": 10,
            "vendors.*.platform": "",
            "vendors.*.many_makers": False,
        }
    )
    m = MarketModel(p, rng=0)
    m.step()
    assert not any(v.alive for v in m.vendor_list)
    assert m.running is False


def test_contacts_are_a_seeded_sparse_graph_mostly_within_country():
    a = MarketModel(n_users=5000, rng=11)
    b = MarketModel(n_users=5000, rng=11)
    pop = a.population
    np.testing.assert_array_equal(pop.indptr, b.population.indptr)
    np.testing.assert_array_equal(pop.indices, b.population.indices)
    assert pop.indptr[0] == 0 and pop.indptr[-1] == len(pop.indices)
    degree = np.diff(pop.indptr)
    assert degree.mean() == pytest.approx(a.params.contacts_mean_degree, rel=0.05)
    owner = np.repeat(np.arange(pop.n), degree)
    same = pop.country[owner] == pop.country[pop.indices]
    consumer = pop.segment[owner] == 0
    # 5% of consumers' contacts are abroad by default (25% for enterprise users);
    # a draw abroad can land in the home country by chance, so "same" is a bit higher.
    assert same[consumer].mean() > 0.93
    assert same[~consumer].mean() < same[consumer].mean()

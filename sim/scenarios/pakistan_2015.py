"""``pakistan-2015``: a state demands all enterprise-server traffic; the vendor refuses."""

from privmarket.sim.params import Params, ScriptedDemand
from privmarket.sim.scenarios import Scenario

SCENARIO = Scenario(
    name="pakistan-2015",
    summary="Pakistan orders all enterprise-server traffic opened by 30 Nov 2015; "
    "the secure vendor refuses and stays.",
    note=(
        "In July 2015 Pakistan's telecom authority told the secure-phone maker to give "
        "the state access to all traffic of its enterprise servers (BES), or see them "
        "blocked from 30 November 2015. The vendor refused, announced it would leave "
        "the whole country rather than build a back door, and kept fighting to become "
        "profitable; the deadline moved to 30 December and the order was withdrawn in "
        "December 2015; the vendor stayed and gave no access. Measured: the dates, the "
        "demand (all enterprise traffic, so severity near 1, enterprise tier only) and "
        "fewer than about 5,000 enterprise customers at stake (an unofficial figure). "
        "Assumed (guesses): 25M smartphone users in Pakistan; a Rest of world of 250M "
        "standing for the vendor's other markets; the vendor holds about 2% of "
        "consumers but most enterprise and government users (segment_affinity); "
        "Pakistan's appetite 0.85 and rule of law 0.3; the government weighs business "
        "and state users heavily (segment weights 1/40/80) and counts the domestic cost of a ban higher than in the baseline (ban_cost_weight 7) because banks and ministries "
        "ran on the vendor's servers. Model quarter 1 is Q3 2015; the deadline "
        "(30 Nov, then 30 Dec) falls in Q4 2015, quarter 2."
    ),
    params=Params(
        n_users=30_000,
        quarters=6,
        start_year=2015,
        start_quarter=3,
        endogenous_demands=False,
        segment_weights=(1.0, 40.0, 80.0),
        ban_cost_weight=7.0,
        countries=[
            dict(
                name="Pakistan",
                population=25,
                segment_mix=(0.9, 0.08, 0.02),
                income=0.4,
                appetite=0.85,
                rule_of_law=0.3,
                ban_tolerance=0.2,
            ),
            dict(
                name="Rest of world",
                population=250,
                segment_mix=(0.85, 0.12, 0.03),
                income=1.2,
                appetite=0.0,
                rule_of_law=0.8,
                ban_tolerance=0.3,
            ),
        ],
        vendors=[
            dict(
                name="BlackBerry",
                home=1,
                stance=0.95,
                ecosystem=0.2,
                initial_share=0.02,
                segment_affinity=(1.0, 60.0, 60.0),
                price=(450, 550, 550),
                unit_cost=300,
                service_revenue=3.0,
                fixed_cost=30,
                country_cost=2,
                rd_spend=10,
                cash=3000,
                strategy="principled",
                threshold=0.8,
            ),
            dict(
                name="Others",
                home=1,
                stance=0.35,
                ecosystem=0.8,
                initial_share=0.98,
                price=(250, 320, 320),
                unit_cost=180,
                service_revenue=2.0,
                fixed_cost=500,
                country_cost=5,
                rd_spend=100,
                cash=20000,
                strategy="expected_value",
            ),
        ],
        scripted_demands=[
            ScriptedDemand(
                quarter=1,
                country=0,
                vendor="BlackBerry",
                segments=(False, True, False),
                severity=0.95,
                deadline=1,
            ),
        ],
    ),
    sources=(
        "CASES.md row 5: PTA/MoI demand for all BES traffic, deadline 30 Nov then 30 Dec "
        "2015, order rescinded, <5,000 BES customers (unofficial).",
    ),
    patterns=(
        "The vendor does not grant access in Pakistan.",
        "The vendor is not banned in Pakistan (the government backs down).",
    ),
)

"""``saudi-2010``: the messenger is cut for hours, then allowed after local servers."""

from privmarket.sim.params import Params, ScriptedDemand
from privmarket.sim.scenarios import Scenario

SCENARIO = Scenario(
    name="saudi-2010",
    summary="Saudi Arabia cuts the messenger in Aug 2010, then allows it after "
    "reported local servers (consumer tier opened).",
    note=(
        "Saudi Arabia's regulator told operators to comply with monitoring requirements; "
        "the vendor's messenger was suspended on 6 August 2010 for a few hours, and on "
        "10 August continuation was allowed pending the remainder of the requirements, "
        "after the vendor reportedly placed servers in the country (one per carrier). "
        "Operators faced fines of about US$1.3M. Measured: the dates and about 700k to "
        "750k users, the vendor's biggest Middle-East market, of about 41M subscribers "
        "worldwide. Assumed (guesses): 5M smartphone users in Saudi Arabia in 2010; a "
        "Rest of world of 200M; appetite 0.85 and rule of law 0.25; the demand is for "
        "consumer messaging (the consumer tier) with an immediate deadline; the vendor "
        "follows a principled rule whose threshold sits above its consumer stance, so "
        "it deals rather than refuses. Quarter 1 is Q3 2010."
    ),
    params=Params(
        n_users=30_000,
        quarters=6,
        start_year=2010,
        start_quarter=3,
        endogenous_demands=False,
        countries=[
            dict(
                name="Saudi Arabia",
                population=5,
                segment_mix=(0.8, 0.15, 0.05),
                income=1.3,
                appetite=0.85,
                rule_of_law=0.25,
                ban_tolerance=0.4,
            ),
            dict(
                name="Rest of world",
                population=200,
                segment_mix=(0.85, 0.12, 0.03),
                income=1.0,
                appetite=0.0,
                rule_of_law=0.8,
            ),
        ],
        vendors=[
            dict(
                name="BlackBerry",
                home=1,
                stance=0.6,
                ecosystem=0.5,
                initial_share=0.14,
                segment_affinity=(1.0, 3.0, 3.0),
                price=(450, 550, 550),
                unit_cost=300,
                service_revenue=3.0,
                fixed_cost=200,
                country_cost=2,
                rd_spend=50,
                cash=3000,
                strategy="principled",
                threshold=0.9,
            ),
            dict(
                name="Others",
                home=1,
                stance=0.4,
                ecosystem=0.6,
                initial_share=0.86,
                price=(350, 420, 420),
                unit_cost=250,
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
                segments=(True, False, False),
                severity=0.6,
                deadline=0,
            ),
        ],
    ),
    sources=(
        "CASES.md row 2: CITC, BBM suspended 6 Aug 2010, allowed 10 Aug after reported "
        "local servers; ~700k-750k users; ~41M subscribers worldwide.",
    ),
    patterns=(
        "The consumer tier becomes readable in Saudi Arabia (access granted to it).",
        "The vendor is not banned and stays in the country.",
    ),
)

"""``uae-2010``: a ban of messaging, email and web is threatened; settled before the deadline."""

from privmarket.sim.params import Params, ScriptedDemand
from privmarket.sim.scenarios import Scenario

SCENARIO = Scenario(
    name="uae-2010",
    summary="The UAE threatens to suspend BlackBerry services from 11 Oct 2010; "
    "settled on 8 Oct, terms undisclosed.",
    note=(
        "On 1 August 2010 the UAE's telecom regulator said BlackBerry messaging, email "
        "and web would be suspended from 11 October 2010 unless the data came under "
        "national jurisdiction and could be monitored. Dealers reported sales plunging "
        "during the threat. On 8 October the regulator declared the services "
        "'compliant' and thanked the vendor for its 'positive engagement'; the terms "
        "were not disclosed. Measured: the dates and about 500k to 650k users (Etisalat "
        "about 80%). Assumed (guesses): 3M smartphone users in the UAE in 2010, so the "
        "vendor holds about a fifth of them and most business users; a Rest of world of "
        "150M; appetite 0.8, rule of law 0.35, a rich country (income 1.5). The vendor "
        "negotiates (principled rule, stance 0.75 under a threshold of 1), the usual "
        "reading of the undisclosed settlement. Quarter 1 is Q3 2010; the "
        "deadline falls in Q4 2010."
    ),
    params=Params(
        n_users=30_000,
        quarters=6,
        start_year=2010,
        start_quarter=3,
        endogenous_demands=False,
        countries=[
            dict(
                name="UAE",
                population=3,
                segment_mix=(0.75, 0.2, 0.05),
                income=1.5,
                appetite=0.8,
                rule_of_law=0.35,
                ban_tolerance=0.2,
            ),
            dict(
                name="Rest of world",
                population=150,
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
                stance=0.75,
                ecosystem=0.5,
                initial_share=0.2,
                segment_affinity=(1.0, 4.0, 4.0),
                price=(450, 550, 550),
                unit_cost=300,
                service_revenue=3.0,
                fixed_cost=200,
                country_cost=2,
                rd_spend=50,
                cash=3000,
                strategy="principled",
                threshold=1.0,
            ),
            dict(
                name="Others",
                home=1,
                stance=0.4,
                ecosystem=0.6,
                initial_share=0.8,
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
                segments=(True, True, False),
                severity=0.7,
                deadline=1,
            ),
        ],
    ),
    sources=(
        "CASES.md row 1: TRA threat of 1 Aug 2010, suspension from 11 Oct, declared "
        "compliant 8 Oct 2010; ~500k-650k users.",
    ),
    patterns=(
        "The vendor is not banned in the UAE.",
        "The demand is settled by the deadline (a partial deal or a back-down).",
    ),
)

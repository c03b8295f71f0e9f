"""``india-2010-2013``: interception for the consumer tier, never for the enterprise tier."""

from privmarket.sim.params import Params, ScriptedDemand
from privmarket.sim.scenarios import Scenario

SCENARIO = Scenario(
    name="india-2010-2013",
    summary="India demands interception 2010-2013; the consumer tier is opened, the "
    "enterprise tier never is.",
    note=(
        "From August 2010 India's Department of Telecommunications and Home Ministry "
        "demanded lawful interception of the vendor's messenger, consumer email and web "
        "and enterprise-server (BES) traffic, or a ban; deadlines of 31 August 2010 "
        "and then 31 January 2011 slipped. The vendor gave manual access to consumer "
        "messaging in September 2010, an interception server in Mumbai in February 2012 "
        "and an automated system by July 2013, while refusing the enterprise tier "
        "throughout ('no ability to provide the customers' encryption keys'); in July "
        "2013 the government accepted a system that excluded BES and said it would seek "
        "keys from the enterprises themselves. Measured: the dates, about 1M users "
        "(2010) and about 5,000 enterprises using BES (2012). Assumed (guesses): 20M "
        "smartphone users in India in 2010, so the vendor holds about 5% of them but a "
        "large part of business users; a Rest of world of 200M; appetite 0.75, rule of "
        "law 0.5, income 0.4; the government weighs enterprise and state users heavily "
        "(segment weights 1/40/80) and counts the domestic cost of a ban higher than in the baseline (ban_cost_weight 6). The vendor negotiates (principled rule, stance 0.7 "
        "under a threshold of 1): it opens the consumer tier, not the enterprise tier. "
        "Scripted demands: Q3 2010 (consumer and enterprise, deadline Q1 2011), Q1 2012 "
        "and Q3 2013 (enterprise tier). Quarter 1 is Q3 2010."
    ),
    params=Params(
        n_users=30_000,
        quarters=14,
        start_year=2010,
        start_quarter=3,
        endogenous_demands=False,
        segment_weights=(1.0, 40.0, 80.0),
        ban_cost_weight=6.0,
        countries=[
            dict(
                name="India",
                population=20,
                segment_mix=(0.88, 0.1, 0.02),
                income=0.4,
                appetite=0.75,
                rule_of_law=0.5,
                ban_tolerance=0.3,
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
                stance=0.7,
                ecosystem=0.4,
                initial_share=0.05,
                segment_affinity=(1.0, 20.0, 20.0),
                price=(400, 500, 500),
                unit_cost=280,
                service_revenue=3.0,
                fixed_cost=50,
                country_cost=2,
                rd_spend=20,
                cash=3000,
                strategy="principled",
                threshold=1.0,
            ),
            dict(
                name="Others",
                home=1,
                stance=0.35,
                ecosystem=0.7,
                initial_share=0.95,
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
                segments=(True, True, False),
                severity=0.6,
                deadline=2,
            ),
            ScriptedDemand(
                quarter=7,
                country=0,
                vendor="BlackBerry",
                segments=(False, True, False),
                severity=0.6,
                deadline=1,
            ),
            ScriptedDemand(
                quarter=13,
                country=0,
                vendor="BlackBerry",
                segments=(False, True, False),
                severity=0.6,
                deadline=1,
            ),
        ],
    ),
    sources=(
        "CASES.md row 3: DoT/MHA demands Aug 2010 - Jul 2013; consumer interception, "
        "BES excluded; ~1M users (2010); ~5,000 BES enterprises (2012).",
    ),
    patterns=(
        "The consumer tier is readable in India by the end.",
        "The enterprise tier is never readable.",
        "The vendor is not banned.",
    ),
)

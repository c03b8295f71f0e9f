"""``uk-2025``: a notice to build access to encrypted backups; the feature is withdrawn."""

from privmarket.sim.params import Params, ScriptedDemand
from privmarket.sim.scenarios import Scenario

SCENARIO = Scenario(
    name="uk-2025",
    summary="The UK demands access to end-to-end encrypted backups (2025); the vendor "
    "withdraws the feature there instead of building access.",
    note=(
        "In January 2025 the UK Home Office served a technical capability notice under "
        "the Investigatory Powers Act requiring access to iCloud data protected by "
        "Advanced Data Protection, reportedly for users worldwide, under a gag order. "
        "On 21 February 2025 the vendor withdrew the feature for new UK users (existing "
        "users to be moved off it) rather than build access ('we have never built a "
        "master key'), and appealed to the Investigatory Powers Tribunal in March. In "
        "August 2025 the US said the UK had dropped the part covering US users; a new "
        "notice narrowed to British users was reported in the autumn; litigation goes "
        "on. Measured: the dates and the answers; no market figures were published. "
        "Assumed (guesses): 55M smartphone users in the UK, about half on the vendor; a "
        "Rest of world of 500M; appetite 0.9 and a high tolerance for the cost of "
        "forcing the issue (ban tolerance 0.8), standing for a legal notice that "
        "carries penalties rather than a market ban; withdrawing the feature removes "
        "most of what there is to read (withdraw_cut 0.8). The principled vendor "
        "foresees that refusing outright would be enforced and that withdrawing the "
        "feature alone averts it. Quarter 1 is Q1 2025."
    ),
    params=Params(
        n_users=30_000,
        quarters=6,
        start_year=2025,
        start_quarter=1,
        endogenous_demands=False,
        withdraw_cut=0.8,
        countries=[
            dict(
                name="United Kingdom",
                population=55,
                segment_mix=(0.84, 0.13, 0.03),
                income=1.5,
                appetite=0.9,
                rule_of_law=0.8,
                ban_tolerance=0.8,
            ),
            dict(
                name="Rest of world",
                population=500,
                segment_mix=(0.86, 0.11, 0.03),
                income=0.9,
                appetite=0.0,
                rule_of_law=0.7,
            ),
        ],
        vendors=[
            dict(
                name="Apple",
                home=1,
                stance=0.9,
                ecosystem=0.8,
                initial_share=0.3,
                price=(800, 900, 900),
                unit_cost=450,
                service_revenue=10.0,
                fixed_cost=2000,
                country_cost=20,
                rd_spend=2000,
                cash=200000,
                strategy="principled",
                threshold=0.8,
            ),
            dict(
                name="Android",
                home=1,
                stance=0.4,
                ecosystem=0.85,
                initial_share=0.7,
                price=(300, 380, 380),
                unit_cost=190,
                service_revenue=3.0,
                fixed_cost=1500,
                country_cost=10,
                rd_spend=1000,
                cash=50000,
                strategy="expected_value",
            ),
        ],
        scripted_demands=[
            ScriptedDemand(
                quarter=1,
                country=0,
                vendor="Apple",
                segments=(True, True, True),
                severity=0.9,
                deadline=1,
            ),
        ],
    ),
    sources=(
        "CASES.md row 14: Home Office TCN (IPA s.253) Jan 2025; ADP withdrawn for new UK "
        "users 21 Feb 2025; IPT appeal Mar 2025; US-user part dropped Aug 2025.",
    ),
    patterns=(
        "The vendor stays in the UK (not banned, no exit).",
        "The feature is withdrawn there (local stance lowered).",
        "No access is built (no segment readable).",
    ),
)

"""``us-2016``: a home court orders a vendor to build software to unlock one phone."""

from privmarket.sim.params import Params, ScriptedDemand
from privmarket.sim.scenarios import Scenario

SCENARIO = Scenario(
    name="us-2016",
    summary="A home-country court orders a vendor to build unlocking software (Feb 2016); "
    "it refuses; the order is dropped.",
    note=(
        "On 16 February 2016 a US court ordered a phone vendor, under the All Writs Act, "
        "to build signed firmware that bypasses the auto-erase of one phone. The vendor "
        "refused publicly (an open letter, a motion to vacate). The hearing set for 22 "
        "March was cancelled; on 28 March the Department of Justice said it had got in "
        "through a third party, and the order was vacated on 29 March. Polls were split: "
        "51% said the vendor should unlock, 38% not (Pew, 18-21 Feb 2016); 50/45 "
        "(CBS/NYT, March). No sales effect is documented. Assumed (guesses): 200M "
        "smartphone users in the US, about 45% on the vendor; a Rest of world of 800M; "
        "the demand is targeted (severity 0.4) at the consumer tier, from a government "
        "with appetite 0.5 and strong rule of law (0.85); because public opinion leaned "
        "toward unlocking, consumers' privacy salience is set below 1 (0.8). The "
        "government's gain from forcing the vendor is small next to the cost of losing "
        "it, so the model's government drops the demand, standing for the real 'access "
        "obtained another way'. Quarter 1 is Q1 2016."
    ),
    params=Params(
        n_users=30_000,
        quarters=6,
        start_year=2016,
        start_quarter=1,
        endogenous_demands=False,
        privacy_salience=0.8,
        countries=[
            dict(
                name="United States",
                population=200,
                segment_mix=(0.84, 0.13, 0.03),
                income=1.8,
                appetite=0.5,
                rule_of_law=0.85,
                ban_tolerance=0.2,
            ),
            dict(
                name="Rest of world",
                population=800,
                segment_mix=(0.86, 0.11, 0.03),
                income=0.8,
                appetite=0.0,
                rule_of_law=0.7,
            ),
        ],
        vendors=[
            dict(
                name="Apple",
                home=0,
                stance=0.9,
                ecosystem=0.8,
                initial_share=0.2,
                segment_affinity=(1.0, 1.2, 1.2),
                price=(650, 750, 750),
                unit_cost=380,
                service_revenue=8.0,
                fixed_cost=1500,
                country_cost=20,
                rd_spend=1500,
                cash=200000,
                strategy="principled",
                threshold=0.8,
            ),
            dict(
                name="Android",
                home=0,
                stance=0.35,
                ecosystem=0.8,
                initial_share=0.8,
                price=(280, 350, 350),
                unit_cost=180,
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
                segments=(True, False, False),
                severity=0.4,
                deadline=0,
            ),
        ],
    ),
    sources=(
        "CASES.md row 6: FBI/DoJ All Writs Act order 16 Feb 2016, vacated 29 Mar 2016; "
        "Pew 51/38, CBS/NYT 50/45.",
    ),
    patterns=(
        "The vendor refuses.",
        "The vendor is not banned; the government backs down.",
        "The vendor's trust does not fall.",
    ),
)

"""``platform-decline-2009-2016``: a secure closed platform loses to ecosystems, no state involved."""

from pathlib import Path

from privmarket.sim.params import Params
from privmarket.sim.scenarios import Scenario

#: Observed yearly OS shares of unit sales, 2009-2014 (see data/os_sales_share.md).
OBSERVED = Path(__file__).parent / "data" / "os_sales_share.csv"

# Free parameters fitted by `privmarket calibrate` (see CALIBRATION below); the
# rest of the world is a guess, labelled in the note.
CALIBRATED: dict[str, float] = {
    "b_ecosystem": 3.9289,
    "b_contacts": 1.2122,
    "ecosystem_exponent": 1.2917,
    "rd_effect": 0.0675,
    "vendors.iOS.rd_spend": 1260.8582,
    "switching_cost": 0.72,
    "b_price": 2.4907,
    "vendors.Android.ecosystem": 0.077,
    "vendors.Others.ecosystem": 0.2078,
    "vendors.BlackBerry.ecosystem": 0.4255,
}

CALIBRATION = (
    "Calibrated with: privmarket calibrate platform-decline-2009-2016 --data "
    "sim/scenarios/data/os_sales_share.csv --params b_ecosystem=2:8 b_contacts=1:4 "
    "ecosystem_exponent=0.5:1.5 rd_effect=0.03:0.15 vendors.iOS.rd_spend=300:2000 "
    "switching_cost=0:3 b_price=0.5:3 vendors.Android.ecosystem=0:0.2 "
    "vendors.Others.ecosystem=0.1:0.5 vendors.BlackBerry.ecosystem=0.2:0.6 --budget 600 "
    "--seeds 2 --sampler-seed 1. Mean absolute error per year: "
    "BlackBerry 2.13, iOS 1.47, Android 2.36 share points."
)


SCENARIO = Scenario(
    name="platform-decline-2009-2016",
    summary="No government: a secure closed platform with a fifth of 2009 sales loses to "
    "an open and a premium ecosystem.",
    note=(
        "From 2009 to 2016 the secure closed platform fell from about a fifth of "
        "worldwide smartphone unit sales (19.9% in 2009) to almost nothing (0.4% in "
        "2014), while an open ecosystem rose from 3.9% to 81.5% and a premium ecosystem "
        "held 14-19%; together the two held 96.3% of 2014 sales. No government was "
        "involved: this run has no demands at all, so only prices, ecosystems, the "
        "contact (messaging) network and switching costs act. Measured: the yearly "
        "shares shipped in data/os_sales_share.csv (Gartner 2009-10, IDC 2011-14; 2011 "
        "approximate). Assumed (guesses): one world of two regions (rich and emerging); "
        "a fourth platform, 'Others', stands for Symbian, Windows and the rest (61.8% "
        "of 2009 sales), which collapsed in the same years; initial installed shares "
        "equal 2009 sales shares; prices and costs are round numbers. The utility "
        "weights and the ecosystem dynamics are calibrated to the observed series with "
        "`privmarket calibrate` (values and fit error below). " + CALIBRATION
    ),
    params=Params(
        n_users=20_000,
        quarters=32,
        start_year=2009,
        start_quarter=1,
        endogenous_demands=False,
        hazard=0.11,
        loss_quarters=40,
        countries=[
            dict(
                name="Rich",
                population=400,
                segment_mix=(0.82, 0.15, 0.03),
                income=1.6,
                appetite=0.0,
            ),
            dict(
                name="Emerging",
                population=600,
                segment_mix=(0.9, 0.08, 0.02),
                income=0.6,
                appetite=0.0,
            ),
        ],
        vendors=[
            dict(
                name="BlackBerry",
                home=0,
                stance=0.9,
                ecosystem=0.4,
                initial_share=0.199,
                segment_affinity=(1.0, 3.0, 3.0),
                price=(400, 500, 500),
                unit_cost=250,
                service_revenue=3.0,
                fixed_cost=200,
                country_cost=5,
                rd_spend=100,
                cash=3000,
                strategy="principled",
                threshold=0.8,
            ),
            dict(
                name="iOS",
                home=0,
                stance=0.7,
                ecosystem=0.5,
                initial_share=0.144,
                price=(650, 750, 750),
                unit_cost=380,
                service_revenue=6.0,
                fixed_cost=300,
                country_cost=5,
                rd_spend=800,
                cash=20000,
                strategy="expected_value",
            ),
            dict(
                name="Android",
                home=0,
                stance=0.35,
                ecosystem=0.2,
                initial_share=0.039,
                price=(250, 300, 300),
                unit_cost=170,
                service_revenue=2.0,
                fixed_cost=100,
                country_cost=5,
                rd_spend=1500,
                cash=10000,
                strategy="expected_value",
            ),
            dict(
                name="Others",
                home=0,
                stance=0.3,
                ecosystem=0.4,
                initial_share=0.618,
                price=(200, 250, 250),
                unit_cost=150,
                service_revenue=1.0,
                fixed_cost=200,
                country_cost=5,
                rd_spend=0,
                cash=20000,
                strategy="expected_value",
            ),
        ],
    ).with_updates(CALIBRATED),
    sources=(
        "CASES.md, worldwide smartphone OS share of unit sales: Gartner 2009-10, IDC "
        "2011-14 (addresses in data/os_sales_share.md).",
        "Handset replacement about every 24-30 months (2010-15): hazard 0.11 per quarter "
        "(CASES.md, switching and churn).",
    ),
    patterns=(
        "The secure platform's sales share falls more than tenfold within five years.",
        "The open and the premium ecosystems end above 90% of sales together.",
    ),
    extra={"observed": OBSERVED},
)

"""``baseline``: the synthetic default world."""

from privmarket.sim.params import Params
from privmarket.sim.scenarios import Scenario

SCENARIO = Scenario(
    name="baseline",
    summary="Synthetic world: 8 countries, 4 vendors from a secure specialist to a cheap local maker.",
    note=(
        "A synthetic world with no real counterpart, for exploring the mechanisms. "
        "Eight countries differ in income, surveillance appetite and rule of law; four "
        "vendors differ in privacy stance, ecosystem, prices and costs: Aegis, a small "
        "secure specialist (principled strategy); Orchard, a premium ecosystem with a "
        "fairly strong stance; Open, a mass-market open ecosystem; and Local, a cheap "
        "maker with a weak stance that learns its answers. All numbers are guesses "
        "chosen for spread (see docs/ODD.md, Initialization), except the device "
        "replacement hazard of 0.1 per quarter, which matches handset replacement "
        "every 24 to 30 months observed in 2010-2015 (CASES: switching and churn)."
    ),
    params=Params(),
    patterns=(
        "Shares in each country sum to one; users are conserved.",
        "High-appetite, low rule-of-law governments make most of the demands.",
    ),
)

"""The model's parameters: declared once, with defaults, units and ranges, and validated.

Every number the model uses lives here. A parameter set is a :class:`Params`
(pydantic) object; unknown names and out-of-range values are rejected with a
:class:`ParameterError` whose message names the field, the value and what is
allowed. Defaults are the synthetic ``baseline`` world; the sources of the few
real-world figures among them are given in ``docs/ODD.md``, and every other
default is a modelling guess, labelled as such there.

Parameters are addressed by *paths* so that the command line, experiment files
and the dashboard can set any of them with one string::

    hazard                      a top-level field
    vendors.Aegis.stance        one vendor, by name
    vendors.*.stance            every vendor
    countries.3.appetite        one country, by index or name
    countries.*.appetite        every country

Example
-------
>>> p = Params().with_updates({"hazard": 0.2, "vendors.Aegis.stance": 1.0})
>>> p.hazard, p.vendor("Aegis").stance
(0.2, 1.0)
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Sequence
from importlib.resources import files
from typing import Any, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticUndefined

from privmarket.sim.vocabulary import SEGMENTS, STRATEGY_NAMES

__all__ = [
    "SEGMENTS",
    "CountrySpec",
    "ParameterError",
    "Params",
    "ScriptedDemand",
    "VendorSpec",
]


class ParameterError(ValueError):
    """A parameter set, path or value that the model cannot accept.

    The message always names the field, the value given and what is allowed.
    """


def _load_estimate() -> dict[str, Any]:
    """The shipped point estimate of the world parameters (see :func:`world`)."""
    text = files("privmarket.sim").joinpath(WORLD_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)["estimate"]


#: Where the world parameters' defaults live: the point estimate of the joint
#: calibration (``privmarket calibrate``), shipped with the package.
WORLD_FILE = "posterior/world.toml"
WORLD_ESTIMATE: dict[str, Any] = _load_estimate()


def par(
    default: Any,
    lo: float | None = None,
    hi: float | None = None,
    doc: str | None = None,
    *,
    exclude_lo: bool = False,
    **field: Any,
) -> Any:
    """A parameter in one line: its default, allowed range ``lo <= x <= hi`` and description.

    Either end of the range may be ``None`` (unbounded); ``exclude_lo`` makes the
    lower end strict (``lo < x``). This is only a shorter spelling of pydantic's
    ``Field(default, ge=lo, le=hi, description=doc)``: the declarations read as a
    table, and the validation, the JSON schema and :meth:`Params.describe` are
    those that ``Field`` gives.
    """
    bounds = {"gt" if exclude_lo else "ge": lo, "le": hi}
    given = {k: v for k, v in bounds.items() if v is not None}
    if doc is not None:
        given["description"] = doc
    return Field(default, **given, **field)


def world(
    lo: float | None = None,
    hi: float | None = None,
    doc: str | None = None,
    *,
    exclude_lo: bool = False,
) -> Any:
    """A world parameter: behaviour shared by every scenario, its default the shipped estimate.

    Scenarios may not set world parameters (only case inputs, the dated facts of
    a case); a run, a sweep or a calibration may. The range and description are
    those of :func:`par`; the default is filled in when the class is made, from
    the estimate under the field's own name (:func:`_estimate`).
    """
    extra = {"role": "world"}
    return par(PydanticUndefined, lo, hi, doc, exclude_lo=exclude_lo, json_schema_extra=extra)


def _role(field: Any) -> str:
    return (field.json_schema_extra or {}).get("role", "case")


def _estimate(name: str) -> Any:
    """The shipped estimate of world parameter ``name``; its default."""
    if name not in WORLD_ESTIMATE:
        raise ParameterError(
            f"world parameter {name!r} has no estimate in {WORLD_FILE}: "
            "add one there (privmarket calibrate --ship writes the file)"
        )
    value = WORLD_ESTIMATE[name]
    return tuple(value) if isinstance(value, list) else value  # TOML arrays; fields are tuples


class _Strict(BaseModel):
    # No NaN or infinity anywhere: every number must be finite. A field's
    # description is its ``description=`` or, where that would not fit on the
    # line, the docstring right under it.
    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        frozen=False,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # What a declaration leaves to its class: a world parameter's default
        # (see world()), and a docstring description wrapped over several lines
        # folded into one paragraph, as a description= string would be.
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for name, f in cls.model_fields.items():
            if _role(f) == "world" and f.is_required():
                f.default = _estimate(name)
                changed = True
            if f.description and "\n" in f.description:
                f.description = " ".join(f.description.split())
                changed = True
        if changed:
            cls.model_rebuild(force=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: Any) -> Any:
        # pydantic reads true as 1 and false as 0; in a parameter file that is a
        # typo far more often than a number, so a number field refuses them.
        if _is_numeric(cls.model_fields[info.field_name].annotation) and _has_bool(value):
            raise ValueError("expected a number, not true or false")
        return value


class CountrySpec(_Strict):
    """One country and its government."""

    name: str = Field(description="Label shown in outputs.")
    population: float = par(
        100.0, 0, 10_000, "Smartphone users, millions (real users).", exclude_lo=True
    )
    segment_mix: tuple[float, float, float] = Field(
        (0.85, 0.12, 0.03),
        description="Shares of consumer, enterprise and government users; sums to 1.",
    )
    income: float = par(
        1.0, 0, 5, "Income level; multiplies prices, services revenue.", exclude_lo=True
    )
    appetite: float = par(0.3, 0, 1, "Surveillance appetite a.")
    rule_of_law: float = par(0.6, 0, 1, "r: how far demands stay warranted and targeted.")
    ban_tolerance: float = par(0.3, 0, 1, "Tolerance for the economic cost of a ban.")
    growth_weight: float = par(
        1.0, 0, 100, "Relative pace at which new users arrive here, per user there is."
    )
    oversample: float = par(
        1.0,
        1,
        10_000,
        "Simulated users here per real user, relative to other countries: a "
        "small country a case is about gets enough simulated users (each stands for fewer "
        "real ones); every figure is weighted back to real users.",
    )

    @model_validator(mode="after")
    def _mix_sums_to_one(self) -> CountrySpec:
        mix = self.segment_mix
        if any(m < 0 for m in mix) or not math.isclose(sum(mix), 1.0, abs_tol=1e-6):
            raise ValueError(f"segment_mix {mix} must be three non-negative shares summing to 1")
        return self


class VendorSpec(_Strict):
    """One phone vendor."""

    name: str = Field(description="Label shown in outputs; used in parameter paths.")
    home: int = par(0, lo=0, doc="Index of its home country.")
    stance: float = par(0.5, 0, 1, "Privacy stance s; 1 = cannot and will not read.")
    ecosystem: float = par(0.3, 0, 1, "Initial ecosystem strength q.")
    initial_share: float = par(0.25, lo=0, doc="Relative weight of its initial installed base.")
    segment_affinity: tuple[float, float, float] = Field(
        (1.0, 1.0, 1.0),
        description="Multiplier on initial_share among consumer, enterprise, government users.",
    )
    country_shares: dict[str, float] = Field(
        default_factory=dict,
        description="Its share of a country's users at the start, by country name, where "
        "known (0-1); elsewhere its initial_share weighs against the other vendors'.",
    )
    price: tuple[float, float, float] = Field(
        (400.0, 500.0, 500.0),
        description="Device price per segment (consumer, enterprise, government), US$.",
    )
    unit_cost: float = par(280.0, 0, 1e6, "Cost per device, US$.")
    service_revenue: float = par(
        4.0, 0, 1e6, "Services revenue per installed user per quarter, US$."
    )
    fixed_cost: float = par(150.0, 0, 1e9, "Fixed cost per quarter, US$M.")
    country_cost: float = par(5.0, 0, 1e9, "Operating cost per country served per quarter, US$M.")
    rd_spend: float = par(50.0, 0, 1e9, "R&D spend per quarter, US$M.")
    cash: float = par(2000.0, -1e15, 1e15, "Cash at the start, US$M.")
    strategy: str = Field(
        "expected_value",
        description="How it answers demands: principled, expected_value, adaptive "
        "(or a rule added with privmarket.agents.strategies.register_strategy).",
    )
    threshold: float = par(0.5, 0, 1, "Principled rule: refuse when stance >= threshold.")
    readable: tuple[bool, bool, bool] = Field(
        (True, True, True),
        description="Tiers (consumer, enterprise, government) whose traffic the vendor can "
        "read: it holds the keys. Opening any other tier means building access (a back door).",
    )
    optional_feature: bool = Field(
        True,
        description="It offers a privacy feature that users opt into and that it can withdraw "
        "in one country while staying there (as Apple withdrew encrypted backups in the United "
        "Kingdom in 2025). Without one, withdrawing a feature is not among its answers.",
    )
    many_makers: bool = Field(
        False,
        description="A platform that stands for many makers (an open ecosystem): makers come "
        "and go, the platform does not leave the market by the viability rule.",
    )

    platform: str = Field(
        "",
        description="The ecosystem it builds on: the name of an open platform (a vendor of "
        "many makers) whose apps its phones run, as a maker of phones on an open operating "
        "system does; its own ecosystem strength is then the platform's, and its users count "
        "toward the platform's ecosystem. Empty: its own ecosystem.",
    )

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, name: str) -> str:
        if name not in STRATEGY_NAMES:
            raise ValueError(f"unknown strategy {name!r}; allowed: {sorted(STRATEGY_NAMES)}")
        return name

    @model_validator(mode="after")
    def _prices_positive(self) -> VendorSpec:
        bad = {c: x for c, x in self.country_shares.items() if not 0 <= x <= 1}
        if bad:
            raise ValueError(f"country_shares {bad} must be shares between 0 and 1")
        if any(not 0 <= p <= 1e6 for p in self.price):
            raise ValueError(f"price {self.price}: allowed: 0 to 1e6 US$ a device per segment")
        if any(a < 0 for a in self.segment_affinity):
            raise ValueError(f"segment_affinity {self.segment_affinity} must be non-negative")
        return self


class ScriptedDemand(_Strict):
    """A demand fixed in advance, to replay a real case."""

    quarter: int = Field(ge=1, description="Quarter in which it is made (1 = first).")
    country: int = Field(ge=0, description="Index of the demanding country.")
    vendor: str = Field(description="Name of the vendor it is made to.")
    segments: tuple[bool, bool, bool] = Field(
        (True, True, True), description="Consumer, enterprise, government traffic asked."
    )
    severity: float = par(0.9, 0, 1, "0 targeted intercept .. 1 back door.")
    deadline: int = par(2, 0, 20, "Quarters until enforcement.")


def _from_table[S: _Strict](
    spec: type[S], columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> list[S]:
    """One ``spec`` per row of a table whose cells are in ``columns`` order.

    The default world is written as tables so that its countries and vendors can
    be compared at a glance; a ``None`` cell leaves that field at its default.
    """
    return [
        spec(**{c: v for c, v in zip(columns, row, strict=True) if v is not None}) for row in rows
    ]


def _default_countries() -> list[CountrySpec]:
    # A synthetic world of eight countries spanning income, appetite and rule of
    # law. Every number here is a guess chosen for spread, not a measurement.
    columns = (
        "name",
        "population",
        "segment_mix",
        "income",
        "appetite",
        "rule_of_law",
        "ban_tolerance",
    )
    rows = [
        ("Northland", 120, (0.84, 0.13, 0.03), 1.6, 0.25, 0.85, 0.30),
        ("Westmark", 200, (0.85, 0.12, 0.03), 1.4, 0.30, 0.80, 0.35),
        ("Eastria", 300, (0.88, 0.09, 0.03), 0.6, 0.80, 0.20, 0.60),
        ("Southport", 150, (0.88, 0.09, 0.03), 0.7, 0.45, 0.50, 0.40),
        ("Gulfstan", 40, (0.80, 0.14, 0.06), 1.5, 0.75, 0.30, 0.55),
        ("Midland", 250, (0.89, 0.08, 0.03), 0.5, 0.55, 0.45, 0.45),
        ("Islay", 60, (0.84, 0.13, 0.03), 1.2, 0.20, 0.90, 0.25),
        ("Highveld", 80, (0.88, 0.09, 0.03), 0.6, 0.60, 0.40, 0.50),
    ]
    return _from_table(CountrySpec, columns, rows)


def _default_vendors() -> list[VendorSpec]:
    # Four synthetic vendors: a small secure specialist on the open platform, a
    # premium ecosystem, an open mass-market ecosystem and a cheap local maker.
    # Guesses, sized so that the secure specialist is near break-even (about 5M
    # units a year was the real secure maker's stated break-even in 2015; see
    # docs/ODD.md).
    # One line per field, one column per vendor.
    table: dict[str, tuple[Any, ...]] = {
        "name": ("Aegis", "Orchard", "Open", "Local"),
        "home": (0, 1, 1, 2),
        "stance": (0.95, 0.7, 0.35, 0.15),
        "ecosystem": (0.15, 0.8, 0.8, 0.3),
        "initial_share": (0.04, 0.2, 0.6, 0.16),
        "price": ((450, 550, 550), (650, 750, 750), (280, 350, 350), (160, 200, 200)),
        "unit_cost": (300, 380, 180, 90),
        "service_revenue": (3.0, 8.0, 3.0, 1.0),
        "fixed_cost": (1200, 1500, 1500, 200),
        "country_cost": (10, 20, 10, 4),
        "rd_spend": (100, 1500, 1000, 30),
        "cash": (2500, 30000, 20000, 2000),
        "strategy": ("principled", "expected_value", "expected_value", "adaptive"),
        "threshold": (0.8, None, None, None),
        # The open ecosystem is a platform of many makers, and the secure specialist
        # builds its phones on it: with a small ecosystem of its own it starved of
        # apps and left within a year at any stance (docs/validation.md).
        "many_makers": (False, False, True, False),
        "platform": ("Open", "", "", ""),
    }
    return _from_table(VendorSpec, list(table), zip(*table.values(), strict=True))


class Params(_Strict):
    """Every parameter of a run, with its default, unit and allowed range.

    Build one with keyword arguments (``Params(n_users=20_000)``), from a plain
    mapping of paths (:meth:`from_flat`), or by updating another
    (:meth:`with_updates`). Validation happens on construction and on every
    update; failures raise :class:`ParameterError`.
    """

    # --- scale and time ---------------------------------------------------
    n_users: int = par(50_000, 1, 50_000_000, "Simulated users (agents).")
    quarters: int = par(40, 1, 400, "Quarters to run by default.")
    start_year: int = par(2015, 1900, 2200, "Calendar year of quarter 1.")
    start_quarter: int = par(1, 1, 4, "Calendar quarter of quarter 1.")

    # --- world ------------------------------------------------------------
    countries: list[CountrySpec] = Field(default_factory=_default_countries, min_length=1)
    vendors: list[VendorSpec] = Field(default_factory=_default_vendors, min_length=1)
    scripted_demands: list[ScriptedDemand] = Field(default_factory=list)
    endogenous_demands: bool = Field(
        True, description="Governments draw demands from their appetite each quarter."
    )
    growth_rate: float = par(
        0.0,
        0,
        0.5,
        "New users a quarter, as a share of the users there are (a synthetic "
        "world's growth; a real case gives units_sold instead).",
    )
    units_sold: dict[int, float] = Field(
        default_factory=dict,
        description="Smartphones sold worldwide per calendar year, millions: new users "
        "arrive each quarter as the units not needed to replace devices coming due.",
    )

    # --- users and choice -------------------------------------------------
    hazard: float = world(0, 1, "Chance per quarter that a device comes due.")
    b_ecosystem: float = world(0, 50)
    """Utility weight of the log of ecosystem strength: q is worth
    b_ecosystem log(q / ecosystem_floor) (see ``ecosystem_floor``)."""
    ecosystem_floor: float = world(0, 1, exclude_lo=True)
    """The weakest ecosystem users tell apart (the maker's own apps; a guess, 0.01): a q
    below it counts as the floor and is worth nothing. Users value an ecosystem by the
    log of its strength, so halving it costs the same utility whether it is strong or
    weak."""
    b_price: float = world(0, 50, "Utility weight of price (per US$500).")
    b_contacts: float = world(0, 50, "Utility weight of the share of contacts on a vendor.")
    switching_cost: float = world(0, 50, "Utility cost of changing vendor.")
    privacy_sensitivity: tuple[float, float, float] = world()
    """Mean privacy sensitivity per segment (consumer, enterprise, government)."""
    privacy_dispersion: float = world(0, 5, "Shape spread of sensitivity (gamma CV).")
    privacy_salience: float = world(0, 10, "Multiplier on all privacy sensitivities.")
    price_sensitivity_spread: float = world(0, 2, "Lognormal sigma of price sensitivity.")
    initial_age_cycles: float = world(0, 10, exclude_lo=True)
    """Initial device ages spread uniformly over this many replacement cycles
    (1 / hazard quarters each)."""
    contacts_mean_degree: int = world(0, 200, "Contacts per user.")
    contacts_cross_border: float = world(0, 1, "Share of a consumer's contacts abroad.")
    contacts_cross_border_enterprise: float = world(0, 1)
    """Share of an enterprise user's contacts abroad."""

    # --- governments ------------------------------------------------------
    demand_rate: float = world(0, 10, "Base hazard of a demand per quarter per vendor.")
    visibility_floor: float = world(0, 1, "Visibility of a vendor with no local users.")
    segment_weights: tuple[float, float, float] = world()
    """Weight of consumer, enterprise, government users in visibility and ban cost."""
    contagion: float = world(0, 10, "Rise in demand propensity per concession cited.")
    deadline_quarters: int = world(0, 20, "Quarters until enforcement.")
    ban_review_rate: float = world(0, 20)
    """Hazard per quarter that a ban is reviewed and lifted (courts, public cost, a deal),
    times the share of the domestic cost in cost plus gain."""
    ban_cost_income_elasticity: float = world(0, 2)
    """Exponent of income in a government's cost of a ban (0: a ban costs poor and rich
    countries alike; 1: in proportion to income)."""
    ban_cost_weight: float = world(0, 100, "Weight of the domestic cost of losing a vendor.")
    partial_deal_value: float = world(0, 1)
    """Share of its gain a government sees in a partial deal."""
    severity_noise: float = world(0, 1, "Sd of demand severity.")
    severity_law_restraint: float = world(0, 1)
    """How far rule of law r scales a demand's severity down:
    severity = a (1 - this r) + severity_appetite_floor a (+ noise)."""
    severity_appetite_floor: float = world(0, 1)
    """Share of appetite a that adds to severity whatever the rule of law."""
    severity_bands: tuple[float, float] = world()
    """Severity cuts between targeted intercept (consumer traffic), broad interception
    (consumer and enterprise) and bulk access (all three tiers)."""
    demand_cooldown: int = world(0, 40)
    """Quarters a government waits, beyond the deadline interval, before asking the same
    vendor again once a demand is settled."""

    # --- vendors ----------------------------------------------------------
    trust_loss_comply: float = world(0, 1, "Trust lost by full access granted anywhere.")
    trust_loss_base: float = world(0, 1)
    """Share of trust_loss_comply lost for access of severity 0:
    loss = trust_loss_comply (this + trust_loss_slope severity)."""
    trust_loss_slope: float = world(0, 1)
    """Extra share of trust_loss_comply lost per unit of severity."""
    negotiation_trust_weight: float = world(0, 1)
    """Share of the trust loss that a negotiated (partial, disclosed) grant costs."""
    access_trust_cap: float = world(0, 1)
    """Share of stance that trust can no longer recover to when a vendor has granted access
    in every country (scaled by the share of such countries)."""
    trust_gain_refuse: float = world(-1, 1)
    """Trust gained by a public refusal or exit (negative: lost, where the public sides with
    the government, as it leaned to in a terror case; docs/cases.md, case 6)."""
    trust_recovery: float = world(0, 1, "Share of the gap to stance closed per quarter.")
    ecosystem_rate: float = world(0, 1, "Share of the gap to installed share closed per quarter.")
    ecosystem_exponent: float = world(0, 3, exclude_lo=True)
    """q's target is installed share to this power."""
    rd_effect: float = world(0, 1, "Ecosystem gained per quarter per US$1bn of R&D.")
    developer_value_weight: float = world(0, 1)
    """How far developers follow users' spending rather than their number: the ecosystem's
    target blends installed share with the share of users' spending on apps (0: users
    alone; 1: spending alone, the shipped value; what spending is, is
    ``spending_price_exponent``)."""
    spending_price_exponent: float = world(0, 5)
    """How users' spending on apps grows with what they paid for the device: spending per
    user goes as price to this power (0: the same for every user, so developers follow
    users' number; 1: in proportion to price; above 1: buyers of premium devices spend
    disproportionately more, so developers can follow a platform with a minority of
    users). Calibrated."""
    withdraw_cut: float = world(0, 1, "Share of local stance lost by withdrawing a feature.")
    loss_quarters: int = world(1, 100, "k: handset losses in a row before leaving the market.")
    ev_horizon: int = world(1, 100, "Quarters of profit the expected-value rule weighs.")
    decision_temperature: float = world(0, 5)
    """Noise in vendors' answers and governments' verdicts: they choose by a logit over the
    values of their options, each value relative to what is at stake (for a vendor, what
    the country is worth to it); 0 always takes the best value (sharp thresholds)."""
    legal_penalty: float = world(0, 5)
    """Expected cost of refusing a lawful demand, as a share of the country's value to the
    vendor, times the country's rule of law and the demand's severity (courts enforce
    orders where law rules; elsewhere bans do)."""
    backdoor_trust_factor: float = world(1, 10)
    """How many times more trust it costs to build access to traffic the vendor cannot read
    (a back door) than to hand over traffic it can; a back door costs the trust of the
    broadest demand (severity 1), since once built it opens every user's traffic."""
    learning_rate: float = world(0, 1, "Adaptive rule: weight of the newest outcome.")
    exploration: float = world(0, 1, "Adaptive rule: chance of a random answer.")

    # --- validation across fields ----------------------------------------
    @model_validator(mode="after")
    def _consistent(self) -> Params:
        names = [v.name for v in self.vendors]
        if len(set(names)) != len(names):
            raise ValueError(f"vendor names {names} must be unique")
        cnames = [c.name for c in self.countries]
        if len(set(cnames)) != len(cnames):
            raise ValueError(f"country names {cnames} must be unique")
        if len(self.vendors) > 32:
            raise ValueError(f"{len(self.vendors)} vendors given; at most 32 allowed")
        if len(self.countries) > 1000:
            raise ValueError(f"{len(self.countries)} countries given; at most 1000 allowed")
        for v in self.vendors:
            if v.home >= len(self.countries):
                raise ValueError(
                    f"vendors.{v.name}.home = {v.home} names no country; "
                    f"allowed 0..{len(self.countries) - 1}"
                )
        by_name = {v.name: v for v in self.vendors}
        for v in self.vendors:
            if not v.platform:
                continue
            owner = by_name.get(v.platform)
            allowed = [u.name for u in self.vendors if u.many_makers and not u.platform]
            if owner is None or owner is v or not owner.many_makers or owner.platform:
                raise ValueError(
                    f"vendors.{v.name}.platform = {v.platform!r} names no open platform; "
                    f"allowed: another vendor with many_makers = true: {allowed}"
                )
        if sum(v.initial_share for v in self.vendors) <= 0:
            raise ValueError("vendors' initial_share must not all be zero")
        for v in self.vendors:
            unknown = sorted(set(v.country_shares) - set(cnames))
            if unknown:
                raise ValueError(
                    f"vendors.{v.name}.country_shares names {unknown}; allowed: {cnames}"
                )
        for c in cnames:
            listed = sum(v.country_shares.get(c, 0.0) for v in self.vendors)
            if listed > 1 + 1e-9:
                raise ValueError(f"country_shares in {c!r} add up to {listed:.3f}, more than 1")
        if self.units_sold:
            first = self.start_year
            last = self.start_year + (self.start_quarter - 1 + self.quarters - 1) // 4
            missing = [y for y in range(first, last + 1) if y not in self.units_sold]
            if missing:
                raise ValueError(f"units_sold lacks the run's year(s) {missing}")
            if any(u < 0 for u in self.units_sold.values()):
                raise ValueError("units_sold must not be negative")
        for d in self.scripted_demands:
            if d.vendor not in names:
                raise ValueError(f"scripted demand names vendor {d.vendor!r}; allowed {names}")
            if d.country >= len(self.countries):
                raise ValueError(
                    f"scripted demand names country {d.country}; "
                    f"allowed 0..{len(self.countries) - 1}"
                )
        if any(s < 0 for s in self.privacy_sensitivity):
            raise ValueError(f"privacy_sensitivity {self.privacy_sensitivity} must be >= 0")
        if any(w < 0 for w in self.segment_weights):
            raise ValueError(f"segment_weights {self.segment_weights} must be >= 0")
        lo, hi = self.severity_bands
        if not 0 <= lo <= hi <= 1:
            raise ValueError(
                f"severity_bands {self.severity_bands} must be two cuts with 0 <= first <= second <= 1"
            )
        return self

    # --- construction helpers --------------------------------------------
    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ParameterError(_explain(exc)) from None

    def vendor(self, name: str) -> VendorSpec:
        """The vendor called ``name``."""
        for v in self.vendors:
            if v.name == name:
                return v
        raise ParameterError(f"unknown vendor {name!r}; allowed: {[v.name for v in self.vendors]}")

    @property
    def scale(self) -> float:
        """Real users one simulated user stands for."""
        return sum(c.population for c in self.countries) * 1e6 / self.n_users

    @classmethod
    def from_flat(cls, values: dict[str, Any], base: Params | None = None) -> Params:
        """A parameter set from ``{path: value}``, applied on ``base`` (default: defaults)."""
        return (base or cls()).with_updates(values)

    def with_updates(self, values: dict[str, Any]) -> Params:
        """A validated copy with each ``path: value`` in ``values`` applied."""
        data = self.model_dump()
        for path, value in values.items():
            _set_path(data, path, value)
        return Params(**data)

    def canonical_path(self, path: str) -> str:
        """The one spelling of ``path``: vendors and countries by name, never by index.

        ``vendors.0.stance`` and ``vendors.Aegis.stance`` name one parameter; both
        give ``"vendors.Aegis.stance"``. ``*`` paths stay as they are. Raises
        :class:`ParameterError` for a path that names nothing.

        >>> Params().canonical_path("vendors.0.stance")
        'vendors.Aegis.stance'
        """
        parts = path.split(".")
        if parts[0] in ("vendors", "countries") and len(parts) == 3 and parts[1] != "*":
            items = self.model_dump()[parts[0]]
            (i,) = _index(items, parts[1], path)
            if parts[2] not in items[i]:
                raise ParameterError(
                    f"unknown parameter {path!r}; known fields of {parts[0]}: {', '.join(items[i])}"
                )
            return f"{parts[0]}.{items[i]['name']}.{parts[2]}"
        self.get(path)  # raises for an unknown path
        return path

    def get(self, path: str) -> Any:
        """The value at ``path`` (for ``*`` paths, a list of values)."""
        data = self.model_dump()
        return _get_path(data, path)

    @classmethod
    def world_fields(cls) -> list[str]:
        """Names of the world parameters: behaviour shared by every scenario."""
        return [n for n, f in cls.model_fields.items() if _role(f) == "world"]

    @classmethod
    def case_fields(cls) -> list[str]:
        """Names of the case inputs: the dated facts a scenario gives."""
        return [n for n in cls.model_fields if n not in cls.world_fields()]

    def world(self) -> dict[str, Any]:
        """This parameter set's world parameters, by name."""
        return {n: getattr(self, n) for n in self.world_fields()}

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """One row per top-level scalar field: name, default, description, range."""
        rows = []
        for name, f in cls.model_fields.items():
            if name in ("countries", "vendors", "scripted_demands"):
                continue
            lo, hi = _bounds(f)
            rows.append(
                dict(
                    name=name,
                    default=f.get_default(call_default_factory=True),
                    description=f.description,
                    low=lo,
                    high=hi,
                    role=_role(f),
                )
            )
        return rows


def _is_numeric(annotation: Any) -> bool:
    """A number, or a tuple or list of numbers (bool is not a number here)."""
    if annotation in (int, float):
        return True
    args = get_args(annotation)
    return bool(args) and all(a in (int, float, Ellipsis) for a in args)


def _has_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list | tuple) and any(isinstance(x, bool) for x in value)


def _bounds(field: Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in field.metadata:
        lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
        lo = getattr(m, "gt", None) if getattr(m, "gt", None) is not None else lo
        hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
        hi = getattr(m, "lt", None) if getattr(m, "lt", None) is not None else hi
    return lo, hi


def _allowed(loc: tuple, model: type[BaseModel]) -> str:
    """What a field allows, from its declaration, for error messages."""
    cls: Any = model
    field = None
    for part in loc:
        if isinstance(part, int) or cls is None:
            continue
        fields = getattr(cls, "model_fields", {})
        if part not in fields:
            return f"known fields: {', '.join(fields)}" if fields else ""
        field = fields[part]
        ann = field.annotation
        inner = getattr(ann, "__args__", None)
        cls = None
        for cand in (ann, *(inner or ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                cls = cand
    if field is None:
        return ""
    lo, hi = _bounds(field)
    parts = []
    if lo is not None or hi is not None:
        # an excluded end (gt, lt, or no bound) is shown open: "(0, 3]" does not allow 0
        open_lo = lo is None or any(getattr(m, "gt", None) is not None for m in field.metadata)
        open_hi = hi is None or any(getattr(m, "lt", None) is not None for m in field.metadata)
        parts.append(
            f"range {'(' if open_lo else '['}{'-inf' if lo is None else lo}, "
            f"{'inf' if hi is None else hi}{')' if open_hi else ']'}"
        )
    if field.description:
        parts.append(field.description)
    return "; ".join(parts)


def _explain(exc: ValidationError) -> str:
    msgs = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        where = ".".join(str(p) for p in loc) or "parameters"
        value = err.get("input")
        if err["type"] == "extra_forbidden":
            msgs.append(f"unknown parameter {where!r}; {_allowed(loc[:-1] + ('__x__',), Params)}")
            continue
        allowed = _allowed(loc, Params)
        text = err.get("msg", "invalid").removeprefix("Value error, ")
        shown = value if not isinstance(value, dict) else "{...}"
        msgs.append(
            f"invalid value for {where!r}: {shown!r} ({text})"
            + (f"; allowed: {allowed}" if allowed else "")
        )
    return "; ".join(msgs)


def _index(items: list[dict], key: str, path: str) -> list[int]:
    if key == "*":
        return list(range(len(items)))
    for i, item in enumerate(items):
        if item.get("name") == key:
            return [i]
    # Only ASCII digits are an index: str.isdigit() also accepts "²" and other
    # Unicode digits, which int() then refuses or reads unexpectedly.
    if key.isascii() and key.isdigit() and int(key) < len(items):
        return [int(key)]
    names = [item.get("name") for item in items]
    raise ParameterError(
        f"parameter path {path!r}: no entry {key!r}; allowed: *, 0..{len(items) - 1}, "
        f"or a name in {names}"
    )


_LISTS = ("vendors", "countries", "scripted_demands")


def _set_path(data: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0] in _LISTS and len(parts) == 3:
        items = data[parts[0]]
        for i in _index(items, parts[1], path):
            if parts[2] not in items[i]:
                raise ParameterError(
                    f"unknown parameter {path!r}; known fields of {parts[0]}: {', '.join(items[i])}"
                )
            items[i][parts[2]] = value
        return
    if len(parts) != 1:
        raise ParameterError(
            f"unknown parameter {path!r}; use a top-level name, or "
            "vendors.NAME.field / countries.NAME.field (NAME may be an index or *)"
        )
    if path not in Params.model_fields:
        raise ParameterError(f"unknown parameter {path!r}; known: {', '.join(Params.model_fields)}")
    data[path] = value


def _get_path(data: dict, path: str) -> Any:
    parts = path.split(".")
    if parts[0] in _LISTS and len(parts) == 3:
        items = data[parts[0]]
        idx = _index(items, parts[1], path)
        if idx and parts[2] not in items[idx[0]]:
            raise ParameterError(
                f"unknown parameter {path!r}; known fields of {parts[0]}: "
                f"{', '.join(items[idx[0]])}"
            )
        vals = [items[i][parts[2]] for i in idx]
        return vals if parts[1] == "*" else vals[0]
    if path not in data:
        raise ParameterError(f"unknown parameter {path!r}")
    return data[path]

"""Readable names and units for parameters and outcomes, shared by both pages.

Parameter labels come from the parameter model itself: the field's name in
words and its description (``Field(description=...)`` in ``sim/params.py``), so
a new parameter is labelled without touching the dashboard. Outcomes (the
``summary()`` keys a sweep stores, and the live page's figures) are shown in
one set of units on both pages: shares in %, money in US$ M (cash in US$ bn),
trust from 0 to 1.

Example
-------
>>> param_label("vendors.Aegis.stance")
'Aegis: privacy stance'
>>> param_label("countries.*.appetite")
'every country: surveillance appetite'
>>> param_help("hazard")
'Chance per quarter that a device comes due.'
>>> outcome_label("Aegis.installed_share"), outcome_unit("privacy_exposure")
('Aegis: installed share (%)', '%')
>>> display_value("privacy_exposure", 0.031)
3.1
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel

from privmarket.sim.params import CountrySpec, Params, VendorSpec

_LISTS: dict[str, type[BaseModel]] = {"vendors": VendorSpec, "countries": CountrySpec}
#: Words for field names whose description starts with a symbol ("r: how far ...").
_SYMBOL = re.compile(r"^([a-zA-Z])\s*:\s*")


def _field(path: str) -> tuple[str, Any] | None:
    """The (entity, pydantic field) a parameter path names, or None."""
    parts = path.split(".")
    if len(parts) == 3 and parts[0] in _LISTS:
        model = _LISTS[parts[0]]
        entity = (
            f"every {parts[0].removesuffix('s').replace('countrie', 'country')}"
            if parts[1] == "*"
            else parts[1]
        )
        field = model.model_fields.get(parts[2])
        return (entity, field) if field is not None else None
    field = Params.model_fields.get(path)
    return ("", field) if field is not None else None


@cache
def _short(description: str, name: str) -> str:
    """A label from a description: its first clause, lower-cased, without a symbol.

    "Privacy stance s; 1 = cannot ..." gives "privacy stance"; a description
    that opens with a symbol ("r: how far demands ...") gives the field's name
    in words ("rule of law").
    """
    words = name.replace("_", " ")
    if not description or _SYMBOL.match(description):
        return words
    first = re.split(r"[;.(]|, (?=US\$|in )", description, maxsplit=1)[0].strip()
    # "How it answers demands: principled, expected_value, ..." lists choices after the colon
    listing = re.match(r"^([^:]+): [a-z_]+(, [a-z_]+)+", first)
    if listing:
        first = listing.group(1)
    # a trailing one-letter symbol ("Privacy stance s", "appetite a") is notation, not a
    # word, unless it is the object of the phrase ("Utility weight of q")
    first = re.sub(r"(?<!\bof)(?<!\bto)(?<!\bby)\s+[a-zA-Z]$", "", first)
    if not first or len(first) > 64:
        return words
    # lower-case the first letter unless it starts an abbreviation ("R&D", "Q's")
    return first[:1].lower() + first[1:] if first[1:2].islower() or first[1:2] == " " else first


def param_label(path: str) -> str:
    """A readable label for a parameter path (the path itself if it names nothing known)."""
    found = _field(path)
    if found is None:
        return path
    entity, field = found
    name = path.rsplit(".", 1)[-1]
    short = _short(field.description or "", name)
    return f"{entity}: {short}" if entity else short[:1].upper() + short[1:]


def param_help(path: str) -> str:
    """The parameter's full description (empty if it has none)."""
    found = _field(path)
    return (found[1].description or "") if found else ""


# ------------------------------------------------------------------ outcomes
#: Per-vendor and market outcomes: label, unit, and the factor from stored value to shown value.
_OUTCOMES: dict[str, tuple[str, str, float]] = {
    "installed_share": ("installed share", "%", 100.0),
    "sales_share": ("sales share", "%", 100.0),
    "cash": ("cash", "US$ bn", 0.001),
    "profit": ("quarterly profit", "US$ M", 1.0),
    "handset_profit": ("handset profit", "US$ M", 1.0),
    "trust": ("privacy trust", "0-1", 1.0),
    "alive": ("still in the market", "% of runs", 100.0),
    "countries_served": ("countries served", "countries", 1.0),
    "countries_with_access": ("countries given access", "countries", 1.0),
    "bans_suffered": ("bans suffered", "bans", 1.0),
    "exit_quarter": ("quarter it left", "quarter", 1.0),
    "privacy_exposure": ("privacy exposure", "%", 100.0),
    "hhi": ("market concentration (HHI)", "points", 1.0),
    "active_vendors": ("vendors active", "vendors", 1.0),
    "consumer_welfare": ("consumer welfare", "utility", 1.0),
    "quarters": ("quarters run", "quarters", 1.0),
    "demands": ("demands", "count", 1.0),
    "bans": ("bans", "count", 1.0),
    "backdowns": ("back-downs", "count", 1.0),
    "deals": ("partial deals", "count", 1.0),
    "country_exits": ("country exits", "count", 1.0),
    "readable_share": ("users readable", "%", 100.0),
}


def _outcome(name: str) -> tuple[str, str, tuple[str, str, float] | None]:
    entity, _, figure = name.rpartition(".")
    return entity, figure, _OUTCOMES.get(figure)


def outcome_label(name: str, unit: bool = True) -> str:
    """``"Aegis.installed_share"`` -> ``"Aegis: installed share (%)"``."""
    entity, figure, known = _outcome(name)
    text = known[0] if known else figure.replace("_", " ")
    if unit and known and known[1] not in ("count", "0-1"):
        text += f" ({known[1]})"
    if entity:
        return f"{entity}: {text}"
    return text[:1].upper() + text[1:]


def outcome_unit(name: str) -> str:
    known = _outcome(name)[2]
    return known[1] if known else ""


def display_value(name: str, value: Any) -> Any:
    """A stored outcome value in the unit it is shown in (shares as %, cash in US$ bn)."""
    known = _outcome(name)[2]
    if known is None or value is None or isinstance(value, str):
        return value
    try:
        return round(float(value) * known[2], 10)
    except (TypeError, ValueError):
        return value

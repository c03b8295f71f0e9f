"""Named scenarios: TOML data files, each a note, its sources, its patterns and its parameters.

A scenario file (``<name>.toml`` in this folder) holds a one-line ``summary``,
a ``note`` (the real counterpart, what is measured, what is assumed),
``sources``, the ``patterns`` it must reproduce, and its *case inputs*: the
dated facts of the case (``[parameters]`` for the run's size, dates and growth,
``[[countries]]``, ``[[vendors]]``, ``[[scripted_demands]]``). It never sets a
world parameter (behaviour shared by every scenario: :meth:`Params.world_fields`);
those come from the shipped estimate (``sim/posterior/world.toml``). Loading a
file that sets one is an error naming it.

One world, many cases:

* a vendor that appears in several cases is one vendor: its entry names its
  specification in ``vendors.toml`` (``spec = "blackberry"``), which fixes its
  decision rule and stance; the entry gives only its dated state (prices, costs,
  cash, shares, what it can read);
* a real country's surveillance appetite, rule of law and income come from
  published indices by one mapping for every country (:func:`appetite_from_rank`,
  :func:`rule_of_law_from_percentile`, :func:`income_from_gdp`);
* a country entry may start from a block of ``shared.toml`` (``like = "key"``).

The result is validated by the same pydantic model as every other parameter set.

To add a scenario, add a file: it is found by its name.

>>> from privmarket.sim.scenarios import get_scenario, list_scenarios
>>> "baseline" in list_scenarios()
True
>>> get_scenario("pakistan-2015").params.vendors[0].name
'BlackBerry'
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from privmarket.sim.params import ParameterError, Params

#: The folder of scenario files (inside the installed package).
FOLDER = files("privmarket.sim.scenarios")
#: Order of the scenario list; files not listed here come after, by name.
ORDER = (
    "baseline",
    "pakistan-2015",
    "uae-2010",
    "saudi-2010",
    "india-2010-2013",
    "us-2016",
    "uk-2025",
    "platform-decline-2009-2016",
)
SHARED = "shared.toml"
VENDORS = "vendors.toml"
#: A vendor's behaviour, fixed by its specification (vendors.toml), never by a case.
VENDOR_BEHAVIOUR = ("strategy", "threshold", "stance", "many_makers")
#: Index inputs of a real country entry, mapped to appetite and rule of law.
INDEX_KEYS = ("press_freedom_rank", "press_freedom_countries", "rule_of_law_percentile")


def appetite_from_rank(rank: int, countries: int) -> float:
    """Surveillance appetite from the RSF World Press Freedom Index rank.

    (rank - 1) / (countries ranked - 1): 0 for the freest press, 1 for the least
    free. Ranks rather than scores, so that the index's two changes of scale
    (2013, 2022) do not matter. The same mapping for every country.
    """
    return (rank - 1) / (countries - 1)


#: GDP per person (current US$) that counts as income level 1: about the world's
#: average in 2010-2016 (World Bank; a rounded, recalled figure).
REFERENCE_GDP_PER_CAPITA = 10_000.0


def income_from_gdp(gdp_per_capita: float) -> float:
    """Income level from GDP per person: the square root of its ratio to the world's
    average. Device prices vary far less than incomes, so income enters as a square
    root (a guess). The same mapping for every country."""
    return (gdp_per_capita / REFERENCE_GDP_PER_CAPITA) ** 0.5


def rule_of_law_from_percentile(percentile: float) -> float:
    """Rule of law from the World Bank's Worldwide Governance Indicators (Rule of Law,
    percentile rank 0-100), divided by 100. The same mapping for every country."""
    return percentile / 100


@dataclass(frozen=True)
class Scenario:
    """A named parameter set with its note, sources and expected patterns."""

    name: str
    summary: str  # one line
    note: str  # a paragraph: the real counterpart, what is measured, what is assumed
    params: Params
    sources: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()  # what the scenario must reproduce, in words
    extra: dict[str, Any] = field(default_factory=dict)


class ScenarioFile(BaseModel):
    """The layout of a scenario file (its parameters are checked by :class:`Params`)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    summary: str
    note: str
    sources: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    countries: list[dict[str, Any]] | None = None
    vendors: list[dict[str, Any]] | None = None
    scripted_demands: list[dict[str, Any]] = Field(default_factory=list)
    #: Parameter values fitted by ``privmarket calibrate``, applied after the rest.
    calibrated: dict[str, Any] = Field(default_factory=dict)
    #: Data files that come with the scenario, relative to this folder.
    data: dict[str, str] = Field(default_factory=dict)


def list_scenarios() -> list[str]:
    """Names of all scenarios, in a stable order."""
    found = sorted(
        p.name.removesuffix(".toml")
        for p in FOLDER.iterdir()
        if p.name.endswith(".toml") and p.name not in (SHARED, VENDORS)
    )
    return [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; a clear error naming the choices otherwise."""
    if not isinstance(name, str) or name not in list_scenarios():
        raise ParameterError(f"unknown scenario {name!r}; allowed: {', '.join(list_scenarios())}")
    return _load(name)


@functools.cache
def _shared() -> dict[str, dict[str, dict[str, Any]]]:
    return tomllib.loads(FOLDER.joinpath(SHARED).read_text(encoding="utf-8"))


@functools.cache
def _load(name: str) -> Scenario:
    scenario = load_scenario(FOLDER.joinpath(f"{name}.toml"))
    if scenario.name != name:
        raise ParameterError(
            f"scenario file {name}.toml: name = {scenario.name!r} differs from the file's name"
        )
    return scenario


def load_scenario(path: Any) -> Scenario:
    """A scenario from a TOML file anywhere (the shipped ones are in this folder).

    The same rules hold as for the shipped scenarios: case inputs only, real vendors
    by their spec, real countries' indices mapped the one way.
    """
    source = f"scenario file {Path(str(path)).name}"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        spec = ScenarioFile(**raw)
    except FileNotFoundError:
        raise ParameterError(f"{source}: no such file") from None
    except UnicodeDecodeError:
        raise ParameterError(f"{source}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{source}: not valid TOML ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ParameterError(f"{source}: {where}: {first['msg']}") from None
    world = [k for k in spec.parameters if k in Params.world_fields()]
    if world:
        raise ParameterError(
            f"{source}: [parameters] sets world parameter(s) {', '.join(world)}; a scenario "
            "gives case inputs only (world parameters are shared by every scenario: "
            f"{', '.join(Params.case_fields())} are allowed)"
        )
    data: dict[str, Any] = dict(spec.parameters)
    if spec.countries is not None:
        data["countries"] = [_country(entry, source) for entry in spec.countries]
    if spec.vendors is not None:
        data["vendors"] = [_vendor(entry, source) for entry in spec.vendors]
    if spec.scripted_demands:
        data["scripted_demands"] = spec.scripted_demands
    try:
        params = Params(**data)
        if spec.calibrated:
            params = params.with_updates(spec.calibrated)
    except ParameterError as exc:
        raise ParameterError(f"{source}: {exc}") from None
    extra: dict[str, Any] = {k: Path(str(FOLDER.joinpath(v))) for k, v in spec.data.items()}
    if spec.calibrated:
        extra["calibrated"] = dict(spec.calibrated)
    return Scenario(
        name=spec.name,
        summary=spec.summary,
        note=" ".join(spec.note.split()),
        params=params,
        sources=tuple(spec.sources),
        patterns=tuple(spec.patterns),
        extra=extra,
    )


@functools.cache
def vendor_specs() -> dict[str, dict[str, Any]]:
    """The vendors that appear in several cases, by key: their behaviour, written once."""
    return tomllib.loads(FOLDER.joinpath(VENDORS).read_text(encoding="utf-8"))


def _country(entry: dict[str, Any], source: str) -> dict[str, Any]:
    """A country entry with its ``like`` block filled in and its indices mapped."""
    entry = dict(entry)
    if "like" in entry:
        like = entry.pop("like")
        blocks = _shared().get("countries", {})
        if like not in blocks:
            raise ParameterError(
                f"{source}: country entry like = {like!r} names no block of {SHARED}; "
                f"allowed: {', '.join(blocks) or 'none'}"
            )
        entry = {**blocks[like], **entry}
    given = [k for k in INDEX_KEYS if k in entry]
    if given:
        name = entry.get("name", "?")
        if len(given) != len(INDEX_KEYS):
            missing = [k for k in INDEX_KEYS if k not in entry]
            raise ParameterError(f"{source}: country {name!r} lacks {', '.join(missing)}")
        by_hand = [k for k in ("appetite", "rule_of_law") if k in entry]
        if by_hand:
            raise ParameterError(
                f"{source}: country {name!r} sets {', '.join(by_hand)} by hand and from the "
                "indices; give the indices only"
            )
        rank, n = entry.pop("press_freedom_rank"), entry.pop("press_freedom_countries")
        if not (isinstance(rank, int) and isinstance(n, int) and 1 <= rank <= n and n > 1):
            raise ParameterError(
                f"{source}: country {name!r}: press_freedom_rank {rank!r} of "
                f"{n!r}: expected whole numbers with 1 <= rank <= countries"
            )
        entry["appetite"] = appetite_from_rank(rank, n)
        entry["rule_of_law"] = rule_of_law_from_percentile(entry.pop("rule_of_law_percentile"))
    if "gdp_per_capita" in entry:
        if "income" in entry:
            raise ParameterError(
                f"{source}: country {entry.get('name', '?')!r} sets income by hand and from "
                "gdp_per_capita; give gdp_per_capita only"
            )
        entry["income"] = income_from_gdp(float(entry.pop("gdp_per_capita")))
    return entry


def _vendor(entry: dict[str, Any], source: str) -> dict[str, Any]:
    """A vendor entry: its specification's behaviour, with the case's dated state."""
    entry = dict(entry)
    key = entry.pop("spec", None)
    if key is None:
        raise ParameterError(
            f"{source}: vendor entry {entry.get('name', '?')!r} names no spec; a real vendor "
            f"is one vendor across its cases: give spec = one of {', '.join(vendor_specs())}"
        )
    if key not in vendor_specs():
        raise ParameterError(
            f"{source}: vendor spec {key!r} is not in {VENDORS}; "
            f"allowed: {', '.join(vendor_specs())}"
        )
    behaviour = [k for k in entry if k in VENDOR_BEHAVIOUR or k == "name"]
    if behaviour:
        raise ParameterError(
            f"{source}: vendor {key!r} sets {', '.join(behaviour)}, which its spec fixes "
            f"({VENDORS}); a case gives only dated state"
        )
    return {**vendor_specs()[key], **entry}

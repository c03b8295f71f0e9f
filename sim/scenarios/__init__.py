"""Named scenarios: TOML data files, each a note, its sources, its patterns and its parameters.

A scenario file (``<name>.toml`` in this folder) holds a one-line ``summary``,
a ``note`` (the real counterpart, what is measured, what is assumed),
``sources``, the ``patterns`` it must reproduce, and the parameters it sets:
top-level ones under ``[parameters]``, and the world's ``[[countries]]``,
``[[vendors]]`` and ``[[scripted_demands]]``. Everything a file does not set
keeps its default (:class:`privmarket.sim.params.Params`), so shared defaults
are written once. A country or vendor entry may start from a block of
``shared.toml`` with ``like = "key"`` and add what differs. The result is
validated by the same pydantic model as every other parameter set.

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
        if p.name.endswith(".toml") and p.name != SHARED
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
    source = f"scenario file {name}.toml"
    try:
        raw = tomllib.loads(FOLDER.joinpath(f"{name}.toml").read_text(encoding="utf-8"))
        spec = ScenarioFile(**raw)
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ParameterError(f"{source}: {exc}") from None
    if spec.name != name:
        raise ParameterError(f"{source}: name = {spec.name!r} differs from the file's name")
    data: dict[str, Any] = dict(spec.parameters)
    for key in ("countries", "vendors"):
        entries = getattr(spec, key)
        if entries is not None:
            data[key] = [_expand(entry, key, source) for entry in entries]
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


def _expand(entry: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    """A country or vendor entry with its ``like`` block from shared.toml filled in."""
    if "like" not in entry:
        return dict(entry)
    like = entry["like"]
    blocks = _shared().get(key, {})
    if like not in blocks:
        raise ParameterError(
            f"{source}: {key} entry like = {like!r} names no block of {SHARED}; "
            f"allowed: {', '.join(blocks) or 'none'}"
        )
    return {**blocks[like], **{k: v for k, v in entry.items() if k != "like"}}

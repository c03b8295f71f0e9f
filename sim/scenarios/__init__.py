"""Named presets: a parameter set plus a note of its real counterpart.

Each scenario module defines ``SCENARIO``, a :class:`Scenario`. Add a module
and list it in ``_MODULES`` to register a new one.

>>> from privmarket.sim.scenarios import get_scenario, list_scenarios
>>> "baseline" in list_scenarios()
True
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from privmarket.sim.params import ParameterError, Params


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


_MODULES = {
    "baseline": "privmarket.sim.scenarios.baseline",
    "pakistan-2015": "privmarket.sim.scenarios.pakistan_2015",
    "uae-2010": "privmarket.sim.scenarios.uae_2010",
    "saudi-2010": "privmarket.sim.scenarios.saudi_2010",
    "india-2010-2013": "privmarket.sim.scenarios.india_2010_2013",
    "us-2016": "privmarket.sim.scenarios.us_2016",
    "uk-2025": "privmarket.sim.scenarios.uk_2025",
    "platform-decline-2009-2016": "privmarket.sim.scenarios.platform_decline",
}


def list_scenarios() -> list[str]:
    """Names of all scenarios, in a stable order."""
    return list(_MODULES)


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name``; a clear error naming the choices otherwise."""
    if name not in _MODULES:
        raise ParameterError(f"unknown scenario {name!r}; allowed: {', '.join(list_scenarios())}")
    return importlib.import_module(_MODULES[name]).SCENARIO

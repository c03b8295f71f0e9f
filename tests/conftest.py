"""Shared fixtures: small, fixed worlds for behaviour tests."""

from __future__ import annotations

import os

from hypothesis import settings

from privmarket.sim.params import Params

# Property-based tests: random exploration on developers' machines, a fixed
# (derandomized) set of examples in CI so that a run is repeatable.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")


def small_world(
    vendors: list[dict] | None = None,
    countries: list[dict] | None = None,
    **kw,
) -> Params:
    """A small world with no random demands, for tests that script what happens."""
    countries = countries or [dict(name="Home"), dict(name="Away")]
    vendors = vendors or [
        dict(name="Big", initial_share=0.7, stance=0.5),
        dict(name="Small", initial_share=0.3, stance=0.5),
    ]
    base = dict(n_users=3000, quarters=12, endogenous_demands=False)
    base.update(kw)
    return Params(countries=countries, vendors=vendors, **base)

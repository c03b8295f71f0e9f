"""What an agent may see of the market: a small, named, read-only view.

Vendors and governments decide from this view and from their own state; they
never reach into the model. :class:`privmarket.sim.model.MarketModel` is the
one implementation (it satisfies both protocols structurally); a test or a new
model can offer another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from privmarket.sim.params import Params, VendorSpec


class VendorView(Protocol):
    """What governments and decision rules read of a vendor."""

    index: int
    name: str
    spec: VendorSpec
    stance: float
    trust: float
    revenue: float
    local_stance: np.ndarray  # per country
    access: np.ndarray  # (countries, segments) bool: granted to that government
    readable: np.ndarray  # (segments,) bool: tiers whose traffic it can read
    alive: bool

    def is_active_in(self, country: int) -> bool: ...

    def concessions_elsewhere(self, country: int) -> int: ...


class MarketView(Protocol):
    """The market as agents see it at their turn in the quarter."""

    @property
    def quarter(self) -> int: ...

    @property
    def params(self) -> Params: ...

    @property
    def rng(self) -> np.random.Generator: ...

    @property
    def vendor_list(self) -> Sequence[VendorView]: ...

    def weighted_share(
        self, vendor: int, country: int, segments: np.ndarray | None = None
    ) -> float:
        """A vendor's share of a country's users, weighted by segment (its visibility);
        with ``segments``, counting only its users in those tiers."""
        ...

    def local_margin(self, vendor: int, country: int) -> float:
        """Last quarter's contribution of a country to a vendor's profit, US$M."""
        ...

    def market_growth(self, country: int | None = None) -> float:
        """Users expected over the decision horizon per user there is now (1: no growth),
        in a country or (None) the world."""
        ...

    def privacy_dependence(self, vendor: int) -> float:
        """Share of a vendor's users' attraction owed to privacy (0..1), last quarter."""
        ...

    def gross_margin(self, vendor: int) -> float:
        """A vendor's revenue less unit costs, US$M a quarter: expected figures before
        the first quarter, last quarter's after."""
        ...

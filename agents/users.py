"""Users as Mesa agents: a view of one row of the column store, and the collection of all.

The users themselves live in :class:`privmarket.agents.user_market.UserPopulation`,
one numpy column per state variable (a quarter for a million users is a few
array operations). Anyone who wants to look at one user as an agent gets a
:class:`User`, a ``mesa.Agent`` whose attributes read and write the same columns
the quarter's choice uses. Views are made on demand (``model.users[uid]``),
never inside the step, and are not registered with the model's agent sets, so
they cost nothing while the model runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import mesa
import numpy as np
from mesa.agent import AgentSet

from privmarket.agents.user_market import COLUMNS, NO_VENDOR, TALLIED, UserMarket
from privmarket.sim.vocabulary import SEGMENTS


class UserHost(Protocol):
    """What a user view needs of its model: the user market and the vendors' names."""

    user_market: UserMarket
    vendor_list: Sequence[Any]
    government_list: Sequence[Any]
    random: Any


class User(mesa.Agent):
    """One user, seen as a Mesa agent: a view over row ``uid`` of the population.

    Reading or writing an attribute (``country``, ``segment``, ``privacy``,
    ``price_sens``, ``vendor``, ``device_age``) reads or writes the column the
    model steps with, so a change made here is seen by the next quarter.

    The view is not registered in ``model.agents`` (users are not stepped one
    by one; the model steps them all at once), so making one costs nothing.

    Example
    -------
    >>> from privmarket.sim.model import MarketModel
    >>> m = MarketModel(n_users=1000, rng=1)
    >>> u = m.users[0]
    >>> u.segment_name in ("consumer", "enterprise", "government")
    True
    """

    def __init__(self, model: UserHost, uid: int) -> None:
        # Deliberately not calling mesa.Agent.__init__: that would register the
        # view in the model's agent sets, and one million registered views is
        # exactly the per-object cost the column store avoids.
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "unique_id", int(uid))
        object.__setattr__(self, "pos", None)

    def __dir__(self) -> list[str]:
        # The columns are attributes too: tab completion should find them.
        return sorted({*super().__dir__(), *COLUMNS})

    def __getattr__(self, name: str) -> Any:
        if name in COLUMNS:
            return getattr(self.model.user_market.population, name)[self.unique_id].item()
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "country":
            raise AttributeError(
                "a user's country is fixed: users are stored by country (make a new model)"
            )
        if name in COLUMNS:
            getattr(self.model.user_market.population, name)[self.unique_id] = value
            if name in TALLIED:
                # The user market moves its counts with each quarter's choices
                # only; a change made here is counted at once.
                self.model.user_market.recount()
        else:
            object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, User)
            and other.model is self.model
            and other.unique_id == self.unique_id
        )

    def __hash__(self) -> int:
        return hash((id(self.model), self.unique_id))

    def __repr__(self) -> str:
        return (
            f"User({self.unique_id}, country={self.country}, segment={self.segment_name}, "
            f"vendor={self.vendor_name})"
        )

    @property
    def segment_name(self) -> str:
        return SEGMENTS[self.segment]

    @property
    def vendor_name(self) -> str | None:
        v = self.vendor
        return None if v == NO_VENDOR else self.model.vendor_list[v].name

    @property
    def contacts(self) -> list[int]:
        return self.model.user_market.population.contacts_of(self.unique_id).tolist()

    def step(self) -> None:
        """Users are stepped all at once by the model; a single view does nothing."""

    def remove(self) -> None:
        raise TypeError("users are conserved; a user view cannot be removed")


class UserCollection:
    """The users of a model, with the AgentSet calls people use.

    ``len(users)``, ``users[uid]``, iteration (views made lazily),
    ``select``, ``agg`` and ``groupby``. Column operations (``agg``,
    ``groupby``, ``count``) run on the arrays and make no views at all.
    """

    def __init__(self, model: UserHost, rows: np.ndarray | None = None) -> None:
        self._model = model
        self._rows = rows

    @property
    def rows(self) -> np.ndarray:
        if self._rows is None:
            return np.arange(self._model.user_market.population.n)
        return self._rows

    def __len__(self) -> int:
        return self._model.user_market.population.n if self._rows is None else len(self._rows)

    def __getitem__(self, uid: int) -> User:
        """The user with id ``uid`` (an integer; negative counts from the end)."""
        if isinstance(uid, bool) or not isinstance(uid, int | np.integer):
            raise TypeError(f"user ids are integers, not {type(uid).__name__} ({uid!r})")
        n = self._model.user_market.population.n
        i = int(uid) + n if uid < 0 else int(uid)
        if not 0 <= i < n:
            raise IndexError(f"user id {uid} out of range -{n}..{n - 1}")
        return User(self._model, i)

    def __iter__(self) -> Iterator[User]:
        for uid in self.rows:
            yield User(self._model, int(uid))

    def column(self, name: str) -> np.ndarray:
        """The column ``name`` restricted to these users (a copy for subsets)."""
        if name not in COLUMNS:
            raise KeyError(f"unknown user attribute {name!r}; allowed: {list(COLUMNS)}")
        col = getattr(self._model.user_market.population, name)
        return col if self._rows is None else col[self._rows]

    def names(self, column: str) -> tuple[str, ...] | None:
        """The names the codes of ``column`` stand for (segments, vendors, countries)."""
        if column == "segment":
            return SEGMENTS
        if column == "vendor":
            return tuple(v.name for v in self._model.vendor_list)
        if column == "country":
            return tuple(g.name for g in self._model.government_list)
        return None

    def code(self, column: str, value: Any) -> Any:
        """The column value that ``value`` means: a name is turned into its code.

        >>> from privmarket.sim.model import MarketModel
        >>> MarketModel(n_users=100, rng=1).users.code("segment", "enterprise")
        1
        """
        self.column(column)  # an unknown column is an error
        names = self.names(column)
        if isinstance(value, str):
            if names is None:
                raise ValueError(f"user attribute {column!r} takes numbers, not {value!r}")
            if value not in names:
                raise ValueError(f"unknown {column} {value!r}; allowed: {', '.join(names)}")
            return names.index(value)
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"{column}={value!r}: expected a number or a name")
        if names is not None:
            low = NO_VENDOR if column == "vendor" else 0
            if value != int(value) or not low <= value < len(names):
                raise ValueError(
                    f"{column}={value!r}: expected a code {low}..{len(names) - 1} "
                    f"or a name in {', '.join(names)}"
                )
        return value

    def _mask(self, equals: dict[str, Any]) -> np.ndarray:
        mask = np.ones(len(self), dtype=bool)
        for name, value in equals.items():
            mask &= self.column(name) == self.code(name, value)
        return mask

    def select(
        self,
        filter_func: Callable[[User], bool] | None = None,
        at_most: int | float = float("inf"),
        **equals: Any,
    ) -> UserCollection | AgentSet:
        """Users matching column equalities (fast) and then ``filter_func`` (per view).

        ``users.select(country="Eastria", segment="enterprise")`` (names or codes)
        stays a column operation and returns a :class:`UserCollection`. With
        ``filter_func`` the matching rows are turned into views and a
        ``mesa.AgentSet`` is returned. An unknown name is an error.
        """
        rows = self.rows[self._mask(equals)]
        if filter_func is None:
            if at_most != float("inf"):
                rows = rows[: int(at_most)]
            return UserCollection(self._model, rows)
        chosen = []
        for uid in rows:
            if len(chosen) >= at_most:
                break
            u = User(self._model, int(uid))
            if filter_func(u):
                chosen.append(u)
        return AgentSet(chosen, random=self._model.random)

    def agg(self, attribute: str, func: Callable[[np.ndarray], Any], **equals: Any) -> Any:
        """``func`` applied to the column ``attribute`` (e.g. ``np.mean``), over the users
        matching ``equals`` (names or codes, as in :meth:`select`)."""
        col = self.column(attribute)
        return func(col[self._mask(equals)] if equals else col)

    def groupby(self, by: str) -> dict[int, UserCollection]:
        """Users split by the value of column ``by``."""
        col = self.column(by)
        return {int(v): UserCollection(self._model, self.rows[col == v]) for v in np.unique(col)}

    def count(self, by: str) -> dict[int, int]:
        """How many users have each value of column ``by``."""
        vals, counts = np.unique(self.column(by), return_counts=True)
        return {int(v): int(c) for v, c in zip(vals, counts, strict=True)}

    def sample(self, k: int, seed: int = 0) -> list[User]:
        """``k`` users drawn without replacement.

        Uses its own generator (``seed``), not the model's: looking at users must
        never change the run's random stream.
        """
        k = min(int(k), len(self))
        rng = np.random.default_rng(seed)
        rows = rng.choice(self.rows, size=k, replace=False) if k else []
        return [User(self._model, int(r)) for r in rows]

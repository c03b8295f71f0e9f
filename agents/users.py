"""Users: a column store for the whole population, and a Mesa agent view of one row.

A quarter's decisions for a million users must be a few array operations, not a
Python loop (a toy market step at 1M users took about 3 s with tuned per-object
Mesa agents against about 0.09 s with numpy columns; see PERFORMANCE.md). So the
population lives in :class:`UserPopulation`, one typed numpy column per state
variable, and the model's step works on whole-population masks.

Anyone who wants to look at one user as an agent gets a :class:`User`, a
``mesa.Agent`` whose attributes read and write the same columns the vectorised
step uses. Views are made on demand (``model.users[uid]``), never inside the
step, and are not registered with the model's agent sets, so they cost nothing
while the model runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
from mesa.agent import AgentSet

from privmarket.sim.params import SEGMENTS

if TYPE_CHECKING:
    from privmarket.sim.model import MarketModel

NO_VENDOR = -1

#: Columns and their dtypes. int16 vendor and country ids allow 32k of each;
#: float32 keeps sensitivities to 7 digits, which is far finer than their spread.
COLUMNS: dict[str, np.dtype] = {
    "country": np.dtype(np.int16),
    "segment": np.dtype(np.int8),
    "privacy": np.dtype(np.float32),
    "price_sens": np.dtype(np.float32),
    "vendor": np.dtype(np.int16),
    "device_age": np.dtype(np.int16),
}

#: Rows per block in :meth:`UserPopulation.contact_shares`.
ROW_BLOCK = 262_144

#: Movers per block in :meth:`UserPopulation.move_contacts`.
MOVE_BLOCK = 65_536

#: Columns the model's installed-user tallies depend on.
TALLIED = frozenset({"vendor", "country", "segment"})


class UserPopulation:
    """All users as columns, plus their contact graph in CSR form.

    Attributes
    ----------
    country, segment, privacy, price_sens, vendor, device_age : numpy arrays
        One row per user (see :data:`COLUMNS` for dtypes).
    indptr, indices : numpy int32/int64 arrays
        Contacts of user ``i`` are ``indices[indptr[i]:indptr[i+1]]``.

    The model keeps installed-user counts that it updates from each quarter's
    choices rather than recounting everyone. Writing ``vendor``, ``country`` or
    ``segment`` through a :class:`User` view recounts at once; code that writes
    these columns directly must call ``model._tally()`` afterwards.
    """

    def __init__(self, n: int) -> None:
        self.n = int(n)
        for name, dtype in COLUMNS.items():
            setattr(self, name, np.zeros(self.n, dtype=dtype))
        self.vendor.fill(NO_VENDOR)
        self.indptr = np.zeros(self.n + 1, dtype=np.int64)
        self.indices = np.zeros(0, dtype=np.int32)
        # Kept only while the model tracks contacts (see :meth:`count_contacts`).
        self.followers_ptr: np.ndarray | None = None
        self.followers: np.ndarray | None = None
        self.contact_counts: np.ndarray | None = None
        self._followers_of: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.n

    @property
    def nbytes(self) -> int:
        """Bytes held by all columns and the contact graph."""
        cols = sum(getattr(self, c).nbytes for c in COLUMNS)
        tracked = (self.followers_ptr, self.followers, self.contact_counts)
        extra = sum(a.nbytes for a in tracked if a is not None)
        return cols + self.indptr.nbytes + self.indices.nbytes + extra

    def contacts_of(self, uid: int) -> np.ndarray:
        """User ids of ``uid``'s contacts."""
        return self.indices[self.indptr[uid] : self.indptr[uid + 1]]

    def contact_shares(self, rows: np.ndarray, n_vendors: int) -> np.ndarray:
        """Share of each row's contacts on each vendor, as a (len(rows), n_vendors) array.

        A gather over the CSR rows plus one ``bincount``: no Python loop over users.
        Contacts with no vendor count in the denominator, not in any column.
        ``rows`` must be int64 (or intp) user ids.
        """
        out = np.empty((len(rows), n_vendors), dtype=np.float32)
        # Rows in blocks: the same numbers, with temporaries (about 30 bytes per
        # contact) bounded at a few MB instead of 30 bytes per user at 10M users.
        for lo in range(0, len(rows), ROW_BLOCK):
            hi = min(len(rows), lo + ROW_BLOCK)
            out[lo:hi] = self._contact_shares(rows[lo:hi], n_vendors)
        return out

    def _contact_shares(self, rows: np.ndarray, n_vendors: int) -> np.ndarray:
        n = len(rows)
        out = np.zeros((n, n_vendors), dtype=np.float32)
        starts = np.take(self.indptr, rows)
        counts = np.take(self.indptr, rows + 1)
        counts -= starts
        ends = np.cumsum(counts)
        total = int(ends[-1])
        if total == 0:
            return out
        # Flat position of every contact of every row, without a loop: the row's
        # start in `indices` plus the contact's rank among all gathered contacts,
        # minus the rank of the row's first contact (one repeat instead of three).
        pos = np.repeat(starts - (ends - counts), counts)
        pos += np.arange(total, dtype=np.int64)
        # Measured per quarter (1M contacts gathered at 1M users / 100k at 100k):
        # fancy indexing is the faster gather with int64 positions (0.11 against
        # 0.16 ms at 100k), np.take the faster with the int32 ids (1.4 against
        # 3.9 ms at 1M users).
        their_vendor = np.take(self.vendor, self.indices[pos])
        del pos
        hist = _histogram(their_vendor, counts, n_vendors)
        np.divide(hist, np.maximum(counts, 1)[:, None], out=out, casting="unsafe")
        return out

    # ------------------------------------------------ tracked contact counts
    # Profiled at 100k users: the gather above (one random read per contact of
    # every chooser, about 10 per chooser, and a dozen passes over them) was
    # 1.2 of the 3.5 ms quarter. Only about 3 % of users switch vendor in a
    # quarter, against 10 % who choose, so the model instead keeps every user's
    # count of contacts per vendor and moves it when a contact switches: that
    # needs the reverse graph (who has a user as a contact; 44 bytes a user with
    # int32 pointers) and a uint8 count per user and vendor (4 bytes), and the
    # contact term of the quarter went from 1.2 to 0.2 ms (measured, 100k users).

    def count_contacts(self, n_vendors: int) -> None:
        """Start tracking (or recount) each user's number of contacts on each vendor.

        Builds the reverse contact graph once per graph, then counts every user's
        contacts by vendor from the columns. After that, :meth:`move_contacts`
        keeps the counts right as users switch; code that writes ``vendor``
        directly must call this again (the model's ``_tally()`` does).
        """
        if self._followers_of is None or (
            self._followers_of[0] is not self.indptr or self._followers_of[1] is not self.indices
        ):
            self._build_followers()
        deg_max = int(np.diff(self.indptr).max(initial=0))
        dtype = np.uint8 if deg_max <= np.iinfo(np.uint8).max else np.uint16
        if deg_max > np.iinfo(np.uint16).max:
            dtype = np.uint32
        counts = self.contact_counts
        if counts is None or counts.shape != (self.n, n_vendors) or counts.dtype != dtype:
            counts = np.empty((self.n, n_vendors), dtype=dtype)
        # In blocks of users: the histogram's temporaries stay a few MB.
        for lo in range(0, self.n, ROW_BLOCK):
            hi = min(self.n, lo + ROW_BLOCK)
            first, last = int(self.indptr[lo]), int(self.indptr[hi])
            their_vendor = np.take(self.vendor, self.indices[first:last])
            deg = np.diff(self.indptr[lo : hi + 1])
            counts[lo:hi] = _histogram(their_vendor, deg, n_vendors)
        self.contact_counts = counts

    def _build_followers(self) -> None:
        """The reverse contact graph: ``followers[followers_ptr[j]:followers_ptr[j+1]]``
        are the users who have ``j`` among their contacts (once per such contact).

        A CSR-to-CSC conversion (a linear counting sort in scipy's compiled code):
        0.15 s at 1M users where an argsort of the contact ids took 0.5 s, and with
        int32 pointers its temporaries are about 24 bytes a user.
        """
        from scipy import sparse

        n, edges = self.n, len(self.indices)
        idx = np.int32 if edges < np.iinfo(np.int32).max else np.int64
        graph = sparse.csr_array(
            (
                np.ones(edges, dtype=bool),
                self.indices.astype(idx, copy=False),
                self.indptr.astype(idx),
            ),
            shape=(n, n),
            copy=False,
        )
        rev = graph.tocsc()
        del graph
        self.followers_ptr = rev.indptr
        self.followers = rev.indices.astype(np.int32, copy=False)
        self._followers_of = (self.indptr, self.indices)

    def tracked_contact_shares(self, rows: np.ndarray, n_vendors: int) -> np.ndarray:
        """:meth:`contact_shares` from the tracked counts: the same numbers, bit for bit,
        with one read per row instead of one per contact (needs :meth:`count_contacts`)."""
        counts = self.contact_counts
        if counts is None or counts.shape[1] != n_vendors:
            return self.contact_shares(rows, n_vendors)
        deg = np.take(self.indptr, rows + 1)
        deg -= np.take(self.indptr, rows)
        np.maximum(deg, 1, out=deg)
        out = np.empty((len(rows), n_vendors), dtype=np.float32)
        # uint / int64 runs in float64 and is rounded to float32 once, as the gather's
        # int64 / int64 is: identical shares.
        np.divide(np.take(counts, rows, axis=0), deg[:, None], out=out, casting="unsafe")
        return out

    def move_contacts(self, users: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
        """Users ``users`` moved from vendors ``old`` to ``new`` (-1: none): update the
        contact counts of everyone who has them as a contact."""
        if self.contact_counts is None:
            return
        # In blocks of movers: about 40 bytes of temporaries per follower, so a
        # quarter with a ban (600k movers at 10M users) held 20 bytes a user.
        for lo in range(0, len(users), MOVE_BLOCK):
            hi = min(len(users), lo + MOVE_BLOCK)
            self._move_contacts(users[lo:hi], old[lo:hi], new[lo:hi])

    def _move_contacts(self, users: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
        counts = self.contact_counts
        fptr = self.followers_ptr
        starts = np.take(fptr, users).astype(np.int64)
        deg = np.take(fptr, users + 1) - starts
        ends = np.cumsum(deg)
        total = int(ends[-1])
        if total == 0:
            return
        pos = np.repeat(starts - (ends - deg), deg)
        pos += np.arange(total, dtype=np.int64)
        cell = np.take(self.followers, pos).astype(np.int64)
        del pos
        cell *= counts.shape[1]
        flat = counts.reshape(-1)
        one = counts.dtype.type(1)
        # ufunc.at with a scalar of the array's own type: 24 us for 30k updates at
        # 100k users, where a Python int 1 (a casting loop) took 1.2 ms.
        for vendors, ufunc in ((old, np.subtract), (new, np.add)):
            v = np.repeat(vendors.astype(np.int64), deg)
            v += cell
            if vendors.min(initial=0) < 0:
                v = v[np.repeat(vendors >= 0, deg)]
            ufunc.at(flat, v, one)

    def installed_counts(self, n_vendors: int, n_countries: int) -> np.ndarray:
        """Users by (vendor, country, segment), as an int64 array; users with no vendor
        are not counted."""
        return tally(self.vendor, self.country, self.segment, n_vendors, n_countries)

    def privacy_totals(self, n_vendors: int) -> np.ndarray:
        """Sum of privacy sensitivity of each vendor's users (float64, one per vendor)."""
        vendor, privacy = self.vendor, self.privacy
        if vendor.min(initial=0) < 0:
            has = vendor != NO_VENDOR
            vendor, privacy = vendor[has], privacy[has]
        return np.bincount(vendor, weights=privacy, minlength=n_vendors)


def _histogram(their_vendor: np.ndarray, counts: np.ndarray, n_vendors: int) -> np.ndarray:
    """(rows, n_vendors) int64 counts of vendors, from the vendors of each row's
    contacts laid end to end (``counts[i]`` of them for row ``i``)."""
    n = len(counts)
    # Histogram key: row * (V + 1) + vendor + 1, so that a contact with no
    # vendor (-1) lands in column 0, which is dropped, with no mask pass.
    width = n_vendors + 1
    key = np.repeat(np.arange(1, n * width, width, dtype=np.int64), counts)
    key += their_vendor
    return np.bincount(key, minlength=n * width).reshape(n, width)[:, 1:]


def tally(
    vendor: np.ndarray,
    country: np.ndarray,
    segment: np.ndarray,
    n_vendors: int,
    n_countries: int,
) -> np.ndarray:
    """Count rows by (vendor, country, segment) with one ``bincount``; vendor -1 is skipped.

    Returns an int64 array of shape (n_vendors, n_countries, 3).
    """
    cells = n_vendors * n_countries * 3
    # Key (vendor * C + country) * 3 + segment, shifted by one vendor block so that
    # vendor -1 lands in the first block, which is dropped: no mask pass needed.
    key = vendor.astype(np.int64)
    key += 1
    key *= n_countries
    key += country
    key *= 3
    key += segment
    block = n_countries * 3
    counts = np.bincount(key, minlength=cells + block)[block:]
    return counts.reshape(n_vendors, n_countries, 3)


class User(mesa.Agent):
    """One user, seen as a Mesa agent: a view over row ``uid`` of the population.

    Reading or writing an attribute (``country``, ``segment``, ``privacy``,
    ``price_sens``, ``vendor``, ``device_age``) reads or writes the column the
    model steps with, so a change made here is seen by the next quarter.

    The view is not registered in ``model.agents`` (users are not stepped one
    by one; the model steps them all at once), so making one costs nothing.

    Example
    -------
    >>> from sim.model import MarketModel
    >>> m = MarketModel(n_users=1000, rng=1)
    >>> u = m.users[0]
    >>> u.segment_name in ("consumer", "enterprise", "government")
    True
    """

    def __init__(self, model: MarketModel, uid: int) -> None:
        # Deliberately not calling mesa.Agent.__init__: that would register the
        # view in the model's agent sets, and one million registered views is
        # exactly the per-object cost the column store avoids.
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "unique_id", int(uid))
        object.__setattr__(self, "pos", None)

    def __getattr__(self, name: str) -> Any:
        if name in COLUMNS:
            return getattr(self.model.population, name)[self.unique_id].item()
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in COLUMNS:
            getattr(self.model.population, name)[self.unique_id] = value
            if name in TALLIED:
                # The model updates its installed counts from each quarter's
                # choices only; a change made here is counted at once.
                self.model._tally()
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
        return self.model.population.contacts_of(self.unique_id).tolist()

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

    def __init__(self, model: MarketModel, rows: np.ndarray | None = None) -> None:
        self._model = model
        self._rows = rows

    @property
    def rows(self) -> np.ndarray:
        if self._rows is None:
            return np.arange(self._model.population.n)
        return self._rows

    def __len__(self) -> int:
        return self._model.population.n if self._rows is None else len(self._rows)

    def __getitem__(self, uid: int) -> User:
        n = self._model.population.n
        if not 0 <= int(uid) < n:
            raise IndexError(f"user id {uid} out of range 0..{n - 1}")
        return User(self._model, int(uid))

    def __iter__(self) -> Iterator[User]:
        for uid in self.rows:
            yield User(self._model, int(uid))

    def column(self, name: str) -> np.ndarray:
        """The column ``name`` restricted to these users (a copy for subsets)."""
        if name not in COLUMNS:
            raise KeyError(f"unknown user attribute {name!r}; allowed: {list(COLUMNS)}")
        col = getattr(self._model.population, name)
        return col if self._rows is None else col[self._rows]

    def select(
        self,
        filter_func: Callable[[User], bool] | None = None,
        at_most: int | float = float("inf"),
        **equals: Any,
    ) -> UserCollection | AgentSet:
        """Users matching column equalities (fast) and then ``filter_func`` (per view).

        ``users.select(country=2, segment=1)`` stays a column operation and
        returns a :class:`UserCollection`. With ``filter_func`` the matching rows
        are turned into views and a ``mesa.AgentSet`` is returned.
        """
        mask = np.ones(len(self), dtype=bool)
        for name, value in equals.items():
            mask &= self.column(name) == value
        rows = self.rows[mask]
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

    def agg(self, attribute: str, func: Callable[[np.ndarray], Any]) -> Any:
        """``func`` applied to the column ``attribute`` (e.g. ``np.mean``)."""
        return func(self.column(attribute))

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

"""The user side of the market: every user as numpy columns, and the quarter's choice.

A quarter's decisions for a million users must be a few array operations, not a
Python loop (a toy market step at 1M users took about 3 s with tuned per-object
Mesa agents against about 0.09 s with numpy columns; docs/performance.md). So
the population lives in :class:`UserPopulation`, one typed numpy column per state
variable, and :meth:`UserMarket.choose` makes the whole quarter's choices at once:
who is due, the utility of every available vendor for every due user, and one
logit draw each. The model calls it once a quarter with an :class:`Offer`, what
every user sees, and gets a :class:`QuarterChoices` back.

Utility of vendor v for user i (docs/ODD.md, Submodels):

    U_iv = b_q q_v - b_p k_i p_vs / (500 y_c) + b_n n_iv
           + z_i * stance_vc * T_v * (1 - access_vcs) - switching_cost [v != current_i]

with q_v the vendor's ecosystem strength, k_i the user's price sensitivity, p_vs
the price for the user's segment, y_c the country's income, n_iv the share of i's
contacts on v, z_i the user's privacy sensitivity, stance_vc the vendor's local
stance, T_v its global trust and access_vcs whether the user's government can
read that vendor's traffic in the user's segment. Choice probabilities are
softmax(U) over the vendors available in the user's country; the draw uses the
Gumbel-max trick (argmax of U plus Gumbel noise is an exact logit draw).

Users act simultaneously: every chooser sees last quarter's prices, trust and
contacts (unlike Mesa's random sequential activation; docs/ODD.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from privmarket.sim.params import Params

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
    # The vendor a ban forced the user off (NO_VENDOR: none): the user may come
    # back when the ban is lifted.
    "banned_from": np.dtype(np.int16),
}

#: Rows per block in :meth:`UserPopulation.contact_shares`.
ROW_BLOCK = 262_144

#: Movers per block in :meth:`UserPopulation.move_contacts`.
MOVE_BLOCK = 65_536

#: Columns the user market's counts depend on.
TALLIED = frozenset({"vendor", "segment"})


class UserPopulation:
    """All users as columns, plus their contact graph in CSR form.

    Attributes
    ----------
    country, segment, privacy, price_sens, vendor, device_age : numpy arrays
        One row per user (see :data:`COLUMNS` for dtypes).
    indptr, indices : numpy int32/int64 arrays
        Contacts of user ``i`` are ``indices[indptr[i]:indptr[i+1]]``.

    block_start : (countries + 1,) int64
        Users are stored by country: country ``c``'s users are rows
        ``block_start[c]:block_start[c+1]``.
    initial, arrivals : int64 arrays
        Users present in each country at the start, and arriving each quarter
        (``arrivals[t, c]``); within a block the present come first, then the
        arrivals in order (see :mod:`privmarket.sim.growth`).

    The user market keeps installed-user counts that it moves with each
    quarter's choices rather than recounting everyone. Writing ``vendor`` or
    ``segment`` through a :class:`User` view recounts at once; code that writes
    these columns directly must call ``UserMarket.recount()`` afterwards.
    """

    def __init__(self, n: int) -> None:
        self.n = int(n)
        for name, dtype in COLUMNS.items():
            setattr(self, name, np.zeros(self.n, dtype=dtype))
        self.vendor.fill(NO_VENDOR)
        self.banned_from.fill(NO_VENDOR)
        self.block_start = np.array([0, self.n], dtype=np.int64)
        self.initial = np.array([self.n], dtype=np.int64)
        self.arrivals = np.zeros((1, 1), dtype=np.int64)
        self.scale = np.ones(1)  # real users per simulated user, by country
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
        Shares are among the contacts who have a vendor: a contact who has not yet
        arrived in a growing market (or has no vendor available) counts nowhere.
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
        # Fancy indexing is the faster gather with int64 positions, np.take the
        # faster with the int32 ids (docs/performance.md, "The hot path").
        their_vendor = np.take(self.vendor, self.indices[pos])
        del pos
        hist = _histogram(their_vendor, counts, n_vendors)
        np.divide(hist, np.maximum(hist.sum(axis=1), 1)[:, None], out=out, casting="unsafe")
        return out

    # ------------------------------------------------ tracked contact counts
    # Far fewer users switch vendor in a quarter than choose one (most stay), so
    # rather than gather every chooser's contacts each quarter, every user's count
    # of contacts per vendor is kept and moved when a contact switches. That needs
    # the reverse graph (who has a user as a contact) and a small count per user
    # and vendor; what it costs and saves is in docs/performance.md.

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

        A CSR-to-CSC conversion: a linear counting sort in scipy's compiled code,
        faster than sorting the contact ids and light on temporaries with int32
        pointers.
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
        # Counts are small integers, exact in float64: the quotient below is the
        # gather's int64 / int64 in float64, rounded to float32 once (identical shares).
        mine = np.take(counts, rows, axis=0).astype(np.float64)
        # Among the contacts who have a vendor, as in :meth:`contact_shares`; summed
        # column by column (a row sum over a few columns pays numpy's per-row cost).
        with_vendor = mine[:, 0].copy()
        for j in range(1, n_vendors):
            with_vendor += mine[:, j]
        np.maximum(with_vendor, 1.0, out=with_vendor)
        mine /= with_vendor[:, None]
        return mine.astype(np.float32)

    def move_contacts(self, users: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
        """Users ``users`` moved from vendors ``old`` to ``new`` (-1: none): update the
        contact counts of everyone who has them as a contact."""
        if self.contact_counts is None:
            return
        # In blocks of movers: the temporaries grow with the followers moved, and a
        # quarter with a ban moves many at once.
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
        # ufunc.at with a scalar of the array's own type: a Python int 1 would send
        # it through a slow casting loop.
        for vendors, ufunc in ((old, np.subtract), (new, np.add)):
            v = np.repeat(vendors.astype(np.int64), deg)
            v += cell
            if vendors.min(initial=0) < 0:
                v = v[np.repeat(vendors >= 0, deg)]
            ufunc.at(flat, v, one)

    def installed_counts(self, n_vendors: int, n_countries: int) -> np.ndarray:
        """Users by (vendor, country, segment), as an int64 array; users with no vendor
        are not counted."""
        return count_by_cell(self.vendor, self.country, self.segment, n_vendors, n_countries)

    def privacy_totals(self, n_vendors: int, n_countries: int) -> np.ndarray:
        """Sum of privacy sensitivity of each vendor's users in each country:
        (vendors, countries) float64."""
        vendor, privacy, country = self.vendor, self.privacy, self.country
        if vendor.min(initial=0) < 0:
            has = vendor != NO_VENDOR
            vendor, privacy, country = vendor[has], privacy[has], country[has]
        key = vendor.astype(np.int64) * n_countries + country
        totals = np.bincount(key, weights=privacy, minlength=n_vendors * n_countries)
        return totals.reshape(n_vendors, n_countries)


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


def count_by_cell(
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


#: Price is measured in units of this many US$ in the utility (a reference price).
PRICE_UNIT = 500.0


#: Up to this many vendors, row reductions run as a loop over columns: numpy's
#: reductions along a short last axis pay a per-row cost. Beyond 7 columns
#: numpy's sum switches to unrolled partial sums, so the column loop would no
#: longer give bit-identical log-sums, and is not faster anyway.
COLUMN_LOOP_MAX = 7

_TINY = np.finfo(np.float32).tiny
_BELOW_ONE = 1.0 - np.finfo(np.float32).eps


def gumbel_argmax(
    utility: np.ndarray, available: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a logit choice per row, and each row's log-sum (expected max utility).

    Parameters
    ----------
    utility : (n, V) float array
    available : (n, V) bool array, or None when every column is available;
        rows with nothing available choose -1
    rng : the model's generator

    Returns
    -------
    choice : (n,) int16, column index or -1
    logsum : (n,) float64, log(sum(exp(U))) over available columns (-inf if none)
    """
    n, n_v = utility.shape
    u = utility if available is None else np.where(available, utility, -np.inf)
    if u.dtype != np.float64:
        u = u.astype(np.float64)
    # One uniform per cell; -log(-log(u)) is Gumbel(0, 1). float32 uniforms are
    # ample for choice frequencies and cheaper to draw.
    g = rng.random((n, n_v), dtype=np.float32)
    np.clip(g, _TINY, _BELOW_ONE, out=g)
    np.log(g, out=g)
    np.negative(g, out=g)
    np.log(g, out=g)
    # U + Gumbel noise (float64), column by column in memory when the loops below
    # walk the columns (the same numbers in either layout).
    by_column = n_v <= COLUMN_LOOP_MAX
    noisy = np.subtract(u, g, out=np.empty((n, n_v), order="F" if by_column else "C"))
    if by_column:
        choice = np.zeros(n, dtype=np.int16)
        best = noisy[:, 0].copy()
        top = u[:, 0].copy()
        for j in range(1, n_v):
            col = noisy[:, j]
            # strict: ties keep the first column, as argmax does (putmask is the
            # faster way to write it).
            np.putmask(choice, col > best, j)
            np.maximum(best, col, out=best)
            np.maximum(top, u[:, j], out=top)
    else:
        choice = np.argmax(noisy, axis=1).astype(np.int16)
        top = np.max(u, axis=1)
    # Log-sum: log(sum(exp(U - top))) + top over the available columns. A row with
    # one available vendor has exactly its utility (log(exp(0)) + top): only rows
    # with a real choice need exponentials. A ban or a vendor's exit can leave many
    # rows with one option, and numpy's exp is several times slower on the -inf
    # cells those rows are full of.
    if available is None:
        several = none = None
    else:
        if by_column:
            count = available[:, 0].astype(np.int16)
            for j in range(1, n_v):
                count += available[:, j]
        else:
            count = available.sum(axis=1, dtype=np.int64)
        none = count == 0
        choice[none] = -1
        several = np.flatnonzero(count >= 2)
    if several is None:
        shifted, base = np.subtract(u, top[:, None], out=noisy), top
    else:
        base = top[several]
        shifted = np.take(u, several, axis=0)
        shifted -= base[:, None]
    np.exp(shifted, out=shifted)
    if by_column:
        total = shifted[:, 0].copy()
        for j in range(1, n_v):
            total += shifted[:, j]
    else:
        total = shifted.sum(axis=1)
    logsum = np.log(total, out=total)
    logsum += base
    if several is None:
        return choice, logsum
    out = top.copy()  # rows with one available vendor: its utility
    out[several] = logsum
    out[none] = -np.inf
    return choice, out


def ecosystem_utility(q: np.ndarray, params: Params) -> np.ndarray:
    """What ecosystem strength ``q`` is worth to a user: ``b_ecosystem log(q / floor)``.

    Logarithmic, so each halving of an ecosystem costs the same: losing half of a
    few thousand apps hurts as much as losing half of a million (diminishing
    returns to variety; a modelling choice). With utility linear in q, a
    platform's pull could fall by at most ``b_ecosystem``, which left any vendor
    still selling 1-3% of new phones whatever its ecosystem (the secure platform
    kept 2-4% of sales in 2013-2016 where the real one fell to 0.1-1.9%; docs/
    validation.md). Zero at ``ecosystem_floor``; a q below it counts as the floor.
    """
    q = np.maximum(np.asarray(q, dtype=np.float64), params.ecosystem_floor)
    return params.b_ecosystem * np.log(q / params.ecosystem_floor)


def privacy_dependence(privacy_utility: float, share: float) -> float:
    """Share of a vendor's buyers it would lose if its privacy were worth nothing to them.

    In the logit, removing a utility term ``privacy_utility`` from a vendor with
    ``share`` of the market multiplies its share by
    ``exp(-u) / (1 - share + share exp(-u))``; the dependence is one minus that.
    It follows from the users' own choice rule, whatever the other terms are worth
    (``privacy_utility`` is the vendor's users' mean privacy term).

    >>> round(privacy_dependence(0.0, 0.2), 3), round(privacy_dependence(1.0, 0.0), 3)
    (0.0, 0.632)
    """
    kept = math.exp(-max(0.0, privacy_utility))
    return 1.0 - kept / (1.0 - share + share * kept)


def choice_probabilities(utility: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Logit probabilities per row (for tests and analysis; the model samples)."""
    u = np.where(available, utility, -np.inf).astype(np.float64)
    top = np.max(u, axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(u - top)
    s = e.sum(axis=1, keepdims=True)
    return np.divide(e, s, out=np.zeros_like(e), where=s > 0)


# --------------------------------------------------------------- the market
#: Choosers per block of the utility and logit draw: the same numbers (the
#: generator's stream runs on across blocks) with the utility and draw
#: temporaries bounded at a few tens of MB.
CHOICE_BLOCK = 262_144


@dataclass(frozen=True)
class Offer:
    """What every user sees this quarter: the same for all (a simultaneous update)."""

    available: np.ndarray  # (countries, segments, vendors) bool: where, and to whom, it sells
    alive: np.ndarray  # (vendors,) bool: still in the handset market
    ecosystem: np.ndarray  # (vendors,) ecosystem strength q
    price: np.ndarray  # (segments, vendors) device price, US$
    income: np.ndarray  # (countries,) income level: a richer country feels a price less
    perceived: np.ndarray  # (countries, segments, vendors) perceived privacy
    quarter: int = 0  # the quarter being chosen in (new users arrive at its start)
    banned: np.ndarray | None = None  # (countries, segments, vendors) bool: blocked there now
    returned: np.ndarray | None = None  # (countries, vendors) bool: ban lifted this quarter


@dataclass(frozen=True)
class QuarterChoices:
    """What the users did this quarter."""

    choosers: int  # simulated users who chose
    sales: np.ndarray  # (vendors, countries, segments) int64 devices bought
    welfare: float  # mean log-sum over choosers (expected best utility)


class UserSide(Protocol):
    """What the model needs of its users: counts, and one call a quarter.

    :class:`UserMarket` is the vectorised implementation;
    ``privmarket.experiments.reference`` has a per-object Mesa one.
    """

    n: int
    installed: np.ndarray  # (vendors, countries, segments) int64, current

    @property
    def present(self) -> np.ndarray: ...

    def privacy_totals(self) -> np.ndarray: ...

    def choose(self, offer: Offer) -> QuarterChoices: ...


class UserMarket:
    """The users of one run: their columns, counts by vendor, and the quarter's choice.

    Parameters
    ----------
    population : UserPopulation
        The users, stored by country (see :func:`privmarket.sim.world.build_population`).
    params : Params
        The run's parameters (utility weights, replacement hazard).
    n_vendors, n_countries : int
    rng : numpy Generator
        The model's generator: every draw of the user side comes from it.
    """

    def __init__(
        self,
        population: UserPopulation,
        params: Params,
        n_vendors: int,
        n_countries: int,
        rng: np.random.Generator,
    ) -> None:
        self.population = population
        self.params = params
        self.n_vendors = n_vendors
        self.n_countries = n_countries
        self.rng = rng
        self.block_start = population.block_start
        # Each country's users present so far are rows block_start[c]:active_end[c].
        self.active_end = population.block_start[:-1] + population.initial
        self.recount()

    @property
    def n(self) -> int:
        """Users present now (in a growing market, fewer than the store holds)."""
        return int((self.active_end - self.block_start[:-1]).sum())

    @property
    def present(self) -> np.ndarray:
        """Users present in each country now."""
        return self.active_end - self.block_start[:-1]

    @property
    def growing(self) -> bool:
        return bool((self.active_end < self.block_start[1:]).any())

    # ------------------------------------------------------------- counts
    def recount(self) -> None:
        """Count users by vendor from the columns, and what the quarter keeps running:
        each user's contacts per vendor (when contacts matter) and the privacy sum
        per vendor. Call after writing the ``vendor`` or ``segment`` columns
        directly (a :class:`~privmarket.agents.users.User` view does)."""
        pop = self.population
        self.installed = pop.installed_counts(self.n_vendors, self.n_countries)
        if self.params.b_contacts > 0:
            pop.count_contacts(self.n_vendors)
        self._privacy_sum = pop.privacy_totals(self.n_vendors, self.n_countries)

    def privacy_totals(self) -> np.ndarray:
        """Sum of the privacy sensitivity of each vendor's users, by country: (vendors, countries).

        Kept running (switchers move it) rather than summed over every user each
        quarter; equal to a recount to about 1e-12 relative.
        """
        return self._privacy_sum

    # ------------------------------------------------------------- choice
    def choose(self, offer: Offer) -> QuarterChoices:
        """Every due, forced, returning or new user chooses a vendor; returns what they did.

        Due: the replacement hazard. Forced: the user's vendor left or was banned
        in the user's country (users of a vendor that failed everywhere switch as
        their devices come due), or the user has no vendor (new users among them).
        Returning: users a ban forced off a vendor whose ban was lifted.
        """
        p, pop = self.params, self.population
        n_v, n_c = self.n_vendors, self.n_countries
        arriving = pop.arrivals[offer.quarter] if offer.quarter < len(pop.arrivals) else None
        if arriving is not None and arriving.any():
            self.active_end = self.active_end + arriving
        rows = self._due_rows(p.hazard)
        # Forcing is decided per (country, segment, vendor) cell; the last column is
        # for users with no vendor (index -1). The counts say which cells hold
        # anyone: most quarters none does, and the per-user lookup is skipped.
        forced = np.ones((n_c, 3, n_v + 1), dtype=bool)
        held = self.installed.transpose(1, 2, 0) > 0  # (C, 3, V)
        forced[:, :, :n_v] = offer.alive & ~offer.available & held
        present = self.active_end - self.block_start[:-1]
        unvended = self.installed.sum(axis=(0, 2)) < present
        returning = offer.returned is not None and bool(offer.returned.any())
        if forced[:, :, :n_v].any() or unvended.any() or returning:
            # Merged through a mask (one byte a user, only in such quarters).
            due = np.zeros(pop.n, dtype=bool)
            due[rows] = True
            due[self._forced_rows(forced, unvended, offer.banned)] = True
            if returning:
                back = self._returning_rows(offer.returned)
                due[back] = True
                pop.banned_from[back] = NO_VENDOR  # they have had their chance
            rows = np.flatnonzero(due)
            del due
        pop.device_age += 1
        if len(rows) == 0:
            return QuarterChoices(0, np.zeros_like(self.installed), 0.0)
        price_term = (p.b_price / PRICE_UNIT) * offer.price[None, :, :]
        price_term = price_term / offer.income[:, None, None]
        perceived = offer.perceived  # (C, 3, V)
        base = np.broadcast_to(ecosystem_utility(offer.ecosystem, p), perceived.shape)
        base, price_term, perceived = (a.reshape(-1, n_v) for a in (base, price_term, perceived))
        c = np.take(pop.country, rows)
        s = np.take(pop.segment, rows)
        cur = np.take(pop.vendor, rows)
        choice = np.empty(len(rows), dtype=np.int16)
        logsum = np.empty(len(rows), dtype=np.float64)
        avail_cs = offer.available.reshape(-1, n_v)  # (countries x segments, vendors)
        for lo in range(0, len(rows), CHOICE_BLOCK):
            hi = min(len(rows), lo + CHOICE_BLOCK)
            r, cb, curb = rows[lo:hi], c[lo:hi], cur[lo:hi]
            cs = cb.astype(np.int64)
            cs *= 3
            cs += s[lo:hi]
            util = np.take(base, cs, axis=0)
            # Each term in a buffer of its own, scaled in place (products commute:
            # the same numbers as sensitivity x term).
            term = np.take(price_term, cs, axis=0)
            term *= np.take(pop.price_sens, r)[:, None]
            util -= term
            np.take(perceived, cs, axis=0, out=term)
            term *= np.take(pop.privacy, r)[:, None]
            util += term
            if p.b_contacts > 0:
                util += p.b_contacts * pop.tracked_contact_shares(r, n_v)
            # Switching cost on every vendor but the current one: subtract it from
            # all, then put back the current vendor's untouched utility (exactly
            # what subtracting cost x [v != current] gives, with no (n, V) mask).
            # Flat positions of the current vendors' cells (users with none have none).
            current = np.arange(0, util.size, n_v, dtype=np.int64)
            current += curb
            if curb.min(initial=0) < 0:
                current = current[curb >= 0]
            flat = util.reshape(-1)
            kept = np.take(flat, current)
            util -= p.switching_cost
            np.put(flat, current, kept)
            avail = None if avail_cs.all() else np.take(avail_cs, cs, axis=0)
            choice[lo:hi], logsum[lo:hi] = gumbel_argmax(util, avail, self.rng)
            del util, avail
        pop.vendor[rows] = choice
        pop.device_age[rows] = 0
        # Who switched moves the contact counts of those who know them, and the
        # running privacy sums.
        moved = np.flatnonzero(choice != cur)
        if len(moved):
            old, new = np.take(cur, moved), np.take(choice, moved)
            pop.move_contacts(np.take(rows, moved), old, new)
            z = np.take(pop.privacy, np.take(rows, moved)).astype(np.float64)
            where = np.take(c, moved)
            self._privacy_sum -= _by_vendor(old, where, z, n_v, n_c)
            self._privacy_sum += _by_vendor(new, where, z, n_v, n_c)
        finite = np.isfinite(logsum)
        welfare = float(logsum[finite].mean()) if finite.any() else 0.0
        sales = count_by_cell(choice, c, s, n_v, n_c)
        # Only the choosers' vendors changed: move the counts by theirs.
        self.installed = self.installed - count_by_cell(cur, c, s, n_v, n_c) + sales
        return QuarterChoices(len(rows), sales, welfare)

    def _due_rows(self, hazard: float) -> np.ndarray:
        """Present users whose device comes due this quarter, each with chance ``hazard``.

        Drawn as the gaps between due users (geometric, one draw per due user)
        rather than one uniform per user: fewer draws and no (users,)
        temporaries. Sorted user ids, int64.
        """
        n = self.n
        if hazard <= 0:
            return np.zeros(0, dtype=np.int64)
        if hazard >= 1:
            pos = np.arange(n, dtype=np.int64)
        else:
            parts, start = [], 0
            while start < n:
                # Enough gaps to pass n almost always (mean + 4 sd); else draw on.
                left = (n - start) * hazard
                gaps = self.rng.geometric(hazard, size=int(left + 4 * left**0.5) + 16)
                np.minimum(gaps, n + 1, out=gaps)  # a tiny hazard's gaps overflow a sum
                cum = np.cumsum(gaps)
                cum += start - 1
                cut = int(np.searchsorted(cum, n))
                parts.append(cum[:cut])
                if cut < len(cum):
                    break
                start = int(cum[-1]) + 1
            pos = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if not self.growing:
            return pos
        # Positions count present users only: map them to rows, block by block.
        present = self.active_end - self.block_start[:-1]
        first = np.concatenate([[0], np.cumsum(present)])
        block = np.searchsorted(first, pos, side="right") - 1
        return self.block_start[block] + (pos - first[block])

    def _forced_rows(
        self, forced: np.ndarray, unvended: np.ndarray, banned: np.ndarray | None
    ) -> np.ndarray:
        """Present users whose (country, segment, vendor) cell is forced to choose; the
        last column of ``forced`` is for users with no vendor (-1 indexes it). Users a
        ban forces off a vendor remember it, to come back when it is lifted."""
        pop = self.population
        n_v = forced.shape[2] - 1
        parts = [np.zeros(0, dtype=np.int64)]
        # Users are stored by country: only the countries with a forced cell (or
        # users with no vendor) are looked at, with no (users,) temporaries.
        for c in np.flatnonzero(forced[:, :, :n_v].any(axis=(1, 2)) | unvended):
            lo, hi = int(self.block_start[c]), int(self.active_end[c])
            seg, vendor = pop.segment[lo:hi], pop.vendor[lo:hi]
            hit = np.flatnonzero(forced[c][seg, vendor]) + lo
            if banned is not None and banned[c].any():
                v_hit = np.take(pop.vendor, hit)
                off = hit[(v_hit >= 0) & banned[c][np.take(pop.segment, hit), v_hit]]
                pop.banned_from[off] = pop.vendor[off]
            parts.append(hit)
        return np.concatenate(parts)

    def _returning_rows(self, returned: np.ndarray) -> np.ndarray:
        """Users a lifted ban had forced off, in the countries where it was lifted."""
        pop = self.population
        parts = [np.zeros(0, dtype=np.int64)]
        for c, v in zip(*np.nonzero(returned), strict=True):
            lo, hi = int(self.block_start[c]), int(self.active_end[c])
            parts.append(np.flatnonzero(pop.banned_from[lo:hi] == v) + lo)
        return np.concatenate(parts)


def _by_vendor(
    vendor: np.ndarray, country: np.ndarray, weights: np.ndarray, n_vendors: int, n_countries: int
) -> np.ndarray:
    """Sum of ``weights`` by (vendor, country) (vendor -1 skipped)."""
    has = vendor >= 0
    if not has.all():
        vendor, country, weights = vendor[has], country[has], weights[has]
    key = vendor.astype(np.int64) * n_countries + country
    totals = np.bincount(key, weights=weights, minlength=n_vendors * n_countries)
    return totals.reshape(n_vendors, n_countries)

"""``MarketModel``: the Mesa model of vendors, users and governments, one quarter a step.

Example
-------
>>> from sim.model import MarketModel
>>> m = MarketModel(n_users=2_000, quarters=8, rng=42).run()
>>> m.quarter
8
>>> round(float(m.installed_share().sum()), 6)
1.0
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd

from privmarket.agents.government import Government
from privmarket.agents.users import UserCollection, tally
from privmarket.agents.vendor import ACTIVE, BANNED, EXITED, Vendor
from privmarket.sim.choice import PRICE_UNIT, gumbel_argmax
from privmarket.sim.metrics import (
    GOVERNMENT_REPORTERS,
    VENDOR_REPORTERS,
    EventLog,
    Tallies,
    headline,
    model_reporters,
    quarter_table,
    shares,
)
from privmarket.sim.params import ParameterError, Params, ScriptedDemand
from privmarket.sim.world import build_population


def _by_vendor(vendor: np.ndarray, weights: np.ndarray, n_vendors: int) -> np.ndarray:
    """Sum of ``weights`` by vendor (vendor -1 skipped)."""
    has = vendor >= 0
    if not has.all():
        vendor, weights = vendor[has], weights[has]
    return np.bincount(vendor, weights=weights, minlength=n_vendors)


#: Choosers per block of the utility and logit draw (see ``_users_choose``).
CHOICE_BLOCK = 262_144


class MarketModel(mesa.Model):
    """A market of phone vendors, their users and the governments that demand access.

    Parameters
    ----------
    params : Params, optional
        A full parameter set. Defaults to the named ``scenario``'s, or ``baseline``.
    scenario : str, optional
        Name of a preset in :mod:`sim.scenarios` (default ``"baseline"``).
    rng : int or numpy Generator, optional
        Seed. Same parameters and seed give identical output.
    **overrides
        Parameter paths and values applied on top (``hazard=0.2``,
        ``**{"vendors.Aegis.stance": 1.0}``). This is how ``mesa.batch_run`` and
        ``SolaraViz`` pass parameters.

    One step is one quarter, in the order of DESIGN.md: governments demand,
    vendors answer, governments enforce, users choose, vendors book accounts,
    ecosystems and trust update, viability is checked, data is collected.
    """

    def __init__(
        self,
        params: Params | None = None,
        *,
        scenario: str | None = None,
        rng: Any = None,
        **overrides: Any,
    ) -> None:
        super().__init__(rng=rng)
        if params is None:
            from privmarket.sim.scenarios import get_scenario

            scenario = scenario or "baseline"
            params = get_scenario(scenario).params
        elif scenario is not None:
            raise ParameterError("give either params or scenario, not both")
        if overrides:
            params = params.with_updates(overrides)
        self.params: Params = params
        self.scenario_name = scenario or "custom"
        self.scale = params.scale
        self.quarter = 0
        self.events = EventLog()
        self._demand_ids = 0
        self._scripted: dict[tuple[int, int], list[ScriptedDemand]] = {}
        for d in params.scripted_demands:
            self._scripted.setdefault((d.quarter, d.country), []).append(d)

        n_v, n_c = len(params.vendors), len(params.countries)
        self.population = build_population(params, self.rng)
        self.users = UserCollection(self)
        # Agents are created in bulk, in a fixed order (vendors, then governments).
        Vendor.create_agents(self, n_v, index=list(range(n_v)))
        Government.create_agents(self, n_c, country=list(range(n_c)))
        self.vendor_list: list[Vendor] = sorted(self.agents_by_type[Vendor], key=lambda v: v.index)
        self.government_list: list[Government] = sorted(
            self.agents_by_type[Government], key=lambda g: g.country
        )
        self._vendor_by_name = {v.name: v.index for v in self.vendor_list}

        self._seg_w = np.asarray(params.segment_weights, dtype=np.float64)
        self._income = np.array([c.income for c in params.countries])
        self.installed = np.zeros((n_v, n_c, 3), dtype=np.int64)
        self.sales = np.zeros((n_v, n_c, 3), dtype=np.int64)
        self.unit_costs = np.zeros(n_v)
        self.local_margin = np.zeros((n_v, n_c))
        self.privacy_dependence = np.zeros(n_v)
        self.welfare = 0.0
        self.choosers = 0
        self.tallies = Tallies(params.quarters, n_v, n_c)
        self._tally()
        self._update_strategic_figures()

        self.datacollector = mesa.DataCollector(
            model_reporters=model_reporters(),
            agenttype_reporters={Vendor: VENDOR_REPORTERS, Government: GOVERNMENT_REPORTERS},
        )
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ step
    def step(self) -> None:
        """One quarter, in the order of DESIGN.md."""
        self.quarter += 1
        # Explicit activation order: agents act in creation order (vendor and
        # country index), never shuffled, so runs do not depend on set ordering.
        govs, vendors = self.agents_by_type[Government], self.agents_by_type[Vendor]
        govs.do("issue_demands")  # 1
        vendors.do("answer_demands")  # 2
        govs.do("enforce")  # 3
        self._users_choose()  # 4 (simultaneous: all see the same prices and trust)
        self._book_accounts()  # 5
        inst_share = self.installed_share()
        for v in self.vendor_list:  # 6
            if v.alive:
                v.update_ecosystem(float(inst_share[v.index]))
                v.update_trust()
        vendors.do("check_viability")  # 7
        self._update_strategic_figures()
        self.datacollector.collect(self)  # 8
        if not any(v.alive for v in self.vendor_list):
            self.running = False

    def run(self, quarters: int | None = None) -> MarketModel:
        """Step ``quarters`` times (default: ``params.quarters``) and return self."""
        for _ in range(self.params.quarters if quarters is None else quarters):
            self.step()
        return self

    # ------------------------------------------------------ users (step 4)
    def available(self) -> np.ndarray:
        """(countries, vendors) bool: where each vendor sells now."""
        return np.stack([(v.presence == ACTIVE) & v.alive for v in self.vendor_list], axis=1)

    def perceived_privacy(self) -> np.ndarray:
        """(countries, segments, vendors): local stance x trust, zero where readable."""
        return np.stack(
            [(v.local_stance * v.trust)[:, None] * ~v.access for v in self.vendor_list],
            axis=2,
        )

    def _users_choose(self) -> None:
        # Profiled at 1M users (docs/performance.md): the quarter is dominated by
        # the contact gather, the logit draw and full-population passes, so the
        # passes over all users are kept to the few that cannot be avoided.
        p, pop = self.params, self.population
        n_v, n_c = len(self.vendor_list), len(self.government_list)
        avail_cv = self.available()
        alive = np.array([v.alive for v in self.vendor_list])
        # Due: the replacement hazard; forced: the user's vendor left or was
        # banned in the user's country (users of a failed vendor switch as their
        # devices come due, as DESIGN.md says), or the user has no vendor.
        rows = self._due_rows(pop.n, p.hazard)
        # Forcing is decided per (country, vendor) cell; the last column is for
        # users with no vendor (index -1). The installed tally says which cells
        # hold anyone: most quarters none does (users leave a banned vendor the
        # quarter it is banned) and the per-user lookup is skipped (6 ms a
        # quarter at 1M users, 0.2 ms at 100k).
        forced_cv = np.ones((n_c, n_v + 1), dtype=bool)
        forced_cv[:, :n_v] = alive & ~avail_cv & (self.installed.sum(axis=2).T > 0)
        if forced_cv[:, :n_v].any() or self.installed.sum() < pop.n:
            # Merged through a mask (one byte a user, only in such quarters):
            # np.union1d took 1.25 ms at 100k users, the mask 0.05 ms.
            due = np.zeros(pop.n, dtype=bool)
            due[rows] = True
            due[self._forced_rows(forced_cv)] = True
            rows = np.flatnonzero(due)
            del due
        self.choosers = len(rows)
        pop.device_age += 1
        if len(rows) == 0:
            self.sales = np.zeros_like(self.installed)
            self.welfare = 0.0
            self._tally(self.installed)  # nobody chose: nothing to recount
            return
        q = np.array([v.q for v in self.vendor_list])
        price = np.stack([v.price for v in self.vendor_list], axis=1)  # (3, V)
        price_term = (p.b_price / PRICE_UNIT) * price[None, :, :] / self._income[:, None, None]
        perceived = self.perceived_privacy()  # (C, 3, V)
        base = np.broadcast_to(p.b_ecosystem * q, perceived.shape)
        base, price_term, perceived = (a.reshape(-1, n_v) for a in (base, price_term, perceived))
        c = np.take(pop.country, rows)
        s = np.take(pop.segment, rows)
        cur = np.take(pop.vendor, rows)
        choice = np.empty(len(rows), dtype=np.int16)
        logsum = np.empty(len(rows), dtype=np.float64)
        # Choosers in blocks: the same numbers (the generator's stream runs on
        # across blocks), with the utility and draw temporaries (about 100 bytes a
        # chooser) bounded at a few tens of MB; at 10M users they were 14 bytes a
        # user at the peak of a quarter with a ban.
        for lo in range(0, len(rows), CHOICE_BLOCK):
            hi = min(len(rows), lo + CHOICE_BLOCK)
            r, cb, curb = rows[lo:hi], c[lo:hi], cur[lo:hi]
            cs = cb.astype(np.int64)
            cs *= 3
            cs += s[lo:hi]
            util = np.take(base, cs, axis=0)
            util -= np.take(pop.price_sens, r)[:, None] * np.take(price_term, cs, axis=0)
            util += np.take(pop.privacy, r)[:, None] * np.take(perceived, cs, axis=0)
            if p.b_contacts > 0:
                util += p.b_contacts * pop.tracked_contact_shares(r, n_v)
            # Switching cost on every vendor but the current one: subtract it from
            # all, then put back the current vendor's untouched utility (exactly
            # what subtracting cost x [v != current] gives, with no (n, V) mask).
            keep = np.flatnonzero(curb >= 0)
            kept = util[keep, curb[keep]]
            util -= p.switching_cost
            util[keep, curb[keep]] = kept
            avail = None if avail_cv.all() else np.take(avail_cv, cb, axis=0)
            choice[lo:hi], logsum[lo:hi] = gumbel_argmax(util, avail, self.rng)
            del util, avail
        pop.vendor[rows] = choice
        pop.device_age[rows] = 0
        # Who switched moves the contact counts of those who know them and the
        # running privacy sums (about 3,000 users a quarter at 100k).
        moved = np.flatnonzero(choice != cur)
        if len(moved):
            old, new = np.take(cur, moved), np.take(choice, moved)
            pop.move_contacts(np.take(rows, moved), old, new)
            z = np.take(pop.privacy, np.take(rows, moved)).astype(np.float64)
            self._priv_sum -= _by_vendor(old, z, n_v)
            self._priv_sum += _by_vendor(new, z, n_v)
        finite = np.isfinite(logsum)
        self.welfare = float(logsum[finite].mean()) if finite.any() else 0.0
        self.sales = self._count(choice, c, s)
        # Only the choosers' vendors changed: update the installed counts from
        # theirs (exact integers; a full recount cost 0.3 ms a quarter at 100k).
        self._tally(self.installed - self._count(cur, c, s) + self.sales)

    def _due_rows(self, n: int, hazard: float) -> np.ndarray:
        """Users whose device comes due this quarter, each with chance ``hazard``.

        Drawn as the gaps between due users (geometric, one draw per due user)
        rather than one uniform per user: 0.08 against 0.23 ms at 100k users,
        and no (users,) temporaries. Sorted user ids, int64.
        """
        if hazard <= 0:
            return np.zeros(0, dtype=np.int64)
        if hazard >= 1:
            return np.arange(n, dtype=np.int64)
        parts, start = [], 0
        while start < n:
            # Enough gaps to pass n almost always (mean + 4 sd); else draw on.
            left = (n - start) * hazard
            gaps = self.rng.geometric(hazard, size=int(left + 4 * left**0.5) + 16)
            np.minimum(gaps, n + 1, out=gaps)  # a tiny hazard's gaps overflow a sum
            pos = np.cumsum(gaps)
            pos += start - 1
            cut = int(np.searchsorted(pos, n))
            parts.append(pos[:cut])
            if cut < len(pos):
                break
            start = int(pos[-1]) + 1
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _forced_rows(self, forced_cv: np.ndarray) -> np.ndarray:
        """Users whose (country, vendor) cell is forced to choose; the last column
        of ``forced_cv`` is for users with no vendor (-1 indexes it)."""
        pop = self.population
        bounds = self._country_bounds
        if bounds is None:  # users not stored by country (a view moved one)
            key = pop.country.astype(np.int32)  # < 1000 x 33: int32 is ample
            key *= forced_cv.shape[1]
            key += pop.vendor
            key[pop.vendor < 0] += forced_cv.shape[1]  # -1 -> last column of its row
            return np.flatnonzero(np.take(forced_cv, key))
        # Users are stored by country: only the countries with a forced cell
        # (or users with no vendor) are looked at, with no (users,) temporaries
        # (a 3M-user run peaked 21 bytes a user higher in a quarter with a ban).
        n_v = forced_cv.shape[1] - 1
        unvended = self.installed.sum(axis=(0, 2)) < np.diff(bounds)
        parts = [np.zeros(0, dtype=np.int64)]
        for c in np.flatnonzero(forced_cv[:, :n_v].any(axis=1) | unvended):
            lo, hi = int(bounds[c]), int(bounds[c + 1])
            hit = np.take(forced_cv[c], pop.vendor[lo:hi])
            parts.append(np.flatnonzero(hit) + lo)
        return np.concatenate(parts)

    def _count(self, vendor: np.ndarray, country: np.ndarray, segment: np.ndarray) -> np.ndarray:
        """Tally users by (vendor, country, segment) with one bincount (vendor -1 skipped)."""
        return tally(vendor, country, segment, len(self.vendor_list), len(self.government_list))

    def _tally(self, installed: np.ndarray | None = None) -> None:
        """Record this quarter's tallies; recount installed users unless given.

        A recount (no ``installed`` given) also recounts what the quarter keeps
        running: each user's contacts per vendor and the privacy sum per vendor.
        """
        if installed is None:
            installed = self.population.installed_counts(
                len(self.vendor_list), len(self.government_list)
            )
            self._recount_running()
        self.installed = installed
        self.tallies.record(self.quarter, self.installed, self.sales, self.readable_share())

    def _recount_running(self) -> None:
        """Recount what the quarter keeps running from the columns: each user's
        contacts per vendor (when contacts matter) and the privacy sum per vendor."""
        pop, n_v = self.population, len(self.vendor_list)
        country = pop.country
        by_country = bool((country[1:] >= country[:-1]).all())
        n_c = len(self.government_list)
        self._country_bounds = np.searchsorted(country, np.arange(n_c + 1)) if by_country else None
        if self.params.b_contacts > 0:
            pop.count_contacts(n_v)
        self._priv_sum = pop.privacy_totals(n_v)

    def _privacy_totals(self) -> np.ndarray:
        """Sum of the privacy sensitivity of each vendor's users (the running sum).

        A full pass over all users cost 0.31 ms a quarter at 100k users (of a
        3.5 ms quarter); the switchers move the sum instead. Float sums in
        another order: equal to a recount to about 1e-12 relative.
        """
        return self._priv_sum

    # --------------------------------------------------- accounts (step 5)
    def _book_accounts(self) -> None:
        scale_m = self.scale / 1e6  # simulated users -> millions of real users
        for v in self.vendor_list:
            if not v.alive:
                continue
            units = self.sales[v.index]  # (C, 3)
            inst = self.installed[v.index]
            local_price = v.price[None, :] * self._income[:, None]  # (C, 3), US$
            dev = float((units * local_price).sum()) * scale_m
            unit_costs = float(units.sum()) * v.spec.unit_cost * scale_m
            serv = float((inst.sum(axis=1) * self._income).sum()) * v.spec.service_revenue * scale_m
            self.unit_costs[v.index] = unit_costs
            v.book(dev, unit_costs, serv, units=float(units.sum()), installed=float(inst.sum()))

    def _update_strategic_figures(self) -> None:
        """Per-country margins and privacy dependence that strategies weigh next quarter."""
        p = self.params
        scale_m = self.scale / 1e6
        priv_sum = self._privacy_totals()
        n_on = self.installed.sum(axis=(1, 2))  # the current tally: no pass over users
        inst_share = self.installed_share()
        for v in self.vendor_list:
            i = v.index
            units = self.sales[i]
            margin_unit = v.price[None, :] * self._income[:, None] - v.spec.unit_cost
            dev = (units * margin_unit).sum(axis=1)
            serv = self.installed[i].sum(axis=1) * self._income * v.spec.service_revenue
            self.local_margin[i] = (dev + serv) * scale_m - v.spec.country_cost
            mean_priv = priv_sum[i] / n_on[i] if n_on[i] else 0.0
            priv = mean_priv * v.stance * v.trust
            other = p.b_ecosystem * v.q + p.b_contacts * inst_share[i]
            self.privacy_dependence[i] = priv / (priv + other) if priv + other > 0 else 0.0

    # ------------------------------------------ presence changes (steps 2-3)
    def ban(self, v: int, country: int) -> None:
        """Ban vendor ``v`` in ``country``; its users there switch this quarter."""
        self.vendor_list[v].presence[country] = BANNED

    def exit_country(self, v: int, country: int) -> None:
        """Vendor ``v`` leaves ``country``; its users there switch this quarter."""
        self.vendor_list[v].presence[country] = EXITED
        self.log(
            "country exit",
            self.vendor_list[v].name,
            self.params.countries[country].name,
            "leaves rather than grant access",
        )

    def fail(self, v: int, reason: str) -> None:
        """Vendor ``v`` leaves the handset market everywhere."""
        vendor = self.vendor_list[v]
        vendor.alive = False
        vendor.exit_reason = reason
        vendor.exit_quarter = self.quarter
        for g in self.government_list:
            g.open = [d for d in g.open if d.vendor != v]
        self.log("vendor failure", vendor.name, "market", reason)

    # ----------------------------------------------------------- queries
    def installed_users(self, v: int) -> float:
        """Real users on vendor ``v``'s devices."""
        return float(self.installed[v].sum()) * self.scale

    def installed_share(self) -> np.ndarray:
        """Global installed-base share per vendor (sums to 1)."""
        return shares(self.installed.sum(axis=(1, 2)).astype(np.float64))

    def sales_share(self) -> np.ndarray:
        """Share of this quarter's unit sales per vendor (what researchers publish)."""
        return shares(self.sales.sum(axis=(1, 2)).astype(np.float64))

    def country_shares(self) -> np.ndarray:
        """(countries, vendors) installed share within each country."""
        by_cv = self.installed.sum(axis=2).T.astype(np.float64)
        tot = by_cv.sum(axis=1, keepdims=True)
        return np.divide(by_cv, tot, out=np.zeros_like(by_cv), where=tot > 0)

    def weighted_share(self, v: int, country: int) -> float:
        """Vendor ``v``'s share of ``country``'s users, weighted by segment (visibility)."""
        mine = float((self.installed[v, country] * self._seg_w).sum())
        total = float((self.installed[:, country].sum(axis=0) * self._seg_w).sum())
        return mine / total if total > 0 else 0.0

    def readable(self) -> np.ndarray:
        """(vendors, countries, segments) users whose traffic their government can read."""
        access = np.stack([v.access for v in self.vendor_list])
        return self.installed * access

    def readable_share(self) -> np.ndarray:
        """Per country, the share of its users on platforms its government can read."""
        tot = self.installed.sum(axis=(0, 2)).astype(np.float64)
        readable = self.readable().sum(axis=(0, 2))
        return np.divide(readable, tot, out=np.zeros_like(tot), where=tot > 0)

    def exposure(self) -> float:
        """Share of all users on platforms their own government can read."""
        tot = self.installed.sum()
        return float(self.readable().sum() / tot) if tot else 0.0

    def vendor_index(self, name: str) -> int:
        try:
            return self._vendor_by_name[name]
        except KeyError:
            raise ParameterError(
                f"unknown vendor {name!r}; allowed: {list(self._vendor_by_name)}"
            ) from None

    def scripted_demands_for(self, quarter: int, country: int) -> list[ScriptedDemand]:
        return self._scripted.get((quarter, country), [])

    def next_demand_id(self) -> int:
        self._demand_ids += 1
        return self._demand_ids

    def quarter_label(self, quarter: int) -> str:
        """Calendar label of a model quarter (quarter 1 is ``start_quarter start_year``)."""
        k = self.params.start_quarter - 1 + quarter - 1
        return f"Q{k % 4 + 1} {self.params.start_year + k // 4}"

    def log(
        self, event: str, actor: str, target: str, details: str, demand: int | None = None
    ) -> None:
        self.events.add(
            self.quarter, self.quarter_label(self.quarter), event, actor, target, details, demand
        )

    # ----------------------------------------------------------- outputs
    def table(self) -> pd.DataFrame:
        """The per-quarter table: market figures and ``<vendor>.<figure>`` columns."""
        return quarter_table(self)

    def event_frame(self) -> pd.DataFrame:
        return self.events.to_frame()

    def summary(self) -> dict[str, Any]:
        """Headline end-of-run figures."""
        return headline(self)

    def plot(self, kind: str = "overview"):
        """The standard figure of this run (a matplotlib Figure)."""
        from privmarket.sim.plots import overview

        return overview(self.table(), self.event_frame())

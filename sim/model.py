"""``MarketModel``: the Mesa model of vendors, users and governments, one quarter a step.

Agents decide; the model applies. Governments propose demands and give
verdicts, vendors choose answers and judge their own viability, users choose
devices; the numbered plan in :meth:`MarketModel.step` applies those decisions,
books them and logs them, in one place.

Example
-------
>>> from privmarket.sim.model import MarketModel
>>> m = MarketModel(n_users=2_000, quarters=8, rng=42).run()
>>> m.quarter
8
>>> round(float(m.installed_share().sum()), 6)
1.0
>>> MarketModel("pakistan-2015", rng=1).run().summary()["BlackBerry.alive"]
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mesa
import numpy as np
import pandas as pd
from mesa.experimental.scenarios import Scenario as MesaScenario

from privmarket.agents.answers import ANSWERS, feasible_answers
from privmarket.agents.government import Government, Verdict
from privmarket.agents.strategies import make_strategy, realised_value
from privmarket.agents.user_market import Offer, UserMarket, UserSide, privacy_dependence
from privmarket.agents.users import UserCollection
from privmarket.agents.vendor import Vendor
from privmarket.sim.events import EventLog
from privmarket.sim.params import ParameterError, Params, ScriptedDemand
from privmarket.sim.results import (
    GOVERNMENT_FIGURES,
    MARKET_FIGURES,
    VENDOR_FIGURES,
    QuarterRecord,
    Results,
    hhi,
    shares,
)
from privmarket.sim.scenarios import get_scenario
from privmarket.sim.vocabulary import (
    Demand,
    Event,
    EventKind,
    Outcome,
    Presence,
    segment_names,
    severity_band,
)
from privmarket.sim.world import build_population, country_scale

#: Builds the user side of a model (default: the vectorised :class:`UserMarket`).
UserSideFactory = Callable[["MarketModel"], UserSide]


class HorizonReached(RuntimeError):
    """The model was asked to step past its last quarter (``params.quarters``)."""


def _seed(rng: Any) -> Any:
    """A seed Mesa and numpy both take: numpy integers become ints (the stdlib's
    ``random.Random`` refuses them), and a seed must be a whole number >= 0."""
    if isinstance(rng, bool):
        raise ParameterError(f"rng={rng!r}: a seed is a whole number >= 0, not true or false")
    if isinstance(rng, np.integer):
        rng = int(rng)
    if isinstance(rng, int) and rng < 0:
        raise ParameterError(f"rng={rng}: a seed is a whole number >= 0")
    return rng


def vectorised_users(model: MarketModel) -> UserMarket:
    """The default user side: numpy columns drawn from the model's generator."""
    p = model.params
    population = build_population(p, model.rng)
    return UserMarket(population, p, len(p.vendors), len(p.countries), model.rng)


class MarketModel(mesa.Model):
    """A market of phone vendors, their users and the governments that demand access.

    Parameters
    ----------
    params : Params or str, optional
        A full parameter set, or the name of a scenario (``"pakistan-2015"``).
        Defaults to the ``scenario``'s, or ``baseline``.
    scenario : str, optional
        Name of a scenario (see ``privmarket scenarios``). Mesa's own
        ``mesa.experimental.scenarios.Scenario`` objects (which SolaraViz passes
        back on Reset) are accepted too: their seed and any parameter values they
        carry are used.
    rng : int, numpy integer or numpy Generator, optional
        Seed. Same parameters and seed give identical output.
    user_market : callable, optional
        Builds the user side from the model (default :func:`vectorised_users`);
        ``privmarket.experiments.reference`` passes its per-object Mesa one.
    **overrides
        Parameter paths and values applied on top (``hazard=0.2``,
        ``**{"vendors.Aegis.stance": 1.0}``). This is how ``mesa.batch_run`` and
        ``SolaraViz`` pass parameters.

    One step is one quarter (see :meth:`step`); the model runs for
    ``params.quarters`` quarters and refuses to step past them.
    """

    def __init__(
        self,
        params: Params | str | None = None,
        *,
        scenario: str | MesaScenario | None = None,
        rng: Any = None,
        user_market: UserSideFactory | None = None,
        **overrides: Any,
    ) -> None:
        if isinstance(scenario, MesaScenario):
            # Mesa's scenario object: a seed and, possibly, parameter values.
            carried = {
                k: v
                for k, v in vars(scenario).items()
                if k not in ("rng", "model") and not k.startswith("_")
            }
            overrides = {**carried, **overrides}
            if rng is None:
                rng = scenario.rng
            scenario = None
        if isinstance(params, str):
            if scenario is not None:
                raise ParameterError(
                    f"scenario given twice ({params!r} and scenario={scenario!r}); give one"
                )
            params, scenario = None, params
        if scenario is not None and not isinstance(scenario, str):
            raise ParameterError(
                f"scenario={scenario!r}: expected a scenario name (see `privmarket scenarios`)"
            )
        super().__init__(rng=_seed(rng))
        if params is None:
            scenario = scenario or "baseline"
            params = get_scenario(scenario).params
        elif scenario is not None:
            raise ParameterError("give either params or scenario, not both")
        if overrides:
            params = params.with_updates(overrides)
        self.params: Params = params
        self.scenario_name = scenario or "custom"
        self.horizon = params.quarters
        self.scale = params.scale  # real users per simulated user, on average
        self.quarter = 0
        self.events = EventLog()
        self._next_demand_id = 0
        self._scripted: dict[tuple[int, int], list[ScriptedDemand]] = {}
        for d in params.scripted_demands:
            self._scripted.setdefault((d.quarter, d.country), []).append(d)
        # Open demands of each government, in the order they were made.
        self._open: list[list[Demand]] = [[] for _ in params.countries]

        n_v, n_c = len(params.vendors), len(params.countries)
        self.user_market: UserSide = (user_market or vectorised_users)(self)
        if isinstance(self.user_market, UserMarket):
            self.users = UserCollection(self)  # another user side sets its own
        # Agents are created in bulk, in a fixed order (vendors, then governments).
        Vendor.create_agents(
            self,
            n_v,
            spec=list(params.vendors),
            index=list(range(n_v)),
            n_countries=n_c,
            strategy=[make_strategy(v.strategy) for v in params.vendors],
        )
        Government.create_agents(
            self, n_c, spec=list(params.countries), country=list(range(n_c)), n_vendors=n_v
        )
        self.vendor_list: list[Vendor] = sorted(self.agents_by_type[Vendor], key=lambda v: v.index)
        # Whose ecosystem each vendor's is: its own, or its open platform's.
        index = {v.name: v.index for v in self.vendor_list}
        self._ecosystem_of = np.array(
            [index[v.spec.platform] if v.spec.platform else v.index for v in self.vendor_list]
        )
        self._share_platform_ecosystems()
        self.government_list: list[Government] = sorted(
            self.agents_by_type[Government], key=lambda g: g.country
        )

        # Real users per simulated user in each country (more where a country is
        # oversampled): every figure summed over countries is weighted by it.
        self.country_scale = country_scale(params, self.user_market.present)
        self._segment_weights = np.asarray(params.segment_weights, dtype=np.float64)
        self._weighted_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._income = np.array([c.income for c in params.countries])
        self.sales = np.zeros((n_v, n_c, 3), dtype=np.int64)
        self._gross_margin = np.zeros(n_v)
        self._returned = np.zeros((n_c, n_v), dtype=bool)  # bans lifted this quarter
        # Bans in force: (country, vendor) -> the gain and cost the government weighed.
        self._bans: dict[tuple[int, int], tuple[float, float]] = {}
        self._local_margin = np.zeros((n_v, n_c))
        self._privacy_dependence = np.zeros(n_v)
        self.welfare = 0.0
        self.choosers = 0
        self.results = Results(
            self.horizon,
            [v.name for v in self.vendor_list],
            [g.name for g in self.government_list],
            [self.quarter_label(t) for t in range(self.horizon + 1)],
            [self.quarter_date(t) for t in range(self.horizon + 1)],
            self.country_scale,
        )
        self._update_strategic_figures(units=self.expected_sales())
        self.record: QuarterRecord = self._observe()
        self.results.record(self.record)

        self.datacollector = mesa.DataCollector(
            model_reporters=_market_reporters(),
            agenttype_reporters={Vendor: _vendor_reporters(), Government: _government_reporters()},
        )
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ step
    def step(self) -> None:
        """One quarter, in the order of docs/ODD.md (section 3).

        1. Governments issue demands.  2. Vendors answer new demands.
        3. Governments enforce demands whose deadline has come.
        4. Users choose (simultaneously: all see the same prices and trust).
        5. Vendors book revenue and costs.  6. Ecosystems and trust update.
        7. Vendors that fail the segment or cash rule leave.
        8. The quarter is recorded.
        """
        if self.quarter >= self.horizon:
            raise HorizonReached(
                f"the run has reached its last quarter ({self.horizon}); "
                "build a new model with more quarters to go on"
            )
        self.quarter += 1
        new = self._issue_demands()  # 1
        self._answer_demands(new)  # 2
        self._review_bans()  # 3: bans imposed earlier are reviewed, then deadlines come
        self._enforce()
        self._users_choose()  # 4
        self._book_accounts()  # 5
        self._update_ecosystems_and_trust()  # 6
        self._check_viability()  # 7
        self._update_strategic_figures()
        self.record = self._observe()  # 8
        self.results.record(self.record)
        self.datacollector.collect(self)
        if self.quarter >= self.horizon or not any(v.alive for v in self.vendor_list):
            self.running = False

    def run(self, quarters: int | None = None) -> MarketModel:
        """Step ``quarters`` times (default: to the last quarter) and return self."""
        left = self.horizon - self.quarter
        quarters = left if quarters is None else quarters
        if quarters > left:
            raise ParameterError(
                f"run({quarters}): only {left} quarter(s) left before the run's last quarter "
                f"({self.horizon}); set quarters={self.quarter + quarters} to run longer"
            )
        for _ in range(quarters):
            self.step()
        return self

    # --------------------------------------------------- 1. demands are made
    def _issue_demands(self) -> list[Demand]:
        made = []
        for gov in self.government_list:
            c = gov.country
            scripted = self._scripted.get((self.quarter, c), [])
            open_to = {d.vendor for d in self._open[c]}
            for draft in gov.propose_demands(self, scripted, open_to):
                self._next_demand_id += 1
                d = Demand(
                    id=self._next_demand_id,
                    country=c,
                    vendor=draft.vendor,
                    segments=draft.segments,
                    severity=draft.severity,
                    made=self.quarter,
                    deadline=self.quarter + draft.deadline,
                    scripted=draft.scripted,
                )
                self._open[c].append(d)
                vendor = self.vendor_list[d.vendor]
                vendor.receive(d)
                self._log(
                    EventKind.DEMAND,
                    gov.name,
                    vendor.name,
                    demand=d.id,
                    severity=d.severity,
                    band=severity_band(d.severity, self.params.severity_bands),
                    segments=segment_names(d.segments),
                    deadline=self.quarter_label(d.deadline),
                )
                made.append(d)
        return made

    # -------------------------------------------------- 2. vendors answer
    def _answer_demands(self, new: list[Demand]) -> None:
        for vendor in self.vendor_list:
            for d in new:
                if d.vendor != vendor.index or not vendor.is_active_in(d.country):
                    continue
                answer = vendor.answer(d, self)
                allowed = feasible_answers(vendor, d)
                if answer not in allowed:
                    raise RuntimeError(
                        f"{vendor.strategy.name} chose {answer!r}, which {vendor.name} cannot "
                        f"give to this demand; allowed: {', '.join(allowed)}"
                    )
                self._apply_answer(vendor, d, answer)

    def _apply_answer(self, vendor: Vendor, d: Demand, answer: str) -> None:
        gov = self.government_list[d.country]
        d.answer = answer
        vendor.answered(answer)
        effect = ANSWERS[answer].apply(vendor, d, self.params)

        def log(kind: EventKind, **fields: Any) -> None:
            # What an answer does is logged as the vendor's act toward the demanding
            # government, about this demand.
            self._log(kind, vendor.name, gov.name, demand=d.id, **fields)

        if effect.opened is not None and effect.opened.any():
            log(EventKind.ACCESS_GRANTED, segments=segment_names(effect.opened))
        if effect.local_stance is not None:
            log(EventKind.WITHDRAW_FEATURE, local_stance=effect.local_stance)
        if effect.left_country:
            self._log(
                EventKind.COUNTRY_EXIT, vendor.name, gov.name, reason="rather than grant access"
            )
        if effect.settles is not None:
            d.outcome = effect.settles
            self._open[d.country].remove(d)
            self._learn(vendor, d)
        log(EventKind.ANSWER, answer=answer)

    def _learn(self, vendor: Vendor, d: Demand) -> None:
        """A demand is settled: the vendor's decision rule learns what it was worth."""
        vendor.strategy.learn(vendor, d, realised_value(vendor, d, self), self)

    # -------------------------------------------- 3. governments enforce
    def _enforce(self) -> None:
        p = self.params
        for gov in self.government_list:
            c = gov.country
            still_open = []
            for d in self._open[c]:
                verdict = gov.verdict(d, self)
                if verdict is None:
                    still_open.append(d)
                elif verdict.outcome is Outcome.EXITED:
                    d.outcome = Outcome.EXITED  # the vendor is gone: nothing to enforce
                else:
                    self._apply_verdict(gov, d, verdict)
                    gov.settled(
                        d, verdict.outcome, self.quarter, p.deadline_quarters + p.demand_cooldown
                    )
                    self._learn(self.vendor_list[d.vendor], d)
            self._open[c] = still_open

    def _review_bans(self) -> None:
        """Each ban in force is reviewed; a lifted one lets its users come back."""
        self._returned[:] = False
        for c, v in sorted(self._bans):
            vendor, gov = self.vendor_list[v], self.government_list[c]
            gain, cost = self._bans[(c, v)]
            if not vendor.alive or not gov.lifts_ban(gain, cost, self):
                continue
            del self._bans[(c, v)]
            vendor.ban_lifted(c)
            self._returned[c, v] = True
            self._log(EventKind.BAN_LIFTED, gov.name, vendor.name, gain=gain, cost=cost)

    def _apply_verdict(self, gov: Government, d: Demand, verdict: Verdict) -> None:
        vendor = self.vendor_list[d.vendor]
        d.outcome = verdict.outcome
        kind = {
            Outcome.BANNED: EventKind.BAN,
            Outcome.DEAL: EventKind.PARTIAL_DEAL,
            Outcome.DROPPED: EventKind.BACKDOWN,
        }[verdict.outcome]
        if verdict.outcome is Outcome.BANNED:
            vendor.banned_in(gov.country, d.segments)
            self._bans[(gov.country, d.vendor)] = (verdict.gain, verdict.cost)
        self._log(kind, gov.name, vendor.name, demand=d.id, gain=verdict.gain, cost=verdict.cost)

    # ------------------------------------------------------ 4. users choose
    def offer(self) -> Offer:
        """What every user sees this quarter."""
        vendors = self.vendor_list
        banned = np.stack([v.blocked & v.alive for v in vendors], axis=2)  # (C, 3, V)
        return Offer(
            available=self.available(),
            alive=np.array([v.alive for v in vendors]),
            ecosystem=np.array([v.ecosystem for v in vendors]),
            price=np.stack([v.price for v in vendors], axis=1),
            income=self._income,
            perceived=self.perceived_privacy(),
            quarter=self.quarter,
            banned=banned if banned.any() else None,
            returned=self._returned if self._returned.any() else None,
        )

    def _users_choose(self) -> None:
        choices = self.user_market.choose(self.offer())
        self.choosers = choices.choosers
        self.sales = choices.sales
        self.welfare = choices.welfare

    def available(self) -> np.ndarray:
        """(countries, segments, vendors) bool: where, and to whom, each vendor sells now."""
        return np.stack(
            [
                ((v.presence == Presence.ACTIVE) & v.alive)[:, None] & ~v.blocked
                for v in self.vendor_list
            ],
            axis=2,
        )

    def perceived_privacy(self) -> np.ndarray:
        """(countries, segments, vendors): local stance x trust, zero where readable."""
        return np.stack(
            [(v.local_stance * v.trust)[:, None] * ~v.access for v in self.vendor_list],
            axis=2,
        )

    # --------------------------------------------------- 5. accounts
    def _book_accounts(self) -> None:
        scale = self.country_scale  # simulated -> real users, by country
        for v in self.vendor_list:
            inst = self.installed[v.index].sum(axis=1) * scale  # (C,) real users
            serv = float(inst.sum()) * v.spec.service_revenue / 1e6
            if not v.alive:
                v.book_services_only(serv, installed=float(inst.sum()))
                continue
            units = self.sales[v.index].sum(axis=1) * scale  # (C,) real devices
            # Devices sell at the same price everywhere (income changes how much a
            # price hurts a buyer, not what the vendor books).
            dev = float(((self.sales[v.index] * v.price[None, :]).sum(axis=1) * scale).sum()) / 1e6
            unit_costs = float(units.sum()) * v.spec.unit_cost / 1e6
            v.book(dev, unit_costs, serv, units=float(units.sum()), installed=float(inst.sum()))

    # ------------------------------------------- 6. ecosystems and trust
    def _update_ecosystems_and_trust(self) -> None:
        # A maker on an open platform adds its users to the platform's ecosystem and
        # takes the platform's strength: developers write for the operating system.
        target = np.bincount(self._ecosystem_of, self.developer_share(), len(self.vendor_list))
        for v in self.vendor_list:
            if v.alive:
                if not v.spec.platform:
                    v.update_ecosystem(float(target[v.index]), self.params)
                v.update_trust(self.params)
        self._share_platform_ecosystems()

    def _share_platform_ecosystems(self) -> None:
        """Each maker on an open platform takes the platform's ecosystem strength."""
        for v in self.vendor_list:
            if v.spec.platform:
                v.ecosystem = self.vendor_list[self._ecosystem_of[v.index]].ecosystem

    # ------------------------------------------------------- 7. viability
    def _check_viability(self) -> None:
        for v in self.vendor_list:
            reason = v.viability(self.params)
            if reason is None:
                continue
            v.leave_market(reason, self.quarter)
            # Its open demands lapse: there is no one left to answer or ban.
            for c, demands in enumerate(self._open):
                self._open[c] = [d for d in demands if d.vendor != v.index]
            self._log(EventKind.VENDOR_FAILURE, v.name, "market", reason=reason)

    def _update_strategic_figures(self, units: np.ndarray | None = None) -> None:
        """Per-country margins, gross margins and privacy dependence that decision rules
        weigh next quarter: from last quarter's sales, or from ``units`` (the expected
        sales before the first quarter, so that nothing is valued at zero then)."""
        scale_m = self.country_scale / 1e6  # simulated users -> millions of real users
        # Mean privacy sensitivity of each vendor's users, weighted to real users.
        priv_sum = (self.user_market.privacy_totals() * self.country_scale).sum(axis=1)
        n_on = (self.installed.sum(axis=2) * self.country_scale).sum(axis=1)
        inst_share = self.installed_share()
        sales = self.sales if units is None else units
        vendors = self.vendor_list
        spec = [v.spec for v in vendors]
        # Device margin per unit, by (vendor, segment); service revenue per user.
        margin_unit = (
            np.stack([v.price for v in vendors]) - np.array([s.unit_cost for s in spec])[:, None]
        )
        dev = (sales * margin_unit[:, None, :]).sum(axis=2)  # (V, C)
        serv = self.installed.sum(axis=2) * np.array([s.service_revenue for s in spec])[:, None]
        contribution = (dev + serv) * scale_m  # (V, C), US$M
        self._local_margin[:] = contribution - np.array([s.country_cost for s in spec])[:, None]
        self._gross_margin[:] = contribution.sum(axis=1)
        for v in vendors:
            i = v.index
            mean_priv = priv_sum[i] / n_on[i] if n_on[i] else 0.0
            priv = mean_priv * v.stance * v.trust
            self._privacy_dependence[i] = privacy_dependence(priv, float(inst_share[i]))

    # ------------------------------------------------------ 8. the record
    def _observe(self) -> QuarterRecord:
        vendors, govs = self.vendor_list, self.government_list
        installed = self.installed
        inst_share = self.installed_share()
        sales_share = self.sales_share()
        readable = self.readable()  # (V, C, 3)
        readable_share = self.readable_share(readable)
        market = {
            "active_vendors": sum(v.alive for v in vendors),
            "hhi": hhi(inst_share),
            "sales_hhi": hhi(sales_share),
            "privacy_exposure": self.exposure(readable),
            "consumer_welfare": self.welfare,
            "users": float((self.user_market.present * self.country_scale).sum()),
            "choosers": float((self.sales.sum(axis=(0, 2)) * self.country_scale).sum()),
            "demands": sum(g.demands_made for g in govs),
            "bans": sum(g.bans_imposed for g in govs),
            "backdowns": sum(g.demands_dropped for g in govs),
            "deals": sum(g.deals_accepted for g in govs),
            "bans_lifted": sum(g.lifted_bans for g in govs),
            "country_exits": sum(v.countries_left for v in vendors),
            "vendor_failures": sum(not v.alive for v in vendors),
        }
        figures: dict[str, Any] = {
            "installed": [self.installed_users(v.index) for v in vendors],
            "installed_share": inst_share,
            "units": [v.units for v in vendors],
            "sales_share": sales_share,
        }
        for name in VENDOR_FIGURES:
            if name not in figures:
                figures[name] = [getattr(v, name) for v in vendors]
        gov: dict[str, Any] = {"readable_share": readable_share}
        for name in GOVERNMENT_FIGURES:
            if name not in gov:
                gov[name] = [getattr(g, name) for g in govs]
        return QuarterRecord(
            quarter=self.quarter,
            market=market,
            vendor={k: np.asarray(v) for k, v in figures.items()},
            government={k: np.asarray(v) for k, v in gov.items()},
            installed=installed.copy(),
            sales=self.sales.copy(),
            readable=readable.sum(axis=0),
            exit_quarter=tuple(v.exit_quarter for v in vendors),
        )

    def open_demands(self, country: int | None = None) -> list[Demand]:
        """Demands not yet settled, in the order they were made (of one country, or all)."""
        if country is not None:
            return list(self._open[country])
        return [d for demands in self._open for d in demands]

    def expected_sales(self) -> np.ndarray:
        """(vendors, countries, segments) devices expected to sell next quarter if shares
        hold: replacements of devices coming due, plus first devices of new users."""
        units = self.installed * self.params.hazard
        arriving = self.user_market.population.arrivals
        nxt = self.quarter + 1
        if nxt < len(arriving) and arriving[nxt].any():
            totals = self.installed.sum(axis=0)  # (C, 3)
            share = np.divide(
                self.installed, totals[None], out=np.zeros(self.installed.shape), where=totals > 0
            )
            mix = np.array([c.segment_mix for c in self.params.countries])  # (C, 3)
            units = units + share * (arriving[nxt][:, None] * mix)[None]
        return units

    # ------------------------------------------------ the market view
    @property
    def installed(self) -> np.ndarray:
        """(vendors, countries, segments) simulated users on each vendor now."""
        return self.user_market.installed

    @property
    def population(self) -> Any:
        """The users' columns (see :class:`privmarket.agents.user_market.UserPopulation`)."""
        return self.user_market.population

    def weighted_share(
        self, vendor: int, country: int, segments: np.ndarray | None = None
    ) -> float:
        """A vendor's share of ``country``'s users, weighted by segment (its visibility);
        with ``segments``, counting only its users in those tiers (those a block of
        that service would cut off)."""
        inst = self.installed
        mine_all, totals = self._weighted_counts(inst)
        total = float(totals[country])
        if segments is None:
            mine = float(mine_all[vendor, country])
        else:
            mine = float((inst[vendor, country] * (self._segment_weights * segments)).sum())
        return mine / total if total > 0 else 0.0

    def _weighted_counts(self, inst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segment-weighted users by (vendor, country), and by country, for the counts
        ``inst``. Governments read them for every vendor several times a quarter,
        and the counts change only when users choose (which makes a new array), so
        they are kept with the array they came from."""
        cached = self._weighted_cache
        if cached is None or cached[0] is not inst:
            w = self._segment_weights
            cached = (inst, (inst * w).sum(axis=2), (inst.sum(axis=0) * w).sum(axis=1))
            self._weighted_cache = cached
        return cached[1], cached[2]

    def local_margin(self, vendor: int, country: int) -> float:
        return float(self._local_margin[vendor, country])

    def market_growth(self, country: int | None = None) -> float:
        """Users expected over the next ``ev_horizon`` quarters, on average, per user there
        is now (1: no growth), in ``country`` or (None) the world; from the arrival path."""
        arriving = self.user_market.population.arrivals
        present = self.user_market.present.astype(np.float64)
        now = present.sum() if country is None else present[country]
        if now <= 0 or len(arriving) <= 1:
            return 1.0
        ahead = arriving[self.quarter + 1 : self.quarter + 1 + self.params.ev_horizon]
        cum = np.cumsum(ahead.sum(axis=1) if country is None else ahead[:, country])
        h = self.params.ev_horizon
        padded = np.concatenate([cum, np.full(h - len(cum), cum[-1] if len(cum) else 0.0)])
        return float(1.0 + padded.mean() / now)

    def privacy_dependence(self, vendor: int) -> float:
        return float(self._privacy_dependence[vendor])

    def gross_margin(self, vendor: int) -> float:
        return float(self._gross_margin[vendor])

    # ----------------------------------------------------------- queries
    def _real(self, counts: np.ndarray) -> np.ndarray:
        """(vendors, countries, segments) simulated counts -> real users per vendor."""
        return (counts.sum(axis=2) * self.country_scale).sum(axis=1)

    def installed_users(self, v: int) -> float:
        """Real users on vendor ``v``'s devices."""
        return float((self.installed[v].sum(axis=1) * self.country_scale).sum())

    def installed_share(self) -> np.ndarray:
        """Global installed-base share per vendor (sums to 1), in real users."""
        return shares(self._real(self.installed))

    def installed_value_share(self) -> np.ndarray:
        """Share of users' spending on apps per vendor: the installed base, each user
        weighted by the price paid for the device to the power ``spending_price_exponent``
        (what users spend on apps, by proxy)."""
        counts = self.installed * self.country_scale[None, :, None]  # (V, C, S) real users
        prices = np.stack([v.price for v in self.vendor_list])  # (V, S)
        spend = prices**self.params.spending_price_exponent
        return shares((counts * spend[:, None, :]).sum(axis=(1, 2)))

    def developer_share(self) -> np.ndarray:
        """What developers follow when they choose platforms (the ecosystems' target):
        installed share, blended with the share of users' spending on apps
        (:meth:`installed_value_share`) by ``developer_value_weight`` (0: users alone;
        1: users' spending alone)."""
        w = self.params.developer_value_weight
        share = self.installed_share()
        return share if w == 0 else (1 - w) * share + w * self.installed_value_share()

    def sales_share(self) -> np.ndarray:
        """Share of this quarter's unit sales per vendor (what researchers publish)."""
        return shares(self._real(self.sales))

    def country_shares(self) -> np.ndarray:
        """(countries, vendors) installed share within each country."""
        by_cv = self.installed.sum(axis=2).T.astype(np.float64)
        tot = by_cv.sum(axis=1, keepdims=True)
        return np.divide(by_cv, tot, out=np.zeros_like(by_cv), where=tot > 0)

    def readable(self) -> np.ndarray:
        """(vendors, countries, segments) users whose traffic their government can read."""
        access = np.stack([v.access for v in self.vendor_list])
        return self.installed * access

    def readable_share(self, readable: np.ndarray | None = None) -> np.ndarray:
        """Per country, the share of its users on platforms its government can read
        (from :meth:`readable`'s counts, computed unless given)."""
        tot = self.installed.sum(axis=(0, 2)).astype(np.float64)
        readable = (self.readable() if readable is None else readable).sum(axis=(0, 2))
        return np.divide(readable, tot, out=np.zeros_like(tot), where=tot > 0)

    def exposure(self, readable: np.ndarray | None = None) -> float:
        """Share of all users on platforms their own government can read (real users;
        from :meth:`readable`'s counts, computed unless given)."""
        tot = self._real(self.installed).sum()
        readable = self.readable() if readable is None else readable
        return float(self._real(readable).sum() / tot) if tot else 0.0

    def vendor_index(self, name: str) -> int:
        for v in self.vendor_list:
            if v.name == name:
                return v.index
        raise ParameterError(
            f"unknown vendor {name!r}; allowed: {[v.name for v in self.vendor_list]}"
        )

    def quarter_label(self, quarter: int) -> str:
        """Calendar label of a model quarter (quarter 1 is ``start_quarter start_year``)."""
        k = self.params.start_quarter - 1 + quarter - 1
        return f"Q{k % 4 + 1} {self.params.start_year + k // 4}"

    def quarter_date(self, quarter: int) -> pd.Timestamp:
        """First day of a model quarter's calendar quarter (quarter 0: the one before 1)."""
        k = self.params.start_quarter - 1 + quarter - 1
        return pd.Timestamp(year=self.params.start_year + k // 4, month=3 * (k % 4) + 1, day=1)

    def _log(self, kind: EventKind, actor: str, target: str, **fields: Any) -> None:
        self.events.add(
            Event(self.quarter, self.quarter_label(self.quarter), kind, actor, target, **fields)
        )

    # ----------------------------------------------------------- outputs
    def table(self) -> pd.DataFrame:
        """The per-quarter table: market figures, ``<vendor>.<figure>`` and
        ``<country>.<figure>`` columns, every numeric column numeric."""
        return self.results.table()

    def frame(self) -> pd.DataFrame:
        """The run as a long, typed frame (quarter, date, kind, entity, figure, value)."""
        return self.results.frame()

    def event_frame(self) -> pd.DataFrame:
        """The event log as a typed frame, one row per event, with its sentence."""
        return self.events.to_frame()

    def summary(self) -> dict[str, Any]:
        """Headline figures of the last quarter run."""
        return self.results.summary()

    def plot(self):
        """The standard figure of this run: shares, cash, trust, demands (by calendar date).

        A ``pyplot`` figure, so ``plt.show()`` shows it and ``fig.savefig`` saves it;
        servers should call :func:`privmarket.sim.plots.overview` instead, which
        stays out of ``pyplot``.
        """
        import matplotlib.pyplot as plt

        from privmarket.sim.plots import overview

        return overview(self.table(), self.event_frame(), fig=plt.figure(layout="constrained"))


# ---------------------------------------------------------------- reporters
# Mesa's DataCollector reads the quarter's record; its column names are the
# figures' names, distinct between the market, vendors and governments, so that
# ``mesa.batch_run`` (which merges them into one row) never shadows one with another.
def _market_reporters() -> dict[str, Callable[[MarketModel], Any]]:
    out: dict[str, Callable[[MarketModel], Any]] = {
        "quarter": lambda m: m.quarter,
        "label": lambda m: m.quarter_label(m.quarter),
    }
    for name in MARKET_FIGURES:
        out[name] = lambda m, name=name: m.record.market[name]
    return out


def _vendor_reporters() -> dict[str, Any]:
    out: dict[str, Any] = {"name": "name"}
    for name in VENDOR_FIGURES:
        out[name] = lambda v, name=name: v.model.record.vendor[name][v.index].item()
    return out


def _government_reporters() -> dict[str, Any]:
    out: dict[str, Any] = {"name": "name"}
    for name in GOVERNMENT_FIGURES:
        out[name] = lambda g, name=name: g.model.record.government[name][g.country].item()
    return out

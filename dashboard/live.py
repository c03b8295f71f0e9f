"""The live run: the settings a browser session edits, and the model built from them.

Nothing here holds a model at module level. :class:`LiveSettings` is an
immutable record of what the user typed and chose; :func:`resolve` turns it into
a validated :class:`~sim.params.Params` and a seed, or raises
:class:`~sim.params.ParameterError` with a message for the page.
:class:`LiveModel` is the :class:`~sim.model.MarketModel` the page rebuilds on
Reset (called as Mesa's ``SolaraViz`` calls a model class): it reads the
session's current settings and, when they are invalid, reports why and falls
back to the last valid ones, so the page never shows a traceback. It stops at
its horizon, and keeps the figures the page draws per quarter.

Example
-------
>>> s = LiveSettings.for_scenario("baseline").with_stance("Aegis", 0.5)
>>> params, seed = resolve(s.replace(seed="7", users="2000"))
>>> params.vendor("Aegis").stance, seed, params.n_users
(0.5, 7, 2000)
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from privmarket.dashboard.core import market_totals
from privmarket.sim.model import MarketModel
from privmarket.sim.params import ParameterError, Params
from privmarket.sim.scenarios import get_scenario

#: The most simulated users a dashboard session may ask for (a step stays interactive).
MAX_USERS = 2_000_000
#: The smallest population the dashboard accepts (fewer makes the shares meaningless).
MIN_USERS = 100


@dataclass(frozen=True)
class LiveSettings:
    """What one browser session has chosen for its live run.

    ``seed`` and ``users`` are kept as typed (text) so that an invalid entry can
    be shown back with a message; everything else comes from sliders and
    selects, indexed like the scenario's vendors and countries.
    """

    scenario: str
    seed: str
    users: str
    vendor_names: tuple[str, ...]
    stances: tuple[float, ...]
    strategies: tuple[str, ...]
    country_names: tuple[str, ...]
    appetite: tuple[float, ...]
    rule_of_law: tuple[float, ...]
    privacy_salience: float
    privacy_sensitivity: tuple[float, float, float]
    extra: str = ""
    #: Parameter values of a stored run (``{path: value}`` as pairs), applied to the
    #: scenario before the controls above. Set when a sweep run is rerun live.
    base: tuple[tuple[str, Any], ...] = ()
    #: Where these settings came from, shown on the page (e.g. "sweep run 12 of ...").
    source: str = ""
    #: The stored end-of-run outcomes of that run (``model.summary()`` keys), to compare
    #: with the live run when it reaches the same quarter.
    expected: tuple[tuple[str, Any], ...] = ()

    # --- construction -----------------------------------------------------
    @classmethod
    def from_params(
        cls,
        scenario: str,
        params: Params,
        seed: int | str = 0,
        base: Mapping[str, Any] | None = None,
        source: str = "",
    ) -> LiveSettings:
        """Settings whose controls show ``params`` (a scenario's, or a stored run's)."""
        return cls(
            scenario=scenario,
            seed=str(seed),
            users=str(params.n_users),
            vendor_names=tuple(v.name for v in params.vendors),
            stances=tuple(float(v.stance) for v in params.vendors),
            strategies=tuple(v.strategy for v in params.vendors),
            country_names=tuple(c.name for c in params.countries),
            appetite=tuple(float(c.appetite) for c in params.countries),
            rule_of_law=tuple(float(c.rule_of_law) for c in params.countries),
            privacy_salience=float(params.privacy_salience),
            privacy_sensitivity=tuple(float(x) for x in params.privacy_sensitivity),
            base=tuple(sorted((base or {}).items())),
            source=source,
        )

    @classmethod
    def for_scenario(cls, name: str, seed: int | str = 0) -> LiveSettings:
        """The named scenario's own values (raises ``ParameterError`` for an unknown name)."""
        return cls.from_params(name, get_scenario(name).params, seed)

    @classmethod
    def for_run(
        cls,
        scenario: str,
        values: Mapping[str, Any],
        seed: int,
        source: str = "",
        expected: Mapping[str, Any] | None = None,
    ) -> LiveSettings:
        """Settings that rerun a stored run: its scenario, its parameter values, its seed."""
        params = get_scenario(scenario).params
        if values:
            params = params.with_updates(dict(values))
        return cls.from_params(scenario, params, seed, base=values, source=source).replace(
            expected=tuple(sorted((expected or {}).items()))
        )

    def edited(self, new: LiveSettings) -> LiveSettings:
        """``new`` as an edit of these settings: a rerun that was changed stops claiming
        to reproduce its stored outcomes."""
        if new == self or not self.expected:
            return new
        return new.replace(expected=(), source=f"{self.source}, with changed settings")

    def replace(self, **changes: Any) -> LiveSettings:
        return dataclasses.replace(self, **changes)

    def with_stance(self, vendor: str, value: float) -> LiveSettings:
        i = self.vendor_names.index(vendor)
        return self.replace(stances=_set(self.stances, i, float(value)))

    def with_strategy(self, vendor: str, value: str) -> LiveSettings:
        i = self.vendor_names.index(vendor)
        return self.replace(strategies=_set(self.strategies, i, value))

    def with_country(
        self, country: str | None, appetite: float | None = None, rule_of_law: float | None = None
    ) -> LiveSettings:
        """Set appetite and/or rule of law of one country, or of all (``country=None``)."""
        idx = range(len(self.country_names))
        if country is not None:
            idx = [self.country_names.index(country)]
        app, law = list(self.appetite), list(self.rule_of_law)
        for i in idx:
            if appetite is not None:
                app[i] = float(appetite)
            if rule_of_law is not None:
                law[i] = float(rule_of_law)
        return self.replace(appetite=tuple(app), rule_of_law=tuple(law))

    # --- what the controls change ----------------------------------------
    def updates(self) -> dict[str, Any]:
        """The parameter paths and values the controls set (users excluded)."""
        out: dict[str, Any] = {}
        # Addressed by index: names may contain dots, indexes cannot.
        for i in range(len(self.vendor_names)):
            out[f"vendors.{i}.stance"] = self.stances[i]
            out[f"vendors.{i}.strategy"] = self.strategies[i]
        for i in range(len(self.country_names)):
            out[f"countries.{i}.appetite"] = self.appetite[i]
            out[f"countries.{i}.rule_of_law"] = self.rule_of_law[i]
        out["privacy_salience"] = self.privacy_salience
        out["privacy_sensitivity"] = list(self.privacy_sensitivity)
        return out


def _set(values: tuple, i: int, value: Any) -> tuple:
    out = list(values)
    out[i] = value
    return tuple(out)


# ------------------------------------------------------------------ parsing
_INT = re.compile(r"^[+-]?\d[\d_,]*$")


def parse_seed(text: str | int) -> int:
    """A seed typed into the page: a whole number >= 0 (Mesa hands it over as text)."""
    s = str(text).strip()
    if not _INT.match(s):
        raise ParameterError(f"seed {s!r} is not a whole number; type e.g. 0 or 42")
    value = int(s.replace("_", "").replace(",", ""))
    if value < 0 or value >= 2**64:
        raise ParameterError(f"seed {value} is out of range; allowed 0 to 2**64 - 1")
    return value


def parse_users(text: str | int) -> int:
    """Simulated users typed into the page: a whole number in [MIN_USERS, MAX_USERS]."""
    s = str(text).strip()
    if not _INT.match(s):
        raise ParameterError(
            f"users {s!r} is not a whole number; allowed {MIN_USERS:,} to {MAX_USERS:,}"
        )
    value = int(s.replace("_", "").replace(",", ""))
    if not MIN_USERS <= value <= MAX_USERS:
        raise ParameterError(
            f"users {value:,} is out of range; the dashboard allows {MIN_USERS:,} to "
            f"{MAX_USERS:,} (use `privmarket run --users N` for bigger runs)"
        )
    return value


def parse_extra(text: str) -> dict[str, Any]:
    """``path=value`` entries, one per line or separated by ``;`` (values as JSON or text).

    >>> parse_extra("hazard=0.2; vendors.Aegis.price=[400, 500, 500]")
    {'hazard': 0.2, 'vendors.Aegis.price': [400, 500, 500]}
    """
    out: dict[str, Any] = {}
    for raw in re.split(r"[;\n]", text or ""):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        if "=" not in item:
            raise ParameterError(
                f"more parameters: {item!r} is not name=value; e.g. hazard=0.2 or "
                "vendors.Aegis.cash=3000"
            )
        name, value = (p.strip() for p in item.split("=", 1))
        if not name:
            raise ParameterError(f"more parameters: {item!r} has no parameter name")
        try:
            out[name] = json.loads(value)
        except json.JSONDecodeError:
            out[name] = value
    return out


#: The fields of the settings panel a problem can be attributed to.
FIELDS = ("scenario", "seed", "users", "extra", "controls")


def problems(settings: LiveSettings) -> dict[str, str]:
    """What is wrong with ``settings``, by the field of the panel that holds it.

    Keys are among :data:`FIELDS`; each message names the field, the value and
    what is allowed. Empty when the settings are valid.

    >>> problems(LiveSettings.for_scenario("baseline").replace(seed="x"))
    {'seed': "seed 'x' is not a whole number; type e.g. 0 or 42"}
    """
    found: dict[str, str] = {}
    users = None
    for field, parse in (("seed", parse_seed), ("users", parse_users)):
        try:
            value = parse(getattr(settings, field))
        except ParameterError as exc:
            found[field] = str(exc)
        else:
            users = value if field == "users" else users
    try:
        extra = parse_extra(settings.extra)
    except ParameterError as exc:
        found["extra"] = str(exc)
        extra = {}
    try:
        params = get_scenario(settings.scenario).params
    except ParameterError as exc:
        found["scenario"] = str(exc)
        return found
    try:
        if settings.base:
            params = params.with_updates(dict(settings.base))
        updates = settings.updates()
        if users is not None:
            updates["n_users"] = users
        params = params.with_updates(updates)
    except ParameterError as exc:
        found["controls"] = str(exc)
        return found
    try:
        if extra:
            params = params.with_updates(extra)
    except ParameterError as exc:
        found["extra"] = str(exc)
        return found
    if params.n_users > MAX_USERS:
        found["extra"] = (
            f"n_users {params.n_users:,} is out of range; the dashboard allows at most {MAX_USERS:,}"
        )
    return found


def resolve(settings: LiveSettings) -> tuple[Params, int]:
    """The validated parameters and seed of ``settings``.

    Raises :class:`ParameterError` naming the field, the value and what is
    allowed; several problems are reported together, one per line.
    """
    found = problems(settings)
    if found:
        raise ParameterError("\n".join(found[f] for f in FIELDS if f in found))
    params = get_scenario(settings.scenario).params
    if settings.base:
        params = params.with_updates(dict(settings.base))
    params = params.with_updates({**settings.updates(), "n_users": parse_users(settings.users)})
    extra = parse_extra(settings.extra)
    if extra:
        params = params.with_updates(extra)
    return params, parse_seed(settings.seed)


def changes(old: LiveSettings | None, new: LiveSettings) -> list[str]:
    """The settings that differ between ``old`` (the running model's) and ``new``, in words.

    >>> a = LiveSettings.for_scenario("baseline")
    >>> changes(a, a.with_stance("Aegis", 0.5).replace(seed="3"))
    ['seed 0 → 3', 'Aegis: privacy stance 0.95 → 0.50']
    """
    from privmarket.dashboard.labels import param_label

    if old is None or old == new:
        return []
    if old.scenario != new.scenario:
        return [f"scenario {old.scenario} → {new.scenario}"]
    out = []
    for field, words in (("seed", "seed"), ("users", "users")):
        if getattr(old, field) != getattr(new, field):
            out.append(f"{words} {getattr(old, field)} → {getattr(new, field)}")
    for i, name in enumerate(new.vendor_names):
        if i < len(old.stances) and old.stances[i] != new.stances[i]:
            out.append(
                f"{param_label(f'vendors.{name}.stance')} {old.stances[i]:.2f} → {new.stances[i]:.2f}"
            )
        if i < len(old.strategies) and old.strategies[i] != new.strategies[i]:
            out.append(
                f"{param_label(f'vendors.{name}.strategy')} {old.strategies[i]} → {new.strategies[i]}"
            )
    for field, label in (("appetite", "appetite"), ("rule_of_law", "rule_of_law")):
        a, b = getattr(old, field), getattr(new, field)
        moved = [n for n, x, y in zip(new.country_names, a, b, strict=False) if x != y]
        if moved:
            who = "every country" if len(moved) == len(new.country_names) else ", ".join(moved)
            short = param_label(f"countries.*.{label}").split(": ", 1)[1]
            out.append(f"{who}: {short}")
    if old.privacy_salience != new.privacy_salience:
        out.append(
            f"{param_label('privacy_salience')} {old.privacy_salience:.1f} → "
            f"{new.privacy_salience:.1f}"
        )
    if old.privacy_sensitivity != new.privacy_sensitivity:
        out.append(param_label("privacy_sensitivity"))
    if old.extra != new.extra:
        out.append("other parameters")
    return out or ["settings"]


def compare_outcomes(
    summary: Mapping[str, Any], expected: Mapping[str, Any], rel: float = 1e-9
) -> list[str]:
    """The outcomes of ``summary`` that differ from ``expected`` (as readable lines)."""
    out = []
    for key, want in expected.items():
        if key not in summary:
            continue
        got = summary[key]
        if isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
            same = got == want or abs(got - want) <= rel * max(abs(got), abs(want))
        else:
            same = got == want
        if not same:
            out.append(f"{key}: stored {want!r}, now {got!r}")
    return out


def check(settings: LiveSettings) -> str | None:
    """``None`` if the settings are valid, else the message to show (one problem a line)."""
    found = problems(settings)
    return "\n".join(found[f] for f in FIELDS if f in found) if found else None


# ------------------------------------------------------------------ model
def _value(x: Any) -> Any:
    """The value of a solara reactive (or of anything with ``.value``), else ``x``."""
    return x.value if hasattr(x, "value") and not isinstance(x, LiveSettings) else x


#: When any session's model last stepped (``time.monotonic()``), see :func:`seconds_since_a_step`.
_last_step = [float("-inf")]


def seconds_since_a_step() -> float:
    """Seconds since any session's model last stepped in this process (infinite if never)."""
    return time.monotonic() - _last_step[0]


class LiveModel(MarketModel):
    """The model of one browser session, built from that session's settings.

    The page's Reset calls ``LiveModel(**state.model_params())``, in the way
    Mesa's ``SolaraViz`` rebuilds a model, so the session's state travels in as
    fixed parameters:

    settings : LiveSettings or a reactive holding one
        What to build.
    fallback : a reactive holding the last valid LiveSettings, optional
        Used (and updated) so that invalid settings never stop the page.
    report : callable(str or None), optional
        Receives the message to show when the settings were invalid (``None``
        when they were fine).
    scenario, rng :
        Accepted because Mesa's ``SolaraViz`` Reset passes back the model's own
        ``scenario`` (a Mesa ``Scenario`` object) and may pass ``rng``; the seed
        and the scenario always come from ``settings``.

    The run stops at its horizon: after quarter ``params.quarters``
    ``running`` is False and :meth:`step` does nothing more. Each quarter's
    figures the page draws are kept in :attr:`history` (one small record per
    quarter, see :func:`quarter_record`), so a redraw does not rebuild the
    whole per-quarter table.
    """

    def __init__(
        self,
        settings: Any = None,
        *,
        fallback: Any = None,
        report: Callable[[str | None], None] | None = None,
        scenario: Any = None,
        rng: Any = None,
    ) -> None:
        wanted = _value(settings) or LiveSettings.for_scenario("baseline")
        try:
            params, seed = resolve(wanted)
            used, message = wanted, None
        except ParameterError as exc:
            used = _value(fallback) if fallback is not None else None
            if used is None:
                used = LiveSettings.for_scenario("baseline")
            params, seed = resolve(used)
            message = (
                f"{exc}\nNot applied: the run was reset with the last valid settings "
                f"({used.scenario}, seed {seed}, {params.n_users:,} users)."
            )
        super().__init__(params, rng=seed)
        #: The run's last quarter (the model itself may name it the same way).
        self.horizon = int(params.quarters)
        # Held while stepping and while the page reads the model, so that a view
        # never sees a half-done quarter (Play steps in a thread of its own).
        self.lock = threading.RLock()
        self.step_seconds = 0.0  # wall time of the last step (shown on the page)
        self.scenario_name = used.scenario
        self.seed = seed
        self.settings = used
        self.history: list[dict[str, Any]] = [quarter_record(self)]
        if fallback is not None and hasattr(fallback, "value"):
            fallback.value = used
        if report is not None:
            report(message)

    @property
    def at_horizon(self) -> bool:
        return self.quarter >= self.horizon

    def step(self) -> None:
        """One quarter; at the horizon (or once every vendor has failed) nothing more."""
        with self.lock:
            if self.at_horizon or not self.running:
                self.running = False
                return
            t0 = time.perf_counter()
            super().step()
            self.step_seconds = time.perf_counter() - t0
            _last_step[0] = time.monotonic()
            self.history.append(quarter_record(self))
            if self.at_horizon:
                self.running = False

    def advance(self, quarters: int) -> int:
        """Step up to ``quarters`` quarters, stopping at the horizon; returns how many ran."""
        done = 0
        for _ in range(max(0, int(quarters))):
            if not self.running or self.at_horizon:
                break
            self.step()
            done += 1
        return done


def quarter_record(model: MarketModel) -> dict[str, Any]:
    """The figures the live page draws, for the model's current quarter.

    The same numbers as the model's per-quarter table (``model.table()``; a
    test compares them), read straight from the model: shares in [0, 1], money
    in US$ M.
    """
    inst, sales, readable = model.installed_share(), model.sales_share(), model.readable_share()
    q = int(model.quarter)
    rec: dict[str, Any] = {
        "quarter": q,
        "when": model.quarter_label(q) if q else "start",
        "exposure": float(model.exposure()),
        **market_totals(model),
        "vendors": {
            v.name: {
                "installed_share": float(inst[v.index]),
                "sales_share": float(sales[v.index]),
                "cash": float(v.cash),
                "profit": float(v.profit),
                "handset_profit": float(v.handset_profit),
                "trust": float(v.trust),
                "alive": bool(v.alive),
            }
            for v in model.vendor_list
        },
        "readable": {g.name: float(readable[g.country]) for g in model.government_list},
    }
    return rec


def strategies() -> tuple[str, ...]:
    """The strategy names a vendor can be given (the model's registry, read when asked)."""
    from privmarket.agents import strategies as registry

    return tuple(registry.STRATEGIES)

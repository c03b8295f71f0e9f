"""Solara components of the live page: the model views and the settings panel.

:func:`LiveViews` reads Mesa's ``update_counter`` (so the page redraws after
each Step or Play tick) and hands the model and its quarter to each view,
which recomputes only when one of them changed. It is drawn in a render pass
of its own (``RenderedApart`` in :mod:`privmarket.dashboard.app`), so a step
does not walk the settings panel. Charts are Vega-Lite views
(:mod:`privmarket.dashboard.vega`) whose data is replaced on each redraw; the
six charts' new rows travel in one message (:func:`ChartRows`).
"""

from __future__ import annotations

import solara
from mesa.visualization.utils import update_counter

from privmarket.dashboard import state
from privmarket.dashboard.core import event_frame
from privmarket.dashboard.events import EventLog
from privmarket.dashboard.figures import (
    CHART_KINDS,
    chart_note,
    chart_rows,
    chart_spec,
    feed_html,
    reading,
    status_line,
    vendor_rows,
    vendors_html,
    world_html,
    world_state,
)
from privmarket.dashboard.labels import param_help, param_label
from privmarket.dashboard.live import (
    MAX_USERS,
    MIN_USERS,
    LiveSettings,
    compare_outcomes,
    problems,
    strategies,
)
from privmarket.dashboard.vega import VegaChart, VegaRows, to_json
from privmarket.sim.scenarios import get_scenario, list_scenarios

ALL_COUNTRIES = "All countries"
#: Above this model time per quarter the page suggests redrawing less often.
SLOW_STEP_MS = 200


# ------------------------------------------------------------------ views
class RowCache:
    """A chart's rows as JSON text, one piece per quarter (past quarters' rows never change)."""

    def __init__(self, model, kind: str) -> None:
        self.model, self.kind = model, kind
        self.pieces: list[str] = []

    def json(self, history) -> str:
        for rec in history[len(self.pieces) :]:
            rows = chart_rows(self.kind, self.model, [rec])
            self.pieces.append(to_json(rows)[1:-1])
        return "[" + ",".join(p for p in self.pieces[: len(history)] if p) + "]"


@solara.component
def ChartView(model, kind: str):
    """One live chart: its spec is built once per model; its rows come from :func:`ChartRows`."""
    spec = solara.use_memo(lambda: to_json(chart_spec(kind, model)), dependencies=[model])
    note = chart_note(kind, model)
    with solara.Column(classes=["pm-box", "pm-figure", f"pm-fig-{kind}"], style={"gap": "2px"}):
        VegaChart(spec, "", kind)
        if note:
            solara.Text(note, classes=["pm-hint"])


@solara.component
def ChartRows(model, quarter: int):
    """Every live chart's rows, in one message per redraw (see :func:`VegaRows`)."""
    caches = solara.use_memo(
        lambda: {kind: RowCache(model, kind) for kind in CHART_KINDS}, dependencies=[model]
    )

    def rows() -> dict[str, str]:
        with reading(model):
            history = list(model.history)
        return {kind: cache.json(history) for kind, cache in caches.items()}

    VegaRows(solara.use_memo(rows, dependencies=[model, quarter]))


@solara.component
def StatusView(model, quarter: int):
    """Where the run stands: quarter, vendors (total and handset profit), a rerun's check."""
    with reading(model):
        line = status_line(model)
        table = vendors_html(vendor_rows(model), model.params.loss_quarters)
    hint = (
        '<div class="pm-hint">Profit is the whole quarter\'s (handsets and services); '
        "handset profit is what the viability rule watches: "
        f"{model.params.loss_quarters} losing quarters in a row on handsets and the vendor "
        "leaves the market, or at once when its cash runs out.</div>"
    )
    with solara.Column(classes=["pm-box", "pm-status-view", "pm-wide"]):
        # the line and the table in one element: one message per redraw, not two
        solara.HTML(
            tag="div",
            unsafe_innerHTML=f'<div class="pm-status">{line}</div>{table}{hint}',
            classes=["pm-status-block"],
        )
        settings = getattr(model, "settings", None)
        if settings is not None and settings.source:
            solara.Text(f"Rerun of {settings.source} (seed {model.seed}).", classes=["pm-source"])
            if settings.expected and model.quarter == model.params.quarters:
                with reading(model):
                    summary = model.summary()
                diff = compare_outcomes(summary, dict(settings.expected))
                if diff:
                    solara.Warning(
                        "This rerun differs from the stored run (has the model changed since "
                        "the sweep?): " + "; ".join(diff[:6]),
                        classes=["pm-reproduced"],
                    )
                else:
                    solara.Success(
                        f"Reproduced: all {len(settings.expected)} stored outcomes of this run "
                        "are matched exactly.",
                        classes=["pm-reproduced"],
                    )
        step_ms = 1000 * getattr(model, "step_seconds", 0.0)
        if step_ms > SLOW_STEP_MS:
            solara.Info(
                f"The last quarter took {step_ms:,.0f} ms to compute at "
                f"{model.params.n_users:,} users: raise 'Redraw every N quarters' (Run) to "
                "play faster, or use fewer users.",
                classes=["pm-slow"],
                dense=True,
            )


@solara.component
def WorldView(model, quarter: int):
    """A tile per country: readable share, local shares, and each vendor's status there."""

    def build() -> str:
        with reading(model):
            return world_html(world_state(model))

    content = solara.use_memo(build, dependencies=[model, quarter])
    with solara.Column(classes=["pm-box", "pm-world-view", "pm-wide"]):
        solara.HTML(
            tag="div", unsafe_innerHTML="<b>World: who sells where, and who can read whom</b>"
        )
        solara.HTML(tag="div", unsafe_innerHTML=content)


@solara.component
def EventViews(model, quarter: int):
    """The newest events in plain words, and the full log behind a button."""
    full, set_full = solara.use_state(False)

    def build():
        with reading(model):
            return event_frame(model)

    # the frame changes only when events were added
    events = solara.use_memo(build, dependencies=[model, len(model.events)])
    with solara.Column(classes=["pm-box", "pm-feed-view"]):
        with solara.Row(style={"align-items": "center", "justify-content": "space-between"}):
            solara.HTML(
                tag="div",
                unsafe_innerHTML=f"<b>What happened</b> ({len(events)} events; newest first)",
            )
            solara.Button(
                "Hide full log" if full else "Full event log",
                on_click=lambda: set_full(not full),
                small=True,
                outlined=True,
                classes=["pm-full-log"],
            )
        if full:
            with solara.Column(classes=["pm-event-log"]):
                EventLog(
                    events,
                    [c.name for c in model.params.countries],
                    [v.name for v in model.params.vendors],
                    f"{model.scenario_name}-seed{model.seed}",
                )
        else:
            solara.HTML(tag="div", unsafe_innerHTML=feed_html(events))


@solara.component
def LiveViews(model):
    """The live page's main area: every view of the model, redrawn after each step.

    This is the only component that reads Mesa's ``update_counter``: each
    reader costs a render pass of its own, so one reader means one pass per
    step. It hands the model and its quarter to each view, which recomputes
    only when one of them changed.
    """
    update_counter.get()
    q = model.quarter
    ChartRows(model, q)
    with solara.Div(classes=["pm-grid"]):
        StatusView(model, q)
        for kind in CHART_KINDS[:2]:
            ChartView(model, kind)
        EventViews(model, q)
        ChartView(model, "profit")
        WorldView(model, q)
        for kind in CHART_KINDS[3:]:
            ChartView(model, kind)


# --------------------------------------------------------- settings panel
def _mean(xs) -> float:
    return float(sum(xs) / len(xs)) if xs else 0.0


def snap(value: float, low: float, high: float, step: float) -> float:
    """``value`` on the slider's grid, as the browser's slider will show it."""
    return round(min(max(round((value - low) / step) * step + low, low), high), 10)


def slider(label: str, value: float, low: float, high: float, step: float, on_change) -> None:
    """A float slider showing ``value`` in its label.

    The browser's slider snaps a value that is off its grid (a scenario's 0.93,
    or the mean of several countries) and reports the snapped value as a
    change. Only a move away from the shown position counts as the user's.
    """
    shown = snap(value, low, high, step)

    def changed(v: float) -> None:
        if abs(float(v) - shown) > 1e-9:
            on_change(float(v))

    solara.SliderFloat(
        f"{label}: {value:.2f}", value=shown, min=low, max=high, step=step, on_value=changed
    )


@solara.component
def Section(title: str, help: str = "", open: bool = False, children=[]):  # noqa: B006
    """A titled part of the settings that opens and closes; closed, its controls are not drawn.

    Every control on the page is walked on every redraw, so parts nobody is
    editing stay closed (the run's redraw is then faster).
    """
    shown, set_shown = solara.use_state(open)
    key = title.lower().split()[0]
    with solara.Column(classes=["pm-section", f"pm-section-{key}"], style={"gap": "2px"}):
        solara.Button(
            title,
            icon_name="mdi-chevron-down" if shown else "mdi-chevron-right",
            on_click=lambda: set_shown(not shown),
            text=True,
            classes=["pm-section-toggle", f"pm-open-{key}"],
            style={"justify-content": "flex-start", "padding": "0 4px"},
        )
        if shown:
            if help:
                solara.Text(help, classes=["pm-hint"])
            solara.Column(children=list(children), style={"gap": "0px"})


@solara.component
def SettingsPanel():
    """Scenario, seed, users, vendors, governments and users' privacy; applied on Reset.

    A problem is shown under the field that holds it (the field is marked),
    under Reset, and at the top of the page.
    """
    s: LiveSettings = state.settings.value
    country, set_country = solara.use_state(ALL_COUNTRIES)
    if country != ALL_COUNTRIES and country not in s.country_names:
        country = ALL_COUNTRIES
    wrong = problems(s)

    def update(new: LiveSettings) -> None:
        state.settings.value = state.settings.value.edited(new)

    def pick_scenario(name: str) -> None:
        try:
            update(LiveSettings.for_scenario(name, seed=state.settings.value.seed))
        except Exception as exc:  # a broken scenario module must not take the page down
            state.notice.value = f"scenario {name!r} could not be loaded: {exc}"

    def typed_field(label: str, name: str, message: str) -> None:
        """The text field of setting ``name`` (the seed or the users), kept as typed
        so that a wrong entry is shown back, marked, with its problem."""
        solara.InputText(
            label,
            value=getattr(s, name),
            on_value=lambda v: update(state.settings.value.replace(**{name: v})),
            continuous_update=False,
            error=wrong.get(name, False),
            message=message,
        )

    try:
        summary = get_scenario(s.scenario).summary
    except Exception:
        summary = ""
    with solara.Card("Settings", classes=["pm-settings"]):
        solara.Select(
            label="Scenario",
            value=s.scenario,
            values=list_scenarios(),
            on_value=pick_scenario,
        )
        solara.Text(
            (wrong.get("scenario") or summary or "") + " Changes apply when you press Reset.",
            classes=["pm-field-error" if "scenario" in wrong else "pm-hint"],
        )
        with solara.Row():
            typed_field("Seed", "seed", "a whole number; the same seed, the same run")
            typed_field("Users (simulated)", "users", f"{MIN_USERS:,} to {MAX_USERS:,}")

        with Section("Vendors", help=param_help("vendors.*.stance"), open=True):
            for i, name in enumerate(s.vendor_names):
                slider(
                    param_label(f"vendors.{name}.stance"),
                    s.stances[i],
                    0.0,
                    1.0,
                    0.05,
                    lambda v, n=name: update(state.settings.value.with_stance(n, v)),
                )
                solara.Select(
                    label=param_label(f"vendors.{name}.strategy"),
                    value=s.strategies[i],
                    values=list(strategies()),
                    on_value=lambda v, n=name: update(state.settings.value.with_strategy(n, v)),
                    dense=True,
                )
            if "controls" in wrong:
                solara.Text(wrong["controls"], classes=["pm-field-error"])

        with Section(
            "Governments",
            help=f"Appetite: {param_help('countries.*.appetite')} Rule of law: "
            f"{param_help('countries.*.rule_of_law')} For all countries the sliders show the "
            "mean, and moving one sets every country to that value.",
        ):
            solara.Select(
                label="Government",
                value=country,
                values=[ALL_COUNTRIES, *s.country_names],
                on_value=set_country,
                dense=True,
            )
            target = None if country == ALL_COUNTRIES else country
            who = "countries.*" if target is None else f"countries.{target}"
            if target is None:
                app, law = _mean(s.appetite), _mean(s.rule_of_law)
            else:
                j = s.country_names.index(target)
                app, law = s.appetite[j], s.rule_of_law[j]
            slider(
                param_label(f"{who}.appetite"),
                app,
                0.0,
                1.0,
                0.05,
                lambda v: update(state.settings.value.with_country(target, appetite=v)),
            )
            slider(
                param_label(f"{who}.rule_of_law"),
                law,
                0.0,
                1.0,
                0.05,
                lambda v: update(state.settings.value.with_country(target, rule_of_law=v)),
            )

        with Section(
            "Users and more parameters",
            help=f"Salience: {param_help('privacy_salience')} Sensitivity: "
            f"{param_help('privacy_sensitivity')} Any other parameter as name=value, one per "
            "line, e.g. hazard=0.2, quarters=60, vendors.Aegis.cash=3000.",
            open="extra" in wrong or bool(s.extra),
        ):
            slider(
                param_label("privacy_salience"),
                s.privacy_salience,
                0.0,
                5.0,
                0.1,
                lambda v: update(state.settings.value.replace(privacy_salience=v)),
            )
            for k, seg in enumerate(("consumer", "enterprise", "government")):
                slider(
                    f"{param_label('privacy_sensitivity')}, {seg}",
                    s.privacy_sensitivity[k],
                    0.0,
                    6.0,
                    0.1,
                    lambda v, k=k: update(
                        state.settings.value.replace(
                            privacy_sensitivity=tuple(
                                v if i == k else x
                                for i, x in enumerate(state.settings.value.privacy_sensitivity)
                            )
                        )
                    ),
                )
            solara.InputTextArea(
                "Other parameters (name=value, one per line)",
                value=s.extra,
                on_value=lambda v: update(state.settings.value.replace(extra=v)),
                continuous_update=False,
                rows=3,
                error=wrong.get("extra", False),
            )
        if s.source:
            solara.Text(f"Based on {s.source}.", classes=["pm-hint"])

"""Solara components of the live page: the settings panel and the model views.

:func:`LiveViews` reads Mesa's ``update_counter`` (so the page redraws after
each Step or Play tick) and hands the model and its quarter to each view, which
recomputes only when one of them changed. Figures are matplotlib PNGs; nothing
loads from the network.
"""

from __future__ import annotations

import solara
from mesa.visualization.utils import update_counter

from privmarket.dashboard import state
from privmarket.dashboard.figures import (
    CHARTS,
    feed_html,
    reading,
    status_line,
    table_of,
    vendor_rows,
    vendors_html,
    world_html,
    world_state,
)
from privmarket.dashboard.live import (
    MAX_USERS,
    MIN_USERS,
    LiveSettings,
    check,
    compare_outcomes,
    strategies,
)
from privmarket.sim.scenarios import get_scenario, list_scenarios

ALL_COUNTRIES = "All countries"
#: Above this model time per quarter the page suggests a render interval.
SLOW_STEP_MS = 200


# ------------------------------------------------------------------ views
def _locked(model, compute):
    with reading(model):
        return compute()


@solara.component
def ChartView(model, quarter: int, kind: str):
    """One live chart. Its axes are drawn once per model; each quarter redraws the lines."""
    holder = solara.use_memo(dict, dependencies=[model])

    def render() -> bytes | str:
        table = table_of(model)
        try:
            if "chart" not in holder:
                holder["chart"] = CHARTS[kind](table, model.params.quarters)
            return holder["chart"].png(table)
        except (ValueError, TypeError, KeyError) as exc:  # odd data must not break the page
            holder.pop("chart", None)
            return f"this figure cannot be drawn for quarter {quarter}: {exc}"

    image = solara.use_memo(render, dependencies=[model, quarter])
    with solara.Column(classes=["pm-box", "pm-figure", f"pm-fig-{kind}"]):
        if isinstance(image, str):
            solara.Error(image)
        else:
            solara.Image(image, width="100%")


@solara.component
def StatusView(model, quarter: int):
    """Where the run stands: quarter, vendors, and any message about the settings."""
    notice = state.notice.value
    with reading(model):
        line, vendors = status_line(model), vendors_html(vendor_rows(model))
    with solara.Column(classes=["pm-box", "pm-status-view"]):
        solara.HTML(tag="div", unsafe_innerHTML=line, classes=["pm-status"])
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
        if notice:
            solara.Error(notice, classes=["pm-notice"])
        solara.HTML(tag="div", unsafe_innerHTML=vendors)
        step_ms = 1000 * getattr(model, "step_seconds", 0.0)
        if step_ms > SLOW_STEP_MS:
            solara.Info(
                f"The last quarter took {step_ms:,.0f} ms to compute at "
                f"{model.params.n_users:,} users: raise Render Interval (Controls) to redraw "
                "every few quarters while playing, or use fewer users.",
                classes=["pm-slow"],
            )


@solara.component
def WorldView(model, quarter: int):
    """A tile per country: local shares, and which vendors are present, banned or readable."""
    content = solara.use_memo(
        lambda: _locked(model, lambda: world_html(world_state(model))),
        dependencies=[model, quarter],
    )
    with solara.Column(classes=["pm-box", "pm-world-view"]):
        solara.HTML(
            tag="div", unsafe_innerHTML="<b>World: who sells where, and who can read whom</b>"
        )
        solara.HTML(tag="div", unsafe_innerHTML=content)


@solara.component
def EventFeed(model, quarter: int):
    """The event log in plain words, newest first."""
    content = solara.use_memo(
        lambda: _locked(model, lambda: feed_html(model.event_frame().to_dict("records"))),
        dependencies=[model, quarter],
    )
    with solara.Column(classes=["pm-box", "pm-feed-view"]):
        solara.HTML(
            tag="div", unsafe_innerHTML=f"<b>What happened</b> ({len(model.events)} events)"
        )
        solara.HTML(tag="div", unsafe_innerHTML=content)


@solara.component
def LiveViews(model):
    """The live page's main area: every view of the model, redrawn after each step.

    This is the only component that reads Mesa's ``update_counter``: one
    render pass per step, whatever the number of views.
    """
    update_counter.get()
    q = model.quarter
    with solara.Div(classes=["pm-grid"]):
        StatusView(model, q)
        WorldView(model, q)
        ChartView(model, q, "shares")
        EventFeed(model, q)
        ChartView(model, q, "cash")
        ChartView(model, q, "trust")
        ChartView(model, q, "enforcement")
        ChartView(model, q, "exposure")


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
def SettingsSidebar():
    """The settings panel, placed in the sidebar below Mesa's controls.

    Solara orders sidebar content by depth in the component tree; this extra
    level puts the panel after the cards ``SolaraViz`` adds.
    """
    _InSidebar()


@solara.component
def _InSidebar():
    with solara.Sidebar():
        SettingsPanel()


@solara.component
def SettingsPanel():
    """Scenario, seed, users, vendors, governments and users' privacy; applied on Reset."""
    s: LiveSettings = state.settings.value
    country, set_country = solara.use_state(ALL_COUNTRIES)
    if country != ALL_COUNTRIES and country not in s.country_names:
        country = ALL_COUNTRIES

    def update(new: LiveSettings) -> None:
        state.settings.value = state.settings.value.edited(new)

    def pick_scenario(name: str) -> None:
        try:
            update(LiveSettings.for_scenario(name, seed=state.settings.value.seed))
        except Exception as exc:  # a broken scenario module must not take the page down
            state.notice.value = f"scenario {name!r} could not be loaded: {exc}"

    with solara.Card("Settings", classes=["pm-settings"]):
        solara.Select(
            label="Scenario",
            value=s.scenario,
            values=list_scenarios(),
            on_value=pick_scenario,
        )
        try:
            summary = get_scenario(s.scenario).summary
        except Exception:
            summary = ""
        if summary:
            solara.Text(summary, style={"font-size": "12px", "color": "#555"})
        with solara.Row():
            solara.InputText(
                "Seed",
                value=s.seed,
                on_value=lambda v: update(state.settings.value.replace(seed=v)),
                continuous_update=False,
            )
            solara.InputText(
                "Users (simulated)",
                value=s.users,
                on_value=lambda v: update(state.settings.value.replace(users=v)),
                continuous_update=False,
            )
        solara.Text(
            f"{MIN_USERS:,} to {MAX_USERS:,} simulated users",
            style={"font-size": "11px", "color": "#777"},
        )

        solara.Markdown("**Vendors**: privacy stance (1 = cannot read users' traffic)")
        for i, name in enumerate(s.vendor_names):
            slider(
                f"{name} privacy stance",
                s.stances[i],
                0.0,
                1.0,
                0.05,
                lambda v, n=name: update(state.settings.value.with_stance(n, v)),
            )
            solara.Select(
                label=f"{name} strategy",
                value=s.strategies[i],
                values=list(strategies()),
                on_value=lambda v, n=name: update(state.settings.value.with_strategy(n, v)),
                dense=True,
            )

        solara.Markdown("**Governments**")
        solara.Select(
            label="Government",
            value=country,
            values=[ALL_COUNTRIES, *s.country_names],
            on_value=set_country,
            dense=True,
        )
        target = None if country == ALL_COUNTRIES else country
        if target is None:
            app, law = _mean(s.appetite), _mean(s.rule_of_law)
        else:
            j = s.country_names.index(target)
            app, law = s.appetite[j], s.rule_of_law[j]
        slider(
            "Surveillance appetite",
            app,
            0.0,
            1.0,
            0.05,
            lambda v: update(state.settings.value.with_country(target, appetite=v)),
        )
        slider(
            "Rule of law",
            law,
            0.0,
            1.0,
            0.05,
            lambda v: update(state.settings.value.with_country(target, rule_of_law=v)),
        )
        if target is None:
            solara.Text(
                "Showing the mean; moving a slider sets every country to that value.",
                style={"font-size": "11px", "color": "#777"},
            )

        solara.Markdown("**Users**")
        slider(
            "Privacy salience",
            s.privacy_salience,
            0.0,
            5.0,
            0.1,
            lambda v: update(state.settings.value.replace(privacy_salience=v)),
        )
        with solara.Details("More parameters"):
            for k, seg in enumerate(("consumer", "enterprise", "government")):
                slider(
                    f"Privacy sensitivity, {seg}",
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
            )
            solara.Text(
                "e.g. hazard=0.2, quarters=60, vendors.Aegis.cash=3000, "
                "countries.Eastria.ban_tolerance=0.1",
                style={"font-size": "11px", "color": "#777"},
            )

        problem = check(s)
        if problem:
            solara.Error(
                "Invalid settings (Reset keeps the last valid ones):\n" + problem,
                classes=["pm-invalid"],
            )
        elif state.model.value is not None and getattr(state.model.value, "settings", None) != s:
            solara.Info("Settings changed: press Reset to apply them.", classes=["pm-pending"])
        if s.source:
            solara.Text(f"Based on {s.source}.", style={"font-size": "12px"})

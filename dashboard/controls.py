"""Run controls of the live page: Reset, Play/Pause, Step, and their feedback.

Mesa's ``SolaraViz`` controller steps ``render_interval`` quarters per Step
and does not know a run's horizon, so it could run past the last quarter
("Quarter 105 of 40"). Here Step is always one quarter; Play steps ``Redraw
every`` quarters between redraws and stops at the horizon; both are disabled
there. The page redraws through Mesa's ``update_counter`` as with
``SolaraViz``. Messages about the settings sit under the Reset button.
"""

from __future__ import annotations

import logging
import time

import solara
import solara.lab
from mesa.visualization.utils import force_update

from privmarket.dashboard import state
from privmarket.dashboard.live import LiveModel, changes, check

log = logging.getLogger("privmarket.dashboard")


@solara.component
def RunControls(model: LiveModel, finished: bool):
    """Reset, Play/Pause and Step, the play speed, and what Reset will do.

    It does not read Mesa's ``update_counter`` (each reader costs a render
    pass per step): ``finished`` (``state.finished``) changes once, when the
    run stops.
    """
    playing = state.playing
    at_end = finished or not model.running

    def step() -> None:
        advance(model, 1)

    def toggle() -> None:
        playing.value = not playing.value and model.running

    def reset() -> None:
        playing.value = False
        state.reset_model()
        force_update()

    def play_loop() -> None:
        # Runs in a thread of its own while playing; the dependencies below stop it
        # when Pause is pressed or the model is replaced.
        while playing.value:
            time.sleep(state.play_ms.value / 1000)
            current = state.model.value
            if not playing.value or current is not model:
                break
            advance(model, state.every.value)
            if not model.running:
                playing.value = False

    solara.lab.use_task(play_loop, dependencies=[playing.value, model], prefer_threaded=True)

    with solara.Card("Run", classes=["pm-controls"]):
        with solara.Row(justify="space-between", style={"flex-wrap": "wrap", "gap": "6px"}):
            solara.Button(
                "Reset",
                color="primary",
                on_click=reset,
                icon_name="mdi-restart",
                classes=["pm-reset"],
            )
            solara.Button(
                "Pause" if playing.value else "Play",
                color="primary",
                on_click=toggle,
                disabled=at_end,
                icon_name="mdi-pause" if playing.value else "mdi-play",
                classes=["pm-play"],
            )
            solara.Button(
                "Step",
                color="primary",
                on_click=step,
                disabled=playing.value or at_end,
                icon_name="mdi-step-forward",
                classes=["pm-step"],
            )
        ResetFeedback(model)
        if at_end:
            reason = (
                f"The run reached its last quarter ({model.horizon})."
                if model.at_horizon
                else "Every vendor has left the market: the run is over."
            )
            solara.Info(
                f"{reason} Press Reset to run again; set quarters= under More parameters "
                "for a longer run.",
                classes=["pm-horizon"],
                dense=True,
            )
        solara.SliderInt(
            f"Play pause: {state.play_ms.value} ms",
            value=state.play_ms,
            min=1,
            max=5000,
            step=10,
        )
        solara.SliderInt(
            f"Redraw every {state.every.value} q.",
            value=state.every,
            min=1,
            max=100,
        )
        solara.Text(
            "While playing: the pause between steps, and how many quarters are stepped per "
            "redraw (redrawing less often plays big populations faster). Step always moves "
            "one quarter.",
            classes=["pm-hint"],
        )


def advance(model: LiveModel, quarters: int) -> None:
    """Step the session's model (never past its horizon) and redraw the views."""
    model.advance(quarters)
    force_update()  # the views first: the horizon's message must not come before its quarter
    if not model.running:
        state.finished.value = True


@solara.component
def ResetFeedback(model: LiveModel):
    """Under Reset: what pressing it will apply, or why it will keep the last valid settings."""
    settings = state.settings.value
    problem = check(settings)
    pending = changes(getattr(model, "settings", None), settings)
    if problem:
        solara.Error(
            "Invalid settings: Reset keeps the last valid ones. " + problem,
            classes=["pm-invalid"],
            dense=True,
        )
    elif pending:
        solara.Warning(
            "Changed, applied on Reset: " + "; ".join(pending),
            classes=["pm-pending"],
            dense=True,
        )
    notice = state.notice.value
    if notice:
        solara.Error(notice, classes=["pm-notice"], dense=True)


@solara.component
def PendingBar():
    """At the top of the page: settings changed since the run was built, with Reset at hand."""
    model = state.model.value
    if model is None:
        return
    settings = state.settings.value
    problem = check(settings)
    pending = changes(getattr(model, "settings", None), settings)
    if not pending and not problem:
        return

    def reset() -> None:
        state.playing.value = False
        state.reset_model()
        force_update()

    with solara.Div(classes=["pm-pending-bar"]):
        if problem:
            solara.Text(
                f"Invalid settings ({len(problem.splitlines())}): see the marked fields. "
                "Reset now keeps the last valid settings.",
                classes=["pm-pending-top"],
            )
        else:
            solara.Text(
                f"{len(pending)} setting{'s' if len(pending) != 1 else ''} changed, not yet "
                f"applied: {'; '.join(pending)}.",
                classes=["pm-pending-top"],
            )
        solara.Button("Apply now", on_click=reset, small=True, outlined=True, classes=["pm-apply"])

"""Per-browser-session state, and the server's configuration.

The variables below are Solara *reactive variables*. Although they are
declared once, Solara keeps a separate value for every kernel, that is for
every browser session (tab): two tabs never see each other's settings or
model. No model is built at import time; each session builds its own on its
first visit to the live page (:func:`ensure_model`).

Server configuration (results root, play and render intervals) comes from
environment variables, set by ``privmarket dashboard`` or by hand before
``solara run dashboard/app.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import solara

from privmarket.dashboard import (
    ENV_PLAY_INTERVAL,
    ENV_RENDER_INTERVAL,
    ENV_RESULTS_LABEL,
    ENV_RESULTS_ROOT,
)
from privmarket.dashboard.live import LiveModel, LiveSettings

#: This session's settings (what the controls show; applied on Reset).
settings: solara.Reactive[LiveSettings] = solara.reactive(LiveSettings.for_scenario("baseline"))
#: The last settings a model was actually built from (the fallback for invalid input).
last_good: solara.Reactive[LiveSettings | None] = solara.reactive(None)
#: This session's model; ``None`` until the live page is first shown.
model: solara.Reactive[LiveModel | None] = solara.reactive(None)
#: Message about the last rebuild (invalid settings that were not applied), or ``None``.
notice: solara.Reactive[str | None] = solara.reactive(None)
#: The results folder this session has open in the sweep explorer.
explorer_path: solara.Reactive[str | None] = solara.reactive(None)
#: Whether this session's run is playing, and whether it has stopped (horizon, or no vendor left).
playing: solara.Reactive[bool] = solara.reactive(False)
finished: solara.Reactive[bool] = solara.reactive(False)
#: Pause between steps while playing (ms), and quarters stepped per redraw while playing.
play_ms: solara.Reactive[int] = solara.reactive(100)
every: solara.Reactive[int] = solara.reactive(1)


def report(message: str | None) -> None:
    """Where :class:`LiveModel` reports whether the settings it was given were valid."""
    notice.value = message


def model_params() -> dict:
    """What Reset builds the model from: ``LiveModel(**model_params())`` (as ``SolaraViz`` does)."""
    return {"settings": settings, "fallback": last_good, "report": report}


def build_model() -> LiveModel:
    """A new model from this session's current settings (never raises for bad input)."""
    return LiveModel(**model_params())


def ensure_model() -> LiveModel:
    """This session's model, built on first use (with the server's play settings)."""
    if model.value is None:
        play_ms.value = play_interval()
        every.value = render_interval()
        model.value = build_model()
        finished.value = not model.value.running
    return model.value


def reset_model() -> LiveModel:
    """Rebuild this session's model from its current settings (the Reset button).

    Like Mesa's ``SolaraViz`` Reset, the old model's ``scenario`` is passed back;
    :class:`LiveModel` takes its scenario and seed from the settings.
    """
    playing.value = False
    old = model.value
    kwargs = model_params()
    if old is not None:
        kwargs["scenario"] = getattr(old, "scenario", None)
    model.value = LiveModel(**kwargs)
    finished.value = not model.value.running
    return model.value


def rerun(new_settings: LiveSettings) -> LiveModel:
    """Replace this session's settings and model (used by the sweep explorer)."""
    settings.value = new_settings
    playing.value = False
    model.value = build_model()
    finished.value = not model.value.running
    return model.value


# ------------------------------------------------------------ configuration
def _int_env(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        return default
    return min(max(value, low), high)


def render_interval() -> int:
    """Quarters stepped per redraw while playing (``--render-interval``)."""
    return _int_env(ENV_RENDER_INTERVAL, 1, 1, 100)


def play_interval() -> int:
    """Pause between steps while playing, in ms (``--play-interval``)."""
    return _int_env(ENV_PLAY_INTERVAL, 100, 1, 5000)


def results_root() -> Path:
    """The directory below which the sweep explorer may open results."""
    raw = os.environ.get(ENV_RESULTS_ROOT, "").strip()
    return Path(raw or os.getcwd()).expanduser().resolve()


def results_root_label() -> str:
    """The results root as the user named it (``--results-root``), for display."""
    label = os.environ.get(ENV_RESULTS_LABEL, "").strip()
    if label:
        return label
    root = results_root()
    cwd = Path(os.getcwd()).resolve()
    if root == cwd:
        return "the current directory"
    if root.is_relative_to(cwd):
        return str(root.relative_to(cwd))
    home = Path.home().resolve()
    return "~/" + str(root.relative_to(home)) if root.is_relative_to(home) else str(root)

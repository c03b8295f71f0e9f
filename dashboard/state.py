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

import logging
import os
import threading
from pathlib import Path

import solara

from privmarket.dashboard import (
    ENV_PLAY_INTERVAL,
    ENV_RENDER_INTERVAL,
    ENV_RESULTS_LABEL,
    ENV_RESULTS_ROOT,
)
from privmarket.dashboard.live import LiveModel, LiveSettings, seconds_since_a_step

#: The settings a new session starts with (the default world).
DEFAULT_SETTINGS = LiveSettings.for_scenario("baseline")
#: This session's settings (what the controls show; applied on Reset).
settings: solara.Reactive[LiveSettings] = solara.reactive(DEFAULT_SETTINGS)
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
    """This session's model, built on first use (with the server's play settings).

    A session that opens with the default settings takes the model that
    :data:`spare` built ahead of it, if there is one (the same model: same
    settings, same seed, quarter 0).
    """
    if model.value is None:
        play_ms.value = play_interval()
        every.value = render_interval()
        wanted = settings.value
        ready = spare.take(wanted)
        if ready is None:
            model.value = build_model()
        else:
            last_good.value = ready.settings
            report(None)
            model.value = ready
        finished.value = not model.value.running
    return model.value


class SpareModel:
    """One model of the default settings, built before a session asks for one.

    Every new browser session builds its model on its first visit to the live
    page, and the page waits for it (about 0.15 s at 50,000 users on an idle
    2-core machine, more when the machine is busy). ``privmarket dashboard``
    builds one at start (:meth:`start`); a session whose settings are the
    defaults takes it (:meth:`take`), and the next one is built in a thread of
    its own once the session that took it has had its page drawn (:attr:`delay`
    seconds later) and no session has stepped for :attr:`quiet` seconds (so
    that it never slows a step). Off unless started: ``solara run`` and the
    tests build every model in their session.
    """

    def __init__(self, delay: float = 2.0, quiet: float = 1.0) -> None:
        self.delay = delay
        self.quiet = quiet
        self._lock = threading.Lock()
        self._model: LiveModel | None = None
        self._settings: LiveSettings | None = None
        self._pending = False

    @property
    def enabled(self) -> bool:
        return self._settings is not None

    def start(self, defaults: LiveSettings | None = None) -> None:
        """Build a model of ``defaults`` (the page's default settings) now, and keep one ready."""
        self._settings = defaults if defaults is not None else DEFAULT_SETTINGS
        self._fill()

    def stop(self) -> None:
        with self._lock:
            self._settings, self._model = None, None

    def take(self, wanted: LiveSettings) -> LiveModel | None:
        """The ready model if it was built from ``wanted``, else ``None``; then the next is built."""
        if not self.enabled or wanted != self._settings:
            return None
        with self._lock:
            ready, self._model = self._model, None
        self._fill_later()
        return ready

    def _fill(self) -> None:
        wanted = self._settings
        built = None
        try:
            if wanted is not None:
                built = LiveModel(wanted)
        except Exception:  # pragma: no cover - a session then builds its own
            logging.getLogger("privmarket.dashboard").exception("could not build a spare model")
        with self._lock:
            if built is not None and self._model is None and wanted == self._settings:
                self._model = built
            self._pending = False

    def _fill_later(self) -> None:
        with self._lock:
            if self._pending or self._model is not None:
                return
            self._pending = True
        self._after(self.delay)

    def _after(self, seconds: float) -> None:
        timer = threading.Timer(seconds, self._fill_when_quiet)
        timer.daemon = True
        timer.start()

    def _fill_when_quiet(self) -> None:
        idle = seconds_since_a_step()
        if idle < self.quiet and self.enabled:
            self._after(self.quiet - idle)
            return
        self._fill()


#: The server's spare model (see :class:`SpareModel`); started by ``privmarket dashboard``.
spare = SpareModel()


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

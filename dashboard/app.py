"""The privmarket dashboard: a live run, and an explorer of finished sweeps.

Serve it with ``privmarket dashboard`` (or ``solara run dashboard/app.py``) and
open the address it prints. Each browser session gets its own model.
"""

from __future__ import annotations

import logging
import traceback

import ipyvuetify
import solara
import solara.lab

from privmarket.dashboard import state
from privmarket.dashboard.components import LiveViews, SettingsPanel
from privmarket.dashboard.controls import PendingBar, RunControls
from privmarket.dashboard.explorer import ExplorerPage
from privmarket.dashboard.theme import CSS

log = logging.getLogger("privmarket.dashboard")


def one_line(exc: BaseException) -> str:
    """An exception as one short line for the page (the traceback goes to the server's log)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}"


@solara.component
def ErrorBoundary(children=[]):  # noqa: B006 (Solara's children signature)
    """Catches an error in the views below it (rendering or a click): one line, and a way on.

    The page around it (tabs, sidebar, controls) stays. The full traceback is
    logged on the server under ``privmarket.dashboard``.
    """
    exc, clear = solara.use_exception()

    def logged() -> None:
        if exc is not None:
            log.error(
                "the page caught an error: %s\n%s",
                one_line(exc),
                "".join(traceback.format_exception(exc)),
            )

    solara.use_effect(logged, [exc])
    if exc is not None:
        with solara.Column(classes=["pm-page-error"]):
            solara.Error(
                f"Something went wrong here and was stopped: {one_line(exc)}. "
                "The details are in the server's log.",
                classes=["pm-error-boundary"],
            )
            solara.Button("Show the page again", on_click=clear, outlined=True)
        return
    solara.Column(children=list(children), classes=["pm-boundary"], style={"gap": "12px"})


@solara.component
def LivePage():
    """The live run: run controls and settings in the sidebar; the run's views in the main area."""
    model = state.ensure_model()
    solara.Title("privmarket: live run")
    with solara.Sidebar(), ErrorBoundary():
        RunControls(model, state.finished.value)
        SettingsPanel()
    with ErrorBoundary():
        PendingBar()
    RenderedApart(LiveArea)


@solara.component
def LiveArea():
    """The run's views, in a render pass of their own (see :func:`RenderedApart`)."""
    with ErrorBoundary():
        LiveViews(state.model.value)


@solara.component
def RenderedApart(component):
    """``component()`` drawn in a render context of its own.

    Reacton walks a context's whole tree on every redraw, whichever part
    changed. The views redraw every quarter while the sidebar's many controls
    rarely change, so the views get a context of their own and a step walks
    their tree only (the measurements are in docs/dashboard.md,
    "Responsiveness").
    """
    box = solara.v.Html(tag="div", class_="pm-apart")

    def mount():
        # The inner context draws into a container of its own (closing a context
        # closes its container); the outer context never sets the box's children.
        inner = ipyvuetify.Html(tag="div")
        _, context = solara.render(component(), inner, handle_error=False)
        solara.get_widget(box).children = [inner]
        return context.close

    solara.use_effect(mount, dependencies=[])
    return box


@solara.component
def Layout(children=[]):  # noqa: B006 (Solara's layout signature)
    """Solara's app layout with a tab per page, a theme switch and an error boundary."""
    route, routes = solara.use_route()
    router = solara.use_router()
    index = routes.index(route) if route in routes else 0
    # Paths are resolved while rendering: resolve_path needs the render context,
    # which a click handler does not have.
    paths = [solara.resolve_path(r) for r in routes]

    def go(i: int) -> None:
        if 0 <= i < len(paths) and i != index:
            router.push(paths[i])

    # A darker blue than the theme's primary, so white tab labels read 4.5:1 in both themes.
    with solara.AppLayout(title="privmarket", color="#1565C0") as main:
        with solara.AppBar():
            with solara.lab.Tabs(
                value=index, on_value=go, align="center", color="white", background_color="#1565C0"
            ):
                for r in routes:
                    solara.lab.Tab(r.label, classes=[f"pm-tab-{r.path.strip('/') or 'live'}"])
            solara.lab.ThemeToggle()
        # One content child: AppLayout would take a second one for its sidebar.
        with solara.Column(style={"padding": "0"}, classes=["pm-scope"]):
            solara.Style(CSS)
            with ErrorBoundary():
                for child in children:
                    solara.display(child)
    return main


routes = [
    solara.Route(path="/", component=LivePage, label="Live run", layout=Layout),
    solara.Route(path="explorer", component=ExplorerPage, label="Sweep explorer"),
]

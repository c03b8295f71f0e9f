"""The privmarket dashboard: a live run, and an explorer of finished sweeps.

Serve it with ``privmarket dashboard`` (or ``solara run dashboard/app.py``) and
open the address it prints. Each browser session gets its own model.
"""

from __future__ import annotations

import solara
from mesa.visualization import SolaraViz

from privmarket.dashboard import state
from privmarket.dashboard.components import LiveViews, SettingsSidebar
from privmarket.dashboard.explorer import ExplorerPage
from privmarket.dashboard.figures import WORLD_CSS


@solara.component
def LivePage():
    """The live run: settings in the sidebar, Reset/Play/Step, figures, world view and events."""
    model = state.ensure_model()
    solara.Title("privmarket: live run")
    SolaraViz(
        state.model,
        components=[],  # the views are laid out below, in one component (see LiveViews)
        model_params=state.model_params(),
        name="privmarket",
        play_interval=state.play_interval(),
        render_interval=state.render_interval(),
    )
    SettingsSidebar()
    LiveViews(model)


@solara.component
def Layout(children=[]):  # noqa: B006 (Solara's layout signature)
    """Solara's app layout with named tabs for the two pages."""
    route, routes = solara.use_route()
    router = solara.use_router()
    index = routes.index(route) if route in routes else 0

    def go(i: int) -> None:
        router.push(solara.resolve_path(routes[i]))

    with solara.AppLayout(title="privmarket") as main:
        with solara.AppBar(), solara.lab.Tabs(value=index, on_value=go, align="center"):
            for r in routes:
                solara.lab.Tab(r.label)
        # One content child: AppLayout would take a second one for its sidebar.
        with solara.Column(style={"padding": "0"}):
            solara.Style(WORLD_CSS)
            for child in children:
                solara.display(child)
    return main


routes = [
    solara.Route(path="/", component=LivePage, label="Live run", layout=Layout),
    solara.Route(path="explorer", component=ExplorerPage, label="Sweep explorer"),
]

"""Sweep explorer (placeholder while the runner lands)."""

import solara


@solara.component
def ExplorerPage():
    solara.Text("explorer")

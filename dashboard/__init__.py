"""The Solara dashboard."""

"""The Solara dashboard: a live run (Mesa model, Solara page) and an explorer of finished sweeps.

Serve it with ``privmarket dashboard`` (or ``solara run dashboard/app.py``).
"""

#: Environment variables through which ``privmarket dashboard`` configures the server.
ENV_RESULTS_ROOT = "PRIVMARKET_RESULTS_ROOT"
ENV_RESULTS_LABEL = "PRIVMARKET_RESULTS_ROOT_LABEL"
ENV_RENDER_INTERVAL = "PRIVMARKET_RENDER_INTERVAL"
ENV_PLAY_INTERVAL = "PRIVMARKET_PLAY_INTERVAL"

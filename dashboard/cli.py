"""``privmarket dashboard``: serve the browser dashboard.

Serves ``dashboard/app.py`` with Solara's server (production mode, no browser
opened, no version check and no usage telemetry, so it works offline) on
127.0.0.1 unless ``--host`` says otherwise, and prints the address to open.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
from pathlib import Path

from privmarket.dashboard import (
    ENV_PLAY_INTERVAL,
    ENV_RENDER_INTERVAL,
    ENV_RESULTS_LABEL,
    ENV_RESULTS_ROOT,
)
from privmarket.dashboard.serving import is_loopback, prepare_server, quiet_server_warnings

APP_PATH = Path(__file__).with_name("app.py")


def _usage_error(message: str) -> Exception:
    from privmarket.experiments.errors import UsageError

    return UsageError(message)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def check_port(host: str, port: int) -> None:
    """Fail with one clear line if ``host:port`` cannot be served."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _usage_error(f"--host {host!r}: unknown host ({exc.strerror})") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise OSError(
                f"cannot listen on {host}:{port} ({exc.strerror}); "
                "choose another port with --port N (or --port 0 for any free port)"
            ) from None


def server_env(
    results_root: Path, render_interval: int, play_interval: int, label: str = ""
) -> dict[str, str]:
    """Environment for the server: where results live, intervals, and Solara kept offline."""
    return {
        ENV_RESULTS_ROOT: str(results_root),
        ENV_RESULTS_LABEL: label or str(results_root),
        ENV_RENDER_INTERVAL: str(render_interval),
        ENV_PLAY_INTERVAL: str(play_interval),
        # No usage telemetry (it would call out to the internet).
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
        # No "runs on Solara" banner over the page's bottom corner.
        "SOLARA_THEME_SHOW_BANNER": "False",
    }


def solara_args(host: str, port: int) -> list[str]:
    """Arguments of ``solara run`` for serving the app."""
    return [
        "run",
        str(APP_PATH),
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
        "--no-check-version",  # solara checks its version on PyPI otherwise (blocks offline)
        "--log-level",
        "warning",
    ]


def _dashboard(args: argparse.Namespace) -> int:
    """Serve the browser dashboard (a live run, and an explorer of finished sweeps).

    Serve the dashboard and print its address. The live page runs a scenario step
    by step with sliders for the parameters that matter; the sweep explorer opens
    a results directory written by `privmarket sweep`. Every browser session gets
    its own model. Works offline.
    """
    if not 0 <= args.port <= 65535:
        raise _usage_error(f"--port {args.port}: allowed 0 to 65535 (0 picks a free port)")
    if not 1 <= args.render_interval <= 100:
        raise _usage_error(f"--render-interval {args.render_interval}: allowed 1 to 100")
    if not 1 <= args.play_interval <= 5000:
        raise _usage_error(f"--play-interval {args.play_interval}: allowed 1 to 5000 (ms)")
    root = Path(args.results_root or os.getcwd()).expanduser()
    if not root.is_dir():
        raise _usage_error(f"--results-root {str(root)!r}: no such directory")
    root = root.resolve()
    host = args.host
    port = args.port if args.port else free_port(host if is_loopback(host) else "0.0.0.0")
    check_port(host, port)

    label = args.results_root or "the current directory"
    os.environ.update(server_env(root, args.render_interval, args.play_interval, label))
    shown = f"[{host}]" if ":" in host else host
    print(f"privmarket dashboard: open http://{shown}:{port}/ in your browser (Ctrl-C stops it)")
    print(f"  the sweep explorer opens results below: {root}")
    if not is_loopback(host):
        print(
            f"  note: listening on {host}, so other machines that can reach this one can use "
            "the dashboard; use --host 127.0.0.1 to keep it local"
        )

    quiet_server_warnings()
    import solara.server.settings
    from solara.__main__ import cli as solara_cli

    solara.server.settings.telemetry.mixpanel_enable = False
    solara.server.settings.theme.show_banner = False
    from privmarket.dashboard import state

    try:
        prepare_server()
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is meant to stop
            solara_cli.main(args=solara_args(host, port), prog_name="solara", standalone_mode=False)
    finally:
        state.spare.stop()
    print("privmarket dashboard: stopped")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from privmarket.experiments.cli_options import add_command

    p = add_command(sub, "dashboard", _dashboard)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for all)",
    )
    p.add_argument(
        "--port", type=int, default=8765, help="port (default 8765; 0 picks a free port)"
    )
    p.add_argument(
        "--results-root",
        metavar="DIR",
        help="the explorer opens sweep results only below this directory "
        "(default: the current directory)",
    )
    p.add_argument(
        "--render-interval",
        type=int,
        default=1,
        metavar="N",
        help="quarters stepped per redraw while playing (default 1; raise it for big "
        "populations); also adjustable in the page",
    )
    p.add_argument(
        "--play-interval",
        type=int,
        default=100,
        metavar="MS",
        help="pause between steps while playing, in ms (default 100)",
    )

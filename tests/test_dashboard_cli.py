"""``privmarket dashboard`` and ``solara run dashboard/app.py``: options, errors, a real server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from privmarket.dashboard.cli import check_port, is_loopback, server_env, solara_args
from privmarket.experiments.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["dashboard", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--host", "--port", "--results-root", "--render-interval", "127.0.0.1"):
        assert opt in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--port", "70000"], "--port 70000"),
        (["--render-interval", "0"], "--render-interval 0"),
        (["--play-interval", "0"], "--play-interval 0"),
        (["--results-root", "/no/such/dir"], "no such directory"),
        (["--host", "no-such-host.invalid"], "unknown host"),
    ],
)
def test_bad_options_exit_2_with_one_line(capsys, args, message):
    assert main(["dashboard", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_port_in_use_is_reported(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["dashboard", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_helpers():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    env = server_env(Path("/tmp"), 2, 50)
    assert env["PRIVMARKET_RENDER_INTERVAL"] == "2"
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False"
    args = solara_args("127.0.0.1", 9999)
    assert "--no-check-version" in args and "--production" in args and "--no-open" in args
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(OSError, match="cannot listen"):
            check_port("127.0.0.1", s.getsockname()[1])


@pytest.mark.slow
def test_solara_run_serves_the_app_too():
    """``solara run dashboard/app.py`` (the documented alternative) starts and serves."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "solara", "run", "dashboard/app.py", "--host", "127.0.0.1"]
        + ["--port", str(port), "--production", "--no-open", "--no-check-version"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, "solara run exited"
            try:
                with urllib.request.urlopen(url + "readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "no answer from solara run"
                time.sleep(0.3)
        with urllib.request.urlopen(url, timeout=30) as r:
            page = r.read().decode()
        assert r.status == 200 and "solara" in page.lower()
        # its front-end assets come from the installed package, not from a CDN
        assert "cdn.jsdelivr" not in page and "unpkg.com" not in page
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

"""Fixtures for the dashboard's browser tests: a real server, a real sweep, headless Chromium.

The server is ``privmarket dashboard`` started as a subprocess on a free port
(stopped by its PID at the end); the browser is Debian's ``chromium`` driven by
Playwright (never a browser downloaded by ``playwright install``). Without
chromium the tests are skipped, except under ``CI=true``, where that is a
failure.

Set ``PRIVMARKET_SCREENSHOTS=DIR`` to have the tests write screenshots of both
pages into DIR (the project keeps them in ``docs/img``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

#: Chromium flags that keep a headless run quiet and off the network (see the docs).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
SWEEP_TOML = textwrap.dedent(
    """
    name = "survival-demo"
    description = "Survival of the secure vendor over its privacy stance and governments' appetite (a small grid)."
    scenario = "baseline"
    quarters = 12
    replicates = 2
    seed = 2015

    [fixed]
    n_users = 3000

    [varied]
    "vendors.Aegis.stance" = [0.2, 0.5, 0.8, 1.0]
    "countries.*.appetite" = [0.2, 0.5, 0.8]

    [design]
    kind = "grid"

    [analysis]
    outcome = "Aegis.installed_share"
    """
)
SWEEP_RUNS = 24
SWEEP_QUARTERS = 12


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def privmarket_cmd() -> list[str]:
    script = Path(sys.executable).with_name("privmarket")
    return (
        [str(script)] if script.exists() else [sys.executable, "-m", "privmarket.experiments.cli"]
    )


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the dashboard server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the dashboard server did not answer {url}readyz in {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop the process we started, by its PID (and its process group)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        message = "chromium is not installed (apt-get install chromium); the browser tests need it"
        if _in_ci():
            pytest.fail(message + " and CI=true, so this is a failure, not a skip")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    """The server's working directory; the results root is ``out`` below it."""
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="session")
def results_root(workdir) -> Path:
    """A results root holding one small sweep, written by ``privmarket sweep``."""
    root = workdir / "out"
    exp = workdir / "survival-demo.toml"
    exp.write_text(SWEEP_TOML)
    out = root / "sweeps" / "survival-demo"
    done = subprocess.run(
        [*privmarket_cmd(), "sweep", str(exp), "--out", str(out), "--backend", "serial"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=workdir,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "manifest.json").is_file()
    return root


@pytest.fixture(scope="session")
def server(chromium, results_root, workdir, tmp_path_factory):
    """``privmarket dashboard`` on a free port; yields its base URL and its first output."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    # The server gets no route to the internet either: any attempt to fetch a
    # front-end asset from a CDN would fail (and be logged), as on an offline machine.
    dead = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [
                *privmarket_cmd(),
                "dashboard",
                "--port",
                str(port),
                "--results-root",
                results_root.name,  # relative, as a user would type it
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=env,
            start_new_session=True,  # its own process group, stopped as one below
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(url, proc)
        yield {"url": url, "log": log, "pid": proc.pid}
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Watch:
    """What a browser context did that a page must not: console errors, non-local requests.

    Every request to anything but the dashboard's own server is refused (as on a
    machine with no internet) and recorded, or only recorded when requests are
    watched rather than intercepted (:func:`open_context`); every console error and uncaught
    page error is recorded. :meth:`check` fails the test if either happened.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.not_local: list[str] = []
        self.errors: list[str] = []

    def is_local(self, url: str) -> bool:
        return url.startswith(self.base_url) or url.startswith(("data:", "blob:"))

    def route(self, route) -> None:
        url = route.request.url
        if self.is_local(url):
            route.continue_()
        else:
            self.not_local.append(url)
            route.abort("internetdisconnected")

    def saw(self, request) -> None:
        """Record a non-local request without holding any request up (for timing)."""
        if not self.is_local(request.url):
            self.not_local.append(request.url)

    def attach(self, page) -> None:
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"console {m.type}: {m.text[:300]}")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: self.errors.append(f"page error: {str(e)[:300]}"))

    def check(self) -> None:
        assert self.not_local == [], f"the page asked for something not local: {self.not_local}"
        assert self.errors == [], f"the page logged errors: {self.errors}"


def open_context(
    browser,
    server,
    width: int = 1400,
    height: int = 1000,
    scheme: str = "light",
    intercept: bool = True,
):
    """A browser context that watches for console errors and non-local requests.

    With ``intercept`` (the default) every request passes through the test, which
    refuses any that is not local. That holds each request up for a round trip to
    the test and switches off the browser's cache (Playwright does so whenever
    requests are routed), so a timing test passes ``intercept=False``: requests
    are then only recorded, as a user's browser would make them, and a non-local
    one still fails the test.
    """
    ctx = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
    ctx.set_default_timeout(90_000)
    watch = Watch(server["url"])
    if intercept:
        ctx.route("**/*", watch.route)
    else:
        ctx.on("request", watch.saw)
    ctx.on("page", watch.attach)
    return ctx, watch


@pytest.fixture()
def watched(browser, server):
    """A watched context at 1400 px in the light theme; fails the test on errors it saw."""
    ctx, watch = open_context(browser, server)
    try:
        yield ctx
        watch.check()
    finally:
        ctx.close()


@pytest.fixture()
def context(watched):
    return watched


@pytest.fixture()
def page(watched):
    return watched.new_page()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path | None:
    """Where to write screenshots of the pages (``PRIVMARKET_SCREENSHOTS``), or ``None``."""
    raw = os.environ.get("PRIVMARKET_SCREENSHOTS", "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_absolute():
        path = REPO / path
    path.mkdir(parents=True, exist_ok=True)
    return path

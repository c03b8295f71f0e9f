"""What ``privmarket dashboard`` prepares so that a page's first load is short.

The chart libraries' preload script, the spare model a new session takes, and
uncompressed responses to a browser on the same machine. The load times
themselves are measured in the browser tests (tests/browser).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time

import pytest

from privmarket.dashboard import live, state
from privmarket.dashboard.live import LiveModel, LiveSettings
from privmarket.dashboard.serving import (
    assets_folder,
    messages_sent_without_waiting,
    uncompressed_on_this_machine,
)
from privmarket.dashboard.vega import DEFAULT_VERSIONS, VERSIONS, preload_script, write_preload

SMALL = LiveSettings.for_scenario("baseline").replace(users="3000")


def test_preload_script_loads_the_installed_builds_from_this_server(tmp_path):
    text = preload_script()
    found = json.loads(re.search(r"var versions = (\{.*?\});", text).group(1))
    assert found == {k: VERSIONS[k] for k in DEFAULT_VERSIONS}
    # only this server's assets: no address of another host
    assert "http" not in text and "//" not in text.replace("/* ", "").split("*/", 1)[1]
    assert "window.__pmVega =" in text and "DOMContentLoaded" in text
    path = write_preload(tmp_path, {"vega": "1.2.3", "vega-lite": "4.5.6", "vega-embed": "7.8.9"})
    assert path.name == "custom.js" and '"vega": "1.2.3"' in path.read_text()


def test_the_preload_is_kept_in_the_users_cache_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = assets_folder()
    assert folder.parent == tmp_path / "privmarket" / "dashboard-assets"
    assert (folder / "custom.js").read_text() == preload_script()
    (folder / "custom.js").write_text("/* changed */")
    assert assets_folder() == folder and (folder / "custom.js").read_text() == preload_script()
    assert [p.name for p in folder.iterdir()] == ["custom.js"]


def test_the_spare_model_is_the_model_a_session_would_build():
    spare = state.SpareModel(delay=0.0)
    assert spare.take(SMALL) is None  # not started: every session builds its own
    spare.start(SMALL)
    try:
        assert spare.take(SMALL.replace(seed="1")) is None  # other settings: not this one
        ready = spare.take(SMALL)
        fresh = LiveModel(SMALL)
        assert ready is not None and ready is not fresh
        assert ready.settings == fresh.settings and ready.seed == fresh.seed
        for _ in range(3):
            ready.step()
            fresh.step()
        assert ready.quarter == fresh.quarter == 3
        assert json.dumps(ready.history, default=str) == json.dumps(fresh.history, default=str)
        assert ready.datacollector.get_model_vars_dataframe().equals(
            fresh.datacollector.get_model_vars_dataframe()
        )
        assert len(ready.events) == len(fresh.events)
        # the next one is built in the background
        deadline = time.monotonic() + 30
        while spare._model is None and time.monotonic() < deadline:
            time.sleep(0.05)
        again = spare.take(SMALL)
        assert again is not None and again is not ready and again.quarter == 0
    finally:
        spare.stop()
    assert spare.take(SMALL) is None


def test_a_new_session_takes_the_spare_model(monkeypatch):
    spare = state.SpareModel(delay=60.0)
    monkeypatch.setattr(state, "spare", spare)
    spare.start(SMALL)
    kept = spare._model
    state.settings.value = SMALL
    state.model.value = None
    state.last_good.value = None
    state.notice.value = "an old message"
    try:
        model = state.ensure_model()
        assert model is kept and state.model.value is kept
        assert state.last_good.value == SMALL and state.notice.value is None
        assert not state.finished.value
        # a session with other settings builds its own
        state.model.value = None
        state.settings.value = SMALL.replace(seed="5")
        own = state.ensure_model()
        assert own is not kept and own.seed == 5
    finally:
        spare.stop()
        state.model.value = None
        state.settings.value = state.DEFAULT_SETTINGS
        state.last_good.value = None


@pytest.mark.parametrize(
    ("client", "compressed"), [("127.0.0.1", False), ("::1", False), ("192.168.1.4", True)]
)
def test_only_a_browser_on_this_machine_gets_uncompressed_files(client, compressed):
    from starlette.middleware.gzip import GZipMiddleware

    uncompressed_on_this_machine()
    uncompressed_on_this_machine()  # twice changes nothing
    body = b"x" * 50_000

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"accept-encoding", b"gzip")],
        "client": (client, 5555),
    }
    # in a thread of its own: another test may have left an event loop running in this one
    done = threading.Thread(
        target=asyncio.run, args=(GZipMiddleware(app, minimum_size=1000)(scope, receive, send),)
    )
    done.start()
    done.join()
    headers = dict(sent[0]["headers"])
    assert (headers.get(b"content-encoding") == b"gzip") is compressed
    out = b"".join(m.get("body", b"") for m in sent[1:])
    assert (out == body) is not compressed


def test_the_next_spare_waits_until_no_session_is_stepping():
    stepping = LiveModel(SMALL)
    stepping.step()
    assert live.seconds_since_a_step() < 5  # a step is seen by the spare's clock
    spare = state.SpareModel(delay=0.0, quiet=0.5)
    spare.start(SMALL)
    try:
        assert spare.take(SMALL) is not None
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            live._last_step[0] = time.monotonic()  # some session steps every 20 ms
            time.sleep(0.02)
            assert spare._model is None  # never built between two steps
        deadline = time.monotonic() + 30
        while spare._model is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert spare._model is not None
    finally:
        spare.stop()


class PageSocket:
    """Starlette's side of a page's websocket: records what is sent, once let through."""

    def __init__(self) -> None:
        self.sent: list = []
        self.gate: asyncio.Event | None = None
        self.closed = False

    async def send_text(self, data: str) -> None:
        await self.gate.wait()
        if self.closed:
            from starlette.websockets import WebSocketDisconnect

            raise WebSocketDisconnect(1001)
        self.sent.append(data)

    async def send_bytes(self, data: bytes) -> None:
        await self.send_text(data)


def test_the_renderer_queues_widget_messages_and_they_go_out_in_order():
    """Solara's own connection, on a real event loop in its own thread, as the server has it."""
    from anyio.from_thread import start_blocking_portal
    from solara.server.starlette import WebsocketWrapper

    messages_sent_without_waiting()
    messages_sent_without_waiting()  # twice changes nothing
    socket = PageSocket()
    with start_blocking_portal() as portal:

        def connect():  # on the loop's thread, where Solara makes it
            socket.gate = asyncio.Event()
            return WebsocketWrapper(socket, portal)

        connection = portal.call(connect)
        messages = [f"message {i}" for i in range(60)] + [b"a buffer", "the last one"]

        def render():  # the thread that renders a page
            for m in messages:
                connection.send(m)

        renderer = threading.Thread(target=render)
        renderer.start()
        # Nothing can go out yet, and the renderer is done all the same: it did not
        # wait for the sends (Solara's own path would block here until the gate opens).
        renderer.join(timeout=20)
        assert not renderer.is_alive() and socket.sent == []
        portal.call(socket.gate.set)
        deadline = time.monotonic() + 20
        while len(socket.sent) < len(messages) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert socket.sent == messages

        # The page goes away: what is queued is dropped, and the renderer is not stopped.
        socket.closed = True
        late = threading.Thread(target=lambda: [connection.send(f"late {i}") for i in range(5)])
        late.start()
        late.join(timeout=20)
        assert not late.is_alive()
        box = connection._privmarket_outbox
        deadline = time.monotonic() + 20
        while (box.items or box.sending) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not box.items and not box.sending
        assert socket.sent == messages

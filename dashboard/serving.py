"""How ``privmarket dashboard`` sets up Solara's server before it takes requests.

What makes a page's first load shorter (the chart libraries' preload script,
no compression on this machine, widget messages sent from an outbox, a spare
model) and what keeps the server's output to what a user needs. The
measurements behind each are in docs/dashboard.md, "Responsiveness".
"""

from __future__ import annotations

import collections
import hashlib
import ipaddress
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost`` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def assets_folder() -> Path:
    """This user's folder holding the page's ``custom.js`` (the chart libraries' preload).

    Named by its content, below the user's cache folder (``$XDG_CACHE_HOME`` or
    ``~/.cache``), and rewritten when it differs, so that servers of different
    installs never share a script and nothing is left behind per start (the
    server is usually stopped by a signal). A temporary folder if the cache
    folder cannot be written.
    """
    from privmarket.dashboard import vega

    text = vega.preload_script()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "privmarket" / "dashboard-assets" / digest
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "custom.js"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            part = folder / f".custom.js.{os.getpid()}"
            part.write_text(text, encoding="utf-8")
            os.replace(part, path)
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="privmarket-dashboard-"))
        vega.write_preload(folder)
    return folder


def prepare_server() -> None:
    """What makes a page's first load shorter, done before the server takes requests.

    - the page's ``custom.js`` (in :func:`assets_folder`, an extra assets
      location of Solara's) starts loading the chart libraries while the page
      waits for the server (:func:`privmarket.dashboard.vega.preload_script`);
    - responses to a browser on this machine are not compressed
      (:func:`uncompressed_on_this_machine`);
    - the thread that renders a page queues its widget messages and goes on
      (:func:`messages_sent_without_waiting`);
    - a model of the default settings is built now, and one is kept ready for
      the next session (:class:`privmarket.dashboard.state.SpareModel`).
    """
    import solara.server.settings

    from privmarket.dashboard import state

    extra = solara.server.settings.assets.extra_locations
    solara.server.settings.assets.extra_locations = [str(assets_folder()), *extra]
    uncompressed_on_this_machine()
    messages_sent_without_waiting()
    state.spare.start()


def uncompressed_on_this_machine() -> None:
    """Responses to a browser on this machine go out uncompressed.

    Solara's server compresses every response (gzip at its highest level) on
    every request: about 0.2 s of the server's time for its 2 MB script alone,
    some 0.4 s for a browser's first load of the page, while that browser waits
    and needs the same CPU. Over the loopback interface compression saves
    nothing, so requests from this machine skip it; others are compressed as
    before. (A browser's later loads take the files from its cache.)
    """
    from starlette.middleware.gzip import GZipMiddleware

    if getattr(GZipMiddleware, "_privmarket_local", False):
        return
    compress = GZipMiddleware.__call__

    async def call(self, scope, receive, send):
        client = scope.get("client")
        if scope.get("type") == "http" and client and is_loopback(str(client[0])):
            await self.app(scope, receive, send)
            return
        await compress(self, scope, receive, send)

    GZipMiddleware.__call__ = call
    GZipMiddleware._privmarket_local = True


class _Outbox:
    """One connection's messages waiting to be sent, sent in order by one task on its loop."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.items: collections.deque = collections.deque()
        self.lock = threading.Lock()
        self.sending = False

    def put(self, send, data) -> None:
        """Queue ``send(data)`` (a coroutine function of the connection) and return at once."""
        with self.lock:
            self.items.append((send, data))
            if self.sending:  # the running task will send it
                return
            self.sending = True
        try:
            self.connection.event_loop.call_soon_threadsafe(self._start)
        except RuntimeError:  # the server's loop is closed: so is the connection
            from solara.server.websocket import WebSocketDisconnect

            self._drop()
            raise WebSocketDisconnect() from None

    def _start(self) -> None:
        task = self.connection.event_loop.create_task(self._send_all())
        self.connection.tasks.add(task)  # a strong reference, as Solara keeps its own tasks
        task.add_done_callback(self.connection.tasks.discard)

    async def _send_all(self) -> None:
        from solara.server.websocket import WebSocketDisconnect

        while True:
            with self.lock:
                if not self.items:
                    self.sending = False
                    return
                send, data = self.items.popleft()
            try:
                await send(data)
            except WebSocketDisconnect:
                # The page is gone: Solara's receive loop sees the close and drops
                # the connection; what is queued here cannot be delivered.
                self._drop()
                return
            except Exception:
                logging.getLogger("privmarket.dashboard").exception(
                    "a message to the page could not be sent"
                )
                self._drop()
                return

    def _drop(self) -> None:
        with self.lock:
            self.items.clear()
            self.sending = False


#: What the outbox uses of Solara's Starlette connection (``solara.server.starlette``).
_CONNECTION_PARTS = ("event_loop", "tasks", "_thread_id", "_send_text_exc", "_send_bytes_exc")


def messages_sent_without_waiting() -> None:
    """The thread that renders a page queues its widget messages and goes on.

    Solara sends each widget message from the thread that renders the page by
    handing it to the web server's event loop and waiting until it has gone
    out. A page's first render opens about 110 widgets, one message each, and
    every wait is a round trip between two threads (about 2 ms on two cores,
    a third of the render's time). Each connection now has an outbox: the
    rendering thread puts a message in it and goes on, and one task on the
    server's loop sends the outbox's messages in the order they were put
    (Solara's own "experimental performance" mode does the same with a 50 ms
    polling delay, which a step cannot afford). Messages sent from the loop's
    own thread, and connections without a loop of their own, keep Solara's
    path. The render got shorter; in the page the gain is small (2 to 7 % on
    loads after a browser's first); the measurements are in docs/dashboard.md,
    "Responsiveness".
    """
    # The kernel sends every widget message through this base class's ``send``.
    # Patching the base leaves Solara's Starlette module to be imported by Solara:
    # importing it here would load the app registry before the command line has
    # named the app, and the page would then find no app.
    from solara.server import settings
    from solara.server.websocket import WebsocketWrapper

    if getattr(WebsocketWrapper, "_privmarket_queued", False):
        return
    send = WebsocketWrapper.send

    def queued(connection) -> bool:
        # Solara's Starlette connection, sent to from a thread other than its loop's
        return (
            getattr(connection, "portal", None) is not None
            and all(hasattr(connection, a) for a in _CONNECTION_PARTS)
            and connection._thread_id != threading.get_ident()
            and not settings.main.experimental_performance
        )

    def outbox(connection) -> _Outbox:
        box = connection.__dict__.get("_privmarket_outbox")
        if box is None:
            # dict.setdefault is atomic: two threads' first messages share one outbox
            box = connection.__dict__.setdefault("_privmarket_outbox", _Outbox(connection))
        return box

    def send_queued(self, data) -> None:
        if isinstance(data, str) and queued(self):
            outbox(self).put(self._send_text_exc, data)
        elif isinstance(data, bytes) and queued(self):
            outbox(self).put(self._send_bytes_exc, data)
        else:
            send(self, data)

    WebsocketWrapper.send = send_queued
    WebsocketWrapper._privmarket_queued = True


def quiet_server_warnings() -> None:
    """Keep the server's output to what a user needs, and the page's errors in it.

    Solara warns on every page served over plain http to an address other than
    "localhost" that its session cookie falls back to SameSite=Lax. That is the
    right cookie for a dashboard opened directly (not inside another site's
    frame), so the warning is noise: one per page load. Errors the page catches
    are logged under ``privmarket.dashboard`` with their traceback.
    """
    warnings.filterwarnings(
        "ignore", message="Cookies with samesite=none require https", category=UserWarning
    )
    log = logging.getLogger("privmarket.dashboard")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("privmarket dashboard: %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False

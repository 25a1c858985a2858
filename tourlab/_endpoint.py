"""The learner's endpoint: Hypercorn on its own thread and event loop, serving a swappable app.

Notebook cells block the kernel's main thread, so the endpoint must never share the
kernel's event loop. Swapping the ASGI app behind a fixed port makes a reload cost a
pointer assignment plus one re-registration, instead of a server restart.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import socket
import threading
from typing import Any

import psutil
from hypercorn.asyncio import serve
from hypercorn.config import Config

from tourlab import _config
from tourlab._errors import LabError
from tourlab._logs import ENDPOINT_THREAD_PREFIX
from tourlab._ports import bind_listener

Scope = dict[str, Any]


class SwappableApp:
    """An ASGI app that forwards each request to whichever app is current."""

    def __init__(self) -> None:
        self.current: Any = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _accept_lifespan(receive, send)
            return
        app = self.current
        if app is None:
            await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"No handler module is loaded yet."})
            return
        await app(scope, receive, send)


def _hang_up(port: int) -> None:
    """Shut down connections to `port` that outlived the server.

    Hypercorn cancels a connection with a stream still open (an invocation waiting on a promise,
    say) without closing its socket. Restate would keep sending new invocations down that dead
    connection, so the other side gets a FIN here; the socket objects close themselves later.
    """
    for connection in psutil.Process().net_connections(kind="tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_ESTABLISHED:
            with contextlib.suppress(OSError):
                duplicate = socket.fromfd(
                    connection.fd, socket.AF_INET if "." in connection.laddr.ip else socket.AF_INET6, socket.SOCK_STREAM
                )
                with duplicate:
                    duplicate.shutdown(socket.SHUT_RDWR)


async def _accept_lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def hypercorn_config(bind: str) -> Config:
    """The settings of ``hypercorn-config.toml`` (what ``python -m hypercorn --config`` runs with), serving `bind`.

    Besides the bind, only where the error log goes differs: to the endpoint log (see tourlab._logs),
    not the kernel's stderr, which would show it in whichever cell runs.
    """
    config = Config.from_toml(_config.HYPERCORN_CONFIG)
    config.bind = [bind]
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


class Endpoint:
    """Hypercorn serving a SwappableApp on one port for the life of the kernel.

    >>> endpoint = Endpoint(bind_host="127.0.0.1")
    >>> endpoint.start()
    >>> endpoint.app.current = my_restate_app
    >>> endpoint.stop()
    """

    def __init__(self, *, bind_host: str = "127.0.0.1", port: int = 0) -> None:
        self.bind_host = bind_host
        self.port = port
        self.app = SwappableApp()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shutdown: asyncio.Event | None = None
        self._failure: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Bind the port now (so a clash raises here) and serve on a background thread."""
        if self.running:
            return
        try:
            sock = bind_listener(self.bind_host, self.port)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            raise LabError(
                f"Port {self.port} on {self.bind_host} is already in use, so the endpoint cannot listen there. "
                "Stop the program using it, or start a new lab (Lab.start picks a free port)."
            ) from None
        self.port = sock.getsockname()[1]
        config = hypercorn_config(f"fd://{sock.detach()}")
        ready = threading.Event()
        self._failure = None
        self._thread = threading.Thread(
            target=self._run, args=(config, ready), name=f"{ENDPOINT_THREAD_PREFIX}-server", daemon=True
        )
        self._thread.start()
        ready.wait(5)
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        """Stop serving; in-flight invocations fail and Restate retries them later."""
        if not self.running or self._loop is None or self._shutdown is None:
            return
        self._loop.call_soon_threadsafe(self._shutdown.set)
        assert self._thread is not None
        self._thread.join(5)
        self._thread = None
        _hang_up(self.port)

    def _run(self, config: Config, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(config, ready))
        except BaseException as error:  # noqa: BLE001 - reported to the thread that started us
            self._failure = error
            ready.set()

    async def _serve(self, config: Config, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        # ctx.run executes plain functions on the loop's default executor; naming its threads
        # lets the log router recognise handler output.
        executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix=f"{ENDPOINT_THREAD_PREFIX}-run")
        self._loop.set_default_executor(executor)
        self._shutdown = asyncio.Event()
        ready.set()
        await serve(self.app, config, shutdown_trigger=self._shutdown.wait, mode="asgi")  # type: ignore[arg-type]

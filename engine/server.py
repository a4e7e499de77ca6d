"""Serve a `RouteApp` with hypercorn: in the foreground (`routeconsole serve`) or
embedded on its own thread and event loop (the console).

The listening socket is bound here, before hypercorn starts, so `port=0` gives a known
free port and connections made right after `start()` returns simply queue. hypercorn
always gets a `shutdown_trigger`, so it never installs signal handlers of its own (which
fails off the main thread and would steal Ctrl-C from the console), and its logs go to
the `routeconsole.server` logger, never to stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from .app import RouteApp
from .events import ServerStarted, ServerStopped
from .feed import LogFeed
from .reload import Reloader
from .store import RequestLog

log = logging.getLogger("routeconsole.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def hypercorn_config(sock: socket.socket, **options: Any) -> Config:
    config = Config()
    # hypercorn closes the socket it is given; hand it a duplicate so ours stays valid.
    config.bind = [f"fd://{os.dup(sock.fileno())}"]
    config.accesslog = None  # every request is a trace already
    config.errorlog = log
    config.graceful_timeout = options.pop("graceful_timeout", 3.0)
    for key, value in options.items():
        setattr(config, key, value)
    return config


class Server:
    """hypercorn on its own thread and event loop.

    server = Server(app, port=0); url = server.start(); ...; server.stop()
    """

    def __init__(
        self, app: RouteApp, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, graceful_timeout: float = 3.0
    ) -> None:
        self.app = app
        self.graceful_timeout = graceful_timeout  # seconds stop() lets requests in flight finish
        self.host = host
        self.port = port
        self.url: str | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> str:
        self._sock = bind_socket(self.host, self.port)
        self.url = url_of(self._sock)
        self._thread = threading.Thread(target=self._run, name="routeconsole-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the server failed to start: {self._error}") from self._error
        self.app.events.publish(ServerStarted(self.url))
        return self.url

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_loop_exception)
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start() or logged: never raised on a daemon thread
            self._error = exc
            log.exception("the server stopped with an error")
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        assert self._sock is not None
        self._stop = asyncio.Event()
        config = hypercorn_config(self._sock, graceful_timeout=self.graceful_timeout)
        self._ready.set()
        await hypercorn_serve(self.app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.url:
            self.app.events.publish(ServerStopped(self.url))
        self.app.close()


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The embedded loop's stray errors go to our logger, never to the terminal the console owns.

    Stopping with a request still in flight cancels its connection task; on Python 3.11,
    asyncio's stream callback then reports the cancellation as an error (fixed in 3.12).
    """
    error = context.get("exception")
    if isinstance(error, asyncio.CancelledError):
        return
    log.error("%s", context.get("message", "error in the server's event loop"), exc_info=error)


def serve_forever(app: RouteApp, sock: socket.socket, announce: Callable[[], None] = lambda: None) -> None:
    """Serve on the main thread until SIGINT or SIGTERM, then shut down cleanly.

    `announce` runs once the signal handlers are in place, so a signal sent as soon as
    the URL is printed already means a clean shutdown.
    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        announce()
        app.events.publish(ServerStarted(url_of(sock)))
        await hypercorn_serve(app, hypercorn_config(sock), shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    try:
        asyncio.run(main())
    finally:
        app.events.publish(ServerStopped(url_of(sock)))
        app.close()


def serve_logged(
    app: RouteApp,
    sock: socket.socket,
    announce: Callable[[], None] = lambda: None,
    *,
    log: RequestLog | LogFeed | None,
    reload: bool,
) -> None:
    """`serve_forever` with every request sent to `log` (written here by a `RequestLog`'s
    thread, or by another process through a `LogFeed`) and, with `reload`, the files
    watched; both stopped (what is queued sent or written) when the server stops."""
    if log is not None:
        log.attach(app.events)
    reloader = Reloader(app) if reload else None
    if reloader is not None:
        reloader.start()
    try:
        serve_forever(app, sock, announce)
    finally:
        if reloader is not None:
            reloader.stop()
        if log is not None:
            app.events.flush()
            log.close()


def serve_workers(app_dir: Path, sock: socket.socket, workers: int, options: dict[str, Any]) -> int:
    """Several hypercorn worker processes sharing one socket; each loads the app itself."""
    from hypercorn.run import run

    os.environ["ROUTECONSOLE_WORKER_APP"] = str(app_dir.resolve())
    for key, value in options.items():
        os.environ[f"ROUTECONSOLE_WORKER_{key.upper()}"] = "" if value is None else str(value)
    config = hypercorn_config(sock, workers=workers, application_path="engine.worker:app")
    return run(config)

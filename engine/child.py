"""The app process: hypercorn, the engine and the user's route code, under a supervisor.

    python -m engine.child APP --socket-fd N --channel-fd M [--feed ADDRESS] [--otlp URL] [serve's options]

`engine.supervisor.AppProcess` starts it with the listening socket (bound once by the
supervisor, so the URL survives restarts) and the write end of a pipe (`engine.channel`).
Over that pipe it reports what a console shows: `started`, `reloaded` (with the problems)
and `record` (log records). Each finished trace goes to the supervisor's request log writer
over `--feed` (`engine.feed`: the log is written in the supervisor, not here). What route
code prints goes to this process's stdout and stderr, which the supervisor reads too.

It never outlives its supervisor: on Linux the kernel sends it SIGTERM when the parent dies
(`PR_SET_PDEATHSIG`), and everywhere a thread watching stdin (a pipe from the supervisor)
sees it close when the parent goes, and stops the server.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .app import DEFAULT_BODY_LIMIT, create_app
from .channel import ChannelWriter
from .discovery import load_routes
from .events import RoutesReloaded
from .feed import LogFeed
from .loader import IMPORT_GRACE
from .server import serve_logged, serve_workers, url_of

_PR_SET_PDEATHSIG = 1
STOP_GRACE = 1.0  # seconds a clean shutdown may take once the supervisor has gone


class _ChannelHandler(logging.Handler):
    def __init__(self, channel: ChannelWriter) -> None:
        super().__init__(level=logging.INFO)
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[0] is not None:
                message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self.channel.send({"event": "record", "level": record.levelno, "name": record.name, "message": message})
        except Exception:
            self.handleError(record)


def die_with_parent(*, parent: int | None = None, watch_stdin: bool = True) -> None:
    """End this process when its parent dies: the kernel's SIGTERM on Linux, and, with
    `watch_stdin`, the close of stdin (a pipe from the parent) anywhere. With the `parent`'s
    pid, also when it has died already (before the kernel was told)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass
    if parent is not None and os.getppid() != parent:  # it died before the line above took effect
        os.kill(os.getpid(), signal.SIGTERM)

    def watch() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        os.kill(os.getpid(), signal.SIGTERM)  # the supervisor has gone: the server stops cleanly,
        time.sleep(STOP_GRACE)  # unless a handler blocks the event loop, or spins on a thread
        os._exit(1)

    if watch_stdin:
        threading.Thread(target=watch, name="routeconsole-parent", daemon=True).start()


def _reloaded(event: RoutesReloaded) -> dict[str, Any]:
    return {
        "event": "reloaded",
        "changed": list(event.changed),
        "added": list(event.added),
        "removed": list(event.removed),
        "problems": [c.to_json() for c in event.problems],
        "new_problems": [c.to_json() for c in event.new_problems],
        "duration_ms": event.duration_ms,
    }


def _serve_workers(args: argparse.Namespace, sock: socket.socket, channel: ChannelWriter) -> int:
    """`--workers N`: hypercorn's worker processes each load the app, follow its files and
    send their traces to the supervisor's log writer; the supervisor follows the files itself."""
    table = load_routes(args.app, convention=args.convention)
    channel.send(
        {
            "event": "started",
            "pid": os.getpid(),
            "url": url_of(sock),
            "convention": table.convention,
            "problems": [c.to_json() for c in table.conflicts],
        }
    )
    options = {
        "convention": args.convention,
        "debug": args.debug,
        "import_grace": args.import_grace,
        "feed": args.feed,
        "reload": not args.no_reload,
        "otlp": args.otlp,
        "export": not args.no_export,
    }
    return serve_workers(args.app, sock, args.workers, options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.child")
    parser.add_argument("app", type=Path)
    parser.add_argument("--socket-fd", type=int, required=True)
    parser.add_argument("--channel-fd", type=int, required=True)
    parser.add_argument("--feed", help="the Unix socket of the request log's writer (no log without it)")
    parser.add_argument("--otlp", help="export every request to this OpenTelemetry collector (OTLP/HTTP base URL)")
    parser.add_argument(
        "--no-export", action="store_true", help="export nothing, whatever the variables say (the log's writer does)"
    )
    parser.add_argument("--convention")
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--no-reload", action="store_true")
    parser.add_argument("--body-limit", type=int, default=DEFAULT_BODY_LIMIT)
    parser.add_argument("--import-grace", type=float, default=IMPORT_GRACE)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--parent-pid", type=int, help="the supervisor's pid")
    args = parser.parse_args(argv)

    die_with_parent(parent=args.parent_pid)
    channel = ChannelWriter(args.channel_fd)
    logger = logging.getLogger("routeconsole")
    logger.addHandler(_ChannelHandler(channel))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    sock = socket.socket(fileno=args.socket_fd)
    # Route code that starts programs must not hand them the channel or the listening socket.
    os.set_inheritable(args.channel_fd, False)
    sock.set_inheritable(False)
    if args.workers > 1:
        try:
            return _serve_workers(args, sock, channel)
        finally:
            channel.close()
    try:
        app = create_app(
            args.app,
            convention=args.convention,
            debug=args.debug,
            body_limit=args.body_limit,
            import_grace=args.import_grace,
            otlp=args.otlp,
            export=not args.no_export,
        )
        # PERF: at once, a type check per event: a queued subscriber would have every request's
        # RequestFinished queued and delivered by a timer (3,300 instructions each) to be ignored.
        app.events.subscribe(
            lambda e: channel.send(_reloaded(e)) if isinstance(e, RoutesReloaded) else None, at_once=True
        )
        feed = LogFeed.connect(args.feed) if args.feed else None
        if feed is not None:
            feed.send_before_exit()

        def announce() -> None:
            channel.send(
                {
                    "event": "started",
                    "pid": os.getpid(),
                    "url": url_of(sock),
                    "convention": app.table.convention,
                    "problems": [c.to_json() for c in app.table.conflicts],
                }
            )

        serve_logged(app, sock, announce, log=feed, reload=not args.no_reload)
    finally:
        channel.close()
    return 0


if __name__ == "__main__":
    code = main()
    # Not sys.exit(): the interpreter would wait for the handler pool's threads, and one stuck
    # in a loop would keep this process (and its port) alive forever.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

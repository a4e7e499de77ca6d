"""`serve`'s request log writer: `python -m engine.logwriter LOG --listen-fd N`.

A `LogServer` (`engine.feed`) in a process of its own, started by `WriterProcess.start`,
so the process that serves never spends its time on JSON and SQLite. It finishes when its
stdin closes (the server stopped, or died): it reads what its feeds sent, writes it, exits.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from .feed import LogServer
from .store import RequestLog
from .visible import VisibleFormatter


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.logwriter", description="write a request log fed by LogFeeds"
    )
    parser.add_argument("log", type=Path)
    parser.add_argument("--listen-fd", type=int, required=True, help="a listening Unix socket")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger("routeconsole").addHandler(handler)
    # Ctrl-C reaches the whole process group; this process finishes when stdin closes instead,
    # once the server has stopped and sent its last traces.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    request_log = RequestLog(args.log)
    try:
        listener = socket.socket(fileno=args.listen_fd)
        # stdin closing is the cue to finish: the serving process closed it, or died.
        LogServer(request_log, listener).serve(stop_fd=sys.stdin.fileno())
    finally:
        request_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

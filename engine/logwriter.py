"""`serve`'s request log writer: `python -m engine.logwriter [LOG] --listen-fd N [--export ...]`.

A `LogServer` (`engine.feed`) in a process of its own, started by `WriterProcess.start`,
so the process that serves never spends its time on JSON and SQLite, nor on OpenTelemetry
spans: with `--export` each trace it receives also goes to a collector (`engine.otel`;
`--otlp URL`, or the SDK's variables). It finishes when its stdin closes (the server
stopped, or died): it reads what its feeds sent, writes it, sends the last spans, exits.
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
    parser.add_argument("log", type=Path, nargs="?", help="the request log (none: export only)")
    parser.add_argument("--listen-fd", type=int, required=True, help="a listening Unix socket")
    parser.add_argument("--export", action="store_true", help="export each trace to an OpenTelemetry collector")
    parser.add_argument("--otlp", help="the collector's OTLP/HTTP base URL (default: the SDK's variables)")
    parser.add_argument("--service", default="routeconsole", help="service.name, unless OTEL_SERVICE_NAME says")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger("routeconsole").addHandler(handler)
    # Ctrl-C reaches the whole process group; this process finishes when stdin closes instead,
    # once the server has stopped and sent its last traces.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exporter = None
    if args.export:
        try:
            from .otel import TraceExport

            exporter = TraceExport.start(None, service=args.service, otlp=args.otlp)
        except Exception:  # the log is still written
            logging.getLogger("routeconsole.otel").exception("OpenTelemetry export could not start")
    request_log = RequestLog(args.log) if args.log is not None else None
    try:
        listener = socket.socket(fileno=args.listen_fd)
        export = exporter.export_many if exporter is not None else None
        # stdin closing is the cue to finish: the serving process closed it, or died.
        LogServer(request_log, listener, export=export).serve(stop_fd=sys.stdin.fileno())
    finally:
        if request_log is not None:
            request_log.close()
        if exporter is not None:
            exporter.shutdown()  # the collector gets every span queued
    return 0


if __name__ == "__main__":
    sys.exit(main())

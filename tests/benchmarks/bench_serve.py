"""Serving benchmark: requests/s through hypercorn for a bare ASGI app, Starlette and the engine.

Run by hand (pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_serve.py             # 5 rounds, 10 s per app and round
    .venv/bin/python tests/benchmarks/bench_serve.py --quick     # 1 round, 3 s per app
    .venv/bin/python tests/benchmarks/bench_serve.py --pin       # server and load on a core each
    .venv/bin/python tests/benchmarks/bench_serve.py --seconds 20 --rounds 5 --client asyncio

Needs the bench extras (`pip install -e ".[bench]"`: starlette; the otlp row, the otel extra,
which the test extras include) and, preferably, `wrk`
(Debian: `apt-get install wrk`). Without wrk it falls back to a built-in asyncio client.

What it measures, in one run and in this order, each app on its own fresh server:

1. bare ASGI: a raw ASGI 3 callable answering 200 "Hello, world!" (text/plain, with
   content-length). The baseline: hypercorn's own cost per request.
2. Starlette: `Starlette(routes=[Route("/", hello)])` returning a `PlainTextResponse`.
3. engine (tracing on): `engine.create_app(app_dir, events=sink)` on a Next.js-style app
   written to a temporary directory; `GET /users/42` reaches the dynamic route
   `users/[id]/route.py`, an `async def GET(request, params)` returning
   `Response("Hello, world!")`. One subscriber on the `EventSink` counts the
   `RequestFinished` events, so every trace is built *and* delivered.
4. engine + 1 middleware: the same, `GET /orders/42` on `orders/[id]/route.py`, which has
   `middleware = [passthrough]` (`async def passthrough(request, next): return await next()`).
4b. engine + request log: (3) with the request log on, as `serve` ships: each trace sent
   over a Unix socket to a log writer process (`engine.feed.WriterProcess`), which appends
   it to SQLite (bar: >= 0.9x bare with the log on). As in `serve`, the feed is the only
   subscriber: the requests are counted by the rows in the log (and the traces the feed
   dropped, which must be none). With --pin the writer process runs on the load's CPU, not the
   server's: it is the process that does not serve.
4c. starlette sync: a plain `def` endpoint on `/sync`, which Starlette runs in its thread pool.
4d. engine sync + log: a plain `def GET` on `sync/[id]/route.py`, which the engine runs in
   its thread pool, with the request log on as `serve` ships (bar: at least 4c).
4e. engine + log + otlp: (4b) with OpenTelemetry export on, as `serve --otlp URL` ships it
   (needs the otel extra): the log writer process turns every trace it is sent into spans,
   which the SDK's batch processor sends over OTLP/HTTP with its default settings to a
   receiver on 127.0.0.1, a process of its own that accepts each POST and discards it (with
   --pin, beside the load, as the log writer). Information only: what export costs a server.
5. bare ASGI again, to show how much the machine drifted during the run.

Each app is served by hypercorn (asyncio loop, 1 worker, access log off, error log at
WARNING, otherwise hypercorn's defaults) in a child process of this script, so the load
generator and the server never share a GIL. The parent binds 127.0.0.1:0 and hands the
listening socket's fd to the child (`fd://N`), so there is no port race; it waits for a
correct answer ("200 Hello, world!"), runs a warm-up (2 s; 1 s with --quick), then the
measured run, then stops the child with SIGTERM (its shutdown trigger) and waits for it.
An engine child reports how many `RequestFinished` events its subscriber received; that
must match the requests the client completed (warm-up + run + the readiness probe), give
or take the requests in flight when the load stopped (at most one per connection and run).

Load: `wrk -t1 -c64 -d{N}s --latency` against 127.0.0.1 only. The machine has 2 cores and a
Python server saturates one of them: each server child uses 100% of a core (CPU time from
/proc) while wrk -t1 uses ~10% of the other, so the server is the bottleneck and wrk has
room to spare. wrk -t2 gave the same requests/s within noise but adds a second load thread
competing with the server and the OS for the two cores, so -t1 is the default
(`--wrk-threads 2` to compare). 64 connections keep the single event loop saturated, so the
latencies are mostly queueing (about connections divided by requests/s): compare them
between apps, not with a one-client latency. Without wrk, the fallback is a bounded asyncio
client in this process: 32 keep-alive connections on raw asyncio streams, each sending
`GET` and reading the response by Content-Length; it keeps up with these servers here, but
a faster server would make it the bottleneck, so prefer wrk.

Noise: this is a shared machine, and a 10 s run of the same server varies by 5-30% from
one run to the next (the bare row is repeated at the end to show the drift). So the
sequence (bare, starlette, engine, engine + middleware) runs 5 times by default
(`--rounds N`), each app's median run is reported, and the baseline is the median of all
bare runs. `--pin` puts every server on one CPU and this script and the load on the other:
runs vary less, the servers no longer migrate between cores, and all of them get faster,
bare most. `--instructions` measures something else, free of the noise: each app served
under valgrind (callgrind) for 100 and then 1,100 requests, the difference giving the
instructions one request costs the server process, hypercorn included.

Reported per app: requests/s, p50 and p99 latency, requests completed, non-2xx responses,
socket errors, and the ratio to bare ASGI (the median of all bare runs). The bars: engine
(tracing on) and engine + request log >= 0.9x bare; engine sync + log >= starlette sync.
They are judged on the bracketed ratio: in each round, the app against the bare runs that
open this round and the next (so the machine's drift over a round cancels out), the median
over the rounds. The middleware row is information only. Bars are a report, not
a test: the exit code is 1 only when a check fails (a wrong answer, a non-2xx response, or
the trace count not matching the requests).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import math
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BODY = b"Hello, world!"
BAR = 0.9
WRK_THREADS = 1
WRK_CONNECTIONS = 64
ASYNC_CONNECTIONS = 32
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
VALGRIND_TIMEOUT = 300.0  # a server under valgrind starts and stops some 50x slower

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ROUTE_FILE = """\
from engine import Response


async def GET(request, params):
    return Response("Hello, world!")
"""

SYNC_ROUTE_FILE = """\
from engine import Response


def GET(request, params):
    return Response("Hello, world!")
"""

MIDDLEWARE_ROUTE_FILE = """\
from engine import Response


async def passthrough(request, next):
    return await next()


middleware = [passthrough]


async def GET(request, params):
    return Response("Hello, world!")
"""


@dataclass(frozen=True)
class Case:
    label: str
    kind: str  # what the child serves: bare | starlette | engine
    path: str
    # "pass": >= BAR x bare decides PASS/FAIL; "sync": at least Starlette's sync endpoint;
    # "info": printed only; "": none
    bar: str = ""


CASES = (
    Case("bare ASGI", "bare", "/"),
    Case("starlette", "starlette", "/"),
    Case("engine (tracing on)", "engine", "/users/42", bar="pass"),
    Case("engine + 1 middleware", "engine", "/orders/42", bar="info"),
    Case("engine + request log", "engine-log", "/users/42", bar="pass"),
    Case("starlette sync", "starlette", "/sync"),
    Case("engine sync + log", "engine-log", "/sync/42", bar="sync"),
    Case("engine + log + otlp", "engine-log-otlp", "/users/42", bar="info"),
    Case("bare ASGI (again)", "bare", "/"),
)


@dataclass(frozen=True)
class Load:
    """What one load run measured."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    errors: int  # socket errors: connect, read, write, timeout


@dataclass(frozen=True)
class Row:
    case: Case
    load: Load
    warmup: Load
    probes: int
    report: dict[str, int]  # what the server child said at exit (engine: events delivered)


# --- the server child -------------------------------------------------------------------


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A raw ASGI 3 hello world."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("Hello, world!")

    def hello_sync(request: Any) -> PlainTextResponse:  # run in Starlette's thread pool
        return PlainTextResponse("Hello, world!")

    return Starlette(routes=[Route("/", hello), Route("/sync", hello_sync)])


class FinishedCounter:
    """An `EventSink` subscriber: counts `RequestFinished` events (delivered in batches on the loop)."""

    def __init__(self) -> None:
        import engine

        self._kind = engine.RequestFinished
        self.finished = 0
        self.ok = 0

    def __call__(self, event: object) -> None:
        if isinstance(event, self._kind):
            self.finished += 1
            if 200 <= event.trace.status < 300:
                self.ok += 1


def engine_app(app_dir: str, *, logged: bool = False, otlp: bool = False) -> tuple[Any, Callable[[], dict[str, int]]]:
    import tempfile

    import engine
    from engine.feed import WriterProcess

    sink = engine.EventSink()
    counter = FinishedCounter()
    if not logged:  # with the log, the log itself is the count: serve has no other subscriber
        sink.subscribe(counter)
    receiver = OtlpReceiver() if otlp else None
    app = engine.create_app(app_dir, events=sink, export=False)  # as serve: its log writer exports
    if app.table.conflicts:
        raise SystemExit(f"bench_serve: the engine app has problems: {app.table.conflicts}")
    # As `serve` ships: every trace sent to a log writer process, which appends it to the
    # SQLite log (engine.feed).
    log_path = Path(tempfile.mkdtemp()) / "log.sqlite3"
    otlp_url = receiver.url if receiver is not None else None
    writer = WriterProcess.start(log_path, export=otlp, otlp=otlp_url, service="app") if logged else None
    if writer is not None and os.environ.get("BENCH_WRITER_CPU"):  # --pin: the writer beside the load
        os.sched_setaffinity(writer.process.pid, {int(os.environ["BENCH_WRITER_CPU"])})
    feed = writer.feed() if writer is not None else None
    if feed is not None:
        feed.attach(sink)

    def report() -> dict[str, int]:
        delivered = sink.flush(STOP_TIMEOUT)
        app.close()
        if feed is None or writer is None:
            return {"finished": counter.finished, "ok": counter.ok, "flushed": int(delivered)}
        feed.close()
        writer.stop()  # with export on, the writer sends the spans still queued before it exits
        exported = receiver.stop() if receiver is not None else {}
        # Counted by SQLite, not by reading the rows back: this process is the one measured
        # (--instructions counts it to its exit), and decoding every row cost it more per
        # request than the feed itself.
        with contextlib.closing(sqlite3.connect(log_path)) as written:
            rows, ok = written.execute(
                "SELECT count(*), coalesce(sum(status BETWEEN 200 AND 299), 0) FROM requests"
            ).fetchone()
        return {
            "finished": rows,
            "ok": ok,
            "flushed": int(delivered),
            "logged": rows,
            "dropped": feed.dropped,
            **exported,
        }

    return app, report


class OtlpReceiver:
    """`--receive`, in a process of its own: an OTLP/HTTP endpoint on 127.0.0.1 that accepts
    every POST and discards it; at SIGTERM it says how many it took and how many bytes."""

    def __init__(self) -> None:
        command = [sys.executable, os.path.abspath(__file__), "--receive"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        if os.environ.get("BENCH_WRITER_CPU"):  # --pin: beside the load, as the log writer
            os.sched_setaffinity(self.process.pid, {int(os.environ["BENCH_WRITER_CPU"])})
        self.url = f"http://{HOST}:{port}"

    def stop(self) -> dict[str, int]:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=STOP_TIMEOUT)
        taken = json.loads(out.strip().splitlines()[-1])
        return {"otlp_posts": taken["posts"], "otlp_bytes": taken["bytes"]}


def receive_child() -> int:
    """`--receive`: print the port, take POSTs until SIGTERM, then print what was taken."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    taken = {"posts": 0, "bytes": 0}

    class Discard(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a collector answers

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            taken["posts"] += 1
            taken["bytes"] += len(body)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Discard)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.1)
    print(json.dumps(taken), flush=True)
    return 0


def build_app(kind: str, app_dir: str) -> tuple[Any, Callable[[], dict[str, int]]]:
    if kind == "bare":
        return bare_app, dict
    if kind == "starlette":
        return starlette_app(), dict
    if kind == "engine":
        return engine_app(app_dir)
    if kind == "engine-log":
        return engine_app(app_dir, logged=True)
    if kind == "engine-log-otlp":
        return engine_app(app_dir, logged=True, otlp=True)
    raise SystemExit(f"bench_serve: unknown app kind {kind!r}")


def hypercorn_config(fd: int) -> Any:
    from hypercorn.config import Config

    errorlog = logging.getLogger("bench_serve.hypercorn")
    errorlog.setLevel(logging.WARNING)
    config = Config()
    config.bind = [f"fd://{fd}"]
    config.accesslog = None
    config.errorlog = errorlog
    config.workers = 1
    return config


async def serve(app: Any, fd: int) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await hypercorn_serve(app, hypercorn_config(fd), shutdown_trigger=stop.wait)


def serve_child(kind: str, app_dir: str, fd: str) -> int:
    """`--serve KIND APP_DIR FD`: serve until SIGTERM, then print a JSON report on stdout."""
    logging.basicConfig(level=logging.WARNING, format="[server %(name)s] %(levelname)s %(message)s")
    app, report = build_app(kind, app_dir)
    asyncio.run(serve(app, int(fd)))
    print(json.dumps(report()), flush=True)
    return 0


# --- the parent: servers ----------------------------------------------------------------


def write_engine_app(root: Path) -> Path:
    app_dir = root / "app"
    for folder, source in (("users", ROUTE_FILE), ("orders", MIDDLEWARE_ROUTE_FILE), ("sync", SYNC_ROUTE_FILE)):
        route = app_dir / folder / "[id]" / "route.py"
        route.parent.mkdir(parents=True)
        route.write_text(source)
    return app_dir


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class ServerProcess:
    """One hypercorn child serving one app on an ephemeral 127.0.0.1 port."""

    def __init__(self, kind: str, app_dir: Path, cpu: int | None = None, wrapper: Sequence[str] = ()) -> None:
        sock = listening_socket()
        self.port: int = sock.getsockname()[1]
        fd = sock.fileno()
        command = [*wrapper, sys.executable, os.path.abspath(__file__), "--serve", kind, str(app_dir), str(fd)]
        pin = None if cpu is None else functools.partial(os.sched_setaffinity, 0, {cpu})
        try:
            self.proc = subprocess.Popen(command, pass_fds=(fd,), stdout=subprocess.PIPE, text=True, preexec_fn=pin)
        finally:
            sock.close()  # the child has its own copy

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def wait_ready(self, path: str, timeout: float = READY_TIMEOUT) -> None:
        """Poll until the app answers 200 "Hello, world!"; anything else is fatal."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench_serve: the server exited with {self.proc.returncode} before it was ready")
            try:
                status, body = http_get(self.port, path)
            except OSError:
                time.sleep(0.05)
                continue
            if status != 200 or body != BODY:
                raise SystemExit(f"bench_serve: GET {path} answered {status} {body[:200]!r}, not 200 {BODY!r}")
            return
        raise SystemExit(f"bench_serve: the server did not answer within {timeout:g} s")

    def stop(self, timeout: float = STOP_TIMEOUT) -> dict[str, int]:
        """SIGTERM (the child's shutdown trigger), wait, and read the child's report."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise SystemExit("bench_serve: the server did not stop on SIGTERM") from None
        if self.proc.returncode != 0:
            raise SystemExit(f"bench_serve: the server exited with {self.proc.returncode}")
        lines = out.strip().splitlines()
        return json.loads(lines[-1]) if lines else {}

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:  # only on an error path: stop() was not reached
            self.proc.kill()
            self.proc.communicate()


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """One `GET` on its own connection (Connection: close); returns (status, body)."""
    with socket.create_connection((HOST, port), timeout=timeout) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2:
        raise ConnectionError(f"not an HTTP response: {head[:100]!r}")
    return int(status_line[1]), body


# --- the parent: load generators -------------------------------------------------------

LoadFn = Callable[[str, int], Load]
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_load(threads: int, connections: int) -> LoadFn:
    def run(url: str, seconds: int) -> Load:
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
        if done.returncode != 0:
            raise SystemExit(f"bench_serve: {' '.join(command)} failed:\n{done.stdout}{done.stderr}")
        return parse_wrk(done.stdout)

    return run


def parse_wrk(out: str) -> Load:
    def number(pattern: str, default: str | None = None) -> str:
        found = re.search(pattern, out, re.MULTILINE)
        if found is None:
            if default is None:
                raise SystemExit(f"bench_serve: cannot find {pattern!r} in wrk's output:\n{out}")
            return default
        return found.group(1)

    def percentile(p: int) -> float:
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
        if found is None:
            raise SystemExit(f"bench_serve: no {p}% latency in wrk's output:\n{out}")
        return float(found.group(1)) * _UNITS_MS[found.group(2)]

    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Load(
        rps=float(number(r"^Requests/sec:\s+([\d.]+)")),
        p50_ms=percentile(50),
        p99_ms=percentile(99),
        requests=int(number(r"^\s+(\d+) requests in ")),
        non_2xx=int(number(r"Non-2xx or 3xx responses: (\d+)", "0")),
        errors=sum(int(n) for n in sock.groups()) if sock else 0,
    )


@dataclass
class _Tally:
    latencies: list[float]
    non_2xx: int = 0
    errors: int = 0


def asyncio_load(connections: int) -> LoadFn:
    def run(url: str, seconds: int) -> Load:
        port, path = _port_and_path(url)
        tally = _Tally([])
        start = time.perf_counter()
        asyncio.run(_drive(port, path, connections, start + seconds, tally))
        elapsed = time.perf_counter() - start
        latencies = sorted(tally.latencies)
        return Load(
            rps=len(latencies) / elapsed,
            p50_ms=_percentile(latencies, 0.50) * 1000.0,
            p99_ms=_percentile(latencies, 0.99) * 1000.0,
            requests=len(latencies),
            non_2xx=tally.non_2xx,
            errors=tally.errors,
        )

    return run


def _port_and_path(url: str) -> tuple[int, str]:
    found = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/.*)", url)
    if found is None:
        raise SystemExit(f"bench_serve: only http://{HOST} is a target, not {url}")
    return int(found.group(1)), found.group(2)


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _drive(port: int, path: str, connections: int, deadline: float, tally: _Tally) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    workers = [_connection(port, request, deadline, tally) for _ in range(connections)]
    # Bounded twice: each connection stops at the deadline, and the whole run is cut off.
    await asyncio.wait_for(asyncio.gather(*workers), timeout=deadline - time.perf_counter() + 10.0)


async def _connection(port: int, request: bytes, deadline: float, tally: _Tally) -> None:
    """One keep-alive connection sending requests back to back until the deadline."""
    while time.perf_counter() < deadline:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            tally.errors += 1
            await asyncio.sleep(0.01)
            continue
        try:
            await _requests(reader, writer, request, deadline, tally)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            tally.errors += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _requests(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, deadline: float, tally: _Tally
) -> None:
    """Requests on one connection until the deadline or until the server closes it."""
    while (t0 := time.perf_counter()) < deadline:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = dict(line.lower().split(":", 1) for line in lines[1:] if ":" in line)
        await reader.readexactly(int(fields.get("content-length", "0")))
        tally.latencies.append(time.perf_counter() - t0)
        if not 200 <= status < 300:
            tally.non_2xx += 1
        if fields.get("connection", "").strip() == "close":
            return  # hypercorn closes a connection after keep_alive_max_requests


# --- the parent: instructions per request (--instructions) ------------------------------

INSTR_REQUESTS = (100, 1_100)  # two runs per app; their difference cancels start and stop
INSTR_CONNECTIONS = 16


def count_instructions(app_dir: Path, cpu: int | None) -> int:
    """Each app's CPU instructions per request, counted by valgrind (callgrind): what the
    server executes for one more request, whatever else the machine is doing."""
    if shutil.which("valgrind") is None:
        raise SystemExit("bench_serve: --instructions needs valgrind (Debian: apt-get install valgrind)")
    print(
        "instructions per request under valgrind: each app served twice, for "
        f"{INSTR_REQUESTS[0]:,} and {INSTR_REQUESTS[1]:,} requests over {INSTR_CONNECTIONS} connections"
    )
    counted: list[tuple[Case, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench_serve_cg_") as out:
        for case in CASES[:-1]:
            totals = [_instructions(case, app_dir, n, Path(out), cpu) for n in INSTR_REQUESTS]
            per_request = (totals[1] - totals[0]) / (INSTR_REQUESTS[1] - INSTR_REQUESTS[0])
            counted.append((case, per_request))
            print(f"  {case.label}: {per_request:,.0f} instructions/request", flush=True)
    base = counted[0][1]
    print()
    print(f"{'app':<24} {'instructions/request':>21} {'vs bare':>8} {'bare/app':>9}")
    for case, per_request in counted:
        print(f"{case.label:<24} {per_request:>21,.0f} {per_request / base:>7.3f}x {base / per_request:>8.2f}x")
    print()
    print("bare/app is the requests/s ratio a CPU-bound server would reach if time went with instructions;")
    print("it leaves out memory and cache effects, which the requests/s runs include.")
    return 0


def _instructions(case: Case, app_dir: Path, requests: int, out: Path, cpu: int | None) -> int:
    prefix = out / f"{case.kind}-{case.path.strip('/').replace('/', '_')}-{requests}"
    wrapper = ["valgrind", "-q", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p"]
    with ServerProcess(case.kind, app_dir, cpu, wrapper) as server:
        server.wait_ready(case.path, timeout=VALGRIND_TIMEOUT)
        asyncio.run(_fixed_requests(server.port, case.path, requests, INSTR_CONNECTIONS))
        server.stop(timeout=VALGRIND_TIMEOUT)
    total = 0
    for dump in out.glob(f"{prefix.name}.*"):
        found = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(errors="replace"), re.MULTILINE)
        if found:
            total += int(found.group(1))
    if not total:
        raise SystemExit(f"bench_serve: valgrind wrote no totals for {case.label}")
    return total


async def _fixed_requests(port: int, path: str, total: int, connections: int) -> None:
    """Exactly `total` GETs over keep-alive connections; each answer must be 200 Hello, world!"""
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    left = [total]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while left[0] > 0:
                left[0] -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200 ") or await reader.readexactly(len(BODY)) != BODY:
                    raise SystemExit(f"bench_serve: GET {path} did not answer 200 {BODY!r}: {head[:200]!r}")
        finally:
            writer.close()

    await asyncio.wait_for(asyncio.gather(*(connection() for _ in range(connections))), timeout=600)


# --- the parent: the run and the report ------------------------------------------------


def measure(case: Case, app_dir: Path, load: LoadFn, seconds: int, warmup: int, cpu: int | None) -> Row:
    with ServerProcess(case.kind, app_dir, cpu) as server:
        server.wait_ready(case.path)
        url = server.url(case.path)
        warm = load(url, warmup)
        result = load(url, seconds)
        report = server.stop()
    return Row(case, result, warm, 1, report)


def run_all(app_dir: Path, load: LoadFn, seconds: int, warmup: int, rounds: int, cpu: int | None) -> list[list[Row]]:
    """Every case's runs, in `CASES` order: `rounds` times bare, starlette, engine, engine +
    middleware, then bare once more."""
    runs: list[list[Row]] = [[] for _ in CASES]
    order = [i for _ in range(rounds) for i in range(len(CASES) - 1)] + [len(CASES) - 1]
    for n, index in enumerate(order, 1):
        case = CASES[index]
        print(f"  [{n}/{len(order)}] {case.label} (GET {case.path}) ...", flush=True)
        runs[index].append(measure(case, app_dir, load, seconds, warmup, cpu))
    return runs


def median_run(rows: list[Row]) -> Row:
    """The run with the median requests/s (the lower middle one for an even count)."""
    ordered = sorted(rows, key=lambda r: r.load.rps)
    return ordered[(len(ordered) - 1) // 2]


def print_table(rows: list[Row], base: float) -> None:
    header = f"{'app':<24} {'path':<11} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} "
    header += f"{'non-2xx':>8} {'sock err':>8} {'vs bare':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        load = row.load
        print(
            f"{row.case.label:<24} {row.case.path:<11} {load.rps:>9,.0f} {load.p50_ms:>8.2f} {load.p99_ms:>8.2f} "
            f"{load.requests:>9,} {load.non_2xx:>8,} {load.errors:>8,} {load.rps / base:>7.2f}x"
        )


def print_runs(runs: list[list[Row]]) -> None:
    print("every run (req/s; the table shows each app's median run):")
    for rows in runs:
        print(f"  {rows[0].case.label:<24} " + ", ".join(f"{r.load.rps:,.0f}" for r in rows))


def check_traces(row: Row, connections: int) -> bool:
    """The engine's subscriber must have seen one RequestFinished per request served."""
    completed = row.warmup.requests + row.load.requests + row.probes
    finished, ok = row.report.get("finished", -1), row.report.get("ok", -1)
    extra = finished - completed
    # Up to one request per connection and load run was in flight when the load stopped, and
    # a request the client gave up on (a socket error) may still have been served.
    slack = 2 * connections + row.warmup.errors + row.load.errors
    good = row.report.get("flushed") == 1 and ok == finished and 0 <= extra <= slack
    logged = row.report.get("logged")
    if logged is not None:  # the log is the count: every request served is a row, none dropped
        good = good and row.report.get("dropped") == 0
    posts = row.report.get("otlp_posts")
    if posts is not None:  # export on: the receiver took batches (how many spans, it does not decode)
        good = good and posts > 0
    print(
        f"  {row.case.label}: {finished:,} RequestFinished delivered ({ok:,} 2xx) for {completed:,} requests "
        f"completed by the client (warm-up {row.warmup.requests:,} + run {row.load.requests:,} + "
        f"{row.probes} probe); {extra:+,} in flight at the stop"
        + ("" if logged is None else f" (rows in the log; {row.report.get('dropped')} dropped)")
        + ("" if posts is None else f"; {posts:,} OTLP posts, {row.report.get('otlp_bytes', 0):,} bytes")
        + f": {'ok' if good else 'MISMATCH'}"
    )
    return good


def bracketed(runs: list[list[Row]]) -> dict[str, float]:
    """Each app against the bare runs around it: in round r, its requests/s over the
    geometric mean of round r's bare run and the next one (round r+1's, or the last "again"
    run), whose drift thus cancels out; the median over the rounds. A round takes a minute or
    more, and this machine's speed wanders by 5-10% in that time: measured against the one
    median baseline, a late app in a slow round looked slower than it was (or faster)."""
    bare = [r.load.rps for r in runs[0]] + [r.load.rps for r in runs[-1]]
    ratios: dict[str, float] = {}
    for rows in runs[1:-1]:
        each = [row.load.rps / math.sqrt(bare[n] * bare[n + 1]) for n, row in enumerate(rows)]
        ratios[rows[0].case.label] = statistics.median(each)
    return ratios


def print_bars(rows: list[Row], base: float, ratios: dict[str, float]) -> None:
    """Each bar, judged on the bracketed ratio (see `bracketed`); the table's ratio beside it."""
    sync = ratios.get("starlette sync")
    for row in rows:
        ratio = ratios.get(row.case.label)
        if ratio is None:
            continue
        if row.case.bar == "pass":
            verdict, bar = ("PASS" if ratio >= BAR else "FAIL"), f"{BAR}x"
        elif row.case.bar == "sync" and sync is not None:
            verdict, bar = ("PASS" if ratio >= sync else "FAIL"), f"{sync:.2f}x, starlette sync"
        elif row.case.bar == "info":
            verdict, bar = "info", f"{BAR}x"
        else:
            continue
        print(
            f"{verdict:<5} {row.case.label}: {ratio:.3f}x bare ASGI, bracketed (bar: >= {bar}); "
            f"median run against the median bare run: {row.load.rps / base:.2f}x"
        )


def report(runs: list[list[Row]], connections: int, describe: str) -> int:
    every = [r for rows in runs for r in rows]
    table = [median_run(rows) for rows in runs]
    bare = [r.load.rps for r in every if r.case.kind == "bare"]
    base = statistics.median(bare)
    first, last = runs[0][0].load.rps, runs[-1][-1].load.rps  # the first and the last run of all
    starlette = next(r.load.rps for r in table if r.case.kind == "starlette")
    print()
    print(describe)
    print()
    print_table(table, base)
    print()
    if len(runs[0]) > 1:
        print_runs(runs)
    print(f"bare ASGI baseline: {base:,.0f} req/s, the median of {len(bare)} bare runs")
    print(f"drift: the last bare run is {(last - first) / first * 100.0:+.1f}% off the first")
    print(f"starlette / bare: {starlette / base:.2f}x")
    print()
    print("traces (engine runs):")
    traces_ok = all([check_traces(r, connections) for r in every if r.case.kind.startswith("engine")])
    print()
    print_bars(table, base, bracketed(runs))
    clean = all(r.load.non_2xx == 0 and r.warmup.non_2xx == 0 for r in every)
    if not clean:
        print("CHECK FAILED: non-2xx responses (see the table)")
    return 0 if traces_ok and clean else 1


def describe_run(
    client: str, threads: int, connections: int, seconds: int, warmup: int, rounds: int, server_cpu: int | None
) -> str:
    from importlib.metadata import version

    load = f"wrk -t{threads} -c{connections}" if client == "wrk" else f"asyncio client, {connections} connections"
    repeat = f", {rounds} rounds" if rounds > 1 else ""
    if server_cpu is not None:
        repeat += f"; servers pinned to CPU {server_cpu}, the load to another"
    return textwrap.fill(
        f"hypercorn {version('hypercorn')} (asyncio loop, 1 worker) on {HOST}, one server process per app; "
        f"load: {load}, {seconds} s per app after a {warmup} s warm-up{repeat}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs",
        width=100,
    )


def choose_client(wanted: str) -> str:
    if wanted == "auto":
        return "wrk" if shutil.which("wrk") else "asyncio"
    if wanted == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("bench_serve: wrk is not installed (apt-get install wrk), or use --client asyncio")
    return wanted


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10, help="measured seconds per app (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 s per app and a 1 s warm-up")
    parser.add_argument("--client", choices=("auto", "wrk", "asyncio"), default="auto", help="load generator")
    parser.add_argument("--wrk-threads", type=int, default=WRK_THREADS, help=f"wrk -t (default {WRK_THREADS})")
    parser.add_argument(
        "--connections", type=int, help=f"default {WRK_CONNECTIONS} (wrk), {ASYNC_CONNECTIONS} (asyncio)"
    )
    parser.add_argument(
        "--rounds", type=int, help="repeat the sequence; report each app's median run (default 5; 1 with --quick)"
    )
    parser.add_argument("--pin", action="store_true", help="the server on one CPU, this script and the load on another")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per request under valgrind instead"
    )
    parser.add_argument("--serve", nargs=3, metavar=("KIND", "APP_DIR", "FD"), help=argparse.SUPPRESS)
    parser.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 1 if args.quick else 5
    if args.seconds < 1 or args.rounds < 1:
        parser.error("--seconds and --rounds must be at least 1")
    if args.pin and len(os.sched_getaffinity(0)) < 2:
        parser.error("--pin needs two CPUs")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        return serve_child(*args.serve)
    if args.receive:
        return receive_child()
    seconds, warmup = (3, 1) if args.quick else (args.seconds, 2)
    client = choose_client(args.client)
    if client == "wrk":
        connections = args.connections or WRK_CONNECTIONS
        load = wrk_load(args.wrk_threads, connections)
    else:
        connections = args.connections or ASYNC_CONNECTIONS
        load = asyncio_load(connections)
    server_cpu = None
    if args.pin:  # this process, and so the load generator, on one CPU; each server on another
        load_cpu, server_cpu = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, {load_cpu})
        os.environ["BENCH_WRITER_CPU"] = str(load_cpu)  # serve's log writer: not where the server runs
    if args.instructions:
        with tempfile.TemporaryDirectory(prefix="bench_serve_") as tmp:
            return count_instructions(write_engine_app(Path(tmp)), server_cpu)
    describe = describe_run(client, args.wrk_threads, connections, seconds, warmup, args.rounds, server_cpu)
    print(describe, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_serve_") as tmp:
        runs = run_all(write_engine_app(Path(tmp)), load, seconds, warmup, args.rounds, server_cpu)
    return report(runs, connections, describe)


if __name__ == "__main__":
    sys.exit(main())

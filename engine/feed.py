"""The request log's feed: finished traces leave the process that serves for the one that writes.

    serving process                              writing process
    LogFeed ── frames over a Unix socket ──────▶ LogServer ──▶ RequestLog (SQLite, WAL)
    (subscribed to the app's EventSink)          (a thread: the console's supervisor,
                                                  or `python -m engine.logwriter` for `serve`)

Why the log is written in another process: measured with callgrind (`bench_serve.py
--instructions`), a request log written by a thread inside the serving process cost that
process 256,000 instructions per request (JSON-encoding the trace, SQLite, and the writer
thread waking to take the interpreter lock from the event loop): a third more than
hypercorn's own ~940,000, and 0.77x a bare ASGI app in requests/s. Here the serving
process only flattens the traces that finished in one turn of its event loop into tuples
of strings, numbers and bytes, `marshal`s them, and sends them in one write on a
non-blocking socket; the JSON and SQLite work happens in a process that does not serve.
Packing them together, after the turn, matters as much as packing little: packed one by
one between hypercorn's steps, that code ran with cold CPU caches and cost the server about
three times what it costs in a loop. Measured side by side (`serve` with its log against a
bare ASGI app, each figure the median of 5-10 bracketed rounds): packed per request, 0.84x;
after the turn, 0.88x; after the turn in one `marshal` call (`to_frame`), 0.88-0.95x over seven
such runs (median 0.90x), where the engine with no log at all measured a median of 0.92x.
Written in C (`fast_frame`, engine/_fastwire.c, where it was built), the packing costs a fifth
of its 17,000 instructions per request: 0.92-0.93x.

Frames: a 4-byte big-endian length, then `to_frame([to_wire(trace), ...])`, or the same
values as `fast_frame` writes them (marshal's format without back-references). A Unix stream
socket, not a pipe: several worker processes connect to one `LogServer` each on a
connection of their own, so frames never interleave. The socket lives in a folder only
this user can enter (`mkdtemp`, 0700).

`marshal` and trust: marshal is not meant for data from strangers, and the frames come from
the process running route code. That code already runs as this user with this user's
powers (it can signal or trace the console); the reader still checks each frame's shape
and drops, with a warning, any that is not a trace, and a frame too large to be one closes
that connection instead of being read.

Losing nothing: each trace is taken as it is published, before the last part of its
response is sent (`EventSink.subscribe(..., at_once=True)`), and the traces of one turn of
the event loop are packed and go to the kernel in one send right after that turn. A
serving process that ends, cleanly or by `os._exit` in route code (`send_before_exit`),
leaves the trace of every request it answered in the socket, and the writer reads them
all before it notices the end; a segfault or SIGKILL can take the traces of the turn it
interrupts. Only when the writer falls behind by more than the socket's buffer do frames
wait in the serving process (`LogFeed`'s drain thread), and only those would die with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import marshal
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, NoReturn, cast, get_args

from .events import EventSink, RequestFinished
from .matcher import PURE_PYTHON_ENV
from .store import RequestLog, connect
from .trace import Layer, Message, Outcome, Span, SpanKind, Trace

log = logging.getLogger("routeconsole.log")

FRAME: Final = struct.Struct(">I")
MAX_FRAME: Final = 16 * 1024 * 1024  # a frame holds about BATCH_BYTES of bodies: far above any real one
MAX_PENDING: Final = 256 * 1024 * 1024  # bytes a feed holds while its writer catches up; then it drops
MAX_BATCH: Final = 2000  # traces per transaction
BATCH_BYTES: Final = 4 * 1024 * 1024  # bodies' bytes per frame: a turn's traces may span several
RECV_SIZE: Final = 256 * 1024
SEND_BUFFER: Final = (
    4 * 1024 * 1024
)  # asked of the kernel (which may give less): frames a sleeping writer leaves queued
# PERF: seconds a trace may wait for others to share its transaction. A commit per trace
# cost the writer ~4x more CPU under load; 20 ms keeps commits under 50/s, and a request
# still reaches the console's list well inside the 100 ms a person notices.
GATHER: Final = 0.02
DRAIN_TIMEOUT: Final = 10.0  # seconds a stopping writer waits for its feeds to finish
WIRE_VERSION: Final = 2  # 2: a frame holds a list of traces
_KINDS: Final = frozenset(get_args(SpanKind))
_LAYERS: Final = frozenset(get_args(Layer))
_OUTCOMES: Final = frozenset(get_args(Outcome))


try:  # the same frames written in C, built by setup.py where a compiler is (engine/_fastwire.c)
    from . import _fastwire
except ImportError:  # pragma: no cover - to_wire and to_frame below do the same, slower
    _fastwire = None  # type: ignore[assignment]


class FeedError(ValueError):
    """A frame that does not hold a trace."""


# The wire form of a trace --------------------------------------------------------------


def to_wire(trace: Trace) -> tuple[Any, ...]:
    """A trace as a tuple of marshal-able values (str, int, float, bytes, None, lists, dicts)."""
    request, response = trace.request, trace.response
    return (
        WIRE_VERSION,
        trace.id,
        trace.time,
        trace.method,
        trace.path,
        trace.query,
        trace.status,
        trace.duration_ms,
        trace.route,
        tuple(trace.client) if trace.client else None,
        trace.source,
        trace.replay_of,
        (request.headers, request.body, request.truncated, request.size),
        (response.headers, response.body, response.truncated, response.size),
        [
            (s.kind, s.layer, s.name, s.file, s.line, s.start_ms, s.duration_ms, s.outcome, s.context, s.error)
            for s in trace.spans
        ],
    )


def to_frame(wires: list[tuple[Any, ...]]) -> bytes:
    """A frame's payload: `to_wire` tuples, in one `marshal` (ValueError for an object it
    cannot write).

    PERF: one call for the traces of a turn, in marshal's format 4, which writes a string or
    tuple it has written before as a reference: the pattern, the file, the span's names and
    the header names recur in every trace. Per trace, that halves both the time (1.1 to
    0.5 us) and the bytes against a call per trace in format 2.
    """
    return marshal.dumps(wires, 4)


def fast_frame() -> Callable[[list[Trace]], bytes | None] | None:
    """`traces -> FRAME.pack(len(payload)) + payload` in C, where `marshal.loads(payload)` is
    what `[to_wire(t) for t in traces]` is; None when it was not built (or Python is asked
    for). The C code answers None itself for a turn it does not take: a value of a type it
    does not write, or a payload over BATCH_BYTES.

    PERF: packing cost the server ~17,000 instructions per request in Python (`to_wire`,
    `marshal`), the largest part of what the log costs it; this is a fifth of that.
    """
    if _fastwire is None or os.environ.get(PURE_PYTHON_ENV):
        return None
    return _fastwire.Encoder(Trace, Message, Span, WIRE_VERSION, BATCH_BYTES)


def from_wire(data: bytes) -> list[Trace]:
    """The traces a frame holds; `FeedError` if it holds anything else."""
    try:
        value: Any = marshal.loads(data)
    except (ValueError, TypeError, EOFError) as exc:
        raise FeedError(f"a frame that is not marshal data ({exc})") from exc
    if type(value) is not list:
        raise FeedError("a frame that is not a list of traces")
    return [_trace(item) for item in value]


def _trace(value: Any) -> Trace:
    # PERF: `type(x) is T` checks, field by field: the writer checks every trace it writes.
    if type(value) is not tuple or len(value) != 15 or value[0] != WIRE_VERSION:
        raise FeedError("a frame that is not a trace of this version")
    (_, id_, at, method, path, query, status, duration, route, client, source, replay_of, rq, rs, spans) = value
    if not (
        type(id_) is str
        and type(at) is float
        and type(method) is str
        and type(path) is str
        and type(query) is str
        and type(status) is int
        and type(duration) is float
        and type(source) is str
        and type(spans) is list
        and (replay_of is None or type(replay_of) is int)
        and (client is None or (type(client) is tuple and len(client) == 2 and type(client[0]) is str))
        and (route is None or (type(route) is dict and _plain(route)))
    ):
        raise FeedError("a frame whose fields are not a trace's")
    return Trace(
        id_,
        at,
        method,
        path,
        query,
        status=status,
        duration_ms=duration,
        route=route,
        request=_message(rq),
        response=_message(rs),
        spans=[_span(s) for s in spans],
        client=client,
        source=source,
        replay_of=replay_of,
    )


def _plain(value: object, depth: int = 0) -> bool:
    """Whether `value` is JSON's kind of data (what a trace's route holds)."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if depth > 8:
        return False
    if isinstance(value, list | tuple):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _message(value: Any) -> Message:
    if not (type(value) is tuple and len(value) == 4):
        raise FeedError("a frame whose request or response is not a message")
    headers, body, truncated, size = value
    if not (
        type(headers) is list
        and type(body) is bytes
        and type(truncated) is bool
        and type(size) is int
        and all(type(h) is tuple and len(h) == 2 and type(h[0]) is bytes and type(h[1]) is bytes for h in headers)
    ):
        raise FeedError("a frame whose message fields are not a message's")
    return Message(headers, body, truncated, size)


def _span(value: Any) -> Span:
    if not (type(value) is tuple and len(value) == 10):
        raise FeedError("a frame whose span is not a span")
    kind, layer, name, file, line, start, duration, outcome, context, error = value
    if not (
        kind in _KINDS
        and layer in _LAYERS
        and (outcome is None or outcome in _OUTCOMES)
        and type(name) is str
        and type(start) is float
        and type(duration) is float
        and (file is None or type(file) is str)
        and (line is None or type(line) is int)
        and (error is None or type(error) is str)
        and type(context) is list
        and all(type(item) is str for item in context)
    ):
        raise FeedError("a frame whose span fields are not a span's")
    return Span(cast(SpanKind, kind), cast(Layer, layer), name, file, line, start, duration, outcome, context, error)


# The serving end ------------------------------------------------------------------------


class LogFeed:
    """Sends each finished trace to a `LogServer`: `attach(sink)`, and `close()` when done.

    `send` never blocks: a frame goes to the socket at once; what the socket cannot take
    (its writer is behind) waits here, for a thread that sends it as the socket drains.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self._sock = sock
        self._pending = bytearray()
        self._held: list[Trace] = []  # traces finished in this turn of the event loop, not sent yet
        self._fast = fast_frame()
        # PERF: the request path takes the plain lock (a C-level `with`); the drain thread and
        # close() wait on a condition over the same lock.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._open = True
        self._closing = False
        self._drainer: threading.Thread | None = None
        self._unsubscribe: Any = None
        self.dropped = 0  # traces not sent: the writer had gone, or fell MAX_PENDING behind

    @classmethod
    def connect(cls, address: str) -> LogFeed:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(False)  # programs route code starts must not hold the log open
        return cls(sock)

    def attach(self, sink: EventSink) -> None:
        # At once, not batched: the trace reaches the kernel before its response is complete.
        self._unsubscribe = sink.subscribe(self._on_event, at_once=True)

    def _on_event(self, event: object) -> None:
        if isinstance(event, RequestFinished):
            self.send(event.trace)

    def send(self, trace: Trace) -> None:
        # PERF: the trace is held as it is and packed in flush(), with the others that
        # finished in this turn of the event loop. Packed one at a time here, between
        # hypercorn's steps, `to_wire` and `marshal` ran cold and cost the server ~3x what
        # they cost in a loop of their own; in a row they stay in the CPU's caches.
        with self._lock:
            held = self._held
            held.append(trace)
            if len(held) > 1:
                return  # their flush is due already
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop on this thread: send here and now
            self.flush()
            return
        # PERF: one send for the traces finished in this turn of the event loop, not one
        # each (a send per request cost the server ~5% of its requests/s). Holding them
        # longer (2 ms) measured no faster, and a SIGKILL would take them.
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Send the traces held (called by the loop after the turn that finished them; by
        `send_before_exit` before the process ends; by `close`)."""
        with self._lock:
            if not self._held:
                return
            traces, self._held = self._held, []
            if not self._open:
                self.dropped += len(traces)
                return
            frames, count = self._pack(traces)
            if not count:
                return
            if self._pending:  # frames wait already: keep the order
                self._hold(frames, count)
                return
            try:
                sent = self._sock.send(frames)
            except BlockingIOError:
                sent = 0
            except OSError:  # the writer has gone
                self._open = False
                self.dropped += count
                return
            if sent < len(frames):
                self._hold(memoryview(frames)[sent:], count if sent == 0 else 0)

    def _pack(self, traces: list[Trace]) -> tuple[bytes, int]:
        """The frames of `traces`, and how many traces they hold. A trace that cannot be
        sent (route code put an object of its own into its params, or a frame would exceed
        MAX_FRAME) is dropped with a warning; the others go."""
        if self._fast is not None:
            frame = self._fast(traces)
            if frame is not None:
                return frame, len(traces)
        frames: list[bytes] = []
        count = 0
        batch: list[tuple[Any, ...]] = []
        size = 0
        for trace in traces:
            batch.append(to_wire(trace))
            size += len(trace.request.body) + len(trace.response.body)  # what may make a frame big
            if size > BATCH_BYTES:
                count += self._frames(batch, frames)
                batch, size = [], 0
        if batch:
            count += self._frames(batch, frames)
        return b"".join(frames), count

    def _frames(self, wires: list[tuple[Any, ...]], frames: list[bytes]) -> int:
        """Append the frame(s) of `wires` to `frames`; how many traces they hold."""
        try:
            data = to_frame(wires)
        except ValueError as exc:  # rare: find the trace at fault, send the rest
            if len(wires) == 1:
                return self._drop(wires[0], str(exc))
            return sum(self._frames([wire], frames) for wire in wires)
        if len(data) > MAX_FRAME:
            if len(wires) == 1:
                return self._drop(wires[0], f"{len(data)} bytes, more than a frame holds")
            half = len(wires) // 2
            return self._frames(wires[:half], frames) + self._frames(wires[half:], frames)
        frames.append(FRAME.pack(len(data)))
        frames.append(data)
        return len(wires)

    def _drop(self, wire: tuple[Any, ...], why: str) -> int:
        self.dropped += 1
        log.warning("the trace of %s %s cannot be logged: %s", wire[3], wire[4], why)
        return 0

    def _hold(self, rest: bytes | memoryview, count: int) -> None:
        """Keep `rest` for the drain thread: `count` whole frames, or (0) the end of one the
        socket took a part of, which is kept whatever the bound, or the stream would tear."""
        # Called holding the condition.
        if count and len(self._pending) + len(rest) > MAX_PENDING:
            self.dropped += count
            return
        self._pending += rest
        if self._drainer is None:
            self._drainer = threading.Thread(target=self._drain, name="routeconsole-log-feed", daemon=True)
            self._drainer.start()
        self._cond.notify_all()

    def _drain(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._sock, selectors.EVENT_WRITE)
        with selector:
            while True:
                with self._cond:
                    while not self._pending and not self._closing:
                        self._cond.wait()
                    if not self._pending:
                        return
                selector.select(0.5)  # until the socket takes more
                with self._cond:
                    try:
                        sent = self._sock.send(self._pending)
                    except BlockingIOError:
                        continue
                    except OSError:
                        self._open = False
                        self._pending.clear()
                        self._cond.notify_all()
                        return
                    del self._pending[:sent]
                    if not self._pending:
                        self._cond.notify_all()

    def send_before_exit(self) -> None:
        """Make `os._exit()` send the frames held first. Route code that calls it skips every
        `finally` and `atexit`; the requests answered in this turn of the event loop would
        otherwise be missing from the log. (A segfault or SIGKILL can still take them.)"""
        exit_now = os._exit

        def _exit(status: int) -> NoReturn:
            with contextlib.suppress(Exception):
                self.flush()
            exit_now(status)

        os._exit = _exit

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening; send what waits (for up to `timeout` seconds); close the socket."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.flush()
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            while self._pending and self._open and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            self._open = False
        self._sock.close()


# The writing end ------------------------------------------------------------------------


class LogServer:
    """Reads frames from every `LogFeed` connected to `address` and appends them to `log`
    (and hands them to `export`, an OpenTelemetry exporter's `export_many`, when given).

    One thread: it accepts feeds, reads whatever they sent, and writes each round's traces
    in one transaction (under load the rounds grow, so commits stay few). A feed that ends
    (its process exited, or died) is read to its last whole frame first.
    """

    def __init__(
        self,
        request_log: RequestLog | None,
        listener: socket.socket | None = None,
        *,
        export: Callable[[list[Trace]], None] | None = None,
    ) -> None:
        self.log = request_log  # write_batch(traces) appends and tells on_written
        self.export = export
        self._folder: Path | None = None
        if listener is None:
            self._folder = Path(tempfile.mkdtemp(prefix="routeconsole-"))
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(self._folder / "log.sock"))
            listener.listen(64)
        listener.set_inheritable(False)
        listener.setblocking(False)
        self._listener: socket.socket | None = listener
        self.address: str = listener.getsockname()
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve, name="routeconsole-log-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Stop taking new feeds, read the connected ones to their end (up to `timeout`
        seconds), write everything, then return."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout + 1.0)
        self._wake_w.close()

    def serve(self, stop_fd: int | None = None) -> None:
        """Run until `stop()` (or `stop_fd` becomes readable: its writer closed it)."""
        selector = selectors.DefaultSelector()
        assert self._listener is not None
        selector.register(self._listener, selectors.EVENT_READ, "accept")
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        if stop_fd is not None:
            selector.register(stop_fd, selectors.EVENT_READ, "wake")
        buffers: dict[socket.socket, bytearray] = {}
        batch: list[Trace] = []
        write_at = 0.0  # when the batch's first trace has waited GATHER
        deadline: float | None = None  # stopping: when to give up on feeds still open
        try:
            while True:
                if self._stopping and deadline is None:
                    deadline = time.monotonic() + DRAIN_TIMEOUT
                    self._stop_listening(selector, buffers)
                if deadline is not None and (not buffers or time.monotonic() > deadline):
                    break
                waits = [t - time.monotonic() for t in (deadline, write_at if batch else None) if t is not None]
                for key, _ in selector.select(max(0.0, min(waits)) if waits else None):
                    if key.data == "accept":
                        self._accept(selector, buffers)
                    elif key.data == "wake":
                        self._stopping = True
                        selector.unregister(key.fileobj)
                    else:
                        if not batch:
                            write_at = time.monotonic() + GATHER
                        self._read(selector, key.fileobj, buffers, batch)  # type: ignore[arg-type]
                if batch and not self._stopping:
                    # PERF: sleep out the gathering time rather than wake for each frame: a
                    # reader waiting on the socket makes every send wake it, which costs the
                    # serving process a wake-up per request.
                    time.sleep(max(0.0, write_at - time.monotonic()))
                    for conn in list(buffers):
                        self._read(selector, conn, buffers, batch)
                if batch:
                    self._write(batch)
                    batch = []
        finally:
            self._write(batch)
            self._stop_listening(selector, buffers)
            for conn in buffers:
                conn.close()
            selector.close()
            self._wake_r.close()

    def _stop_listening(self, selector: selectors.BaseSelector, buffers: dict[socket.socket, bytearray]) -> None:
        if self._listener is not None:
            while self._accept(selector, buffers):  # a feed that connected and sent before it was taken
                pass
            selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _accept(self, selector: selectors.BaseSelector, buffers: dict[socket.socket, bytearray]) -> bool:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except OSError:  # none waiting
            return False
        conn.set_inheritable(False)
        conn.setblocking(False)
        buffers[conn] = bytearray()
        selector.register(conn, selectors.EVENT_READ, "feed")
        return True

    def _read(
        self,
        selector: selectors.BaseSelector,
        conn: socket.socket,
        buffers: dict[socket.socket, bytearray],
        traces: list[Trace],
    ) -> None:
        buffer = buffers[conn]
        ended = False
        while True:  # all it has now, so a busy feed makes big batches
            try:
                chunk = conn.recv(RECV_SIZE)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:
                ended = True
                break
            buffer += chunk
        offset = 0
        while len(buffer) - offset >= FRAME.size:
            (size,) = FRAME.unpack_from(buffer, offset)
            if size > MAX_FRAME:
                log.error("a log feed sent a frame of %d bytes: it is out of step, and is closed", size)
                ended, offset = True, len(buffer)
                break
            end = offset + FRAME.size + size
            if end > len(buffer):
                break
            try:
                traces.extend(from_wire(bytes(buffer[offset + FRAME.size : end])))
            except FeedError as exc:
                log.warning("a log feed sent %s; dropped", exc)
            offset = end
        del buffer[:offset]
        if ended:
            if buffer:
                log.warning("a log feed ended in the middle of a frame (%d bytes lost)", len(buffer))
            selector.unregister(conn)
            conn.close()
            del buffers[conn]

    def _write(self, traces: list[Trace]) -> None:
        if not traces:
            return
        if self.log is not None:
            self.log.write_batch(traces)
        if self.export is not None:
            self.export(traces)


# `serve`'s writer: the same LogServer in a process of its own -----------------------------


class WriterProcess:
    """`python -m engine.logwriter`: a `LogServer` for `serve`, in a process that does not serve.

    writer = WriterProcess.start(log_path); feed = writer.feed(); feed.attach(app.events)
    ...; feed.close(); writer.stop()

    With `export=True` it also exports each trace to an OpenTelemetry collector (`otlp`, or
    the SDK's variables, which it inherits), so the serving process pays nothing for it but
    the frame it already sends; `log_path=None` then runs it for the export alone.
    """

    def __init__(self, process: subprocess.Popen[bytes], address: str, folder: Path) -> None:
        self.process = process
        self.address = address
        self._folder = folder

    @classmethod
    def start(
        cls, log_path: Path | None, *, export: bool = False, otlp: str | None = None, service: str = "routeconsole"
    ) -> WriterProcess:
        # Values as --name=value, the path after "--": an app folder named "-api" stays a value.
        options = [f"--service={service}", *([f"--otlp={otlp}"] if otlp else []), "--export"] if export else []
        paths: list[str] = []
        if log_path is not None:
            connect(log_path).close()  # a log that cannot be opened is an error here, not in the writer
            paths = ["--", str(log_path)]
        folder = Path(tempfile.mkdtemp(prefix="routeconsole-"))
        address = str(folder / "log.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(address)
        listener.listen(64)  # bound here, so a feed can connect before the writer has started
        try:
            with _sigint_ignored():
                process = subprocess.Popen(
                    # -P: the working directory is not put first on sys.path, so a folder of
                    # the user's named `engine` there cannot stand in for this package.
                    [
                        sys.executable,
                        "-P",
                        "-m",
                        "engine.logwriter",
                        f"--listen-fd={listener.fileno()}",
                        *options,
                        *paths,
                    ],
                    stdin=subprocess.PIPE,  # the lifeline: it closes when this process stops or dies
                    pass_fds=(listener.fileno(),),
                )
        finally:
            listener.close()
        return cls(process, address, folder)

    def feed(self) -> LogFeed:
        return LogFeed.connect(self.address)

    def stop(self, timeout: float = DRAIN_TIMEOUT + 2.0) -> int | None:
        """Tell the writer to finish (it writes what its feeds sent); its exit code."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("the request log's writer did not finish in %g s; stopped", timeout)
            self.process.kill()
            code = self.process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)
        return code


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while a child starts. Ctrl-C reaches the whole process group, and an
    ignored signal stays ignored through exec (Python then installs no handler of its own):
    the writer ignores it from its first instruction, not only once its imports are done, so
    a Ctrl-C right after `serve` starts cannot kill it before it has written the requests
    already answered. Only the main thread may change a handler; elsewhere, nothing changes."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)

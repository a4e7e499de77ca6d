"""Traces: what happened to one request, span by span (brief section 4).

A span is one step of the onion: a middleware, the cache, or the handler. Spans are kept
in the order they started; a middleware's duration includes everything inside it, so a
waterfall nests naturally. Times are milliseconds from the start of the request.
"""

from __future__ import annotations

import base64
import itertools
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

BODY_CAP: Final = 1024 * 1024  # bodies kept in a trace, per direction
SOURCE_HEADER: Final = "x-routeconsole-source"
REPLAY_OF_HEADER: Final = "x-routeconsole-replay-of"
SOURCES: Final = frozenset({"external", "composer", "replay"})

_ID_PREFIX: Final = os.urandom(10).hex()
_ids = itertools.count(1 << 48)

SpanKind = Literal["middleware", "handler", "cache"]
Layer = Literal["global", "layout", "route", "handler"]
Outcome = Literal["next", "respond", "raise", "hit", "miss"]


# PERF: the dataclasses below keep their generated repr, eq and fields() but write their own
# __init__: a generated one calls each default_factory through a sentinel test, and a
# trace is built on every request.


@dataclass(slots=True, init=False)
class Span:
    kind: SpanKind
    layer: Layer
    name: str
    file: str | None
    line: int | None
    start_ms: float
    duration_ms: float = 0.0
    outcome: Outcome | None = None
    context: list[str] = field(default_factory=list)
    error: str | None = None

    def __init__(
        self,
        kind: SpanKind,
        layer: Layer,
        name: str,
        file: str | None,
        line: int | None,
        start_ms: float,
        duration_ms: float = 0.0,
        outcome: Outcome | None = None,
        context: list[str] | None = None,
        error: str | None = None,
    ) -> None:
        self.kind = kind
        self.layer = layer
        self.name = name
        self.file = file
        self.line = line
        self.start_ms = start_ms
        self.duration_ms = duration_ms
        self.outcome = outcome
        self.context = [] if context is None else context
        self.error = error

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "layer": self.layer,
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "start_ms": round(self.start_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "outcome": self.outcome,
            "context": list(self.context),
            "error": self.error,
        }


@dataclass(slots=True, init=False)
class Message:
    """Headers and (capped) body of a request or a response."""

    headers: list[tuple[bytes, bytes]] = field(default_factory=list)  # raw; decoded in to_json
    body: bytes = b""
    truncated: bool = False
    size: int = 0  # the whole body's size, kept or not

    def __init__(
        self,
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
        truncated: bool = False,
        size: int = 0,
    ) -> None:
        self.headers = [] if headers is None else headers
        self.body = body
        self.truncated = truncated
        self.size = size

    def keep(self, chunk: bytes) -> None:
        self.size += len(chunk)
        room = BODY_CAP - len(self.body)
        if room <= 0:
            self.truncated = self.truncated or bool(chunk)
            return
        if len(chunk) > room:
            self.truncated = True
        self.body += chunk[:room]

    def to_json(self) -> dict[str, Any]:
        try:
            text, encoding = self.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(self.body).decode("ascii"), "base64"
        return {
            "headers": [[k.decode("latin-1").lower(), v.decode("latin-1")] for k, v in self.headers],
            "body": text,
            "body_encoding": encoding,
            "size": self.size,
            "truncated": self.truncated,
        }


_new: Final = object.__new__


@dataclass(slots=True, init=False)
class Trace:
    id: str
    time: float  # epoch seconds when the request arrived
    method: str
    path: str
    query: str
    status: int = 0
    duration_ms: float = 0.0
    route: dict[str, Any] | None = None  # {pattern, file, params}
    request: Message = field(default_factory=Message)
    response: Message = field(default_factory=Message)
    spans: list[Span] = field(default_factory=list)
    client: tuple[str, int] | list[Any] | None = None  # (host, port) as the server gave it
    # Who sent it: "external" (curl, a browser), "composer" or "replay", told by the
    # x-routeconsole-source header; a replay names its original in x-routeconsole-replay-of.
    source: str = "external"
    replay_of: int | None = None
    _t0: float = 0.0

    def __init__(
        self,
        id: str,
        time: float,
        method: str,
        path: str,
        query: str,
        status: int = 0,
        duration_ms: float = 0.0,
        route: dict[str, Any] | None = None,
        request: Message | None = None,
        response: Message | None = None,
        spans: list[Span] | None = None,
        client: tuple[str, int] | list[Any] | None = None,
        source: str = "external",
        replay_of: int | None = None,
        _t0: float = 0.0,
    ) -> None:
        self.id = id
        self.time = time
        self.method = method
        self.path = path
        self.query = query
        self.status = status
        self.duration_ms = duration_ms
        self.route = route
        self.request = Message() if request is None else request
        self.response = Message() if response is None else response
        self.spans = [] if spans is None else spans
        self.client = client
        self.source = source
        self.replay_of = replay_of
        self._t0 = _t0

    @classmethod
    def begin(
        cls,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]] | None = None,
        client: tuple[str, int] | list[Any] | None = None,
    ) -> Trace:
        """A trace for a request arriving now, its clock started."""
        # PERF: built slot by slot. The class call, with its fifteen defaults and two
        # Message() calls, cost twice as much, on every request.
        trace = _new(cls)
        # PERF: a per-process random prefix and a counter: unique, and 20x cheaper than uuid4.
        # The counter starts at 2**48 so that hex() of it, past its "0x1", is the 12 digits
        # of the sequence number: cheaper than a zero-padded format.
        trace.id = _ID_PREFIX + hex(next(_ids))[3:]
        trace.time = time.time()
        trace.method = method
        trace.path = path
        trace.query = query
        trace.status = 0
        trace.duration_ms = 0.0
        trace.route = None
        trace.request = request = _new(Message)
        request.headers = [] if headers is None else headers
        request.body = b""
        request.truncated = False
        request.size = 0
        trace.response = response = _new(Message)
        response.headers = []
        response.body = b""
        response.truncated = False
        response.size = 0
        trace.spans = []
        trace.client = client
        trace.source = "external"
        trace.replay_of = None
        trace._t0 = time.perf_counter()
        return trace

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self._t0) * 1000.0

    def open_span(self, kind: SpanKind, layer: Layer, name: str, file: str | None, line: int | None) -> Span:
        # PERF: slot by slot, as in begin(); one or more spans per request.
        span = _new(Span)
        span.kind = kind
        span.layer = layer
        span.name = name
        span.file = file
        span.line = line
        span.start_ms = (time.perf_counter() - self._t0) * 1000.0
        span.duration_ms = 0.0
        span.outcome = None
        span.context = []
        span.error = None
        self.spans.append(span)
        return span

    def close_span(self, span: Span, outcome: Outcome, error: str | None = None) -> None:
        span.duration_ms = self.elapsed_ms() - span.start_ms
        span.outcome = outcome
        span.error = error

    def finish(self, status: int) -> None:
        self.status = status
        self.duration_ms = self.elapsed_ms()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds"),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 3),
            "route": self.route,
            "client": f"{self.client[0]}:{self.client[1]}" if self.client else None,
            "source": self.source,
            "replay_of": self.replay_of,
            "request": self.request.to_json(),
            "response": self.response.to_json(),
            "spans": [s.to_json() for s in self.spans],
        }

"""OpenTelemetry export: each request's trace sent to a collector as OTLP spans.

    export = TraceExport(app.events, service="shop")   # OTEL_EXPORTER_OTLP_ENDPOINT says where
    ...                                                 # every RequestFinished -> spans, in batches
    export.shutdown()                                   # what is queued is sent

Where it runs: `serve` and the console export from their request log's writer (`LogServer(...,
export=TraceExport(None, ...).export_many)`, in `python -m engine.logwriter` or the console's
process), from the traces the serving processes send it anyway, so serving pays nothing for
export and never imports the SDK. An app run by another ASGI server starts one itself
(`RouteApp`, when `engine.app.otlp_wanted`: `--otlp URL`, or the SDK's endpoint variables).
This module is imported only when export is on, and it is the only one that imports
`opentelemetry`, so an app that does not export pays nothing, not even the import.

A finished `Trace` becomes, with explicit start and end times taken from it:

    GET /users/[id]                 SERVER   http.request.method, url.path, http.route, ...
    └ middleware require_user       INTERNAL routeconsole.layer=route, routeconsole.outcome=next,
      └ cache revalidate 60s        INTERNAL   code.filepath, code.lineno
      └ handler GET                 INTERNAL

nested as the console's waterfall nests them: a span is inside every earlier span still open
when it starts. An incoming W3C `traceparent` (and `tracestate`) is continued: the server span
is its child, in its trace. The SDK does the rest as it documents: the BatchSpanProcessor
(`OTEL_BSP_*`) sends batches over OTLP/HTTP protobuf on a thread of its own, and the exporter
reads `OTEL_EXPORTER_OTLP_*` (endpoint, headers, timeout, compression). The resource's
`service.name` is the app folder's name unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES`
name one.

In a serving process, the spans are built in an `EventSink` subscriber, batched on the server's
loop after the responses have gone (never on a request's path); the network is the processor's
thread's. In a log writer they are built as each batch of traces is written.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from typing import Final

from .app import traces_endpoint
from .errors import EngineError
from .events import EventSink, RequestFinished
from .redact import redact_urlencoded
from .trace import Trace

try:
    from opentelemetry import trace as trace_api
    from opentelemetry.context import Context
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
    from opentelemetry.trace import SpanKind, Status, StatusCode
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    from opentelemetry.util.types import AttributeValue
except ImportError as exc:  # the `otel` extra is not installed
    raise EngineError(f"OpenTelemetry export needs the otel extra: pip install 'routeconsole[otel]' ({exc})") from exc

log = logging.getLogger("routeconsole.otel")

SCOPE: Final = "routeconsole"  # the instrumentation scope of every span
# Methods the semantic conventions know; any other is "_OTHER", the token itself in
# http.request.method_original (a scanner's made-up methods must not become span names).
KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
_CONTEXT_HEADERS: Final = frozenset({b"traceparent", b"tracestate"})
_INT64: Final = 2**63  # protobuf's int attributes: a larger one would fail the whole batch
SHUTDOWN_TIMEOUT: Final = 1.5  # seconds a stop waits for the collector to take the last spans


def service_resource(default_name: str) -> Resource:
    """The SDK's resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, its defaults), its
    `service.name` `default_name` when the environment names none."""
    if SERVICE_NAME in OTELResourceDetector().detect().attributes:
        return Resource.create()
    return Resource.create({SERVICE_NAME: default_name})


class TraceExport:
    """Every `RequestFinished` on `events` exported as spans (see the module's docstring).

    `endpoint`: the full traces URL (None: the SDK's variables, or its default). `exporter`
    and `processor` replace the OTLP exporter and the batch processor (tests use the SDK's
    in-memory exporter and a simple processor).
    """

    def __init__(
        self,
        events: EventSink | None,
        *,
        service: str,
        endpoint: str | None = None,
        exporter: SpanExporter | None = None,
        processor: Callable[[SpanExporter], SpanProcessor] | None = None,
    ) -> None:
        self.events = events
        _route_sdk_records()
        if processor is None:
            processor = _batch_processor
        self.provider = TracerProvider(resource=service_resource(service), shutdown_on_exit=False)
        self.provider.add_span_processor(processor(exporter or OTLPSpanExporter(endpoint=endpoint)))
        self._tracer = self.provider.get_tracer(SCOPE)
        self._propagator = TraceContextTextMapPropagator()
        self._lock = threading.Lock()
        self._closed = False
        # Batched: after the responses, never before. Without `events` (a log writer's
        # exporter), traces come through export_many().
        self._unsubscribe = events.subscribe(self._on_event) if events is not None else None
        # A server that ends without closing its app (uvicorn, hypercorn's workers): what
        # its last batches hold is still sent.
        atexit.register(self.shutdown)

    def _on_event(self, event: object) -> None:
        if type(event) is RequestFinished:
            self.export(event.trace)

    @classmethod
    def start(cls, events: EventSink | None, *, service: str, otlp: str | None) -> TraceExport:
        """An exporter to `otlp` (a collector's base URL), or where the SDK's variables say."""
        return cls(events, service=service, endpoint=traces_endpoint(otlp) if otlp else None)

    def export_many(self, traces: list[Trace]) -> None:
        """Traces that reached a log writer (`engine.feed.LogServer`): each as spans. A trace
        the SDK refuses is logged and skipped; the writer goes on."""
        for trace in traces:
            try:
                self.export(trace)
            except Exception:
                log.exception("OpenTelemetry export: trace %s could not be exported", trace.id)

    def export(self, trace: Trace) -> None:
        """`trace` as a server span and one span per middleware, cache lookup and handler."""
        # PERF: one pass over the raw headers for the few the spans need.
        carrier: dict[str, str] = {}
        host = agent = None
        for raw_name, raw_value in trace.request.headers:
            header = raw_name.lower()
            if header in _CONTEXT_HEADERS:
                carrier[header.decode("latin-1")] = raw_value.decode("latin-1")
            elif header == b"host":
                host = raw_value.decode("latin-1")
            elif header == b"user-agent":
                agent = raw_value.decode("latin-1")
        parent: Context | None = self._propagator.extract(carrier) if carrier else None

        method = trace.method if trace.method in KNOWN_METHODS else "_OTHER"
        route = trace.route
        pattern = route.get("pattern") if route else None
        attributes: dict[str, AttributeValue] = {
            "http.request.method": method,
            "url.path": trace.path,
            "url.scheme": "http",
            "http.response.status_code": trace.status,
            "routeconsole.request.id": trace.id,
            "routeconsole.source": trace.source,
        }
        if method == "_OTHER":
            attributes["http.request.method_original"] = trace.method
        if isinstance(pattern, str) and pattern:
            pattern = _text(pattern)
            attributes["http.route"] = pattern
        else:
            pattern = None
        if trace.query:
            attributes["url.query"] = redact_urlencoded(trace.query)  # ?password=... masked
        if host:
            address, port = _split_host(host)
            attributes["server.address"] = address
            if port is not None:
                attributes["server.port"] = port
        client = trace.client
        if client and len(client) == 2 and isinstance(client[0], str):
            attributes["client.address"] = client[0]
            if isinstance(client[1], int):
                attributes["client.port"] = client[1]
        if agent:
            attributes["user_agent.original"] = agent
        if trace.replay_of is not None and 0 <= trace.replay_of < _INT64:
            attributes["routeconsole.replay_of"] = trace.replay_of
        error = trace.status >= 500
        if error:
            attributes["error.type"] = str(trace.status)

        start = int(trace.time * 1e9)  # epoch ns; span times are ms from the request's start
        verb = method if method != "_OTHER" else "HTTP"
        name = f"{verb} {pattern}" if pattern else verb
        server = self._tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes, start_time=start
        )
        if error:
            server.set_status(Status(StatusCode.ERROR))
        # The waterfall's nesting (console.render.nesting): each span inside every earlier
        # span whose end is after its start.
        enclosing: list[tuple[float, trace_api.Span]] = []
        for span in trace.spans:
            begins = span.start_ms
            while enclosing and enclosing[-1][0] <= begins:
                enclosing.pop()
            outer = enclosing[-1][1] if enclosing else server
            function = _text(span.name)
            child_attributes: dict[str, AttributeValue] = {
                "routeconsole.span.kind": span.kind,
                "routeconsole.layer": span.layer,
                "code.function": function,
            }
            if span.outcome is not None:
                child_attributes["routeconsole.outcome"] = span.outcome
            if span.file is not None:
                child_attributes["code.filepath"] = _text(span.file)
            if span.line is not None:
                child_attributes["code.lineno"] = span.line
            if span.context:
                child_attributes["routeconsole.context"] = [_text(key) for key in span.context]
            child = self._tracer.start_span(
                f"{span.kind} {function}",
                context=trace_api.set_span_in_context(outer),
                kind=SpanKind.INTERNAL,
                attributes=child_attributes,
                start_time=start + int(begins * 1e6),
            )
            ends = start + int((begins + span.duration_ms) * 1e6)
            if span.outcome == "raise" or span.error:
                stack = _text(span.error or "")
                kind, message = _exception(stack)
                child.add_event(
                    "exception",
                    {"exception.type": kind, "exception.message": message, "exception.stacktrace": stack},
                    timestamp=ends,
                )
                child.set_status(Status(StatusCode.ERROR, f"{kind}: {message}" if message else kind))
            child.end(end_time=ends)
            enclosing.append((begins + span.duration_ms, child))
        server.end(end_time=start + int(trace.duration_ms * 1e6))

    def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> None:
        """Stop taking traces, export what was published so far, and send every queued span,
        waiting `timeout` seconds at most: a collector that does not answer (the exporter
        retries for up to 10 s) must not hold up quitting the console or stopping `serve`."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.shutdown)
        if self.events is not None and not self.events.flush():  # the last traces reach _on_event first
            log.warning("OpenTelemetry export: a subscriber was still delivering; the last traces may be missing")
        if self._unsubscribe is not None:
            self._unsubscribe()
        # The batch processor sends what it holds, on a thread of its own so the wait is bounded.
        sending = threading.Thread(target=self.provider.shutdown, name="routeconsole-otel-shutdown", daemon=True)
        sending.start()
        sending.join(timeout)
        if sending.is_alive():
            log.warning("OpenTelemetry export: the collector did not take the last spans within %g s", timeout)


# Spans the batch processor holds before it drops new ones, unless OTEL_BSP_MAX_QUEUE_SIZE says:
# the SDK's 2,048 is a tenth of a second of a busy server's spans, and a log writer hands
# them over a batch of traces at a time.
QUEUE_SIZE: Final = 32_768


def _batch_processor(exporter: SpanExporter) -> SpanProcessor:
    if os.environ.get("OTEL_BSP_MAX_QUEUE_SIZE"):
        return BatchSpanProcessor(exporter)
    return BatchSpanProcessor(exporter, max_queue_size=QUEUE_SIZE)


class _Forward(logging.Handler):
    """The SDK's own records (a full queue, a collector that does not answer) as records of
    `routeconsole.otel`: in the console they reach the Server log pane, not the terminal
    Textual draws on (the SDK's loggers have no handler, so Python would print them)."""

    def emit(self, record: logging.LogRecord) -> None:
        log.handle(record)


def _route_sdk_records() -> None:
    sdk = logging.getLogger("opentelemetry")
    if not any(isinstance(h, _Forward) for h in sdk.handlers):
        sdk.addHandler(_Forward())
        sdk.propagate = False


def _split_host(host: str) -> tuple[str, int | None]:
    """A Host header's address and port: `example.com:8000`, `[::1]:8000`, `example.com`."""
    if host.startswith("["):
        address, bracket, rest = host[1:].partition("]")
        if bracket and rest.startswith(":") and _is_port(rest[1:]):
            return address, int(rest[1:])
        return (address if bracket else host), None
    address, colon, port = host.rpartition(":")
    if colon and ":" not in address and _is_port(port):
        return address, int(port)
    return host, None


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535


def _text(text: str) -> str:
    """`text` as valid UTF-8 for the protobuf encoder: route code's names and messages, and file
    names, may hold lone surrogates (a non-UTF-8 file name), which would fail the whole batch."""
    if text.isascii():  # PERF: nearly always
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


def _exception(error: str) -> tuple[str, str]:
    """The type and message of a formatted traceback's last line (`ValueError: boom`)."""
    lines = error.strip().splitlines()
    last = lines[-1] if lines else ""
    kind, colon, message = last.partition(": ")
    if not colon or " " in kind:
        return "Exception", last
    return kind, message

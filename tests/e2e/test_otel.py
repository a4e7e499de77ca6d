"""OpenTelemetry export (issue 13, item 2): served requests reach a real OTLP/HTTP receiver on
127.0.0.1 as spans, decoded here with opentelemetry-proto; without the variable or `--otlp`
nothing of OpenTelemetry is imported; without the `otel` extra, a one-line error."""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import engine
from engine.otel import TraceExport
from engine.server import Server
from engine.trace import Message, Span, Trace
from tests.conftest import ROUTECONSOLE, write_app

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
SERVER, INTERNAL = 2, 1  # Span.SpanKind in the protocol
ERROR = 2  # Status.StatusCode

APP = {
    "users/[id]/route.py": (
        "async def require_user(request, next):\n"
        "    return await next(context={'user': 'ada'})\n"
        "\n"
        "middleware = [require_user]\n"
        "\n"
        "async def GET(request, params, context):\n"
        "    return {'id': params['id'], 'user': context['user']}\n"
    ),
    "boom/route.py": "def GET(request):\n    raise ValueError('the handler broke')\n",
    "cached/route.py": "revalidate = 60\n\nasync def GET(request):\n    return 'kept'\n",
    # What this process has imported of OpenTelemetry: the route runs where the requests are served.
    "modules/route.py": (
        "import sys\n\n"
        "def GET(request):\n"
        "    return sorted(m for m in sys.modules if m.split('.')[0] == 'opentelemetry')\n"
    ),
}


# --- a real OTLP/HTTP receiver ------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One span as the collector got it, its ids in hex."""

    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    start: int
    end: int
    attributes: dict[str, Any]
    status: int
    status_message: str
    events: list[tuple[str, dict[str, Any]]]
    resource: dict[str, Any]


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, which) if which else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


class Collector:
    """An OTLP/HTTP receiver: POST /v1/traces, a protobuf ExportTraceServiceRequest in the body."""

    def __init__(self) -> None:
        self.spans: list[Received] = []
        self.posts = 0
        self._changed = threading.Condition()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.path != "/v1/traces" or self.headers.get("content-type") != "application/x-protobuf":
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                encoding = self.headers.get("content-encoding")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                collector.take(ExportTraceServiceRequest.FromString(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def take(self, request: ExportTraceServiceRequest) -> None:
        found = []
        for resource_spans in request.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        Received(
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            start=span.start_time_unix_nano,
                            end=span.end_time_unix_nano,
                            attributes=_attributes(span.attributes),
                            status=span.status.code,
                            status_message=span.status.message,
                            events=[(e.name, _attributes(e.attributes)) for e in span.events],
                            resource=resource,
                        )
                    )
        with self._changed:
            self.posts += 1
            self.spans += found
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """The spans received, once there are at least `count` (or the timeout has passed)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.spans) >= count, timeout)
            return list(self.spans)

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as running:
        yield running


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any OTEL_ variable of the machine's, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return {**env, **extra}


@contextmanager
def serving(app: Path, *args: str, env: Mapping[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`routeconsole serve APP --port 0 ...` and its URL; stopped with SIGINT if still running."""
    with subprocess.Popen(
        [ROUTECONSOLE, "serve", str(app), "--port", "0", "--no-log", "--no-reload", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert found, line + (proc.stderr.read() if proc.stderr and proc.poll() is not None else "")
            yield proc, found.group(0)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)


def by_name(spans: list[Received]) -> dict[str, list[Received]]:
    named: dict[str, list[Received]] = {}
    for span in spans:
        named.setdefault(span.name, []).append(span)
    return named


def children(spans: list[Received], parent: Received) -> list[Received]:
    return sorted((s for s in spans if s.parent_id == parent.span_id), key=lambda s: s.start)


# --- (a) routeconsole serve --otlp URL ----------------------------------------------------


def test_serve_with_otlp_exports_each_request_as_a_server_span_and_its_waterfall(
    tmp_path: Path, collector: Collector
) -> None:
    app = write_app(tmp_path / "shop", APP)
    # Batches only every minute: what arrives was sent by the flush when the server stopped.
    env = clean_env(OTEL_BSP_SCHEDULE_DELAY="60000", OTEL_SERVICE_NAME="shop-api")
    with serving(app, "--otlp", collector.url + "/", env=env) as (proc, url):
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/users/42?page=2&password=hunter2", headers={"traceparent": TRACEPARENT}).json() == {
                "id": "42",
                "user": "ada",
            }
            assert client.get("/nope").status_code == 404
            assert client.get("/boom").status_code == 500
            assert client.get("/cached").text == "kept"
            modules = client.get("/modules").json()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert err.count("Traceback (most recent call last)") == 1  # the handler's, logged; no exporter's
    assert "opentelemetry" not in err
    # Export on, and still the serving process never loads the SDK: its log writer makes the spans.
    assert "opentelemetry.sdk.trace" not in modules

    spans = collector.wait_for(11)
    named = by_name(spans)
    assert sorted(named) == [
        "GET",
        "GET /boom",
        "GET /cached",
        "GET /modules",
        "GET /users/[id]",
        "cache revalidate 60s",
        "handler GET",
        "middleware require_user",
    ]
    assert all(s.resource["service.name"] == "shop-api" for s in spans)  # OTEL_SERVICE_NAME, read by the SDK

    # The request with a traceparent: continued in its trace, a child of the caller's span.
    [user] = named["GET /users/[id]"]
    assert user.kind == SERVER
    assert (user.trace_id, user.parent_id) == (TRACE_ID, PARENT_ID)
    port = int(url.rsplit(":", 1)[1])
    assert {k: v for k, v in user.attributes.items() if not k.startswith(("client.", "user_agent."))} == {
        "http.request.method": "GET",
        "url.path": "/users/42",
        "url.query": "page=2&password=%5Bredacted%5D",
        "url.scheme": "http",
        "http.route": "/users/[id]",
        "http.response.status_code": 200,
        "server.address": "127.0.0.1",
        "server.port": port,
        "routeconsole.request.id": user.attributes["routeconsole.request.id"],
        "routeconsole.source": "external",
    }
    assert user.attributes["client.address"] == "127.0.0.1"
    assert user.status != ERROR
    # The waterfall: the handler inside the middleware, inside the server span, in its times.
    [middleware] = children(spans, user)
    assert middleware.name == "middleware require_user"
    assert middleware.kind == INTERNAL and middleware.trace_id == TRACE_ID
    assert middleware.attributes == {
        "routeconsole.span.kind": "middleware",
        "routeconsole.layer": "route",
        "routeconsole.outcome": "next",
        "routeconsole.context": ["user"],
        "code.function": "require_user",
        "code.filepath": "users/[id]/route.py",
        "code.lineno": 1,
    }
    [handler] = children(spans, middleware)
    assert handler.name == "handler GET"
    assert handler.attributes["routeconsole.outcome"] == "respond"
    assert handler.attributes["code.lineno"] == 6
    assert user.start <= middleware.start <= handler.start <= handler.end <= middleware.end <= user.end

    # Unmatched: just the method, no route; not an error.
    [missing] = named["GET"]
    assert "http.route" not in missing.attributes
    assert missing.attributes["http.response.status_code"] == 404
    assert missing.status != ERROR and missing.parent_id == ""
    assert missing.trace_id != TRACE_ID  # a new trace where no traceparent came

    # A raising handler: the 500 is an error, and so is the handler's span, with its exception.
    [boom] = named["GET /boom"]
    assert boom.status == ERROR and boom.attributes["error.type"] == "500"
    [broken] = children(spans, boom)
    assert broken.status == ERROR and broken.attributes["routeconsole.outcome"] == "raise"
    assert broken.status_message == "ValueError: the handler broke"
    [(event, details)] = broken.events
    assert event == "exception"
    assert details["exception.type"] == "ValueError"
    assert details["exception.message"] == "the handler broke"
    assert "Traceback" in details["exception.stacktrace"]

    # A cached route: the cache lookup, then the handler, both children of the request.
    [cached] = named["GET /cached"]
    lookup, filled = children(spans, cached)
    assert (lookup.name, lookup.attributes["routeconsole.outcome"]) == ("cache revalidate 60s", "miss")
    assert "code.filepath" not in lookup.attributes
    assert (filled.name, filled.attributes["code.filepath"]) == ("handler GET", "cached/route.py")


# --- (b) the SDK's variable turns it on, in every worker ------------------------------------


def test_the_endpoint_variable_turns_export_on_in_each_worker(tmp_path: Path, collector: Collector) -> None:
    app = write_app(tmp_path / "inventory", APP)
    env = clean_env(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
        OTEL_BSP_SCHEDULE_DELAY="50",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=test",
    )
    with serving(app, "--workers", "2", env=env) as (_, url), httpx.Client(base_url=url, timeout=10) as client:
        deadline = time.monotonic() + 30
        while True:  # the workers start after the URL is printed
            try:
                modules = client.get("/modules").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the workers never answered"
                time.sleep(0.1)
        assert "opentelemetry.sdk.trace" not in modules  # each worker only sends its traces to the writer
        assert client.get("/users/7", headers={"traceparent": TRACEPARENT}).status_code == 200
        # Sent while the server runs: batches leave every 50 ms, off the requests' path.
        spans = collector.wait_for(5)
    named = by_name(spans)
    [user] = named["GET /users/[id]"]
    assert user.trace_id == TRACE_ID and user.attributes["url.path"] == "/users/7"
    assert [s.name for s in children(spans, user)] == ["middleware require_user"]
    # service.name: the app folder's, as none is named; the variable's other attributes kept.
    assert user.resource["service.name"] == "inventory"
    assert user.resource["deployment.environment.name"] == "test"


# --- (c) off: nothing imported ------------------------------------------------------------

IMPORTED = (
    "import sys, engine\n"
    "app = engine.create_app(sys.argv[1])\n"
    "app.close()\n"
    "print(sorted(m for m in sys.modules if m.split('.')[0] == 'opentelemetry'))\n"
)


def test_without_the_variable_nothing_of_opentelemetry_is_imported(tmp_path: Path, collector: Collector) -> None:
    app = write_app(tmp_path / "app", APP)

    def imported(**env: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", IMPORTED, str(app)], capture_output=True, text=True, env=clean_env(**env), check=True
        )
        return list(json.loads(done.stdout.replace("'", '"')))

    assert imported() == []
    assert imported(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url) != []  # the same code, export on
    assert imported(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=collector.url + "/v1/traces") != []
    assert imported(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url, OTEL_SDK_DISABLED="true") == []
    with serving(app, env=clean_env()) as (_, url):
        assert httpx.get(f"{url}/modules", timeout=10).json() == []
    assert collector.posts == 0


# --- the console's app process -------------------------------------------------------------


def test_the_consoles_app_process_exports_with_otlp(tmp_path: Path, collector: Collector) -> None:
    app = write_app(tmp_path / "console-app", APP)
    running = engine.SupervisedEngine(app, port=0, log=None, reload=False, otlp=collector.url)
    url = running.start()
    try:
        assert httpx.get(f"{url}/users/9", timeout=15).status_code == 200
        # The spans are made by the console's log writer: the app process never loads the SDK.
        assert "opentelemetry.sdk.trace" not in httpx.get(f"{url}/modules", timeout=15).json()
    finally:
        running.stop()  # the log writer exports what the app process sent before it stopped
    spans = collector.wait_for(5)  # /users/[id]: server, middleware, handler; /modules: server, handler
    assert [s.name for s in spans if s.kind == SERVER] == ["GET /users/[id]", "GET /modules"]
    assert {s.resource["service.name"] for s in spans} == {"console-app"}


# --- without the extra --------------------------------------------------------------------


@pytest.fixture
def no_otel(tmp_path: Path) -> dict[str, str]:
    """An environment where `import opentelemetry` fails, as where the extra is not installed."""
    stub = tmp_path / "stub" / "opentelemetry"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'opentelemetry'\", name='opentelemetry')\n"
    )
    path = os.pathsep.join(p for p in (str(stub.parent), os.environ.get("PYTHONPATH")) if p)
    return clean_env(PYTHONPATH=path)


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        (["serve", "{app}", "--port", "0", "--otlp", "http://127.0.0.1:4318"], False),
        (["serve", "{app}", "--port", "0"], True),
        (["{app}", "--port", "0", "--otlp", "http://127.0.0.1:4318"], False),
    ],
    ids=["serve --otlp", "serve with the variable", "console --otlp"],
)
def test_without_the_extra_export_is_a_one_line_error(
    tmp_path: Path, no_otel: dict[str, str], command: list[str], variable: bool
) -> None:
    app = write_app(tmp_path / "app", APP)
    env = {**no_otel, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"} if variable else no_otel
    done = subprocess.run(
        [ROUTECONSOLE, *(c.format(app=app) for c in command)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("routeconsole: OpenTelemetry export needs the otel extra: pip install 'routeconsole[otel]'")


def test_otlp_takes_a_url(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", APP)
    done = subprocess.run(
        [ROUTECONSOLE, "serve", str(app), "--port", "0", "--otlp", "127.0.0.1:4318"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "routeconsole: --otlp takes the OTLP/HTTP base URL of a collector, like http://127.0.0.1:4318, "
        "not '127.0.0.1:4318'"
    ]


# --- any trace converts, and encodes ---------------------------------------------------------

text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=20)  # lone surrogates too
header_values = st.one_of(
    st.binary(max_size=60),
    st.just(TRACEPARENT.encode()),
    st.just(b"00-" + TRACE_ID.encode() + b"-" + PARENT_ID.encode() + b"-00"),  # not sampled
    st.builds(
        lambda h, p: f"{h}:{p}".encode(),
        st.sampled_from(["127.0.0.1", "[::1]", "x"]),
        st.text("0123456789²", max_size=25),
    ),
)
headers = st.lists(
    st.tuples(st.sampled_from([b"host", b"Host", b"traceparent", b"tracestate", b"user-agent", b"x"]), header_values),
    max_size=5,
)
spans = st.builds(
    Span,
    kind=st.sampled_from(["middleware", "handler", "cache"]),
    layer=st.sampled_from(["global", "layout", "route", "handler"]),
    name=text,
    file=st.none() | text,
    line=st.none() | st.integers(min_value=1, max_value=10**6),
    start_ms=st.floats(min_value=0, max_value=1e6),
    duration_ms=st.floats(min_value=0, max_value=1e6),
    outcome=st.none() | st.sampled_from(["next", "respond", "raise", "hit", "miss"]),
    context=st.lists(text, max_size=3),
    error=st.none() | text,
)
traces = st.builds(
    Trace,
    id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    time=st.floats(min_value=0, max_value=4e9),
    method=st.sampled_from(["GET", "POST", "BREW"]) | st.text(max_size=10),
    path=st.text(max_size=60),
    query=st.text(max_size=60),
    status=st.integers(min_value=100, max_value=599),
    duration_ms=st.floats(min_value=0, max_value=1e6),
    route=st.none() | st.fixed_dictionaries({"pattern": text, "file": text, "params": st.just({})}),
    request=st.builds(Message, headers=headers),
    spans=st.lists(spans, max_size=4),
    client=st.none() | st.tuples(st.text(max_size=15), st.integers(min_value=0, max_value=65535)),
    source=st.sampled_from(["external", "composer", "replay"]),
    replay_of=st.none() | st.integers(min_value=1, max_value=2**70),
)


@settings(max_examples=60)
@given(traces)
def test_any_trace_becomes_spans_the_exporter_can_encode(trace: Trace) -> None:
    memory = InMemorySpanExporter()
    export = TraceExport(engine.EventSink(), service="prop", exporter=memory, processor=SimpleSpanProcessor)
    try:
        export.export(trace)
    finally:
        export.shutdown()
    finished = memory.get_finished_spans()
    encode_spans(finished).SerializeToString()  # what the OTLP exporter sends: no batch is lost
    if not finished:  # a traceparent that says "not sampled"
        return
    assert len(finished) == 1 + len(trace.spans)
    ids = {s.context.span_id for s in finished}
    [server] = [s for s in finished if s.parent is None or s.parent.span_id not in ids]
    assert server.name.split(" ")[0] in ("GET", "POST", "HTTP")
    assert {s.context.trace_id for s in finished} == {server.context.trace_id}


def test_the_sdks_own_records_go_where_routeconsole_logs(capsys: pytest.CaptureFixture[str]) -> None:
    """In the console Textual owns the terminal: a full queue or a collector that does not
    answer is said in the Server log pane (routeconsole's logger), never printed."""
    from engine.otel import TraceExport

    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append  # type: ignore[method-assign]
    ours = logging.getLogger("routeconsole.otel")
    ours.addHandler(handler)
    export = TraceExport(None, service="probe", endpoint="http://127.0.0.1:9/v1/traces")
    try:
        logging.getLogger("opentelemetry.sdk._shared_internal").warning("Queue full, dropping %s.", "span")
    finally:
        export.shutdown()
        ours.removeHandler(handler)
    assert [r.getMessage() for r in seen] == ["Queue full, dropping span."]
    assert "Queue full" not in capsys.readouterr().err


def test_replay_never_exports_whatever_the_variables_say(tmp_path: Path, collector: Collector) -> None:
    """A replay is a check run in CI, not traffic: with the variable set it still sends no span."""
    app = write_app(tmp_path / "app", APP)
    log = tmp_path / "log.sqlite3"
    logged = engine.create_app(app, export=False)
    request_log = engine.RequestLog(log)
    request_log.attach(logged.events)
    server = Server(logged, port=0)
    try:
        assert httpx.get(f"{server.start()}/users/1", timeout=10).status_code == 200
    finally:
        server.stop()
    logged.events.flush()
    request_log.close()
    logged.close()
    env = clean_env(OTEL_EXPORTER_OTLP_ENDPOINT=collector.url, OTEL_BSP_SCHEDULE_DELAY="10")
    done = subprocess.run(
        [ROUTECONSOLE, "replay", str(app), "--log", str(log), "--all"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 request replayed" in done.stdout
    assert collector.wait_for(1, timeout=0.5) == []


def test_a_collector_that_never_answers_holds_up_a_stop_only_briefly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporter retries for as long as its timeout (10 s by default); quitting the console
    or stopping serve must not wait that long."""
    from engine.otel import SHUTDOWN_TIMEOUT, TraceExport
    from engine.trace import Trace

    # Longer than the stop's wait, and short enough that the sending thread left behind ends
    # before the next tests: its retries draw from `random`, which hypothesis tests watch.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "3")

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # takes connections, never answers
    try:
        export = TraceExport(None, service="probe", endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}/v1/traces")
        trace = Trace.begin("GET", "/x", "", [], None)
        trace.status = 200
        export.export_many([trace])
        started = time.monotonic()
        export.shutdown()
        assert time.monotonic() - started < SHUTDOWN_TIMEOUT + 1.0  # not the exporter's 3 s
    finally:
        silent.close()
        for thread in threading.enumerate():
            if thread.name == "routeconsole-otel-shutdown":
                thread.join(10)

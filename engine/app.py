"""The ASGI 3 application: `create_app(app_dir)` serves a directory of route files.

A request goes through these steps, each a span on its trace:

    read body (413 over the limit) -> global middleware -> match (404 / 405 / 501 / 308)
      -> layout middleware -> route middleware -> @use middleware -> cache -> handler

Everything the app's code does wrong (raising, returning the wrong thing, failing to
import) becomes a 500 that names the file; the server and the console keep running.
The loaded app is one immutable `AppState`; a reload builds a new one and swaps the
reference, so requests in flight finish on the code they started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import inspect
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, unquote, urlsplit

from .discovery import load_routes
from .errors import EngineError
from .events import EventSink, RequestFinished, RoutesReloaded
from .http import Headers, MalformedBody, Request, Response
from .loader import (
    HANDLER_ARGS,
    IMPORT_GRACE,
    Callee,
    Import,
    Layer,
    LoadedRoute,
    ModuleCache,
    ensure_on_path,
    load_global,
    load_route,
)
from .matcher import UnsafePath, resolve_dots
from .source import FactsCache
from .table import Conflict, RouteTable
from .trace import BODY_CAP, REPLAY_OF_HEADER, SOURCE_HEADER, SOURCES, Span, Trace

if TYPE_CHECKING:
    from .otel import TraceExport

SOURCE_HEADER_B: Final = SOURCE_HEADER.encode()
REPLAY_OF_HEADER_B: Final = REPLAY_OF_HEADER.encode()

log = logging.getLogger("routeconsole.app")

DEFAULT_BODY_LIMIT: Final = 10 * 1024 * 1024
HTTP_VERSIONS: Final = frozenset({"1.1", "1.0", "2", "3"})
HANDLER_THREAD_PREFIX: Final = "routeconsole-handler"  # sync handlers' pool threads
# The OpenTelemetry SDK's own variables for where traces go: either one turns export on.
OTLP_ENDPOINT_VARIABLES: Final = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def otlp_wanted(otlp: str | None = None) -> bool:
    """Whether requests are exported to an OpenTelemetry collector: `--otlp URL` was given, or
    one of the SDK's endpoint variables is set (and `OTEL_SDK_DISABLED` is not true). Read
    without importing `opentelemetry`: `engine.otel` is imported only when this is true."""
    if otlp:
        return True
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)


OTEL_EXTRA: Final = "OpenTelemetry export needs the otel extra: pip install 'routeconsole[otel]'"


def check_export(otlp: str | None) -> None:
    """Raise `EngineError` when export cannot work (the `otel` extra is missing, or `otlp` is
    not a collector's URL), without importing the SDK into this process: a server whose log
    writer exports says so before it serves, and never loads OpenTelemetry itself."""
    for module in ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter"):
        try:
            found = importlib.util.find_spec(module)
        except ImportError as exc:
            raise EngineError(f"{OTEL_EXTRA} ({exc})") from exc
        if found is None:
            raise EngineError(f"{OTEL_EXTRA} (no module named {module!r})")
    if otlp:
        traces_endpoint(otlp)


def traces_endpoint(base: str) -> str:
    """`--otlp URL` as the SDK reads OTEL_EXPORTER_OTLP_ENDPOINT: the traces go to URL/v1/traces.

    >>> traces_endpoint("http://127.0.0.1:4318/")
    'http://127.0.0.1:4318/v1/traces'
    """
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EngineError(
            f"--otlp takes the OTLP/HTTP base URL of a collector, like http://127.0.0.1:4318, not {base!r}"
        )
    return f"{base.rstrip('/')}/v1/traces"


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BadReturn(TypeError):
    pass


def to_response(value: Any, *, where: str | Callee, page: bool = False) -> Response:
    """Handler return conveniences: dict/list -> JSON, str -> text (HTML for a page),
    bytes, None -> 204; anything else is a mistake worth a clear 500."""
    if isinstance(value, Response):
        return value
    if isinstance(value, dict | list):
        return Response.json(value)
    if isinstance(value, str):
        if page:
            return Response(value, headers={"content-type": "text/html; charset=utf-8"})
        return Response(value)
    if isinstance(value, bytes | bytearray):
        return Response(bytes(value))
    if value is None:
        return Response(status=204)
    if isinstance(where, Callee):
        where = f"{where.name} in {where.file}"
    raise BadReturn(f"{where} returned {type(value).__name__}; return a Response, dict, list, str, bytes or None")


@dataclass(slots=True)
class _CacheEntry:
    expires: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(slots=True)
class ResponseCache:
    """GET/HEAD responses of a route with `revalidate = N` or `dynamic = "force-static"`,
    keyed on path + query, dropped with the module on reload."""

    ttl: float  # seconds; inf for force-static
    label: str
    entries: dict[str, _CacheEntry] = field(default_factory=dict)

    def get(self, key: str) -> Response | None:
        entry = self.entries.get(key)
        if entry is None or entry.expires < time.monotonic():
            return None
        response = Response(entry.body, status=entry.status)
        response.headers._raw, response.headers._index = list(entry.headers), None
        return response

    def put(self, key: str, response: Response) -> None:
        if response.status == 200 and isinstance(response.body, bytes):
            self.entries[key] = _CacheEntry(
                time.monotonic() + self.ttl, response.status, list(response.headers.raw()), response.body
            )


def _cache_for(loaded: LoadedRoute) -> ResponseCache | None:
    route = loaded.route
    if route.dynamic == "force-static":
        return ResponseCache(float("inf"), "force-static")
    if route.revalidate and route.revalidate > 0:
        return ResponseCache(float(route.revalidate), f"revalidate {route.revalidate:g}s")
    return None


_Caller = Callable[[Callable[..., Any], Request, Any, dict[str, Any]], Any]

# PERF: fn(request, params, context) as a call naming just what fn takes, one per set of
# names. Spelled out, the keyword call is cheap; `fn(**kwargs)` builds a dict per request
# and unpacks it again, several times the cost.
_CALLERS: Final[dict[frozenset[str], _Caller]] = {
    frozenset(): lambda fn, r, p, c: fn(),
    frozenset({"request"}): lambda fn, r, p, c: fn(request=r),
    frozenset({"params"}): lambda fn, r, p, c: fn(params=p),
    frozenset({"context"}): lambda fn, r, p, c: fn(context=c),
    frozenset({"request", "params"}): lambda fn, r, p, c: fn(request=r, params=p),
    frozenset({"request", "context"}): lambda fn, r, p, c: fn(request=r, context=c),
    frozenset({"params", "context"}): lambda fn, r, p, c: fn(params=p, context=c),
    frozenset(HANDLER_ARGS): lambda fn, r, p, c: fn(request=r, params=p, context=c),
}


@dataclass(frozen=True, slots=True)
class _Target:
    """What serving one method of one route takes, worked out when the app is loaded."""

    handler: Callee
    page: bool
    layers: tuple[Layer, ...]  # layout, route and handler middleware, outermost first
    cache: ResponseCache | None  # GET and HEAD only
    call: _Caller  # calls an async handler with the arguments it names
    plain: bool  # an async handler with no middleware and no cache: run straight from the request


def _targets(loaded: LoadedRoute, cache: ResponseCache | None) -> dict[str, _Target]:
    """A loaded route's targets by method; HEAD falls back to GET."""
    targets = {}
    for method, endpoint in loaded.endpoints.items():
        handler = endpoint.handler
        layers = loaded.middleware + endpoint.middleware
        target_cache = cache if method in ("GET", "HEAD") else None
        plain = handler.is_async and not layers and target_cache is None
        call = _CALLERS[frozenset(handler.wants)]
        targets[method] = _Target(handler, endpoint.page, layers, target_cache, call, plain)
    if "HEAD" not in targets and "GET" in targets:
        targets["HEAD"] = targets["GET"]
    return targets


# What routing found for a served request: the target, the pattern, the file and the params.
_Routed = tuple[_Target, str, str, dict[str, str | list[str]]]
RECENT_LIMIT: Final = 1024  # paths routing remembers (all forgotten when full)


@dataclass(frozen=True, slots=True)
class AppState:
    """One loaded version of the app. Immutable; reload builds a new one."""

    table: RouteTable
    routes: dict[str, LoadedRoute]
    caches: dict[str, ResponseCache]
    global_fn: Callee | None
    global_layers: tuple[Layer, ...]
    global_error: str | None
    global_importing: Import | None  # the global middleware's module, still importing: every request is a 503
    modules: ModuleCache
    # PERF: per request, only a route's file and the method pick what to run.
    targets: dict[str, dict[str, _Target]]  # file -> method -> target; routes that load
    direct: bool  # no global middleware: the request goes straight to routing
    # PERF: (method, raw path) -> what routing found, for paths served lately: a client asks
    # for the same few URLs again and again (the console, a replay, a load test), and the
    # tree walk is the largest part of routing. Only served matches whose params are all
    # strings are kept (their dict is copied per request); 404s are not, so a scan cannot
    # fill it. A reload builds a new state, and so starts an empty one.
    recent: dict[tuple[str, str], _Routed] = field(default_factory=dict)


def load_state(
    app_dir: Path,
    convention: str | None,
    *,
    facts: FactsCache | None = None,
    previous: AppState | None = None,
    changed: frozenset[str] | None = None,
    table: RouteTable | None = None,
    import_grace: float = IMPORT_GRACE,
    on_imported: Callable[[Import], None] | None = None,
) -> AppState:
    """Read and import the app. With `previous` and the set of `changed` files, modules of
    route files that did not change are reused (and keep their response caches); a change
    to any other module (a helper) re-imports everything, since any route may import it.

    Modules import on the importer's threads, side by side; one still importing `import_grace`
    seconds after it started is left behind (its routes answer 503) and `on_imported(job)`
    is called when it finishes, so that a new state can take it in.
    """
    if table is None:
        table = load_routes(app_dir, convention=convention, facts=facts)  # validates app_dir first
    ensure_on_path(app_dir)
    modules = ModuleCache(app_dir, grace=import_grace, on_imported=on_imported)
    reused: frozenset[str] = frozenset()
    if previous is not None and changed is not None and changed <= previous.modules.files():
        reused = previous.modules.files() - changed
        modules.adopt(previous.modules, reused)
    routes: dict[str, LoadedRoute] = {}
    served = table.served()
    modules.prefetch(
        [f for r in table.routes if r.file in served for f in (*r.layouts, r.file)]
        + ([table.global_middleware] if table.global_middleware else [])
    )
    for route in table.routes:
        if route.file not in served:
            continue  # the matcher never reaches it: unservable, or shadowed by a duplicate
        before = previous.routes.get(route.file) if previous is not None else None
        routes[route.file] = load_route(route, modules, before)
    global_fn, global_layers, global_error = load_global(table, modules)
    caches: dict[str, ResponseCache] = {}
    for file, loaded in routes.items():
        old = previous.caches.get(file) if previous is not None and file in reused else None
        cache = _cache_for(loaded)
        if cache is not None:
            caches[file] = old if old is not None and old.label == cache.label else cache
    targets = {file: _targets(loaded, caches.get(file)) for file, loaded in routes.items() if not loaded.error}
    table = _with_import_problems(table, modules)
    direct = not global_error and global_fn is None and not global_layers
    global_job = modules.pending.get(table.global_middleware or "")  # left behind by load_global's StillImporting
    global_importing = global_job if global_error and global_job is not None and global_job.overdue else None
    return AppState(
        table, routes, caches, global_fn, global_layers, global_error, global_importing, modules, targets, direct
    )


def _with_import_problems(table: RouteTable, modules: ModuleCache) -> RouteTable:
    """Add the files that parse but fail to import, or are still importing, to the table's problems."""
    known = {f for c in table.conflicts if c.kind == "load-error" for f in c.files}
    patterns = {r.file: r.pattern for r in table.routes}
    extra = [
        Conflict(
            "load-error",
            "error",
            patterns.get(file),
            (file,),
            f"{line}. Its URLs answer 500 until it is fixed; the other routes keep serving.",
        )
        for file, (line, _) in sorted(modules.errors.items())
        if file not in known
    ]
    extra += [
        Conflict(
            "importing",
            "warning",
            patterns.get(file),
            (file,),
            f"{file} is still importing after {modules.grace:g} s. Its URLs answer 503 until it has finished; "
            "the other routes keep serving.",
        )
        for file in sorted(modules.importing())
    ]
    if not extra:
        return table
    errors = {c.files[0]: c.message for c in extra if c.kind == "load-error"}
    return table.with_problems(extra, errors)


class RouteApp:
    """The ASGI application for one app directory."""

    def __init__(
        self,
        app_dir: Path,
        *,
        convention: str | None = None,
        body_limit: int = DEFAULT_BODY_LIMIT,
        debug: bool = False,
        events: EventSink | None = None,
        import_grace: float = IMPORT_GRACE,
        otlp: str | None = None,
        export: bool = True,
    ) -> None:
        self.app_dir = app_dir
        self.convention = convention
        self.body_limit = body_limit
        self.debug = debug
        self.import_grace = import_grace
        self.events = events if events is not None else EventSink()
        # Sync handlers and middleware run here, so a blocking one never stalls the loop.
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix=HANDLER_THREAD_PREFIX)
        self._facts = FactsCache()
        self._reload_lock = threading.Lock()
        # First: a missing `otel` extra or a bad --otlp URL is said before any route code runs.
        self.export: TraceExport | None = _start_export(self, otlp) if export and otlp_wanted(otlp) else None
        try:
            with self._reload_lock:  # a module that ends its import late waits for this state to exist
                self.state = load_state(
                    app_dir, convention, facts=self._facts, import_grace=import_grace, on_imported=self._imported
                )
        except BaseException:
            if self.export is not None:
                self.export.shutdown()
            raise

    def reload(self, changed: Iterable[str | Path] | None = None) -> RoutesReloaded:
        """Rebuild after `changed` files (paths under APP; None: anything) and swap atomically.

        Requests in flight finish on the state they started with. A file that now fails keeps
        its URLs answering 500 naming the problem; everything else serves the new code.
        """
        root = self.app_dir.resolve()
        files = None if changed is None else frozenset(_relative_file(Path(c), root) for c in changed)
        event = self._reload(files, files)
        assert event is not None  # only a reload for an import can find nothing to do
        return event

    def _imported(self, job: Import) -> None:
        """A module that was still importing after the grace has finished: serve it (or its error).

        Called on the importer's thread; the reload runs on a thread of its own, so that an
        importer thread never waits for a load that may be waiting for an import."""
        threading.Thread(
            target=self._reload, args=(frozenset(), frozenset({job.file}), job), name="routeconsole-imported"
        ).start()

    def _reload(
        self, files: frozenset[str] | None, announced: frozenset[str] | None, imported: Import | None = None
    ) -> RoutesReloaded | None:
        """Load anew and swap; with `imported`, only if the state still waits for that import
        (a save of its file in the meantime started another)."""
        start = time.perf_counter()
        with self._reload_lock:
            before: AppState | None = getattr(self, "state", None)  # None: the first load failed
            if before is None or (imported is not None and before.modules.pending.get(imported.file) is not imported):
                return None
            try:
                after = load_state(
                    self.app_dir,
                    self.convention,
                    facts=self._facts,
                    previous=before,
                    changed=files,
                    table=self._same_table(before, files),
                    import_grace=self.import_grace,
                    on_imported=self._imported,
                )
            except Exception:  # the directory vanished, say: keep serving the last good state
                log.exception("reloading %s failed; still serving the previous routes", self.app_dir)
                raise
            self.state = after  # PERF: one reference swap; readers never lock
        old = {r.pattern for r in before.table.routes}
        new = {r.pattern for r in after.table.routes}
        event = RoutesReloaded(
            changed=tuple(sorted(announced or ())),
            added=tuple(sorted(new - old)),
            removed=tuple(sorted(old - new)),
            problems=after.table.conflicts,
            new_problems=tuple(c for c in after.table.conflicts if c not in set(before.table.conflicts)),
            duration_ms=(time.perf_counter() - start) * 1000,
        )
        self.events.publish(event)
        return event

    @property
    def table(self) -> RouteTable:
        return self.state.table

    def _same_table(self, state: AppState, files: frozenset[str] | None) -> RouteTable | None:
        """The current route table, when the changed files cannot have changed it.

        PERF: editing a handler's body is the common save. When only existing route files
        changed and each still declares what it did (methods, middleware, config), the
        walk and the table build are skipped: the reload re-imports just those files.
        """
        if not files or state.table.conflicts:
            return None
        routes = {r.file for r in state.table.routes}
        if not files <= routes or state.table.global_middleware in files:
            return None
        root = self.app_dir
        if not all(self._facts.unchanged_shape(root / f) for f in files):
            return None
        return state.table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # PERF: an HTTP request is served in this coroutine, not one it awaits.
        if scope["type"] != "http":
            await _not_http(scope, receive, send)
            return
        state = self.state  # one version for the whole request
        method: str = scope["method"]
        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else quote(scope["path"])
        if "?" in raw_path:  # some servers keep the query in raw_path
            raw_path = raw_path.split("?", 1)[0]
        query = scope.get("query_string", b"").decode("latin-1")
        raw_headers = scope["headers"]
        trace = Trace.begin(method, raw_path, query, raw_headers, scope.get("client"))
        # PERF: one pass over the raw pairs for the few headers the engine itself reads.
        length = host = None
        framed = chunked = False  # the request says how its body is delimited
        for name, value in raw_headers:
            if name == b"content-length":
                length, framed = value, True
            elif name == b"host":
                host = value
            elif name == b"transfer-encoding":
                framed = chunked = True
            elif name == SOURCE_HEADER_B:
                source = value.decode("latin-1")
                if source in SOURCES:
                    trace.source = source
            elif name == REPLAY_OF_HEADER_B and value.isdigit():
                trace.replay_of = int(value)

        response: Response | None = None
        version = scope.get("http_version", "1.1")
        path = raw_path
        if version not in HTTP_VERSIONS:  # h11 takes any d.d: HTTP/9.9 is no HTTP we speak
            response = _refuse(f"HTTP/{version} is not a version this server speaks")
        elif length is not None and chunked:  # RFC 9112 6.3: a smuggling attempt; close after answering
            response = _refuse("a request with both Content-Length and Transfer-Encoding")
        # PERF: a dot segment starts after a "/"; a disguised one needs a "%" escape or a "\\".
        elif "/." in raw_path or "%" in raw_path or "\\" in raw_path:
            try:  # no app code, global middleware included, ever sees a dot segment
                path = resolve_dots(raw_path)
            except UnsafePath as exc:
                response = Response(f"Bad Request: {exc}\n", status=400)
        body = b""
        # An HTTP/1.x request with neither header has no body by definition.
        if response is None and (framed or (version != "1.1" and version != "1.0")):
            try:
                body = await _read_body(receive, length, self.body_limit)
            except _BodyTooLarge:
                response = Response(f"Payload Too Large: the body limit is {self.body_limit} bytes\n", status=413)
            except _BadRequest as exc:
                response = Response(f"Bad Request: {exc}\n", status=400)
            if body:
                trace.request.keep(body)

        if response is None:
            request = _request(scope, method, path, query, Headers(raw_headers), body, host, path != raw_path)
            try:
                if not state.direct:
                    response = await self._global(state, request, trace)
                else:  # PERF: no global middleware: route in this coroutine
                    routed = self._route(state, request, trace)
                    if isinstance(routed, Response):
                        response = routed
                    elif routed.plain:  # PERF: and run the handler here too: one coroutine less
                        handler = routed.handler
                        span = trace.open_span("handler", "handler", handler.name, handler.file, handler.line)
                        try:
                            result = await routed.call(handler.fn, request, request.params, {})
                            response = (
                                result
                                if isinstance(result, Response)
                                else to_response(result, where=handler, page=routed.page)
                            )
                        except BaseException as exc:
                            _failed(exc, trace, span, handler)
                            raise
                        span.duration_ms = (perf_counter() - trace._t0) * 1000.0 - span.start_ms
                        span.outcome = "respond"
                    else:
                        response = await self._serve(routed, request, trace, {})
            except MalformedBody as exc:  # the client's body, not the app, is at fault (the span says where)
                response = Response(f"Bad Request: {exc}\n", status=400)
            except BaseException as exc:  # SystemExit, KeyboardInterrupt... from app code are its failures too
                if _cancelled(exc):
                    raise  # the server cancelled the request (the client left): not the app's doing
                where = getattr(exc, _WHERE, f"{method} {raw_path}")
                log.exception("%s %s: %s raised", method, raw_path, where)
                response = self._error(f"{where} raised {type(exc).__name__}: {exc}", traceback.format_exc())

        whole = response.body
        status = response.status
        last: MutableMapping[str, Any]
        if isinstance(whole, bytes):  # PERF: the common case, sent from here: no coroutine of its own
            headers = response.headers.raw()
            if status != 204 and status != 304:
                # PERF: a plain loop, not any() over a generator: the headers are few.
                for name, _ in headers:
                    if name == b"content-length":
                        break
                else:
                    headers.append((b"content-length", str(len(whole)).encode()))
            kept = trace.response
            kept.headers = headers
            if len(whole) <= BODY_CAP:  # PERF: Message.keep() in place, for a first chunk that fits
                kept.body = whole
                kept.size = len(whole)
            else:
                kept.keep(whole)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            last = {"type": "http.response.body", "body": b"" if method == "HEAD" else whole}
        else:
            last = await self._stream(send, response, method == "HEAD", trace)
        # Published before the last body message: once a client has the whole response,
        # its trace is already on the way to the log and the console.
        trace.status = status
        trace.duration_ms = (perf_counter() - trace._t0) * 1000.0  # PERF: Trace.finish() in place
        self.events.publish(RequestFinished(trace))
        await send(last)

    async def _global(self, state: AppState, request: Request, trace: Trace) -> Response:
        """The global middleware around routing."""
        if state.global_importing is not None:
            return _importing(state.global_importing)
        if state.global_error:
            return self._error(state.global_error, None)
        if state.global_fn is not None:
            early = await self._global_function(state.global_fn, request, trace)
            if early is not None:
                return early
        if state.global_layers:
            dispatch = partial(self._dispatch, state, request, trace)
            return await self._chain(state.global_layers, 0, request, {}, trace, dispatch)
        return await self._dispatch(state, request, trace, {})

    async def _global_function(self, fn: Callee, request: Request, trace: Trace) -> Response | None:
        span = trace.open_span("middleware", "global", fn.name, fn.file, fn.line)
        try:
            result = await self._call(fn, {"request": request.frozen()})
            response = None if result is None else to_response(result, where=f"middleware in {fn.file}")
        except BaseException as exc:
            if _cancelled(exc):
                raise
            trace.close_span(span, "raise", _format(exc))
            log.exception("global middleware %s raised", fn.file)
            return self._error(f"middleware in {fn.file} raised {type(exc).__name__}: {exc}", traceback.format_exc())
        trace.close_span(span, "next" if response is None else "respond")
        return response

    async def _dispatch(self, state: AppState, request: Request, trace: Trace, context: dict[str, Any]) -> Response:
        """Routing and the route's own onion, inside the global middleware."""
        routed = self._route(state, request, trace)
        if isinstance(routed, Response):
            return routed
        return await self._serve(routed, request, trace, context)

    def _route(self, state: AppState, request: Request, trace: Trace) -> Response | _Target:
        """Match the request: what serves it, or the response when nothing does."""
        method = request.method
        key = (method, request.raw_path)
        routed = state.recent.get(key)
        if routed is not None:
            served, pattern, file, params = routed
            fresh = params.copy()  # a handler may change its own
            trace.route = {"pattern": pattern, "file": file, "params": fresh}
            request.params = fresh
            return served
        match = state.table.match(method, request.raw_path)
        status = match.status
        if status == 501:
            return Response(f"Not Implemented: {method}\n", status=501)
        if status == 308:
            location = match.location or "/"
            if request.query_string:
                location += f"?{request.query_string}"
            return Response.redirect(location, status=308)
        route = match.route
        if route is None:
            return Response(f"Not Found: {request.path}\n", status=404)
        trace.route = {"pattern": match.pattern, "file": match.file, "params": match.params}
        request.params = match.params
        targets = state.targets.get(route.file)
        if targets is None:
            loaded = state.routes.get(route.file)
            if loaded is not None and loaded.importing is not None:
                return _importing(loaded.importing)
            reason = loaded.error if loaded else f"{route.file} is not loaded"
            return self._error(reason or "", loaded.traceback if loaded else None)
        target = targets.get(method) if status != 405 else None
        if target is None:
            allow = ", ".join(match.allow)
            if method == "OPTIONS" and status != 405:
                return Response(status=204, headers={"allow": allow})
            return Response(f"Method Not Allowed: {method}\n", status=405, headers={"allow": allow})
        if all(type(value) is str for value in match.params.values()):  # a shallow copy is a copy
            recent = state.recent
            if len(recent) >= RECENT_LIMIT:
                recent.clear()
            recent[key] = (target, route.pattern, route.file, dict(match.params))
        return target

    def _serve(self, target: _Target, request: Request, trace: Trace, context: dict[str, Any]) -> Awaitable[Response]:
        """The route's middleware around its handler, as a coroutine to await.

        PERF: a plain function handing back the coroutine: no frame of its own per request.
        """
        if not target.layers:
            return self._handle(target, request, trace, context)
        handler = partial(self._handle, target, request, trace)
        return self._chain(target.layers, 0, request, context, trace, handler)

    async def _handle(self, target: _Target, request: Request, trace: Trace, context: dict[str, Any]) -> Response:
        cache = target.cache
        key = ""
        if cache is not None:
            key = request.raw_path + ("?" + request.query_string if request.query_string else "")
            span = trace.open_span("cache", "route", cache.label, None, None)
            hit = cache.get(key)
            trace.close_span(span, "hit" if hit else "miss")
            if hit is not None:
                return hit
        handler = target.handler
        span = trace.open_span("handler", "handler", handler.name, handler.file, handler.line)
        try:
            if handler.is_async:  # PERF: no extra coroutine for the common case
                result = await target.call(handler.fn, request, request.params, context)
            else:
                result = await self._call(handler, {"request": request, "params": request.params, "context": context})
            response = result if isinstance(result, Response) else to_response(result, where=handler, page=target.page)
        except BaseException as exc:
            _failed(exc, trace, span, handler)
            raise
        trace.close_span(span, "respond")
        if cache is not None:
            cache.put(key, response)
        return response

    async def _chain(
        self,
        layers: tuple[Layer, ...],
        index: int,
        request: Request,
        context: dict[str, Any],
        trace: Trace,
        final: Callable[..., Awaitable[Response]],
    ) -> Response:
        """Run `layers[index:]` as an onion around `final`; each layer is a span."""
        if index == len(layers):
            return await final(context)
        layer = layers[index]
        fn = layer.callee
        span = trace.open_span("middleware", layer.layer, fn.name, fn.file, fn.line)
        inner: list[Response] = []

        async def next_(context: dict[str, Any] | None = None) -> Response:
            scope_context = dict(outer)
            if context:
                span.context.extend(k for k in context if k not in span.context)
                scope_context.update(context)
            if index + 1 == len(layers):  # PERF: the innermost layer calls `final` itself
                response = await final(scope_context)
            else:
                response = await self._chain(layers, index + 1, request, scope_context, trace, final)
            inner.append(response)
            return response

        outer = context
        try:
            if fn.is_async:  # PERF: awaited here, not through _call(): one coroutine less per layer
                available = {"request": request, "params": request.params, "context": context, "next": next_}
                result = await fn.fn(**{name: available[name] for name in fn.wants})
            else:
                result = await self._call(fn, {"request": request, "params": request.params, "context": context}, next_)
            # A middleware that awaited next() but forgot to return passes the response on.
            if result is None and inner:
                result = inner[-1]
            response = result if isinstance(result, Response) else to_response(result, where=fn)
        except BaseException as exc:
            _failed(exc, trace, span, fn)
            raise
        trace.close_span(span, "next" if inner else "respond")
        return response

    async def _call(
        self,
        fn: Callee,
        available: dict[str, Any],
        next_: Callable[..., Coroutine[Any, Any, Response]] | None = None,
    ) -> Any:
        if fn.is_async:
            kwargs = {n: available[n] if n != "next" else next_ for n in fn.wants}
            return await fn.fn(**kwargs)
        loop = asyncio.get_running_loop()
        if next_ is not None and "next" in fn.wants:

            def sync_next(context: dict[str, Any] | None = None) -> Response:
                return asyncio.run_coroutine_threadsafe(next_(context), loop).result()

            available = {**available, "next": sync_next}
        kwargs = {n: available[n] for n in fn.wants}
        result = await loop.run_in_executor(self._executor, partial(fn.fn, **kwargs))
        if inspect.isawaitable(result):
            result = await result
        return result

    def _error(self, reason: str, tb: str | None) -> Response:
        body = f"Internal Server Error: {reason}\n"
        if self.debug and tb:
            body += "\n" + tb
        return Response(body, status=500)

    async def _stream(self, send: Send, response: Response, head: bool, trace: Trace) -> MutableMapping[str, Any]:
        """Send the status, headers and streamed body but the last message, which is returned."""
        body = response.body
        assert not isinstance(body, bytes)
        raw = response.headers.raw()
        trace.response.headers = raw
        await send({"type": "http.response.start", "status": response.status, "headers": raw})
        if head:
            await _close(body)
            return {"type": "http.response.body", "body": b""}
        try:
            async for chunk in _chunks(body, self._executor):
                trace.response.keep(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except BaseException as exc:  # headers are gone: end the body, keep the error on the trace
            if _cancelled(exc):
                raise
            log.exception("streaming the response of %s failed", trace.path)
            span = trace.open_span("handler", "handler", "stream", None, None)
            trace.close_span(span, "raise", _format(exc))
        return {"type": "http.response.body", "body": b""}

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.events.flush()  # what this app published reaches its subscribers
        if self.export is not None:
            self.export.shutdown()  # and the collector gets every span queued
        # APP went first on sys.path for its routes' imports; left there, an app file named like
        # a module (json.py) would shadow it for whatever this process imports or spawns next.
        with contextlib.suppress(ValueError):
            sys.path.remove(str(self.app_dir.resolve()))


def create_app(
    app_dir: str | Path,
    *,
    convention: str | None = None,
    body_limit: int = DEFAULT_BODY_LIMIT,
    debug: bool = False,
    events: EventSink | None = None,
    import_grace: float = IMPORT_GRACE,
    otlp: str | None = None,
    export: bool = True,
) -> RouteApp:
    """A plain ASGI 3 application serving the route files under `app_dir`.

    Works under hypercorn, uvicorn, granian or `httpx.ASGITransport`, with or without
    lifespan. `events` receives a `RequestFinished(trace)` for every request. A route module
    still importing `import_grace` seconds after it started answers 503 until it has finished.
    With `otlp` (a collector's OTLP/HTTP base URL), or `OTEL_EXPORTER_OTLP_ENDPOINT` or
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set, every request is exported as OpenTelemetry
    spans (`engine.otel`; needs the `otel` extra); `close()` sends what is left.
    `export=False` exports nothing whatever the variables say: `serve` and the console pass
    it when their log writer, in a process that does not serve, exports the traces instead.
    """
    return RouteApp(
        Path(app_dir),
        convention=convention,
        body_limit=body_limit,
        debug=debug,
        events=events,
        import_grace=import_grace,
        otlp=otlp,
        export=export,
    )


def _start_export(app: RouteApp, otlp: str | None) -> TraceExport:
    from .otel import TraceExport  # EngineError naming the extra when it is missing

    return TraceExport.start(app.events, service=app.app_dir.resolve().name, otlp=otlp)


class _BodyTooLarge(Exception):
    pass


class _BadRequest(Exception):
    pass


async def _read_body(receive: Receive, length: bytes | None, limit: int) -> bytes:
    if length is not None:
        if not length.isdigit():
            raise _BadRequest(f"invalid Content-Length {length.decode('latin-1')!r}")
        if int(length) > limit:
            raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _chunks(body: Iterable[bytes | str] | AsyncIterable[bytes | str], executor: ThreadPoolExecutor) -> Any:
    if isinstance(body, AsyncIterable):
        async for piece in body:
            yield piece.encode("utf-8") if isinstance(piece, str) else bytes(piece)
        return
    iterator = iter(body)
    loop = asyncio.get_running_loop()
    while True:
        # Each chunk of a sync iterator is pulled off the loop: it may block.
        chunk: bytes | str | None = await loop.run_in_executor(executor, _next_chunk, iterator)
        if chunk is None:
            return
        yield chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


def _next_chunk(iterator: Iterator[bytes | str]) -> bytes | str | None:
    return next(iterator, None)


async def _close(body: object) -> None:
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()
    elif (close := getattr(body, "close", None)) is not None:
        close()


def _relative_file(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _request(
    scope: Scope,
    method: str,
    raw_path: str,
    query: str,
    headers: Headers,
    body: bytes,
    raw_host: bytes | None,
    resolved: bool,
) -> Request:
    """The handler's Request; `raw_path` is the path as routed, `resolved` when its dot
    segments were resolved (the server's decoded `path` still has them)."""
    host = raw_host.decode("latin-1") if raw_host else _server_host(scope)
    scheme = scope.get("scheme", "http")
    url = f"{scheme}://{host}{raw_path}?{query}" if query else f"{scheme}://{host}{raw_path}"
    peer = scope.get("client")
    client = tuple(peer) if peer else None
    # Positional: method, url, path, raw_path, query_string, headers, body, client, scheme.
    path = unquote(raw_path) if resolved else scope["path"]
    return Request(method, url, path, raw_path, query, headers, body, client, scheme)


def _server_host(scope: Scope) -> str:
    server = scope.get("server")
    return f"{server[0]}:{server[1]}" if server else "localhost"


_WHERE: Final = "_routeconsole_where"


def _refuse(reason: str) -> Response:
    """A 400 for a request whose framing cannot be trusted: the connection closes after it."""
    return Response(f"Bad Request: {reason}\n", status=400, headers={"connection": "close"})


def _importing(job: Import) -> Response:
    return Response(
        f"Service Unavailable: {job.file} still importing after {job.elapsed():.0f} s\n",
        status=503,
        headers={"retry-after": "1"},
    )


def _cancelled(exc: BaseException) -> bool:
    """Whether `exc` is the server cancelling the request (the client left), not the app's own
    failure: a CancelledError raised while the running task was asked to stop."""
    if not isinstance(exc, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _failed(exc: BaseException, trace: Trace, span: Span, fn: Callee) -> None:
    """A user function raised: close its span with the error and remember whose it was."""
    trace.close_span(span, "raise", _format(exc))
    _blame(exc, fn)


def _blame(exc: BaseException, fn: Callee) -> None:
    """Remember the innermost user function an exception came out of, for the 500's body."""
    if not hasattr(exc, _WHERE):
        with contextlib.suppress(AttributeError, TypeError):
            setattr(exc, _WHERE, f"{fn.name} in {fn.file}")


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).rstrip()


async def _not_http(scope: Scope, receive: Receive, send: Send) -> None:
    kind = scope["type"]
    if kind == "lifespan":
        await _lifespan(receive, send)
    elif kind == "websocket":
        await send({"type": "websocket.close", "code": 1000})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

"""Import route files and turn what they export into callables the app can run.

Route modules are imported by path under isolated names (`routeconsole.app.<id>...`),
so two apps, or two `route.py` files, never collide in `sys.modules`; APP itself is on
`sys.path` so routes import the app's own modules by name (`from _lib.db import ...`).

Handlers and middleware receive what they ask for by parameter name:

    async def GET(request, params, context): ...
    async def auth(request, next): ...          # middleware: `next` too
    def page(params): ...                       # any subset, sync or async

A parameter with any other name is a mistake reported when the module loads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import logging
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from .table import Route, RouteTable
from .trace import Layer as LayerName

HANDLER_ARGS: Final = frozenset({"request", "params", "context"})
MIDDLEWARE_ARGS: Final = frozenset({"request", "params", "context", "next"})
_USE_ATTR: Final = "__routeconsole_middleware__"
_OWN_PACKAGES: Final = frozenset({"engine", "console", "themes"})


IMPORT_GRACE: Final = 2.0  # seconds a route module may take to import before its URLs answer 503
IMPORT_STALL: Final = 0.05  # seconds after which an import's thread no longer counts toward the pool


class LoadError(Exception):
    """A route file that cannot be served; `str()` says why, in one line."""


class StillImporting(LoadError):
    """A module whose top-level code is still running after the grace: its routes answer 503."""

    def __init__(self, job: Import) -> None:
        super().__init__(f"{job.file} is still importing")
        self.job = job


def use(*middleware: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run `middleware` around one method's handler, after the route's own middleware.

    @use(audit, rate_limit)      # audit wraps rate_limit wraps POST
    async def POST(request): ...
    """
    for m in middleware:
        if not callable(m):
            raise TypeError(f"use() takes middleware functions, got {m!r}")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        setattr(fn, _USE_ATTR, (*middleware, *getattr(fn, _USE_ATTR, ())))
        return fn

    return decorate


@dataclass(frozen=True, slots=True)
class FileRoute:
    """What `create_file_route(path)(server={...})` declares in a TanStack-style file."""

    path: str
    server: Mapping[str, Any] = field(default_factory=dict)


def create_file_route(path: str) -> Callable[..., FileRoute]:
    """TanStack Start's `createFileRoute`:

    Route = create_file_route("/users/$id")(server={
        "middleware": [auth],
        "handlers": {"GET": get_user, "POST": {"middleware": [audit], "handler": create}},
    })
    """

    def declare(server: Mapping[str, Any] | None = None, **_: Any) -> FileRoute:
        return FileRoute(path, server or {})

    return declare


@dataclass(frozen=True, slots=True)
class Callee:
    """A user function, how to call it, and where it lives (for spans)."""

    fn: Callable[..., Any]
    name: str
    file: str | None
    line: int | None
    wants: tuple[str, ...]
    is_async: bool


def callee(fn: Callable[..., Any], allowed: frozenset[str], app_dir: Path, role: str) -> Callee:
    if not callable(fn):
        raise LoadError(f"{role} must be a function, got {type(fn).__name__}")
    target = inspect.unwrap(fn)
    code = getattr(target, "__code__", None)
    file = _relative(code.co_filename, app_dir) if code else None
    line = code.co_firstlineno if code else None
    name = getattr(target, "__name__", type(target).__name__)
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        parameters = ()  # type: ignore[assignment]
    wants: list[str] = []
    for p in parameters:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in allowed:
            wants.append(p.name)
        elif p.default is p.empty:
            names = ", ".join(sorted(allowed))
            raise LoadError(f"{role} {name}() asks for {p.name!r}; arguments are passed by name: {names}")
    is_async = inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(type(fn).__call__)
    return Callee(fn, name, file, line, tuple(wants), is_async)


def _relative(filename: str, app_dir: Path) -> str:
    # PERF: a string prefix; modules are imported from the resolved APP, so their code's
    # filenames start with it (Path.resolve per handler dominated reload time).
    prefix = str(app_dir) + os.sep
    if filename.startswith(prefix):
        return filename[len(prefix) :].replace(os.sep, "/")
    return filename


@dataclass(frozen=True, slots=True)
class Layer:
    """One middleware in a chain, with the layer it belongs to."""

    layer: LayerName
    callee: Callee


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One method of one route: its handler-level middleware and the handler."""

    middleware: tuple[Layer, ...]
    handler: Callee
    page: bool = False


@dataclass(slots=True)
class LoadedRoute:
    route: Route
    endpoints: dict[str, Endpoint]
    middleware: tuple[Layer, ...]  # layouts then the route's own, root to leaf
    error: str | None = None  # why the route answers 500
    traceback: str | None = None
    modules: dict[str, ModuleType] = field(default_factory=dict)  # the modules it was built from
    importing: Import | None = None  # a module it needs is still importing: it answers 503


class Import:
    """One route module's top-level code, run on an importer thread.

    `started` is set when a thread picks it up, `done` when it has a module or an error.
    A job still running `grace` seconds after it started is *overdue*: the load goes on
    without it (its routes answer 503) and `when_done` callbacks learn when it finishes.
    """

    __slots__ = (
        "_callbacks",
        "_lock",
        "done",
        "error",
        "file",
        "module",
        "name",
        "overdue",
        "path",
        "rescued",
        "started",
    )

    def __init__(self, file: str, path: Path, name: str) -> None:
        self.file, self.path, self.name = file, path, name
        self.started: float | None = None
        self.done = threading.Event()
        self.module: ModuleType | None = None
        self.error: tuple[str, str] | None = None  # (one line, traceback)
        self.overdue = False
        self.rescued = False  # the importer started a thread in place of this one's
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[Import], None]] = []

    def elapsed(self) -> float:
        return 0.0 if self.started is None else time.monotonic() - self.started

    def when_done(self, callback: Callable[[Import], None]) -> bool:
        """Have `callback(self)` called on the importer's thread when the import finishes;
        False, and no call, when it already has."""
        with self._lock:
            if self.done.is_set():
                return False
            self._callbacks.append(callback)
            return True

    def run(self) -> None:
        self.started = time.monotonic()
        module: ModuleType | None = None
        try:
            spec = importlib.util.spec_from_file_location(self.name, self.path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {self.file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[self.name] = module
            spec.loader.exec_module(module)
            self.module = module
        except BaseException as exc:  # SystemExit, KeyboardInterrupt included: the file's problem, not ours
            if module is not None and sys.modules.get(self.name) is module:  # a newer import of the file may own it
                del sys.modules[self.name]
            self.error = (f"{self.file} failed to import: {type(exc).__name__}: {exc}", traceback.format_exc())
        with self._lock:
            self.done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                logging.getLogger("routeconsole.app").exception("after importing %s", self.file)


class _Importer:
    """Daemon threads that run route modules' top-level code.

    A module that blocks on import (a top-level `time.sleep(40)`, a slow network call) holds
    up one thread and its own routes, never the other imports, the server or the other
    routes: `rescue()`, called by whoever waits for an import, starts a thread in place of
    each job running longer than `IMPORT_STALL`, so slow modules run side by side and quick
    ones never queue behind them. A rescued job's thread retires when it ends, and the pool
    shrinks back to its size. The threads are daemons: a module stuck forever never keeps the
    process from exiting.
    """

    def __init__(self, size: int = 4) -> None:
        self._jobs: queue.SimpleQueue[Import] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._size = size  # threads wanted: the base size plus one per rescued job still running
        self._threads = 0
        self._running: set[Import] = set()

    def submit(self, job: Import) -> None:
        self._jobs.put(job)
        with self._lock:
            if self._threads < self._size:
                self._spawn()

    def rescue(self) -> None:
        """Start a thread in place of each job that has been running longer than `IMPORT_STALL`."""
        stalled = time.monotonic() - IMPORT_STALL
        with self._lock:
            for job in self._running:
                if not job.rescued and job.started is not None and job.started < stalled:
                    job.rescued = True
                    self._size += 1
                    self._spawn()

    def _spawn(self) -> None:
        self._threads += 1
        threading.Thread(target=self._work, name="routeconsole-import", daemon=True).start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            with self._lock:
                self._running.add(job)
            job.run()
            with self._lock:
                self._running.discard(job)
                if job.rescued:
                    self._size -= 1
                if self._threads > self._size:
                    self._threads -= 1
                    return


IMPORTER: Final = _Importer()


class ModuleCache:
    """Route modules imported once per load, keyed by file.

    `prefetch()` queues the imports of a load for the importer's threads; `get()` then
    waits for each one up to `grace` seconds after it started. One still running then is
    *pending*: `get()` raises `StillImporting`, and `on_imported(job)` is called when it ends.
    """

    def __init__(
        self,
        app_dir: Path,
        *,
        grace: float = IMPORT_GRACE,
        on_imported: Callable[[Import], None] | None = None,
    ) -> None:
        self.app_dir = app_dir.resolve()
        self.modules: dict[str, ModuleType] = {}
        self.errors: dict[str, tuple[str, str]] = {}  # file -> (one line, traceback)
        self.pending: dict[str, Import] = {}  # file -> its import, started and not yet settled
        self.grace = grace
        self.on_imported = on_imported
        self._prefix = "routeconsole.app_" + hashlib.sha1(str(app_dir.resolve()).encode()).hexdigest()[:8]

    def files(self) -> frozenset[str]:
        """Every file this cache imported, failed to import, or is importing."""
        return frozenset(self.modules) | frozenset(self.errors) | frozenset(self.pending)

    def importing(self) -> dict[str, Import]:
        """The imports still running past their grace."""
        return {file: job for file, job in self.pending.items() if job.overdue and not job.done.is_set()}

    def adopt(self, other: ModuleCache, files: Iterable[str]) -> None:
        """Reuse another load's modules (failures, imports under way) for `files`, which did not change."""
        for file in files:
            if file in other.modules:
                self.modules[file] = other.modules[file]
            elif file in other.errors:
                self.errors[file] = other.errors[file]
            elif file in other.pending:
                self.pending[file] = other.pending[file]

    def prefetch(self, files: Iterable[str]) -> None:
        """Start importing `files` (in this order) on the importer's threads."""
        for file in dict.fromkeys(files):
            if file not in self.modules and file not in self.errors and file not in self.pending:
                job = Import(file, self.app_dir / file, f"{self._prefix}.{_module_name(file)}")
                self.pending[file] = job
                IMPORTER.submit(job)

    def get(self, file: str) -> ModuleType:
        if file in self.modules:
            return self.modules[file]
        if file in self.errors:
            raise LoadError(self.errors[file][0])
        if file not in self.pending:
            self.prefetch((file,))
        job = self.pending[file]
        if not job.overdue and not self._wait(job):
            job.overdue = True
            if self.on_imported is not None:
                job.when_done(self.on_imported)  # False: it has just finished, and is settled below
        if not job.done.is_set():
            raise StillImporting(job)
        del self.pending[file]
        if job.error is not None:
            self.errors[file] = job.error
            raise LoadError(job.error[0])
        assert job.module is not None
        self.modules[file] = job.module
        return job.module

    def _wait(self, job: Import) -> bool:
        """Wait for `job` until `grace` seconds after it started; whether it finished."""
        while not job.done.is_set():
            IMPORTER.rescue()  # a slow import elsewhere must not keep this one from starting
            started = job.started
            if started is None:  # queued: its grace has not begun
                job.done.wait(IMPORT_STALL / 2)
                continue
            left = started + self.grace - time.monotonic()
            if left <= 0:
                return False
            job.done.wait(min(left, IMPORT_STALL))
        return True


def _module_name(file: str) -> str:
    stem = file[:-3] if file.endswith(".py") else file
    safe = "".join(c if c.isalnum() else "_" for c in stem)
    return f"m{hashlib.sha1(file.encode()).hexdigest()[:8]}_{safe}"


def ensure_on_path(app_dir: Path) -> None:
    """Put APP first on `sys.path` and forget app modules imported earlier.

    Routes import the app's own modules by name (`from _lib.db import ...`). A load must
    see this app's files as they are now, not a module imported by an earlier load or by
    another app with a folder of the same name.
    """
    root = app_dir.resolve()
    entry = str(root)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)
    top_level = {p.stem if p.suffix == ".py" else p.name for p in root.iterdir()}
    # PERF: string prefixes, not Path.resolve() per module: this runs on every reload.
    inside = entry + os.sep
    installed = tuple({os.path.realpath(sys.prefix) + os.sep, os.path.realpath(sys.base_prefix) + os.sep})
    own = os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep  # engine/ and console/
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            continue
        if name.partition(".")[0] in _OWN_PACKAGES and file.startswith(own):
            continue  # routeconsole itself, e.g. when APP is this repository
        if file.startswith(inside):
            del sys.modules[name]
        elif name.partition(".")[0] in top_level and not file.startswith(installed):
            del sys.modules[name]  # the same name from another app: this app's file must win


def load_route(route: Route, modules: ModuleCache, previous: LoadedRoute | None = None) -> LoadedRoute:
    """Import a route's file (and its layouts) and build its endpoints.

    `previous` is this route from the last load; when its modules were reused and the route
    reads the same, its endpoints are reused too.
    """
    if (
        previous is not None
        and previous.route == route
        and all(modules.modules.get(f) is previous.modules.get(f) is not None for f in (route.file, *route.layouts))
    ):
        return previous
    app_dir = modules.app_dir
    try:
        layers: list[Layer] = []
        for layout in route.layouts:
            layers.extend(_middleware_layers(modules.get(layout), "layout", layout, app_dir))
        module = modules.get(route.file)
        file_route = getattr(module, "Route", None)
        file_route = file_route if isinstance(file_route, FileRoute) else None
        layers.extend(_middleware_layers(module, "route", route.file, app_dir))
        endpoints = _endpoints(module, route, file_route, app_dir)
    except StillImporting as exc:
        return LoadedRoute(route, {}, (), error=str(exc), importing=exc.job)
    except LoadError as exc:
        tb = next((tb for f, (_, tb) in modules.errors.items() if f in (route.file, *route.layouts)), None)
        return LoadedRoute(route, {}, (), error=str(exc), traceback=tb)
    if route.error and not endpoints:  # what its source says (a SyntaxError), named by its file like the rest
        return LoadedRoute(route, {}, (), error=f"{route.file}: {route.error}")
    used = {f: modules.modules[f] for f in (route.file, *route.layouts)}
    return LoadedRoute(route, endpoints, tuple(layers), modules=used)


def _middleware_layers(module: ModuleType, layer: LayerName, file: str, app_dir: Path) -> list[Layer]:
    declared: Any = getattr(module, "middleware", None)
    file_route = getattr(module, "Route", None)
    if isinstance(file_route, FileRoute) and "middleware" in file_route.server:
        declared = [*(declared or ()), *file_route.server["middleware"]]
    return [Layer(layer, callee(m, MIDDLEWARE_ARGS, app_dir, "middleware")) for m in _as_list(declared, file)]


def _as_list(declared: Any, file: str) -> Iterable[Any]:
    if declared is None:
        return ()
    if callable(declared):
        return (declared,)
    if isinstance(declared, list | tuple):
        return declared
    raise LoadError(f"{file}: `middleware` must be a list of functions, got {type(declared).__name__}")


def _endpoints(module: ModuleType, route: Route, file_route: FileRoute | None, app_dir: Path) -> dict[str, Endpoint]:
    if route.kind == "page":
        page = getattr(module, "page", None)
        if page is None:
            return {}
        return {"GET": Endpoint((), callee(page, HANDLER_ARGS, app_dir, "page"), page=True)}
    found: dict[str, Endpoint] = {}
    handlers = dict(file_route.server.get("handlers") or {}) if file_route else {}
    for method in route.methods:
        spec = getattr(module, method, None) if method not in handlers else handlers[method]
        extra: tuple[Any, ...] = ()
        if isinstance(spec, Mapping):
            extra = tuple(spec.get("middleware") or ())
            spec = spec.get("handler")
        if spec is None:
            continue
        used = (*extra, *getattr(spec, _USE_ATTR, ()))
        middleware = tuple(Layer("handler", callee(m, MIDDLEWARE_ARGS, app_dir, "middleware")) for m in used)
        found[method] = Endpoint(middleware, callee(spec, HANDLER_ARGS, app_dir, method))
    return found


def load_global(table: RouteTable, modules: ModuleCache) -> tuple[Callee | None, tuple[Layer, ...], str | None]:
    """The global middleware: a `middleware(request)` function (next, expo), or tanstack's
    `__root.py` list of onion middleware. Returns (function, layers, error)."""
    file = table.global_middleware
    if file is None:
        return None, (), None
    try:
        module = modules.get(file)  # StillImporting: the app answers 503 until it has finished
        if table.convention == "tanstack":
            return None, tuple(_middleware_layers(module, "global", file, modules.app_dir)), None
        fn = getattr(module, "middleware", None)
        if fn is None:
            return None, (), None
        return callee(fn, frozenset({"request"}), modules.app_dir, "middleware"), (), None
    except LoadError as exc:
        return None, (), str(exc)

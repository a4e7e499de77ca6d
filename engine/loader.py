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
import os
import sys
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


class LoadError(Exception):
    """A route file that cannot be served; `str()` says why, in one line."""


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


class ModuleCache:
    """Route modules imported once per load, keyed by file."""

    def __init__(self, app_dir: Path) -> None:
        self.app_dir = app_dir.resolve()
        self.modules: dict[str, ModuleType] = {}
        self.errors: dict[str, tuple[str, str]] = {}  # file -> (one line, traceback)
        self._prefix = "routeconsole.app_" + hashlib.sha1(str(app_dir.resolve()).encode()).hexdigest()[:8]

    def files(self) -> frozenset[str]:
        """Every file this cache imported or failed to import."""
        return frozenset(self.modules) | frozenset(self.errors)

    def adopt(self, other: ModuleCache, files: Iterable[str]) -> None:
        """Reuse another load's modules (and failures) for `files`, which did not change."""
        for file in files:
            if file in other.modules:
                self.modules[file] = other.modules[file]
            elif file in other.errors:
                self.errors[file] = other.errors[file]

    def get(self, file: str) -> ModuleType:
        if file in self.errors:
            raise LoadError(self.errors[file][0])
        if file in self.modules:
            return self.modules[file]
        name = f"{self._prefix}.{_module_name(file)}"
        path = self.app_dir / file
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot import {file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except BaseException as exc:
            sys.modules.pop(name, None)
            if isinstance(exc, KeyboardInterrupt):
                raise
            # Anything else, SystemExit included, is the file's problem: its URLs answer 500.
            line = f"{file} failed to import: {type(exc).__name__}: {exc}"
            self.errors[file] = (line, traceback.format_exc())
            raise LoadError(line) from exc
        self.modules[file] = module
        return module


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
    except LoadError as exc:
        tb = next((tb for f, (_, tb) in modules.errors.items() if f in (route.file, *route.layouts)), None)
        return LoadedRoute(route, {}, (), error=str(exc), traceback=tb)
    if route.error and not endpoints:
        return LoadedRoute(route, {}, (), error=route.error)
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
        module = modules.get(file)
        if table.convention == "tanstack":
            return None, tuple(_middleware_layers(module, "global", file, modules.app_dir)), None
        fn = getattr(module, "middleware", None)
        if fn is None:
            return None, (), None
        return callee(fn, frozenset({"request"}), modules.app_dir, "middleware"), (), None
    except LoadError as exc:
        return None, (), str(exc)

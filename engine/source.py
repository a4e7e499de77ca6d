"""Read what a route file declares without running it.

The route tree, the exported methods and most problems come from the source alone
(`ast`), so listing and checking an app never executes its code, and a file that
does not even parse is a problem on the tree rather than a crash.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_METHOD_SET: Final = frozenset(METHODS)
_LOWER_METHODS: Final = {m.lower(): m for m in METHODS}


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a route file exports, read from its source."""

    methods: tuple[str, ...] = ()  # exported HTTP methods, sorted
    lines: dict[str, int] = field(default_factory=dict)  # exported name -> line it is defined on
    lowercase: tuple[str, ...] = ()  # `def get(...)` and friends: likely meant as methods
    has_middleware: bool = False
    has_page: bool = False  # next: a `page(request, params)` function
    has_global_middleware: bool = False  # a `def middleware(request)` function
    revalidate: int | float | None = None
    dynamic: str | None = None
    declared_path: str | None = None  # tanstack: create_file_route("/x")
    declared_path_line: int | None = None
    error: str | None = None  # the file could not be read or parsed


def read_facts(path: Path) -> FileFacts:
    try:
        source = path.read_bytes()
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return FileFacts(error=f"SyntaxError: {exc.msg}{where}")
    except (OSError, ValueError) as exc:  # unreadable, or NUL bytes / bad encoding
        return FileFacts(error=f"{type(exc).__name__}: {exc}")
    return _facts_from_tree(tree)


def _facts_from_tree(tree: ast.Module) -> FileFacts:
    lines: dict[str, int] = {}
    values: dict[str, ast.expr] = {}
    functions: set[str] = set()
    for node in tree.body:
        for name, value in _bound_names(node):
            lines.setdefault(name, node.lineno)
            if value is not None:
                values[name] = value
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions.add(name)

    methods = {name for name in lines if name in _METHOD_SET}
    declared_path, declared_line = None, None
    has_middleware = "middleware" in lines
    route_value = values.get("Route")
    if route_value is not None:
        declared = _file_route_declaration(route_value)
        if declared is not None:
            declared_path, server = declared
            declared_line = lines["Route"]
            handlers = server.get("handlers")
            if isinstance(handlers, dict):
                methods.update(k for k in handlers if k in _METHOD_SET)
            has_middleware = has_middleware or "middleware" in server

    lowercase = tuple(sorted(n for n in lines if n in _LOWER_METHODS and _LOWER_METHODS[n] not in methods))
    revalidate = _literal(values.get("revalidate"))
    dynamic = _literal(values.get("dynamic"))
    return FileFacts(
        methods=tuple(sorted(methods)),
        lines=lines,
        lowercase=lowercase,
        has_middleware=has_middleware,
        has_page="page" in functions,
        has_global_middleware="middleware" in functions or "middleware" in values,
        revalidate=revalidate if isinstance(revalidate, int | float) and not isinstance(revalidate, bool) else None,
        dynamic=dynamic if isinstance(dynamic, str) else None,
        declared_path=declared_path,
        declared_path_line=declared_line,
    )


def _bound_names(node: ast.stmt) -> list[tuple[str, ast.expr | None]]:
    """Top-level names a statement binds, with the assigned value where there is one."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [(node.name, None)]
    if isinstance(node, ast.Assign):
        return [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [(node.target.id, node.value)]
    if isinstance(node, ast.ImportFrom | ast.Import):
        return [((a.asname or a.name).split(".")[0], None) for a in node.names if a.name != "*"]
    return []


def _literal(node: ast.expr | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _file_route_declaration(node: ast.expr) -> tuple[str | None, dict[str, Any]] | None:
    """`create_file_route("/x")(server={...})` -> ("/x", {"handlers": {...}, "middleware": ...}).

    Only the shape is read: handler values and middleware lists are kept as AST nodes,
    since they are names of functions, not literals.
    """
    if not isinstance(node, ast.Call):
        return None
    inner = node.func
    if not (isinstance(inner, ast.Call) and _callee_name(inner.func) == "create_file_route"):
        # A bare create_file_route("/x") with no server part.
        if _callee_name(node.func) == "create_file_route":
            return _first_str(node), {}
        return None
    server: dict[str, Any] = {}
    server_node = next((kw.value for kw in node.keywords if kw.arg == "server"), None)
    if server_node is None and node.args:
        server_node = node.args[0]
    if isinstance(server_node, ast.Dict):
        for key, value in zip(server_node.keys, server_node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                if key.value == "handlers" and isinstance(value, ast.Dict):
                    server["handlers"] = {
                        k.value: v
                        for k, v in zip(value.keys, value.values, strict=True)
                        if isinstance(k, ast.Constant) and isinstance(k.value, str)
                    }
                else:
                    server[key.value] = value
    return _first_str(inner), server


def _callee_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _first_str(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


class FactsCache:
    """`read_facts` memoised on (mtime, size): a reload re-parses only files that changed."""

    def __init__(self) -> None:
        self._facts: dict[Path, tuple[tuple[int, int], FileFacts]] = {}

    def unchanged_shape(self, path: Path) -> bool:
        """Re-read `path`; True when it declares what it did before (line numbers aside),
        so a route table built from the old facts still holds."""
        cached = self._facts.get(path)
        if cached is None or not path.is_file():
            return False
        old, new = cached[1], self.read(path)
        return old.error is None and new.error is None and _shape(old) == _shape(new)

    def read(self, path: Path) -> FileFacts:
        try:
            st = path.stat()
        except OSError:
            return read_facts(path)
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._facts.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        facts = read_facts(path)
        self._facts[path] = (stamp, facts)
        return facts


def _shape(facts: FileFacts) -> FileFacts:
    return replace(facts, lines={}, declared_path_line=None)


@dataclass(frozen=True, slots=True)
class Docstrings:
    """The docstrings of a route file, read from its source: the module's and each handler's."""

    module: str | None = None
    handlers: dict[str, str] = field(default_factory=dict)  # method -> its handler's docstring


def read_docstrings(path: Path, *, page: bool = False) -> Docstrings:
    """The docstrings a route file gives its module and its handlers, without running it.

    A handler is found as the loader finds it: a `page()` function answers GET for a next
    page; otherwise tanstack's `create_file_route(...)(server={"handlers": {...}})` entry
    for the method when there is one (a function's name, or `{"handler": name, ...}`), else
    the top-level name of the method (`def GET`, or `GET = get_user` naming a function of
    the file). What cannot be followed without running code (a lambda, an import, a
    function built by a call) has no docstring. An unreadable file has none at all.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, OSError, ValueError):
        return Docstrings()
    # The last top-level binding of a name is the one the module ends up exporting.
    bindings: dict[str, ast.stmt] = {}
    values: dict[str, ast.expr] = {}
    for node in tree.body:
        for name, value in _bound_names(node):
            bindings[name] = node
            if value is not None:
                values[name] = value
            else:
                values.pop(name, None)

    def doc_of(node: ast.expr | None, depth: int = 0) -> str | None:
        if node is None or depth > 8:  # `A = B`, `B = A`: give up rather than loop
            return None
        if isinstance(node, ast.Dict):  # tanstack: {"middleware": [...], "handler": fn}
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "handler":
                    return doc_of(value, depth + 1)
            return None
        if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Call):
            return doc_of(node.args[0], depth + 1)  # use(audit)(handler)
        if isinstance(node, ast.Name):
            return doc_of_name(node.id, depth + 1)
        return None

    def doc_of_name(name: str, depth: int) -> str | None:
        bound = bindings.get(name)
        if isinstance(bound, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return ast.get_docstring(bound)
        return doc_of(values.get(name), depth)

    handlers: dict[str, str] = {}
    if page:
        doc = doc_of_name("page", 0)
        if doc:
            handlers["GET"] = doc
    else:
        declared_handlers: dict[str, ast.expr] = {}
        route = values.get("Route")
        declared = _file_route_declaration(route) if route is not None else None
        if declared is not None and isinstance(declared[1].get("handlers"), dict):
            declared_handlers = declared[1]["handlers"]
        for method in METHODS:
            # As the loader does: a declared handler wins over a top-level function of that name.
            doc = doc_of(declared_handlers[method]) if method in declared_handlers else doc_of_name(method, 0)
            if doc:
                handlers[method] = doc
    return Docstrings(ast.get_docstring(tree), handlers)

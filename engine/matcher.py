"""Match a request path to a route with a segment tree.

The tree has one node per URL prefix. Each node holds its static children in a dict,
at most one parameter child, and the routes that end there, that take the rest of the
path as a catch-all, or as an optional catch-all. Looking up `/users/42/posts` walks
three nodes: a dict lookup per segment, whatever the number of routes.

Priority at each position, left to right: static > `[x]` > `[...x]` > `[[...x]]`.
When a branch dead-ends the walk backs up to the last node that had an untried
alternative, so `/users/new/edit` still reaches `/users/[id]/edit` when
`/users/new` exists without an `edit` below it.

    tree for /users, /users/new, /users/[id]/edit, /files/[...path]
      root ─ users (leaf /users) ─┬─ new (leaf /users/new)
           │                      └─ [param] ─ edit (leaf /users/[id]/edit)
           └─ files (catchall /files/[...path])

A lookup takes the first of three ways that answers:

1. An all-static route is found by the whole raw path in one dict lookup.
2. The greedy walk: split the raw path and, at each node, take the static child, else
   the param child, else stop at the catch-all; never back up, never decode. The walk
   takes the way a full search tries first at every node, so when it reaches a route,
   that route is the one the full search would find first. It answers at once when the
   route's params are all `[x]`s with plain values (`str.isalnum`: no "%" to decode,
   no dot segment, no empty segment, no trailing slash).
3. Otherwise, when the raw path has nothing to resolve or decode (no "%", dot segment,
   "//", backslash or trailing slash), its raw segments are its segments: the walk's
   route is the answer, and when the walk dead-ended the full search (`_find`) backs up
   from it, unless no node on the way had another way to try (`_Node.backtrack`): then
   it is a 404. Any other path goes the careful way, `_match_carefully`: resolve dot
   segments and the trailing slash, decode each segment on its own, search in full.

`Matcher.match` is the definition. `Matcher.lookup`, what `RouteTable.match` calls, is the
same lookup in C (engine/_fastmatch.c) where setup.py could build it: ways 1 to 3 over a
mirror of the tree in tuples, and `_match_carefully` called back for the careful way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Final, NamedTuple
from urllib.parse import unquote

from .segments import CATCHALL, OPTIONAL, PARAM, SPLAT, STATIC, holds_dot_segment

if TYPE_CHECKING:
    from .table import Route

try:  # the C matcher, built by setup.py where a compiler is (see engine/_fastmatch.c)
    from . import _fastmatch
except ImportError:  # pragma: no cover - the Python matcher below does the same, slower
    _fastmatch = None  # type: ignore[assignment]

# Set (to anything) to match in Python even where the C matcher was built.
PURE_PYTHON_ENV: Final = "ROUTECONSOLE_PURE_PYTHON"

# The methods the engine implements; any other token answers 501.
KNOWN_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

Params = dict[str, str | list[str]]


class Match(NamedTuple):
    """What a request would get, without running anything.

    `status` is 200 (or 204 for an OPTIONS the route does not export), 308 for a
    redirect (`location` says where), 400 for a path with an encoded dot segment or one
    that climbs above the root (see `resolve_dots`), 404, 405 or 501.
    """

    status: int
    pattern: str | None
    file: str | None
    params: Params
    allow: tuple[str, ...]
    route: Route | None = None
    location: str | None = None

    def to_json(self, method: str, path: str) -> dict[str, object]:
        return {
            "path": path,
            "method": method,
            "status": self.status,
            "pattern": self.pattern,
            "file": self.file,
            "params": self.params,
            "allow": list(self.allow),
        }


class UnsafePath(ValueError):
    """A request path no handler may see: `str()` says why, for the 400's body."""


def resolve_dots(raw_path: str) -> str:
    """Resolve `.` and `..` segments of a raw path as a browser would; refuse disguised ones.

    No handler ever sees a dot segment: a catch-all that serves files would otherwise be a
    path-traversal hole. Worked examples:

        /a/b/../c         -> /a/c           (resolved, as WHATWG URL parsing does)
        /a/./b/.          -> /a/b/          (a trailing dot segment leaves the slash)
        /one/..           -> /
        /..               UnsafePath        (above the root)
        /files/%2e%2e/x   UnsafePath        (a percent-encoded dot segment)
        /files/..%2f..%2fetc  UnsafePath    (decoded, it splits on "/" into "..")
        /files/a%5c..     UnsafePath        (or on "\\")
        /files/a%2Fb      /files/a%2Fb      (an ordinary encoded segment: the one segment a/b)
    """
    parts = raw_path.split("/")
    resolved: list[str] = []
    last = len(parts) - 1
    for i, part in enumerate(parts[1:], 1):
        if part == ".":
            if i == last:
                resolved.append("")
            continue
        if part == "..":
            if not resolved:
                raise UnsafePath(f"{raw_path!r} climbs above the root")
            resolved.pop()
            if i == last:
                resolved.append("")
            continue
        if holds_dot_segment(unquote(part) if "%" in part else part):
            raise UnsafePath(f"{raw_path!r} has a disguised dot segment {part!r}")
        resolved.append(part)
    path = "/" + "/".join(resolved)
    return raw_path if path == raw_path else path  # the same object when nothing changed


# PERF: NamedTuple's generated __new__ costs a keyword-argument call per lookup, and its
# _make a Python call; tuple.__new__ builds the same Match in C.
_new_tuple = tuple.__new__


def _unrouted(status: int, location: str | None = None) -> Match:
    """A Match with no route: 308, 400, 404 or 501."""
    return _new_tuple(Match, (status, None, None, {}, (), None, location))


@cache
def _answers(allow: tuple[str, ...], exports_options: bool) -> tuple[tuple[str, ...], dict[str, int]]:
    """`allow` and the status for each method, shared by every route that gives that pair.

    PERF: among thousands of routes, fewer objects for a lookup to touch. Never changed.
    """
    statuses = dict.fromkeys(KNOWN_METHODS, 405)
    for method in allow:
        statuses[method] = 200
    if not exports_options:
        statuses["OPTIONS"] = 204
    return allow, statuses


# Up to this many static children, engine/_fastmatch.c compares a segment with each name.
_FEW: Final = 16


def _code(kind: int, name: str) -> int:
    """How engine/_fastmatch.c reads a dynamic segment's value (as `_Leaf.params` does).

    0 `[x]`: the segment; 1 `[...x]`: the list of the rest; 2 TanStack's splat: the rest
    joined by "/"; 3 `[[...x]]`: the list of the rest, absent when empty.
    """
    if kind == CATCHALL:
        return 2 if name == SPLAT else 1
    return 3 if kind == OPTIONAL else 0


class _Leaf:
    """A route as the matcher sees it: statuses per method and how to read its params."""

    __slots__ = ("allow", "dynamic", "file", "name", "pattern", "plain", "position", "route", "statuses")

    def __init__(self, route: Route) -> None:
        self.route = route
        self.pattern = route.pattern
        self.file = route.file
        self.allow, self.statuses = _answers(route.allow, "OPTIONS" in route.methods)
        # (position, kind, name) of each dynamic segment: params are read after the walk,
        # so backtracking never builds a dict it throws away.
        self.dynamic = tuple((i, s.kind, s.value) for i, s in enumerate(route.segments) if s.kind != STATIC)
        # PERF: the common shape, one `[param]` (`/users/[id]`): its name and position, for
        # the greedy walk to answer with at a glance. A static with a "%" in its name matches
        # its raw text only when the text is encoded: such a route is left to the search.
        plain = "%" not in route.pattern and all(kind == PARAM for _, kind, _ in self.dynamic)
        self.name: str | None = self.dynamic[0][2] if plain and len(self.dynamic) == 1 else None
        self.position = self.dynamic[0][0] if plain and len(self.dynamic) == 1 else 0
        # Two or more `[param]`s and nothing else dynamic: (position, name) of each.
        self.plain = tuple((i, name) for i, _, name in self.dynamic) if plain and len(self.dynamic) > 1 else ()

    def params(self, segments: list[str]) -> Params:
        if self.name is not None:
            return {self.name: segments[self.position]}
        params: Params = {}
        for position, kind, name in self.dynamic:
            if kind == PARAM:
                params[name] = segments[position]
            else:
                rest = segments[position:]
                if kind == CATCHALL and name == SPLAT:
                    params[name] = "/".join(rest)  # TanStack's splat is one string
                elif rest or kind == CATCHALL:
                    params[name] = rest
        return params

    def answer(self, status: int, params: Params) -> Match:
        return _new_tuple(Match, (status, self.pattern, self.file, params, self.allow, self.route, None))


class _Node:
    __slots__ = ("backtrack", "catchall", "end", "leaf", "optional", "param", "static", "tail")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.leaf: _Leaf | None = None
        self.catchall: _Leaf | None = None
        self.optional: _Leaf | None = None
        # For the greedy walk: the route a full search takes when the path ends here
        # (`leaf or optional`), and when no child takes the next segment (`catchall or optional`).
        self.end: _Leaf | None = None
        self.tail: _Leaf | None = None
        # Whether the greedy walk, on its way here, passed a node with a way it did not take
        # (a param beside the static child it took, a catch-all beside either): when the
        # walk dead-ends here and this is False, so does the full search.
        self.backtrack = False


class Matcher:
    def __init__(self, routes: Iterable[Route], *, redirect_trailing_slash: bool) -> None:
        self._root = _Node()
        self._redirect = redirect_trailing_slash
        # PERF: an all-static route is found by its whole path in one dict lookup, before
        # any splitting. Safe under static-first priority: an exact static match always wins.
        self._static: dict[str, _Leaf] = {}
        for route in routes:
            self._insert(route)
        for node in self._nodes():
            node.end = node.leaf or node.optional
            node.tail = node.catchall or node.optional
            for child in node.static.values():
                child.backtrack = node.backtrack or node.param is not None or node.tail is not None
            if node.param is not None:
                node.param.backtrack = node.backtrack or node.tail is not None
        self.lookup: Callable[[str, str], Match] = self.match
        """`match`, in C when engine._fastmatch was built (see `_fast_lookup`)."""
        if _fastmatch is not None and not os.environ.get(PURE_PYTHON_ENV):
            self.lookup = self._fast_lookup(_fastmatch.Lookup)

    def _fast_lookup(self, lookup: type[_fastmatch.Lookup]) -> Callable[[str, str], Match]:
        """The C matcher over a mirror of the tree in tuples, which C reads by index.

        A node is (static, few, param, end, tail, backtrack, catchall, optional, leaf),
        `few` the static children as (name, child) pairs when there are no more than `_FEW`
        (C compares a segment to each rather than hash it), else None; a leaf
        (statuses, pattern, file, allow, route, name, position, plain, dynamic) with each
        dynamic entry (position, code, name). engine/_fastmatch.c reads this layout.
        """
        leaves: dict[int, tuple[object, ...]] = {}

        def leaf(it: _Leaf | None) -> tuple[object, ...] | None:
            if it is None:
                return None
            if id(it) not in leaves:
                dynamic = tuple((i, _code(kind, name), name) for i, kind, name in it.dynamic)
                leaves[id(it)] = (
                    it.statuses,
                    it.pattern,
                    it.file,
                    it.allow,
                    it.route,
                    it.name,
                    it.position,
                    it.plain,
                    dynamic,
                )
            return leaves[id(it)]

        def node(it: _Node) -> tuple[object, ...]:
            static = {name: node(child) for name, child in it.static.items()}
            return (
                static,
                tuple(static.items()) if len(static) <= _FEW else None,
                None if it.param is None else node(it.param),
                leaf(it.end),
                leaf(it.tail),
                it.backtrack,
                leaf(it.catchall),
                leaf(it.optional),
                leaf(it.leaf),
            )

        statics = {path: leaf(it) for path, it in self._static.items()}
        return lookup(node(self._root), statics, Match, KNOWN_METHODS, self._match_carefully, self.match)

    def _insert(self, route: Route) -> None:
        node = self._root
        for segment in route.segments:
            kind = segment.kind
            if kind == STATIC:
                node = node.static.setdefault(segment.value, _Node())
            elif kind == PARAM:
                if node.param is None:
                    node.param = _Node()
                node = node.param
            elif kind == CATCHALL:
                node.catchall = node.catchall or _Leaf(route)
                return
            else:
                node.optional = node.optional or _Leaf(route)
                return
        if node.leaf is None:
            node.leaf = _Leaf(route)
            # A pattern holds decoded names and the lookup takes the raw path: exact only
            # when there is no "%" to decode (`/100%25` must not reach a folder `100%25`).
            if not node.leaf.dynamic and "%" not in route.pattern:
                self._static[route.pattern] = node.leaf

    def _nodes(self) -> Iterator[_Node]:
        stack = [self._root]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.static.values())
            if node.param is not None:
                stack.append(node.param)

    def routes(self) -> Iterator[Route]:
        """Every route the tree can reach."""
        for node in self._nodes():
            for leaf in (node.leaf, node.catchall, node.optional):
                if leaf is not None:
                    yield leaf.route

    def optional_clashes(self) -> Iterator[tuple[Route, Route]]:
        """(optional catch-all, rival) pairs where both answer the same bare prefix.

        `/docs/[[...slug]]` matches `/docs` itself, as does `/docs`; beside
        `/docs/[...slug]` the two catch-alls answer the same longer paths.
        """
        for node in self._nodes():
            if node.optional is None:
                continue
            for rival in (node.leaf, node.catchall):
                if rival is not None:
                    yield node.optional.route, rival.route

    def match(self, method: str, path: str) -> Match:
        """Match a raw (still percent-encoded) request path.

        The static dict, then the greedy walk; whatever they cannot answer for sure goes
        the careful way (see the module docstring).
        """
        leaf = self._static.get(path)
        if leaf is not None:
            status = leaf.statuses.get(method)  # None for a method the engine does not know
            if status is not None:
                return _new_tuple(Match, (status, leaf.pattern, leaf.file, {}, leaf.allow, leaf.route, None))
            return self._match_carefully(method, path)
        # PERF: the greedy walk, a loop with no call in it but the dict lookup.
        segments = path.split("/")
        del segments[0]  # the empty string before the leading "/"
        node = self._root
        for segment in segments:
            child = node.static.get(segment)
            if child is None:
                child = node.param
                if child is None:
                    leaf = node.tail
                    break
            node = child
        else:
            leaf = node.end
        if leaf is not None:
            status = leaf.statuses.get(method)  # None for a method the engine does not know
            name = leaf.name
            if name is not None and status is not None:
                value = segments[leaf.position]
                # PERF: a plain value: no "%", dot, backslash or empty segment to look for.
                if value.isalnum():
                    answer = (status, leaf.pattern, leaf.file, {name: value}, leaf.allow, leaf.route, None)
                    return _new_tuple(Match, answer)
            elif leaf.plain and status is not None:
                params: Params = {}
                for position, name in leaf.plain:
                    value = segments[position]
                    if not value.isalnum():
                        break
                    params[name] = value
                else:
                    return _new_tuple(Match, (status, leaf.pattern, leaf.file, params, leaf.allow, leaf.route, None))
        if (
            method not in KNOWN_METHODS
            or "%" in path
            or "/." in path
            or "//" in path
            or "\\" in path
            or path.endswith("/")
        ):
            return self._match_carefully(method, path)
        # A plain path: its raw segments are its segments, and the walk's route is the answer.
        # When the walk dead-ended, the full search backs up from where it went wrong.
        if leaf is None:
            if not node.backtrack:
                return _unrouted(404)
            leaf = _find(self._root, segments, 0, len(segments))
            if leaf is None:
                return _unrouted(404)
        return leaf.answer(leaf.statuses[method], leaf.params(segments) if leaf.dynamic else {})

    def _match_carefully(self, method: str, path: str) -> Match:
        """Dot segments, the trailing slash, decoding, and a search that backs up."""
        if method not in KNOWN_METHODS:
            return _unrouted(501)
        if "/." in path or "%" in path or "\\" in path:  # PERF: what resolve_dots() could change or refuse
            try:
                path = resolve_dots(path)
            except UnsafePath:
                return _unrouted(400)
        if len(path) > 1 and path[-1] == "/":
            if self._redirect:
                return _unrouted(308, path.rstrip("/") or "/")
            path = path.rstrip("/") or "/"
        leaf = self._static.get(path)
        if leaf is not None:
            return leaf.answer(leaf.statuses[method], {})
        segments = path.split("/")
        del segments[0]  # the empty string before the leading "/"
        if path == "/":
            segments = []
        elif "%" in path:
            # PERF: decode only when needed, and each segment on its own so that
            # `a%2Fb` stays one segment `a/b`.
            segments = [unquote(s) for s in segments]
        leaf = _find(self._root, segments, 0, len(segments))
        if leaf is None:
            return _unrouted(404)
        return leaf.answer(leaf.statuses[method], leaf.params(segments) if leaf.dynamic else {})


def _find(node: _Node, segments: list[str], i: int, n: int) -> _Leaf | None:
    """The full search: the first route in priority order, backing up out of dead ends."""
    # PERF: iterate while a node offers one way on; recurse only where there is an
    # alternative to come back to (a static child beside a param or catch-all).
    while i < n:
        segment = segments[i]
        child = node.static.get(segment)
        param = node.param if segment else None
        if child is not None:
            if param is None and node.catchall is None and node.optional is None:
                node = child
                i += 1
                continue
            found = _find(child, segments, i + 1, n)
            if found is not None:
                return found
        if param is not None:
            if node.catchall is None and node.optional is None:
                node = param
                i += 1
                continue
            found = _find(param, segments, i + 1, n)
            if found is not None:
                return found
        return node.catchall or node.optional
    return node.leaf or node.optional

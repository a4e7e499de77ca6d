"""The route table: routes read from files, validated, then frozen.

`build_table` takes a dialect's layout, reads each file's source (never running it),
and reports every problem as a `Conflict`: data with a stable kind id, a severity, the
files involved and a message that says what clashes and how to fix it. Where the
original frameworks let one file silently shadow another, we report it, and the
matcher serves a deterministic winner: the first file in path order (a `route.py`
before a `page.py`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from .dialects import Dialect, Layout, RouteSpec
from .dialects.base import RouteKind
from .explain import examples
from .matcher import Match, Matcher
from .segments import CATCHALL, OPTIONAL, PARAM, STATIC, Segment, pattern_text
from .source import METHODS, FileFacts, read_facts

Severity = Literal["error", "warning"]

# Severities that do not depend on the dialect. `param-names` is an error in next only.
SEVERITY: Final[dict[str, Severity]] = {
    "duplicate-route": "error",
    "ambiguous-params": "error",
    "optional-catch-all": "error",
    "catch-all-position": "error",
    "repeated-param": "error",
    "route-page": "error",
    "middleware-location": "error",
    "invalid-segment": "error",
    "load-error": "error",
    "no-handlers": "warning",
    "lowercase-method": "warning",
    "path-mismatch": "warning",
    "importing": "warning",  # found when serving: a module still importing after the grace
    "shadowed-catch-all": "warning",
}

# Kinds about URLs that several files claim: each such conflict carries example paths.
URL_KINDS: Final = frozenset(
    {"duplicate-route", "ambiguous-params", "route-page", "optional-catch-all", "shadowed-catch-all"}
)


@dataclass(frozen=True, slots=True)
class Conflict:
    kind: str
    severity: Severity
    pattern: str | None
    files: tuple[str, ...]
    message: str
    # (path, file that serves it): requests the files all claim, for a clash about URLs
    examples: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conflict:
        """The inverse of `to_json` (the app process reports its problems as JSON)."""
        return cls(
            data["kind"],
            data["severity"],
            data["pattern"],
            tuple(data["files"]),
            data["message"],
            tuple((e["path"], e["file"]) for e in data.get("examples", ())),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "pattern": self.pattern,
            "files": list(self.files),
            "message": self.message,
            "examples": [{"path": path, "file": file} for path, file in self.examples],
        }


@dataclass(frozen=True, slots=True)
class Route:
    pattern: str
    file: str
    methods: tuple[str, ...]  # exported, sorted; a page answers GET
    params: tuple[str, ...]
    kind: RouteKind
    error: str | None
    segments: tuple[Segment, ...]
    layouts: tuple[str, ...] = ()  # files whose middleware wraps this route, root to leaf
    has_middleware: bool = False
    revalidate: int | float | None = None
    dynamic: str | None = None
    lines: Mapping[str, int] = field(default_factory=dict)  # exported name -> line

    @property
    def allow(self) -> tuple[str, ...]:
        """The Allow header's methods: exported ones, HEAD when GET is, OPTIONS always."""
        allow = set(self.methods) | {"OPTIONS"}
        if "GET" in allow:
            allow.add("HEAD")
        return tuple(sorted(allow))

    def to_json(self) -> dict[str, object]:
        return {
            "pattern": self.pattern,
            "file": self.file,
            "methods": list(self.methods),
            "params": list(self.params),
            "kind": self.kind,
            "error": self.error,
        }


class RouteTable:
    """Routes in match order, the problems found, and `match()`. Immutable once built."""

    def __init__(
        self,
        app_dir: Path,
        dialect: Dialect,
        routes: tuple[Route, ...],
        conflicts: tuple[Conflict, ...],
        matcher: Matcher,
        global_middleware: str | None,
    ) -> None:
        self.app_dir = app_dir
        self.dialect = dialect
        self.convention: str = dialect.name
        self.routes = routes
        self.conflicts = conflicts
        self.global_middleware = global_middleware
        self._matcher = matcher
        # PERF: bind the matcher's lookup directly (C where built); one call less per lookup.
        self.match: Callable[[str, str], Match] = matcher.lookup
        """What `method path` would get: status, pattern, file, params, allow.

        `path` is the raw request path, still percent-encoded; each segment is decoded
        on its own. Runs no code of the app.
        """

    def served(self) -> frozenset[str]:
        """Files of the routes the matcher can reach (not the unservable or shadowed ones)."""
        return frozenset(r.file for r in self._matcher.routes())

    def with_problems(self, extra: Iterable[Conflict], errors: Mapping[str, str]) -> RouteTable:
        """A copy with more problems (found when importing), and `errors` set on those routes."""
        routes = tuple(
            dataclasses.replace(r, error=errors[r.file]) if r.file in errors and not r.error else r for r in self.routes
        )
        conflicts = tuple(sorted((*self.conflicts, *extra), key=_conflict_order))
        return RouteTable(self.app_dir, self.dialect, routes, conflicts, self._matcher, self.global_middleware)

    @property
    def errors(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.severity == "error")

    @property
    def warnings(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.severity == "warning")

    def to_json(self) -> dict[str, object]:
        return {
            "app": str(self.app_dir),
            "convention": self.convention,
            "routes": [r.to_json() for r in self.routes],
            "conflicts": [c.to_json() for c in self.conflicts],
        }

    def __repr__(self) -> str:
        return f"<RouteTable {self.convention} {len(self.routes)} routes, {len(self.conflicts)} problems>"


def build_table(
    app_dir: Path, dialect: Dialect, layout: Layout, read: Callable[[Path], FileFacts] = read_facts
) -> RouteTable:
    problems = _Problems(dialect)
    for misplaced in layout.problems:
        problems.add(misplaced.kind, None, misplaced.files, misplaced.message)

    routes: list[Route] = []
    servable: list[Route] = []
    for spec in layout.routes:
        facts = read(app_dir / spec.file)
        route, ok = _route(spec, facts, problems)
        routes.append(route)
        if ok:
            servable.append(route)

    _check_support_files(app_dir, layout, routes, problems, read)
    winners = _pick_winners(servable, problems)
    matcher = Matcher(winners, redirect_trailing_slash=dialect.trailing_slash == "redirect")
    _check_tree(matcher, problems)
    _check_shadowed_catch_alls(winners, problems)

    routes.sort(key=_match_order)
    by_file = {r.file: r for r in routes}
    conflicts = [_with_examples(c, by_file, matcher.match) for c in problems.sorted()]
    return RouteTable(app_dir, dialect, tuple(routes), tuple(conflicts), matcher, layout.global_middleware)


def _with_examples(conflict: Conflict, by_file: Mapping[str, Route], match: Callable[[str, str], Match]) -> Conflict:
    routes = [by_file[f] for f in conflict.files if f in by_file]
    if conflict.kind not in URL_KINDS or len(routes) < 2:
        return conflict
    return dataclasses.replace(conflict, examples=examples(routes, match))


def _match_order(route: Route) -> tuple[object, ...]:
    return (tuple((s.kind, s.value) for s in route.segments), route.file)


class _Problems:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.items: list[Conflict] = []

    def add(self, kind: str, pattern: str | None, files: Iterable[str], message: str) -> None:
        severity = self.dialect.param_names_severity if kind == "param-names" else SEVERITY[kind]
        self.items.append(Conflict(kind, severity, pattern, tuple(files), message))

    def sorted(self) -> tuple[Conflict, ...]:
        return tuple(sorted(self.items, key=_conflict_order))


def _conflict_order(c: Conflict) -> tuple[bool, tuple[str, ...], str]:
    return (c.severity != "error", c.files, c.kind)


def _route(spec: RouteSpec, facts: FileFacts, problems: _Problems) -> tuple[Route, bool]:
    """Build one route and report what is wrong with the file itself.

    Returns the route and whether it can be matched (a file that fails to load still is:
    its URLs answer 500 naming the problem).
    """
    file, segments = spec.file, spec.segments
    pattern = pattern_text(segments)
    params = tuple(s.value for s in segments if s.kind != STATIC)
    error: str | None = None
    servable = True

    if spec.invalid:
        error = f"{file}: {spec.invalid}. The route is not served."
        problems.add("invalid-segment", pattern, [file], error)
        servable = False
    elif dupes := [name for name, n in Counter(params).items() if n > 1]:
        error = (
            f"{file} uses the parameter name '{dupes[0]}' more than once, so one value would "
            f"overwrite the other; rename one of them. The route is not served."
        )
        problems.add("repeated-param", pattern, [file], error)
        servable = False
    elif any(s.kind in (CATCHALL, OPTIONAL) for s in segments[:-1]):
        tail = next(s for s in segments if s.kind in (CATCHALL, OPTIONAL))
        error = (
            f"{file}: the catch-all {tail.text} takes the rest of the path, so nothing after it "
            f"can be reached; make it the last segment (move what follows into a query or "
            f"before it). The route is not served."
        )
        problems.add("catch-all-position", pattern, [file], error)
        servable = False

    if facts.error:
        error = error or facts.error
        problems.add(
            "load-error",
            pattern,
            [file],
            f"{file} does not load: {facts.error}. Its URLs answer 500 until it is fixed; "
            "the other routes keep serving.",
        )
    if spec.kind == "page":
        methods: tuple[str, ...] = ("GET",) if facts.has_page else ()
    else:
        methods = facts.methods
    if not methods and not facts.error and not facts.lowercase:
        wanted = (
            "a `page(request, params)` function" if spec.kind == "page" else "no method (" + ", ".join(METHODS) + ")"
        )
        problems.add(
            "no-handlers",
            pattern,
            [file],
            f"{file} exports {wanted}; every request to {pattern} answers 405. "
            f"Define one, e.g. `async def GET(request):`."
            if spec.kind == "route"
            else f"{file} has no `page(request, params)` function; every request to {pattern} answers 405.",
        )
    for name in facts.lowercase:
        problems.add(
            "lowercase-method",
            pattern,
            [file],
            f"{file} defines `{name}` (line {facts.lines[name]}), which is not exported as a "
            f"method: methods are capitalised, so {name.upper()} {pattern} answers 405. "
            f"Rename it `{name.upper()}`.",
        )
    declared, implied = facts.declared_path, spec.route_id
    if declared is not None and implied is not None and _route_id_key(declared) != _route_id_key(implied):
        problems.add(
            "path-mismatch",
            pattern,
            [file],
            f"{file} declares create_file_route({declared!r}) (line {facts.declared_path_line}), "
            f"but its path makes it {implied!r}; the file's path wins. Change the string to {implied!r}.",
        )

    route = Route(
        pattern=pattern,
        file=file,
        methods=methods,
        params=params,
        kind=spec.kind,
        error=error,
        segments=segments,
        layouts=spec.layouts,
        has_middleware=facts.has_middleware,
        revalidate=facts.revalidate,
        dynamic=facts.dynamic,
        lines=facts.lines,
    )
    return route, servable


def _route_id_key(route_id: str) -> tuple[str, ...]:
    """Compare TanStack route ids loosely: groups and slashes at the ends do not count."""
    return tuple(p for p in route_id.split("/") if p and not (p.startswith("(") and p.endswith(")")))


def _check_support_files(
    app_dir: Path, layout: Layout, routes: list[Route], problems: _Problems, read: Callable[[Path], FileFacts]
) -> None:
    """Global middleware and layout files are not routes, but they can fail to load too."""
    route_files = {r.file for r in routes}
    support = {f for r in routes for f in r.layouts if f not in route_files}
    if layout.global_middleware:
        support.add(layout.global_middleware)
    for file in sorted(support):
        facts = read(app_dir / file)
        if facts.error:
            problems.add(
                "load-error",
                None,
                [file],
                f"{file} does not load: {facts.error}. Every request it wraps answers 500 until it is fixed.",
            )
        elif file == layout.global_middleware and not facts.has_global_middleware:
            problems.add(
                "no-handlers",
                None,
                [file],
                f"{file} defines no `middleware`; global middleware is a function "
                "`def middleware(request)` returning a Response or None."
                if layout.global_middleware and not file.endswith("__root.py")
                else f"{file} defines no `middleware` list; add `middleware = [...]` or delete the file.",
            )


def _shape(route: Route) -> tuple[tuple[int, str], ...]:
    return tuple((s.kind, s.value if s.kind == STATIC else "") for s in route.segments)


def _pick_winners(routes: list[Route], problems: _Problems) -> list[Route]:
    """One route per URL shape; report the files that would otherwise shadow each other."""
    by_shape: dict[tuple[tuple[int, str], ...], list[Route]] = defaultdict(list)
    for route in routes:
        by_shape[_shape(route)].append(route)
    winners: list[Route] = []
    for group in by_shape.values():
        group.sort(key=lambda r: (r.kind != "route", r.file))
        winner = group[0]
        winners.append(winner)
        if len(group) == 1:
            continue
        files = [r.file for r in group]
        others = ", ".join(files[1:])
        if len({r.kind for r in group}) > 1:
            problems.add(
                "route-page",
                winner.pattern,
                files,
                f"{' and '.join(files)} both answer {winner.pattern}: a route handler and a page "
                f"cannot share a URL. {winner.file} serves it; move the page or the handler.",
            )
        elif len({r.params for r in group}) == 1:
            problems.add(
                "duplicate-route",
                winner.pattern,
                files,
                f"{len(files)} files give {winner.pattern}: {', '.join(files)}. {winner.file} "
                f"serves it and {others} is never reached; keep one file per URL.",
            )
        else:
            patterns = ", ".join(r.pattern for r in group)
            problems.add(
                "ambiguous-params",
                winner.pattern,
                files,
                f"{patterns} have the same shape with other parameter names, so one can never "
                f"match: {winner.file} serves it and {others} is never reached. Merge them into one route.",
            )
    return winners


def _check_shadowed_catch_alls(winners: list[Route], problems: _Problems) -> None:
    """A catch-all beside routes that take some of the paths it matches (`files/[...path]` and
    `files/latest`): by the rules the other route wins, and the catch-all never sees them.
    Often meant (a carve-out), so a warning: one per catch-all, naming the routes."""
    catch_alls = [r for r in winners if r.segments and r.segments[-1].kind in (CATCHALL, OPTIONAL)]
    if not catch_alls:
        return
    # PERF: each route is filed under the catch-all prefixes it extends, once; not every route
    # compared with every catch-all (10,000 routes and their catch-alls).
    prefixes = {_shape(c)[:-1] for c in catch_alls}
    takers: dict[tuple[tuple[int, str], ...], list[Route]] = defaultdict(list)
    for route in winners:
        shape = _shape(route)
        for k in range(len(shape)):
            if shape[k][0] in (STATIC, PARAM) and shape[:k] in prefixes:
                takers[shape[:k]].append(route)
    for catch_all in catch_alls:
        taking = takers.get(_shape(catch_all)[:-1])
        if not taking:
            continue
        named = ", ".join(f"{r.pattern} ({r.file})" for r in taking[:3])
        more = f" and {len(taking) - 3} more" if len(taking) > 3 else ""
        problems.add(
            "shadowed-catch-all",
            catch_all.pattern,
            [catch_all.file, *(r.file for r in taking)],
            f"{named}{more} {'takes' if len(taking) == 1 else 'take'} paths that {catch_all.pattern} "
            f"({catch_all.file}) also matches, so the catch-all never sees them. Fine if that is meant; "
            f"otherwise move one of the routes.",
        )


def _check_tree(matcher: Matcher, problems: _Problems) -> None:
    """Problems between routes that share a prefix: optional catch-alls and param names."""
    for optional, rival in matcher.optional_clashes():
        problems.add(
            "optional-catch-all",
            optional.pattern,
            [rival.file, optional.file],
            f"{optional.pattern} ({optional.file}) also matches zero segments, so it answers what "
            f"{rival.pattern} ({rival.file}) answers. Use a required catch-all "
            f"[...{optional.params[-1]}], or delete one of the two files.",
        )

    # Two routes naming one dynamic position differently (`[id]` vs `[userId]`).
    names: dict[tuple[tuple[int, str], ...], dict[str, list[Route]]] = defaultdict(lambda: defaultdict(list))
    for route in matcher.routes():
        shape = _shape(route)
        for i, segment in enumerate(route.segments):
            if segment.kind == PARAM:
                names[shape[: i + 1]][segment.value].append(route)
    for prefix, by_name in names.items():
        if len(by_name) < 2:
            continue
        firsts = [routes[0] for routes in by_name.values()]
        files = sorted({r.file for routes in by_name.values() for r in routes})
        label = ", ".join(f"'{n}'" for n in by_name)
        position = pattern_text(tuple(Segment(k, v or "…") for k, v in prefix))
        problems.add(
            "param-names",
            firsts[0].pattern,
            files,
            f"{' and '.join(f'{r.pattern} ({r.file})' for r in firsts)} name the same segment "
            f"differently ({label} at {position}); use one name for one position so params mean the "
            f"same thing everywhere.",
        )

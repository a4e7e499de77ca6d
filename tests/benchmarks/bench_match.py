"""Route-matching benchmark: the engine against Falcon's and Starlette's routers.

Run by hand (pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_match.py

Needs the bench extras (`pip install -e ".[bench]"`: falcon, starlette).

What it measures, on two route mixes:

* **random** (N = 10, 100, 1,000 and 10,000): a seeded route set of depth 1-4, static
  names drawn from a word list with a numeric suffix (`users12`), ~30% of the routes with
  a `[id]`-style param, a few `[...path]` catch-alls (always last). At any node there is
  at most one param name and never both a param and a catch-all, so the set has no
  conflicts. Its names rarely share a prefix, so the matcher seldom has to choose.
* **rest** (N = 100, 1,000 and 10,000): a seeded REST-like API. Versioned prefixes
  (`/api/v1` ... `/api/v3`), namespaces (`admin`, `billing`, ...), resources with static
  actions beside their param (`/users3/search` beside `/users3/[users3_id]`), item actions
  and nested sub-resources (`/users3/[users3_id]/orders/[orders_id]/history`), a few
  `raw/[...path]` catch-alls. Some ids are a sibling action's name (`/users3/search/history`
  is `/users3/[users3_id]/history`), so the matcher must back up out of a static branch.
* Each set is written as real Next.js-style files (`users12/[users12_id]/route.py`) in a
  temporary directory and loaded with `engine.load_routes(dir, convention="next")`.
* The same routes are added to `falcon.routing.CompiledRouter` (`/users12/{users12_id}`,
  `{path:path}`) and to a `starlette.routing.Router`, sorted static < param < catch-all.
* A request list built from the routes (params as numbers, catch-alls with 1-3 segments)
  with ~10% misses. Every request is checked against an independent regex oracle (the
  first matching route in priority order), the engine (200 + the right pattern, or 404)
  and Falcon (the right template, or None); Starlette is checked on a sample. A
  disagreement makes the script exit 1.
* Lookups/s: best of 5 repeats, each repeat a number of passes over the request list
  taking ~0.4 s, with the garbage collector off (as `timeit` does). The lookups are
  `table.match("GET", path)`, `router.find(path)` and, for Starlette, what `Router.app`
  does to pick a route: `route.matches(scope)` over `router.routes` until `Match.FULL`.
  Starlette scans every route, so at large N it is timed on a prefix of the request list.
  `table.match` is the C matcher (engine/_fastmatch.c) where it was built; the Python
  matcher it repeats (`Matcher.match` in engine/matcher.py, what serves where no C
  compiler was found) is timed beside it, and must give the same answer to every request.
  On the rest mix, the engine and Falcon are also timed on the static hits, the dynamic
  hits and the misses alone (microseconds per lookup), beside a floor: what a matcher
  written in Python spends on a dynamic hit before it finds a route (a call, the static
  dict missed, a split, a `Match` with a fresh params dict; see `floor_pass`), which is
  why the C matcher exists.
* The wall time of `engine.load_routes` over the 10,000 route files of the random mix
  (first call and best of 3): walking the tree, parsing every file's source and building
  the table.

It prints a table per mix and PASS/FAIL bars; the bars are a report, not a test, so they do not
change the exit code.
"""

from __future__ import annotations

import gc
import itertools
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import falcon.routing
from starlette.routing import Match as StarletteMatch
from starlette.routing import Route as StarletteRoute
from starlette.routing import Router as StarletteRouter

import engine
import engine.matcher

SEED = 20240601
REST_SEED = 20260512
SIZES = (10, 100, 1_000, 10_000)
REST_SIZES = (100, 1_000, 10_000)
REQUESTS_PER_SIZE = 5_000
MISS_SHARE = 0.10
PARAM_SHARE = 0.30  # routes with at least one [param]
CATCHALL_SHARE = 0.03  # routes ending in [...path]
DEPTH_WEIGHTS = {1: 2, 2: 4, 3: 3, 4: 2}
REPEATS = 5
PASS_BUDGET = 0.4  # seconds per timed repeat
STARLETTE_CHECKS = 200  # requests checked against Starlette (a full scan each)
LOAD_RUNS = 3

MATCHER = "the C matcher" if engine.matcher._fastmatch is not None else "the Python matcher (C one not built)"

# Bars.
BAR_VS_FALCON = 1.0
BAR_VS_STARLETTE = 20.0
BAR_FLAT = 0.6
BAR_LOAD_SECONDS = 2.0
BAR_SIZES = (1_000, 10_000)
BAR_REST_VS_FALCON = 2.0
BAR_REST_SIZES = (100, 1_000, 10_000)

WORDS = (
    "users", "orders", "items", "posts", "comments", "teams", "projects", "tasks", "invoices",
    "payments", "products", "carts", "reviews", "tags", "files", "events", "sessions", "tokens",
    "reports", "settings", "groups", "roles", "accounts", "messages", "threads", "alerts",
    "metrics", "logs", "builds", "deploys", "regions", "zones", "hosts", "volumes", "images",
    "jobs", "queues", "topics", "webhooks", "exports",
)  # fmt: skip

# The rest mix: how often each version, namespace and kind of route is drawn.
REST_VERSIONS = {"v1": 5, "v2": 3, "v3": 2}
REST_NAMESPACES = {"": 8, "admin": 2, "billing": 2, "internal": 1, "partners": 1, "support": 1}
COLLECTION_ACTIONS = ("search", "export", "count", "bulk", "recent", "stats")
ITEM_ACTIONS = ("activate", "archive", "history", "permissions", "restore", "audit")
RAW = "raw"  # the folder of a catch-all: `.../raw/[...path]`
REST_KINDS = {
    "list": 3.0,  # /api/v1/users3
    "action": 3.0,  # /api/v1/users3/search
    "item": 3.0,  # /api/v1/users3/[users3_id]
    "item-action": 2.5,  # /api/v1/users3/[users3_id]/history
    "sub-list": 2.0,  # /api/v1/users3/[users3_id]/orders
    "sub-item": 2.0,  # /api/v1/users3/[users3_id]/orders/[orders_id]
    "sub-action": 1.0,  # /api/v1/users3/[users3_id]/orders/export
    "sub-item-action": 1.0,  # /api/v1/users3/[users3_id]/orders/[orders_id]/history
    "raw": 0.3,  # /api/v1/users3/raw/[...path] or /api/v1/users3/[users3_id]/raw/[...path]
}
ACTION_AS_ID_SHARE = 0.05  # ids that are a collection action's name: `/users3/search/history`

# Segment kinds, in the engine's priority order (static < param < catch-all).
STATIC, PARAM, CATCHALL = 0, 1, 2
CATCHALL_NAME = "path"
ROUTE_SOURCE = "async def GET(request):\n    return None\n"

Segment = tuple[int, str]  # (kind, static text or param name)
Shape = tuple[Segment, ...]


# --------------------------------------------------------------------------- random mix


class _Node:
    """A URL prefix while generating: its static children, its one param, a catch-all flag."""

    __slots__ = ("catchall", "param", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.param: tuple[str, _Node] | None = None
        self.catchall = False


class _Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.root = _Node()
        self.counter = itertools.count(1)

    def static_child(self, node: _Node, depth: int) -> tuple[str, _Node]:
        # A Chinese-restaurant process: a new name is likelier where a node has few
        # children, so the tree grows wide near the root and bushy below, like an API.
        alpha = 20.0 if depth == 0 else 3.0
        children = node.static
        if children and self.rng.random() >= alpha / (alpha + len(children)):
            name = self.rng.choice(list(children))
            return name, children[name]
        name = f"{self.rng.choice(WORDS)}{next(self.counter)}"
        children[name] = _Node()
        return name, children[name]

    def shape(self, has_param: bool, has_catchall: bool) -> Shape | None:
        """One random route, or None when it would clash with the tree (param vs catch-all)."""
        rng = self.rng
        depth = rng.choices(list(DEPTH_WEIGHTS), weights=list(DEPTH_WEIGHTS.values()))[0]
        if has_catchall:
            depth = max(depth, 3 if has_param else 2)
        elif has_param:
            depth = max(depth, 2)
        params = _param_positions(rng, depth, has_catchall) if has_param else set()

        node, segments, previous = self.root, [], ""
        for i in range(depth):
            if has_catchall and i == depth - 1:
                if node.param is not None:
                    return None
                node.catchall = True
                segments.append((CATCHALL, CATCHALL_NAME))
            elif i in params:
                if node.catchall:
                    return None
                if node.param is None:
                    node.param = (f"{previous}_id", _Node())  # one name per node
                name, node = node.param
                segments.append((PARAM, name))
            else:
                previous, node = self.static_child(node, i)
                segments.append((STATIC, previous))
        return tuple(segments)


def _param_positions(rng: random.Random, depth: int, has_catchall: bool) -> set[int]:
    """REST-like: a param follows a collection name, at index 1 and/or 3."""
    last = depth - 1 if has_catchall else depth
    candidates = [i for i in (1, 3) if i < last]
    if len(candidates) == 2 and rng.random() < 0.25:
        return set(candidates)
    return {rng.choice(candidates)}


def make_routes(n: int, rng: random.Random) -> list[Shape]:
    """N distinct routes; the kind of each is drawn first, so rejected duplicates do not skew
    the shares, and there is at least one catch-all whatever N."""
    generator = _Generator(rng)
    seen: set[Shape] = set()
    routes: list[Shape] = []
    catchalls_wanted, catchalls = max(1, round(n * CATCHALL_SHARE)), 0
    while len(routes) < n:
        has_param = rng.random() < PARAM_SHARE
        # Spread the catch-alls still wanted evenly over the routes still to make.
        has_catchall = rng.random() < (catchalls_wanted - catchalls) / (n - len(routes))
        shape = generator.shape(has_param, has_catchall)
        while shape is None or shape in seen:
            shape = generator.shape(has_param, has_catchall)
        seen.add(shape)
        routes.append(shape)
        catchalls += has_catchall
    return routes


# --------------------------------------------------------------------------- rest mix


class _RestGenerator:
    """Routes of a versioned REST API; every route is one `REST_KINDS` template."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counter = itertools.count(1)
        # Resource names per namespace, shared by the versions (v2 keeps most of v1's).
        self.resources: dict[str, list[str]] = {}

    def weighted(self, weights: dict[str, float]) -> str:
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    def resource(self, namespace: str) -> str:
        # A Chinese-restaurant process: a namespace gains resources as it is used.
        names = self.resources.setdefault(namespace, [])
        if not names or self.rng.random() < 4.0 / (4.0 + len(names)):
            names.append(f"{self.rng.choice(WORDS)}{next(self.counter)}")
            return names[-1]
        return self.rng.choice(names)

    def shape(self) -> Shape:
        rng = self.rng
        namespace = self.weighted(REST_NAMESPACES)
        resource = self.resource(namespace)
        base: list[Segment] = [(STATIC, "api"), (STATIC, self.weighted(REST_VERSIONS))]
        if namespace:
            base.append((STATIC, namespace))
        base.append((STATIC, resource))
        item = [*base, (PARAM, f"{resource}_id")]
        sub = rng.choice(WORDS)
        sub_item = [*item, (STATIC, sub), (PARAM, f"{sub}_id")]
        kind = self.weighted(REST_KINDS)
        if kind == "list":
            segments = base
        elif kind == "action":
            segments = [*base, (STATIC, rng.choice(COLLECTION_ACTIONS))]
        elif kind == "item":
            segments = item
        elif kind == "item-action":
            segments = [*item, (STATIC, rng.choice(ITEM_ACTIONS))]
        elif kind == "sub-list":
            segments = [*item, (STATIC, sub)]
        elif kind == "sub-item":
            segments = sub_item
        elif kind == "sub-action":
            segments = [*item, (STATIC, sub), (STATIC, rng.choice(COLLECTION_ACTIONS))]
        elif kind == "sub-item-action":
            segments = [*sub_item, (STATIC, rng.choice(ITEM_ACTIONS))]
        else:
            segments = [*rng.choice((base, item)), (STATIC, RAW), (CATCHALL, CATCHALL_NAME)]
        return tuple(segments)


REST_EXTRAS: tuple[Shape, ...] = (
    ((STATIC, "health"),),
    ((STATIC, "login"),),
    ((STATIC, "static"), (CATCHALL, CATCHALL_NAME)),
)


def make_rest_routes(n: int, rng: random.Random) -> list[Shape]:
    """N distinct routes: a few outside the API (`/health`, `/static/[...path]`), the rest in it."""
    generator = _RestGenerator(rng)
    routes = list(REST_EXTRAS)
    seen = set(routes)
    while len(routes) < n:
        shape = generator.shape()
        if shape not in seen:
            seen.add(shape)
            routes.append(shape)
    return routes


# --------------------------------------------------------------------------- shapes


def engine_pattern(shape: Shape) -> str:
    texts = {STATIC: "{}", PARAM: "[{}]", CATCHALL: "[...{}]"}
    return "/" + "/".join(texts[kind].format(value) for kind, value in shape)


def brace_template(shape: Shape) -> str:
    """Falcon's and Starlette's syntax: `/users/{id}`, catch-all `{path:path}`."""
    texts = {STATIC: "{}", PARAM: "{{{}}}", CATCHALL: "{{{}:path}}"}
    return "/" + "/".join(texts[kind].format(value) for kind, value in shape)


def is_static(shape: Shape) -> bool:
    return all(kind == STATIC for kind, _ in shape)


def describe(routes: list[Shape]) -> str:
    dynamic = sum(any(k == PARAM for k, _ in r) for r in routes)
    catchalls = sum(r[-1][0] == CATCHALL for r in routes)
    top = len({r[0][1] for r in routes})
    depths = [len(r) for r in routes]
    return (
        f"{len(routes):,} routes: {dynamic / len(routes):.0%} with a param, {catchalls} catch-alls, "
        f"{top} top-level names, mean depth {sum(depths) / len(depths):.1f}"
    )


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class Request:
    path: str
    shape: Shape | None  # the route it must match, None for a miss


class Oracle:
    """Brute-force regex matching, grouped by the first segment (always static here).

    `best` is the first matching route in priority order: the kinds segment by segment,
    left to right (static < param < catch-all), as the engine and Falcon rank them.
    """

    def __init__(self, routes: Iterable[Shape]) -> None:
        self.by_first: dict[str, list[tuple[re.Pattern[str], Shape]]] = {}
        for shape in sorted(routes, key=lambda s: tuple(kind for kind, _ in s)):
            self.by_first.setdefault(shape[0][1], []).append((re.compile(_regex(shape)), shape))

    def best(self, path: str) -> Shape | None:
        first = path.split("/", 2)[1]
        return next((shape for pattern, shape in self.by_first.get(first, ()) if pattern.match(path)), None)

    def hits(self, path: str) -> bool:
        return self.best(path) is not None


def _regex(shape: Shape) -> str:
    parts = {STATIC: None, PARAM: "[^/]+", CATCHALL: "[^/]+(?:/[^/]+)*"}
    return "^/" + "/".join(parts[k] or re.escape(v) for k, v in shape) + "$"


def fill(shape: Shape, rng: random.Random, id_words: tuple[str, ...] = ()) -> str:
    """A request path for a route; the values never look like a static name (`word12`),
    but for an `id_words` share of the first param, which is then one of `id_words`."""
    parts: list[str] = []
    first_param = True
    for kind, value in shape:
        if kind == STATIC:
            parts.append(value)
        elif kind == PARAM:
            if first_param and id_words and rng.random() < ACTION_AS_ID_SHARE:
                parts.append(rng.choice(id_words))
            else:
                parts.append(str(rng.randint(1, 99_999)))
            first_param = False
        else:
            count = rng.randint(1, 3)
            parts.extend(f"part-{rng.randint(1, 999)}" for _ in range(count - 1))
            parts.append(f"doc-{rng.randint(1, 999)}.txt")
    return "/" + "/".join(parts)


def miss_candidate(routes: list[Shape], rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:  # an unknown resource
        tail = "".join(f"/x{rng.randint(1, 99)}" for _ in range(rng.randint(0, 2)))
        return f"/{rng.choice(WORDS)}-missing{rng.randint(1, 9_999)}{tail}"
    path = fill(rng.choice(routes), rng)
    if roll < 0.7:  # one segment too many
        return f"{path}/nope{rng.randint(1, 999)}"
    head, _, _ = path.rpartition("/")  # the last segment changed
    return f"{head}/nope{rng.randint(1, 999)}" if head else f"/nope{rng.randint(1, 999)}"


def rest_miss_candidate(routes: list[Shape], rng: random.Random) -> str:
    roll = rng.random()
    path = fill(rng.choice(routes), rng)
    if roll < 0.2:  # a version that does not exist
        return path.replace("/api/v", f"/api/v{rng.randint(4, 9)}", 1)
    if roll < 0.4:  # an unknown resource in a known version
        tail = "".join(f"/{rng.randint(1, 99)}" for _ in range(rng.randint(0, 2)))
        return f"/api/{rng.choice(list(REST_VERSIONS))}/{rng.choice(WORDS)}-missing{rng.randint(1, 9_999)}{tail}"
    if roll < 0.7:  # one segment too many
        return f"{path}/nope{rng.randint(1, 999)}"
    head, _, _ = path.rpartition("/")  # the last segment changed
    return f"{head}/nope{rng.randint(1, 999)}"


def make_requests(routes: list[Shape], oracle: Oracle, rng: random.Random, count: int) -> list[Request]:
    requests: list[Request] = []
    for _ in range(count):
        if rng.random() < MISS_SHARE:
            path = miss_candidate(routes, rng)
            while oracle.hits(path):
                path = miss_candidate(routes, rng)
            requests.append(Request(path, None))
        else:
            shape = rng.choice(routes)
            requests.append(Request(fill(shape, rng), shape))
    return requests


def make_rest_requests(routes: list[Shape], oracle: Oracle, rng: random.Random, count: int) -> list[Request]:
    """As `make_requests`; an id may be an action's name, so the oracle says what it matches."""
    requests: list[Request] = []
    for _ in range(count):
        if rng.random() < MISS_SHARE:
            path = rest_miss_candidate(routes, rng)
            while oracle.hits(path):
                path = rest_miss_candidate(routes, rng)
            requests.append(Request(path, None))
        else:
            path = fill(rng.choice(routes), rng, COLLECTION_ACTIONS)
            requests.append(Request(path, oracle.best(path)))
    return requests


@dataclass(frozen=True, slots=True)
class Mix:
    name: str
    seed: int
    sizes: tuple[int, ...]
    make_routes: Callable[[int, random.Random], list[Shape]]
    make_requests: Callable[[list[Shape], Oracle, random.Random, int], list[Request]]
    by_kind: bool  # also time static hits, dynamic hits and misses apart


MIXES = (
    Mix("random", SEED, SIZES, make_routes, make_requests, by_kind=False),
    Mix("rest", REST_SEED, REST_SIZES, make_rest_routes, make_rest_requests, by_kind=True),
)


# --------------------------------------------------------------------------- routers


def write_app(routes: list[Shape], app_dir: Path) -> None:
    for shape in routes:
        folder = app_dir.joinpath(*engine_pattern(shape).lstrip("/").split("/"))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "route.py").write_text(ROUTE_SOURCE)


def load_table(app_dir: Path) -> tuple[engine.RouteTable, float]:
    start = time.perf_counter()
    table = engine.load_routes(app_dir, convention="next")
    return table, time.perf_counter() - start


class _Resource:
    def on_get(self, req: object, resp: object) -> None:
        pass


def falcon_router(routes: list[Shape]) -> falcon.routing.CompiledRouter:
    router = falcon.routing.CompiledRouter()
    resource = _Resource()
    for shape in routes:
        router.add_route(brace_template(shape), resource)
    router.find("/")  # compiles the router's code on first use
    return router


async def _endpoint(request: object) -> None:
    return None


def starlette_router(routes: list[Shape]) -> StarletteRouter:
    ordered = sorted(routes)  # by (kind, text) per segment: static < param < catch-all
    return StarletteRouter(routes=[StarletteRoute(brace_template(s), _endpoint) for s in ordered])


def starlette_find(routes: list[StarletteRoute], path: str) -> StarletteRoute | None:
    """What `Router.app` does to pick a route, without dispatching to it."""
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    for route in routes:
        match, _ = route.matches(scope)
        if match is StarletteMatch.FULL:
            return route
    return None


# --------------------------------------------------------------------------- checks


def check(
    table: engine.RouteTable,
    router: falcon.routing.CompiledRouter,
    starlette: StarletteRouter,
    requests: list[Request],
) -> list[str]:
    """Every request against the engine and Falcon, a sample against Starlette."""
    problems: list[str] = []
    for request in requests:
        path, shape = request.path, request.shape
        m = table.match("GET", path)
        if m != python_match(table)("GET", path):
            problems.append(f"engine: the C and the Python matcher differ on {path}")
        found = router.find(path)
        if shape is None:
            if m.status != 404:
                problems.append(f"engine: {path} is a miss, got {m.status} {m.pattern}")
            if found is not None:
                problems.append(f"falcon: {path} is a miss, got {found[3]}")
            continue
        if (m.status, m.pattern) != (200, engine_pattern(shape)):
            problems.append(f"engine: {path} should match {engine_pattern(shape)}, got {m.status} {m.pattern}")
        if found is None or found[3] != brace_template(shape):
            problems.append(f"falcon: {path} should match {brace_template(shape)}, got {found and found[3]}")
    routes = list(starlette.routes)
    for request in requests[:STARLETTE_CHECKS]:
        route = starlette_find(routes, request.path)
        want = brace_template(request.shape) if request.shape else None
        got = route.path if route is not None else None
        if got != want:
            problems.append(f"starlette: {request.path} should match {want}, got {got}")
    return problems


# --------------------------------------------------------------------------- timing


def best_rate(run: Callable[[], object], lookups: int) -> float:
    """Lookups/s: the best of REPEATS, each as many passes as fit in PASS_BUDGET."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        run()  # warm-up, and a measure of one pass
        one = time.perf_counter() - start
        passes = max(1, int(PASS_BUDGET / one))
        best = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            for _ in range(passes):
                run()
            best = min(best, (time.perf_counter() - start) / passes)
    finally:
        if gc_was_enabled:
            gc.enable()
    return lookups / best


def python_match(table: engine.RouteTable) -> Callable[[str, str], engine.Match]:
    """The Python matcher (`Matcher.match`), which `table.match` repeats in C where built."""
    return table._matcher.match


def engine_pass(table: engine.RouteTable, paths: list[str], python: bool = False) -> Callable[[], None]:
    def run() -> None:
        match = python_match(table) if python else table.match
        for path in paths:
            match("GET", path)

    return run


def falcon_pass(router: falcon.routing.CompiledRouter, paths: list[str]) -> Callable[[], None]:
    def run() -> None:
        find = router.find
        for path in paths:
            find(path)

    return run


def starlette_pass(router: StarletteRouter, paths: list[str]) -> Callable[[], None]:
    routes = list(router.routes)

    def run() -> None:
        for path in paths:
            starlette_find(routes, path)

    return run


def starlette_paths(router: StarletteRouter, paths: list[str]) -> list[str]:
    """A prefix of the requests small enough for one pass to fit the budget (O(N) lookups)."""
    probe = paths[:50]
    start = time.perf_counter()
    starlette_pass(router, probe)()
    per_lookup = (time.perf_counter() - start) / len(probe)
    return paths[: max(len(probe), min(len(paths), int(PASS_BUDGET / per_lookup)))]


def floor_pass(routes: list[Shape], paths: list[str]) -> Callable[[], None]:
    """The least any `RouteTable.match` does for a dynamic hit, and no route is found:
    a call, the static dict missed, the path split, a `Match` with a fresh params dict."""
    statics = {engine_pattern(shape): shape for shape in routes if is_static(shape)}
    new, answer = tuple.__new__, engine.Match

    def floor(method: str, path: str) -> engine.Match:
        statics.get(path)
        segments = path.split("/")
        return new(answer, (200, "/a/[id]", "a/[id]/route.py", {"id": segments[-1]}, ("GET",), None, None))

    def run() -> None:
        for path in paths:
            floor("GET", path)

    return run


def request_kind(request: Request) -> str:
    if request.shape is None:
        return "miss"
    return "static" if is_static(request.shape) else "dynamic"


REQUEST_KINDS = ("static", "dynamic", "miss")


# --------------------------------------------------------------------------- report


@dataclass(slots=True)
class Result:
    n: int
    engine: float
    python: float  # the Python matcher alone
    falcon: float
    starlette: float
    starlette_requests: int
    requests: int
    loads: list[float]
    # kind -> (share of the requests, engine µs, falcon µs per lookup)
    by_kind: dict[str, tuple[float, float, float]]
    floor: float  # µs per dynamic hit that a Python RouteTable.match spends (see floor_pass)


def bench_size(mix: Mix, n: int, rng: random.Random, workdir: Path) -> tuple[Result, list[str]]:
    routes = mix.make_routes(n, rng)
    print(f"{mix.name} N={n:>6,}: {describe(routes)}", flush=True)
    app_dir = workdir / f"{mix.name}{n}"
    write_app(routes, app_dir)
    loads: list[float] = []
    table, seconds = load_table(app_dir)
    loads.append(seconds)
    if mix.name == "random" and n == max(mix.sizes):
        loads.extend(load_table(app_dir)[1] for _ in range(LOAD_RUNS - 1))
    # Warnings (a catch-all with static siblings is a shadowed-catch-all) change no answer.
    assert not table.errors, f"the generated route set has errors: {table.errors[:3]}"
    assert len(table.routes) == n, f"{len(table.routes)} routes loaded, {n} written"

    oracle = Oracle(routes)
    requests = mix.make_requests(routes, oracle, rng, REQUESTS_PER_SIZE)
    falcon = falcon_router(routes)
    starlette = starlette_router(routes)
    problems = check(table, falcon, starlette, requests)

    paths = [r.path for r in requests]
    some = starlette_paths(starlette, paths)
    by_kind: dict[str, tuple[float, float, float]] = {}
    if mix.by_kind:
        for kind in REQUEST_KINDS:
            subset = [r.path for r in requests if request_kind(r) == kind]
            engine_rate = best_rate(engine_pass(table, subset), len(subset))
            falcon_rate = best_rate(falcon_pass(falcon, subset), len(subset))
            by_kind[kind] = (len(subset) / len(requests), 1e6 / engine_rate, 1e6 / falcon_rate)
    dynamic = [r.path for r in requests if request_kind(r) == "dynamic"]
    floor = 1e6 / best_rate(floor_pass(routes, dynamic), len(dynamic)) if mix.by_kind else 0.0
    result = Result(
        n=n,
        engine=best_rate(engine_pass(table, paths), len(paths)),
        python=best_rate(engine_pass(table, paths, python=True), len(paths)),
        falcon=best_rate(falcon_pass(falcon, paths), len(paths)),
        starlette=best_rate(starlette_pass(starlette, some), len(some)),
        starlette_requests=len(some),
        requests=len(paths),
        loads=loads,
        by_kind=by_kind,
        floor=floor,
    )
    return result, problems


def print_table(mix: Mix, results: list[Result]) -> None:
    header = (
        f"{'N':>7} | {'engine/s':>11} | {'falcon/s':>11} | {'starlette/s':>11} | "
        f"{'engine/falcon':>13} | {'engine/starlette':>16} | {'python/s':>11} | {'python/falcon':>13}"
    )
    print(f"\nMix: {mix.name} (seed {mix.seed})")
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.n:>7,} | {r.engine:>11,.0f} | {r.falcon:>11,.0f} | {r.starlette:>11,.0f} | "
            f"{r.engine / r.falcon:>12.2f}x | {r.engine / r.starlette:>15.1f}x | "
            f"{r.python:>11,.0f} | {r.python / r.falcon:>12.2f}x"
        )
    notes = ", ".join(f"{r.starlette_requests:,} at N={r.n:,}" for r in results if r.starlette_requests < r.requests)
    print(f"\n{REQUESTS_PER_SIZE:,} requests per N (~{MISS_SHARE:.0%} misses); lookups/s: best of {REPEATS}.")
    print(f"engine: RouteTable.match, {MATCHER}; python: the Python matcher alone (Matcher.match).")
    if notes:
        print(f"Starlette timed on a prefix of the requests (it scans every route): {notes}.")
    if mix.by_kind:
        print("\nµs per lookup by kind of request (engine / falcon)")
        print(f"{'N':>7} | " + " | ".join(f"{kind:>24}" for kind in REQUEST_KINDS))
        for r in results:
            cells = [
                f"{share:>4.0%}  {engine_us:5.2f} / {falcon_us:5.2f} µs"
                for share, engine_us, falcon_us in r.by_kind.values()
            ]
            print(f"{r.n:>7,} | " + " | ".join(f"{cell:>24}" for cell in cells))
        print(
            "\nThe floor of a dynamic hit in Python, what a matcher written in Python spends before finding "
            "a route (a call, the static dict missed, a split, a Match with its params dict):"
        )
        for r in results:
            falcon_dynamic = r.by_kind["dynamic"][2]
            print(
                f"{r.n:>7,} | floor {r.floor:5.2f} µs = {r.floor / falcon_dynamic:4.2f} of Falcon's "
                f"whole dynamic lookup ({falcon_dynamic:5.2f} µs)"
            )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_bars(results: list[Result]) -> None:
    by_n = {r.n: r for r in results}
    print("\nBars (random mix)")
    for n in BAR_SIZES:
        r = by_n[n]
        vs_falcon, vs_starlette = r.engine / r.falcon, r.engine / r.starlette
        print(
            f"  N={n:>6,}: engine >= {BAR_VS_FALCON:.1f}x Falcon     {vs_falcon:7.2f}x  "
            f"{verdict(vs_falcon >= BAR_VS_FALCON)}"
        )
        print(
            f"  N={n:>6,}: engine >= {BAR_VS_STARLETTE:.0f}x Starlette   {vs_starlette:7.1f}x  "
            f"{verdict(vs_starlette >= BAR_VS_STARLETTE)}"
        )
    # The walk does the same work whatever N; what grows is the memory it touches. The bar
    # is on the Python matcher, the algorithm; the C one is shown beside it (see MATCHER).
    big = by_n[max(SIZES)].python
    small = {n: by_n[n].python for n in SIZES[:2]}
    ratio = big / max(small.values())
    each = ", ".join(f"{big / rate:.2f}x of N={n:,}" for n, rate in small.items())
    print(
        f"  cost flat in N: the Python matcher at N={max(SIZES):,} >= {BAR_FLAT}x of its best at "
        f"N={'/'.join(f'{n:,}' for n in small)}   {ratio:.2f}x ({each})  {verdict(ratio >= BAR_FLAT)}"
    )
    c_big, c_best = by_n[max(SIZES)].engine, max(by_n[n].engine for n in SIZES[:2])
    print(
        f"  (RouteTable.match, {MATCHER}: {c_big / c_best:.2f}x of its best; a lookup at N={max(SIZES):,} "
        f"costs {1e6 / c_big - 1e6 / c_best:.2f} µs more, the cache misses of a larger tree, on a "
        f"fixed cost of {1e6 / c_best:.2f} µs)"
    )


def print_rest_bars(results: list[Result]) -> None:
    by_n = {r.n: r for r in results}
    print("\nBars (rest mix)")
    for n in BAR_REST_SIZES:
        vs_falcon = by_n[n].engine / by_n[n].falcon
        print(
            f"  N={n:>6,}: engine >= {BAR_REST_VS_FALCON:.1f}x Falcon     {vs_falcon:7.2f}x  "
            f"{verdict(vs_falcon >= BAR_REST_VS_FALCON)}"
        )


def print_load(result: Result) -> None:
    first, best = result.loads[0], min(result.loads)
    print(f"\nLoading {result.n:,} route files with engine.load_routes (walk, parse, build)")
    print(f"  first: {first:.2f} s   best of {len(result.loads)}: {best:.2f} s")
    print(f"  bar < {BAR_LOAD_SECONDS:.0f} s: {verdict(best < BAR_LOAD_SECONDS)}")


def main() -> int:
    started = time.perf_counter()
    print(f"Python {sys.version.split()[0]}, falcon {falcon.__version__}; RouteTable.match is {MATCHER}")
    results: dict[str, list[Result]] = {}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_match_") as tmp:
        for mix in MIXES:
            rng = random.Random(mix.seed)
            results[mix.name] = []
            for n in mix.sizes:
                result, found = bench_size(mix, n, rng, Path(tmp))
                results[mix.name].append(result)
                problems.extend(f"{mix.name} N={n}: {p}" for p in found)
    for mix in MIXES:
        print_table(mix, results[mix.name])
    print_bars(results["random"])
    print_rest_bars(results["rest"])
    print_load(results["random"][-1])
    print(f"\nTotal time {time.perf_counter() - started:.0f} s")
    if problems:
        print(f"\nINCORRECT: {len(problems)} disagreements, first ones:")
        for problem in problems[:20]:
            print(f"  {problem}")
        return 1
    print("Correctness: engine, Falcon and the regex oracle agree on every request (Starlette on a sample).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

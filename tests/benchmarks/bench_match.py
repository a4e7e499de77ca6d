"""Route-matching benchmark: the engine against Falcon's and Starlette's routers.

Run by hand (pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_match.py

Needs the bench extras (`pip install -e ".[bench]"`: falcon, starlette).

What it measures, for N = 10, 100, 1,000 and 10,000 routes:

* A seeded, REST-like route set: depth 1-4, static names drawn from a word list with a
  numeric suffix (`users12`), ~30% of the routes with a `[id]`-style param, a few
  `[...path]` catch-alls (always last). At any node there is at most one param name and
  never both a param and a catch-all, so the set has no conflicts.
* The set is written as real Next.js-style files (`users12/[users12_id]/route.py`) in a
  temporary directory and loaded with `engine.load_routes(dir, convention="next")`.
* The same routes are added to `falcon.routing.CompiledRouter` (`/users12/{users12_id}`,
  `{path:path}`) and to a `starlette.routing.Router`, sorted static < param < catch-all.
* A request list built from the routes (params as numbers, catch-alls with 1-3 segments)
  with ~10% misses. Every request is checked against an independent regex oracle, the
  engine (200 + the right pattern, or 404) and Falcon (the right template, or None);
  Starlette is checked on a sample. A disagreement makes the script exit 1.
* Lookups/s: best of 5 repeats, each repeat a number of passes over the request list
  taking ~0.4 s, with the garbage collector off (as `timeit` does). The lookups are
  `table.match("GET", path)`, `router.find(path)` and, for Starlette, what `Router.app`
  does to pick a route: `route.matches(scope)` over `router.routes` until `Match.FULL`.
  Starlette scans every route, so at large N it is timed on a prefix of the request list.
* The wall time of `engine.load_routes` over the 10,000 route files (first call and best
  of 3): walking the tree, parsing every file's source and building the table.

It prints a table and PASS/FAIL bars; the bars are a report, not a test, so they do not
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

SEED = 20240601
SIZES = (10, 100, 1_000, 10_000)
REQUESTS_PER_SIZE = 5_000
MISS_SHARE = 0.10
PARAM_SHARE = 0.30  # routes with at least one [param]
CATCHALL_SHARE = 0.03  # routes ending in [...path]
DEPTH_WEIGHTS = {1: 2, 2: 4, 3: 3, 4: 2}
REPEATS = 5
PASS_BUDGET = 0.4  # seconds per timed repeat
STARLETTE_CHECKS = 200  # requests checked against Starlette (a full scan each)
LOAD_RUNS = 3

# Bars.
BAR_VS_FALCON = 1.0
BAR_VS_STARLETTE = 20.0
BAR_FLAT = 0.6
BAR_LOAD_SECONDS = 2.0
BAR_SIZES = (1_000, 10_000)

WORDS = (
    "users", "orders", "items", "posts", "comments", "teams", "projects", "tasks", "invoices",
    "payments", "products", "carts", "reviews", "tags", "files", "events", "sessions", "tokens",
    "reports", "settings", "groups", "roles", "accounts", "messages", "threads", "alerts",
    "metrics", "logs", "builds", "deploys", "regions", "zones", "hosts", "volumes", "images",
    "jobs", "queues", "topics", "webhooks", "exports",
)  # fmt: skip

# Segment kinds, in the engine's priority order (static < param < catch-all).
STATIC, PARAM, CATCHALL = 0, 1, 2
CATCHALL_NAME = "path"
ROUTE_SOURCE = "async def GET(request):\n    return None\n"

Segment = tuple[int, str]  # (kind, static text or param name)
Shape = tuple[Segment, ...]


# --------------------------------------------------------------------------- route set


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


def engine_pattern(shape: Shape) -> str:
    texts = {STATIC: "{}", PARAM: "[{}]", CATCHALL: "[...{}]"}
    return "/" + "/".join(texts[kind].format(value) for kind, value in shape)


def brace_template(shape: Shape) -> str:
    """Falcon's and Starlette's syntax: `/users/{id}`, catch-all `{path:path}`."""
    texts = {STATIC: "{}", PARAM: "{{{}}}", CATCHALL: "{{{}:path}}"}
    return "/" + "/".join(texts[kind].format(value) for kind, value in shape)


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
    """Brute-force regex matching, grouped by the first segment (always static here)."""

    def __init__(self, routes: Iterable[Shape]) -> None:
        self.by_first: dict[str, list[re.Pattern[str]]] = {}
        for shape in routes:
            self.by_first.setdefault(shape[0][1], []).append(re.compile(_regex(shape)))

    def hits(self, path: str) -> bool:
        first = path.split("/", 2)[1]
        return any(p.match(path) for p in self.by_first.get(first, ()))


def _regex(shape: Shape) -> str:
    parts = {STATIC: None, PARAM: "[^/]+", CATCHALL: "[^/]+(?:/[^/]+)*"}
    return "^/" + "/".join(parts[k] or re.escape(v) for k, v in shape) + "$"


def fill(shape: Shape, rng: random.Random) -> str:
    """A request path for a route; the values never look like a static name (`word12`)."""
    parts: list[str] = []
    for kind, value in shape:
        if kind == STATIC:
            parts.append(value)
        elif kind == PARAM:
            parts.append(str(rng.randint(1, 99_999)))
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


def engine_pass(table: engine.RouteTable, paths: list[str]) -> Callable[[], None]:
    def run() -> None:
        match = table.match
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


# --------------------------------------------------------------------------- report


@dataclass(slots=True)
class Result:
    n: int
    engine: float
    falcon: float
    starlette: float
    starlette_requests: int
    requests: int
    loads: list[float]


def bench_size(n: int, rng: random.Random, workdir: Path) -> tuple[Result, list[str]]:
    routes = make_routes(n, rng)
    print(f"N={n:>6,}: {describe(routes)}", flush=True)
    app_dir = workdir / f"app{n}"
    write_app(routes, app_dir)
    loads: list[float] = []
    table, seconds = load_table(app_dir)
    loads.append(seconds)
    if n == max(SIZES):
        loads.extend(load_table(app_dir)[1] for _ in range(LOAD_RUNS - 1))
    assert not table.conflicts, f"the generated route set has conflicts: {table.conflicts[:3]}"
    assert len(table.routes) == n, f"{len(table.routes)} routes loaded, {n} written"

    oracle = Oracle(routes)
    requests = make_requests(routes, oracle, rng, REQUESTS_PER_SIZE)
    falcon = falcon_router(routes)
    starlette = starlette_router(routes)
    problems = check(table, falcon, starlette, requests)

    paths = [r.path for r in requests]
    some = starlette_paths(starlette, paths)
    result = Result(
        n=n,
        engine=best_rate(engine_pass(table, paths), len(paths)),
        falcon=best_rate(falcon_pass(falcon, paths), len(paths)),
        starlette=best_rate(starlette_pass(starlette, some), len(some)),
        starlette_requests=len(some),
        requests=len(paths),
        loads=loads,
    )
    return result, problems


def print_table(results: list[Result]) -> None:
    header = (
        f"{'N':>7} | {'engine/s':>11} | {'falcon/s':>11} | {'starlette/s':>11} | "
        f"{'engine/falcon':>13} | {'engine/starlette':>16}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.n:>7,} | {r.engine:>11,.0f} | {r.falcon:>11,.0f} | {r.starlette:>11,.0f} | "
            f"{r.engine / r.falcon:>12.2f}x | {r.engine / r.starlette:>15.1f}x"
        )
    notes = ", ".join(f"{r.starlette_requests:,} at N={r.n:,}" for r in results if r.starlette_requests < r.requests)
    print(f"\n{REQUESTS_PER_SIZE:,} requests per N (~{MISS_SHARE:.0%} misses); lookups/s: best of {REPEATS}.")
    if notes:
        print(f"Starlette timed on a prefix of the requests (it scans every route): {notes}.")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_bars(results: list[Result]) -> None:
    by_n = {r.n: r for r in results}
    print("\nBars")
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
    big = by_n[max(SIZES)].engine
    small = {n: by_n[n].engine for n in SIZES[:2]}
    ratio = big / max(small.values())
    each = ", ".join(f"{big / rate:.2f}x of N={n:,}" for n, rate in small.items())
    print(
        f"  cost flat in N: engine at N={max(SIZES):,} >= {BAR_FLAT}x of its best at "
        f"N={'/'.join(f'{n:,}' for n in small)}   {ratio:.2f}x ({each})  {verdict(ratio >= BAR_FLAT)}"
    )


def print_load(result: Result) -> None:
    first, best = result.loads[0], min(result.loads)
    print(f"\nLoading {result.n:,} route files with engine.load_routes (walk, parse, build)")
    print(f"  first: {first:.2f} s   best of {len(result.loads)}: {best:.2f} s")
    print(f"  bar < {BAR_LOAD_SECONDS:.0f} s: {verdict(best < BAR_LOAD_SECONDS)}")


def main() -> int:
    rng = random.Random(SEED)
    started = time.perf_counter()
    print(f"Python {sys.version.split()[0]}, falcon {falcon.__version__}, seed {SEED}")
    results: list[Result] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench_match_") as tmp:
        for n in SIZES:
            result, found = bench_size(n, rng, Path(tmp))
            results.append(result)
            problems.extend(f"N={n}: {p}" for p in found)
    print_table(results)
    print_bars(results)
    print_load(results[-1])
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

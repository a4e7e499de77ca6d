"""The matcher against a brute-force reference, on random route sets and raw paths.

The reference knows nothing of trees or shapes: it tries every served route against the
decoded segments and takes the first in priority order, the kinds of the segments read
left to right (static < [param] < [...catch-all] < [[...optional]], and a route that ends
before an optional catch-all that matches the same path). Dot segments and the trailing
slash are settled first, as the matcher settles them, with `resolve_dots`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.dialects import DIALECTS
from engine.dialects.base import Layout, RouteSpec
from engine.matcher import KNOWN_METHODS, PURE_PYTHON_ENV, Match, UnsafePath, _fastmatch, resolve_dots
from engine.segments import CATCHALL, OPTIONAL, PARAM, SPLAT, STATIC, Segment
from engine.source import FileFacts
from engine.table import Route, RouteTable, build_table

GET_FACTS = FileFacts(methods=("GET",), has_page=True)

# Few names, so that routes share prefixes and paths hit them; `100%25` is a static folder
# with a `%` in its name, reached by the request `/100%2525` only.
STATICS = ["a", "b", "new", "edit", "100%25", "a b"]
statics = st.sampled_from(STATICS).map(lambda v: Segment(STATIC, v))
params = st.sampled_from(["id", "x"]).map(lambda v: Segment(PARAM, v))
tails = st.sampled_from([(CATCHALL, "rest"), (CATCHALL, SPLAT), (OPTIONAL, "slug")]).map(lambda t: Segment(*t))
route_shapes = st.tuples(st.lists(st.one_of(statics, statics, params), max_size=4), st.none() | tails).map(
    lambda t: (*t[0], t[1]) if t[1] else tuple(t[0])
)
route_sets = st.lists(route_shapes, min_size=1, max_size=10)

# Raw segments: the static names (raw, encoded, encoded twice), values, empty and dot segments.
RAW = [*STATICS, "100%2525", "a%20b", "%61", "n%65w", "1", "42", "a%2Fb", "", ".", "..", "%2e", "%2E%2e", "x%5c.."]
raw_paths = st.tuples(
    st.lists(st.sampled_from(RAW) | st.text("ab/%.", max_size=3), max_size=6),
    st.sampled_from(["", "", "", "/", "//"]),
).map(lambda t: "/" + "/".join(t[0]) + t[1])
methods = st.sampled_from(["GET", "GET", "HEAD", "POST", "OPTIONS", "BREW"])


def table_of(shapes: list[tuple[Segment, ...]], convention: str) -> RouteTable:
    specs = [RouteSpec(f"r{i}.py", shape) for i, shape in enumerate(shapes)]
    return build_table(Path("/nonexistent-app"), DIALECTS[convention], Layout(routes=specs), lambda _: GET_FACTS)


def fits(route: Route, parts: list[str]) -> bool:
    for i, segment in enumerate(route.segments):
        if segment.kind == CATCHALL:
            return len(parts) > i
        if segment.kind == OPTIONAL:
            return len(parts) >= i
        if i >= len(parts) or (segment.kind == STATIC and parts[i] != segment.value) or not parts[i]:
            return False
    return len(parts) == len(route.segments)


def params_of(route: Route, parts: list[str]) -> dict[str, object]:
    found: dict[str, object] = {}
    for i, segment in enumerate(route.segments):
        if segment.kind == PARAM:
            found[segment.value] = parts[i]
        elif segment.kind == CATCHALL:
            found[segment.value] = "/".join(parts[i:]) if segment.value == SPLAT else parts[i:]
        elif segment.kind == OPTIONAL and parts[i:]:
            found[segment.value] = parts[i:]
    return found


def reference(routes: list[Route], redirect: bool, method: str, raw: str) -> tuple[object, ...]:
    """(status, pattern, params, location), by trying every route."""
    if method not in KNOWN_METHODS:
        return (501, None, {}, None)
    try:
        path = resolve_dots(raw)
    except UnsafePath:
        return (400, None, {}, None)
    if len(path) > 1 and path.endswith("/"):
        if redirect:
            return (308, None, {}, path.rstrip("/") or "/")
        path = path.rstrip("/") or "/"
    parts = [] if path == "/" else [unquote(p) for p in path.split("/")[1:]]
    candidates = [r for r in routes if fits(r, parts)]
    if not candidates:
        return (404, None, {}, None)
    best = min(candidates, key=lambda r: tuple(s.kind for s in r.segments))
    status = 200 if method in best.allow else 405
    if method == "OPTIONS" and "OPTIONS" not in best.methods:
        status = 204
    return (status, best.pattern, params_of(best, parts), None)


def served(table: RouteTable) -> list[Route]:
    files = table.served()
    return [r for r in table.routes if r.file in files]


@pytest.mark.parametrize("convention", sorted(DIALECTS))
@given(shapes=route_sets, paths=st.lists(raw_paths, min_size=1, max_size=8), method=methods)
def test_the_matcher_answers_as_the_brute_force_reference(
    convention: str, shapes: list[tuple[Segment, ...]], paths: list[str], method: str
) -> None:
    table = table_of(shapes, convention)
    routes = served(table)
    redirect = DIALECTS[convention].trailing_slash == "redirect"
    for route in routes:
        paths.append("/" + "/".join("p1" if s.kind != STATIC else s.value.replace("%", "%25") for s in route.segments))
    for raw in paths:
        m = table.match(method, raw)
        assert (m.status, m.pattern, m.params, m.location) == reference(routes, redirect, method, raw), raw


@given(shapes=route_sets, raw=raw_paths)
def test_each_match_has_its_own_params(shapes: list[tuple[Segment, ...]], raw: str) -> None:
    """No answer is remembered: the same lookup twice gives equal answers, never the same dict."""
    table = table_of(shapes, "next")
    first, second = table.match("GET", raw), table.match("GET", raw)
    assert first == second
    assert first.params is not second.params


# --- the C matcher (engine/_fastmatch.c) against the Python one -------------------------

needs_c = pytest.mark.skipif(_fastmatch is None, reason="engine._fastmatch was not built (no C compiler)")
# Any text at all: unicode letters and digits (str.isalnum is unicode-wide), separators, escapes.
any_paths = st.text(st.sampled_from("/ab%2e.\\é٣Ⅻ-_ 0") | st.characters(), max_size=24).map(lambda s: "/" + s)


@needs_c
@pytest.mark.parametrize("convention", sorted(DIALECTS))
@given(shapes=route_sets, paths=st.lists(raw_paths | any_paths, min_size=1, max_size=8), method=methods)
def test_the_c_matcher_answers_as_the_python_one(
    convention: str, shapes: list[tuple[Segment, ...]], paths: list[str], method: str
) -> None:
    table = table_of(shapes, convention)
    matcher = table._matcher
    assert matcher.lookup is table.match and matcher.lookup != matcher.match  # the C one serves
    for route in served(table):
        paths.append("/" + "/".join("p1" if s.kind != STATIC else s.value.replace("%", "%25") for s in route.segments))
    for raw in [*paths, "", "no-slash", "/", "/" + "/x" * 60]:
        fast, python = matcher.lookup(method, raw), matcher.match(method, raw)
        assert fast == python, raw
        assert type(fast) is Match and fast.params is not python.params


@needs_c
def test_the_c_matcher_takes_what_the_python_one_takes() -> None:
    table = table_of([(Segment(STATIC, "a"), Segment(PARAM, "id"))], "next")

    class Path(str):
        pass

    assert table.match("GET", Path("/a/7")) == table._matcher.match("GET", "/a/7")
    with pytest.raises(TypeError):
        table.match("GET")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        table.match("GET", b"/a/7")  # type: ignore[arg-type]


def test_the_python_matcher_serves_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    table = table_of([(Segment(STATIC, "a"), Segment(PARAM, "id"))], "next")
    assert table.match == table._matcher.match
    assert table.match("GET", "/a/7").params == {"id": "7"}

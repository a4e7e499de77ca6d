"""`explain`: every route that matches a path, in the matcher's order, why each lost, and the
near misses; and the example paths each URL clash carries, confirmed by `match`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import explain as explaining
from engine.explain import explain
from tests.conftest import GET_HANDLER, write_app

# The same four routes in each dialect: static, param and catch-all at segment 3, and a param at 2.
CONTEST = {
    "next": {
        "api/widgets/search/route.py": GET_HANDLER,
        "api/widgets/[id]/route.py": GET_HANDLER,
        "api/widgets/[...rest]/route.py": GET_HANDLER,
        "api/[kind]/[id]/route.py": GET_HANDLER,
    },
    "tanstack": {
        "api/widgets/search.py": GET_HANDLER,
        "api/widgets/$id.py": GET_HANDLER,
        "api/widgets/$.py": GET_HANDLER,
        "api/$kind/$id.py": GET_HANDLER,
    },
    "expo": {
        "api/widgets/search+api.py": GET_HANDLER,
        "api/widgets/[id]+api.py": GET_HANDLER,
        "api/widgets/[...rest]+api.py": GET_HANDLER,
        "api/[kind]/[id]+api.py": GET_HANDLER,
    },
}
REST = {"next": "[...rest]", "tanstack": "[..._splat]", "expo": "[...rest]"}


@pytest.fixture(params=sorted(CONTEST))
def contest(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, engine.RouteTable]:
    dialect = request.param
    return dialect, engine.load_routes(write_app(tmp_path, CONTEST[dialect]), convention=dialect)


def test_every_matching_route_in_the_matchers_order_with_why_it_lost(contest: tuple[str, engine.RouteTable]) -> None:
    dialect, table = contest
    rest = REST[dialect]
    found = explain(table, "GET", "/api/widgets/search")
    assert [(c.pattern, c.chosen, c.reason) for c in found.candidates] == [
        ("/api/widgets/search", True, "answers 200: the most specific pattern that matches"),
        ("/api/widgets/[id]", False, "segment 3: static `search` is preferred to `[id]`"),
        (f"/api/widgets/{rest}", False, f"segment 3: `[id]` is preferred to `{rest}`"),
        ("/api/[kind]/[id]", False, "segment 2: static `widgets` is preferred to `[kind]`"),
    ]
    assert found.candidates[0].file == table.match("GET", "/api/widgets/search").file


def test_a_param_beats_a_catch_all_and_a_catch_all_takes_what_is_left(contest: tuple[str, engine.RouteTable]) -> None:
    dialect, table = contest
    rest = REST[dialect]
    assert [c.pattern for c in explain(table, "GET", "/api/widgets/7").candidates] == [
        "/api/widgets/[id]",
        f"/api/widgets/{rest}",
        "/api/[kind]/[id]",
    ]
    only = explain(table, "GET", "/api/widgets/7/8").candidates
    assert [(c.pattern, c.chosen) for c in only] == [(f"/api/widgets/{rest}", True)]


def test_a_405_is_chosen_and_explained_and_the_method_is_a_near_miss(contest: tuple[str, engine.RouteTable]) -> None:
    _, table = contest
    found = explain(table, "POST", "/api/widgets/search")
    assert found.match.status == 405
    first = found.candidates[0]
    assert (first.pattern, first.chosen) == ("/api/widgets/search", True)
    assert first.reason == "answers 405: POST is not exported; Allow: GET, HEAD, OPTIONS"
    assert found.near[0].reason == "POST is not exported; Allow: GET, HEAD, OPTIONS"


def test_a_404_has_no_candidates_and_names_the_segment_each_near_miss_got_wrong(
    contest: tuple[str, engine.RouteTable],
) -> None:
    _, table = contest
    found = explain(table, "GET", "/apix/widgets/search")
    assert found.match.status == 404
    assert found.candidates == ()
    assert found.near[0].pattern == "/api/widgets/search"  # the most similar first
    assert {n.reason for n in found.near} == {"segment 1: `apix` is not `api`"}
    assert len(found.near) <= 5


def test_near_misses_by_a_segment_too_few_or_too_many(tmp_path: Path) -> None:
    table = engine.load_routes(write_app(tmp_path, {"users/[id]/route.py": GET_HANDLER, "a/b/route.py": GET_HANDLER}))
    assert [(n.pattern, n.reason) for n in explain(table, "GET", "/users").near] == [
        ("/users/[id]", "segment 2: the route needs one more segment, `[id]`")
    ]
    assert [(n.pattern, n.reason) for n in explain(table, "GET", "/a/b/c").near] == [
        ("/a/b", "segment 3: `c` is one segment more than the route takes")
    ]


def test_the_optional_catch_all_comes_last_and_a_shadowed_file_says_who_serves(tmp_path: Path) -> None:
    files = {
        "docs/[...slug]/route.py": GET_HANDLER,
        "docs/[[...slug]]/route.py": GET_HANDLER,
        "(shop)/cart/route.py": GET_HANDLER,
        "cart/route.py": GET_HANDLER,
    }
    table = engine.load_routes(write_app(tmp_path, files))
    assert [(c.pattern, c.reason) for c in explain(table, "GET", "/docs/a").candidates[1:]] == [
        ("/docs/[[...slug]]", "segment 2: `[...slug]` is preferred to `[[...slug]]`")
    ]
    cart = explain(table, "GET", "/cart").candidates
    assert [(c.file, c.chosen) for c in cart] == [("(shop)/cart/route.py", True), ("cart/route.py", False)]
    assert cart[1].reason == "shadowed: `(shop)/cart/route.py` serves the same URL"


def test_paths_refused_before_matching_have_nothing_to_explain(tmp_path: Path) -> None:
    table = engine.load_routes(write_app(tmp_path, {"files/[...path]/route.py": GET_HANDLER}))
    found = explain(table, "GET", "/files/%2e%2e/etc")
    assert (found.match.status, found.candidates, found.near) == (400, (), ())
    assert explain(table, "BREW", "/files/x").match.status == 501


# Examples for every clash about URLs ------------------------------------------------------

URL_CLASHES = {
    "duplicate-route": {"(a)/x/route.py": GET_HANDLER, "(b)/x/route.py": GET_HANDLER},
    "ambiguous-params": {"blog/[id]/route.py": GET_HANDLER, "blog/[slug]/route.py": GET_HANDLER},
    "route-page": {"about/route.py": GET_HANDLER, "about/page.py": "def page():\n    return 'x'\n"},
    "optional-catch-all": {"docs/route.py": GET_HANDLER, "docs/[[...slug]]/route.py": GET_HANDLER},
    "shadowed-catch-all": {
        "files/[...path]/route.py": GET_HANDLER,
        "files/latest/route.py": GET_HANDLER,
        "files/[name]/meta/route.py": GET_HANDLER,
    },
}


@pytest.mark.parametrize("kind", sorted(URL_CLASHES))
def test_every_url_clash_has_examples_that_match_confirms(tmp_path: Path, kind: str) -> None:
    table = engine.load_routes(write_app(tmp_path, URL_CLASHES[kind]))
    [conflict] = [c for c in table.conflicts if c.kind == kind]
    assert conflict.examples, conflict
    for path, file in conflict.examples:
        assert table.match("GET", path).file == file  # the same answer `match` gives
        claimed = {c.file for c in explain(table, "GET", path).candidates}
        assert conflict.files[0] in claimed and file in claimed  # more than one file claims it
        assert "example" in path or "/" + path.strip("/") in {r.pattern for r in table.routes}  # readable
    assert conflict.to_json()["examples"] == [{"path": p, "file": f} for p, f in conflict.examples]


def test_the_shadowed_catch_all_names_each_taker_with_an_example(tmp_path: Path) -> None:
    table = engine.load_routes(write_app(tmp_path, URL_CLASHES["shadowed-catch-all"]))
    [conflict] = table.conflicts
    assert conflict.severity == "warning"
    assert dict(conflict.examples) == {
        "/files/latest": "files/latest/route.py",
        "/files/example/meta": "files/[name]/meta/route.py",
    }


def test_clashes_not_about_urls_have_no_examples(tmp_path: Path) -> None:
    files = {
        "ok/route.py": GET_HANDLER,
        "broken/route.py": "def GET(:\n",
        "api/middleware.py": "def middleware(r): ...\n",
    }
    table = engine.load_routes(write_app(tmp_path, files))
    assert table.conflicts
    assert all(c.to_json()["examples"] == [] for c in table.conflicts)


# The explanation and the matcher never disagree ---------------------------------------------

SEGMENT_NAMES = ["a", "b", "[id]", "[x]", "[...rest]", "[[...opt]]"]
route_dirs = st.lists(st.sampled_from(SEGMENT_NAMES), min_size=0, max_size=3)
request_paths = st.lists(st.sampled_from(["a", "b", "c", "7"]), min_size=0, max_size=4)


@settings(max_examples=100)
@given(st.lists(route_dirs, min_size=1, max_size=6), request_paths)
def test_the_rules_put_first_what_the_matcher_serves(dirs: list[list[str]], segments: list[str]) -> None:
    """Two implementations of the priority rules, the matcher's tree walk and `contest`'s sort,
    agree on every table and path."""
    with tempfile.TemporaryDirectory() as tmp:
        files = {"/".join([*d, "route.py"]): GET_HANDLER for d in dirs}
        table = engine.load_routes(write_app(Path(tmp), files))
        path = "/" + "/".join(segments)
        served = table.served()
        ranked = [r.file for r in explaining.contest(table.routes, segments, served) if r.file in served]
        assert (ranked[0] if ranked else None) == table.match("GET", path).file

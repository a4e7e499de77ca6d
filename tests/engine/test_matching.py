"""Matching: priority, catch-alls, decoding, case, trailing slash, 404 / 405 / 501."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from tests.conftest import GET_HANDLER, write_app

NEXT_APP = {
    "route.py": GET_HANDLER,
    "users/route.py": GET_HANDLER + "async def POST(request):\n    return None\n",
    "users/new/route.py": GET_HANDLER,
    "users/[id]/route.py": GET_HANDLER + "def DELETE(request): ...\n",
    "users/[id]/edit/route.py": GET_HANDLER,
    "users/[id]/posts/[postId]/route.py": GET_HANDLER,
    "files/[...path]/route.py": GET_HANDLER,
    "files/readme/route.py": GET_HANDLER,
    "docs/[[...slug]]/route.py": GET_HANDLER,
    "shop/[category]/[...rest]/route.py": GET_HANDLER,
    "shop/[category]/sale/route.py": GET_HANDLER,
    "Caps/route.py": GET_HANDLER,
    "opts/route.py": "def OPTIONS(request): ...\n",
    "empty/route.py": "x = 1\n",
}


@pytest.fixture(scope="module")
def next_table(tmp_path_factory: pytest.TempPathFactory) -> engine.RouteTable:
    return engine.load_routes(write_app(tmp_path_factory.mktemp("next"), NEXT_APP))


@pytest.mark.parametrize(
    ("method", "path", "status", "pattern", "params"),
    [
        pytest.param("GET", "/", 200, "/", {}, id="root"),
        pytest.param("GET", "/users", 200, "/users", {}, id="static"),
        pytest.param("GET", "/users/new", 200, "/users/new", {}, id="static-beats-param"),
        pytest.param("GET", "/users/42", 200, "/users/[id]", {"id": "42"}, id="param"),
        pytest.param("GET", "/users/new/edit", 200, "/users/[id]/edit", {"id": "new"}, id="backtracks-to-param"),
        pytest.param("GET", "/users/7/posts/9", 200, "/users/[id]/posts/[postId]", {"id": "7", "postId": "9"},
                     id="two-params"),
        pytest.param("GET", "/files/readme", 200, "/files/readme", {}, id="static-beats-catch-all"),
        pytest.param("GET", "/files/a", 200, "/files/[...path]", {"path": ["a"]}, id="catch-all-one"),
        pytest.param("GET", "/files/a/b/c", 200, "/files/[...path]", {"path": ["a", "b", "c"]}, id="catch-all-many"),
        pytest.param("GET", "/files", 404, None, {}, id="catch-all-needs-a-segment"),
        pytest.param("GET", "/docs", 200, "/docs/[[...slug]]", {}, id="optional-empty-param-absent"),
        pytest.param("GET", "/docs/a/b", 200, "/docs/[[...slug]]", {"slug": ["a", "b"]}, id="optional-with-segments"),
        pytest.param("GET", "/shop/shoes/sale", 200, "/shop/[category]/sale", {"category": "shoes"},
                     id="static-after-param"),
        pytest.param("GET", "/shop/shoes/x/y", 200, "/shop/[category]/[...rest]",
                     {"category": "shoes", "rest": ["x", "y"]}, id="param-then-catch-all"),
        pytest.param("GET", "/users/a%2Fb", 200, "/users/[id]", {"id": "a/b"}, id="encoded-slash-is-one-segment"),
        pytest.param("GET", "/users/caf%C3%A9", 200, "/users/[id]", {"id": "café"}, id="utf8-decoded"),
        pytest.param("GET", "/files/a%20b/c", 200, "/files/[...path]", {"path": ["a b", "c"]}, id="catch-all-decoded"),
        pytest.param("GET", "/%75sers", 200, "/users", {}, id="static-decoded"),
        pytest.param("GET", "/Caps", 200, "/Caps", {}, id="case-exact"),
        pytest.param("GET", "/caps", 404, None, {}, id="case-sensitive"),
        pytest.param("GET", "/USERS", 404, None, {}, id="case-sensitive-upper"),
        pytest.param("GET", "/nothing/here", 404, None, {}, id="not-found"),
        pytest.param("GET", "/users//edit", 404, None, {}, id="empty-segment-is-no-param"),
        pytest.param("HEAD", "/users", 200, "/users", {}, id="head-from-get"),
        pytest.param("POST", "/users", 200, "/users", {}, id="post"),
        pytest.param("POST", "/users/42", 405, "/users/[id]", {"id": "42"}, id="method-not-allowed"),
        pytest.param("OPTIONS", "/users", 204, "/users", {}, id="options-not-exported-204"),
        pytest.param("OPTIONS", "/opts", 200, "/opts", {}, id="options-exported"),
        pytest.param("GET", "/empty", 405, "/empty", {}, id="no-handlers-405"),
        pytest.param("BREW", "/users", 501, None, {}, id="unknown-method-501"),
        pytest.param("get", "/users", 501, None, {}, id="methods-are-case-sensitive"),
    ],
)
def test_match(
    next_table: engine.RouteTable, method: str, path: str, status: int, pattern: str | None, params: dict[str, object]
) -> None:
    match = next_table.match(method, path)
    assert (match.status, match.pattern, match.params) == (status, pattern, params)


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/users", ("GET", "HEAD", "OPTIONS", "POST")),
        ("/users/1", ("DELETE", "GET", "HEAD", "OPTIONS")),
        ("/opts", ("OPTIONS",)),
        ("/empty", ("OPTIONS",)),
    ],
)
def test_allow_lists_head_with_get_and_options_always(
    next_table: engine.RouteTable, path: str, allow: tuple[str, ...]
) -> None:
    assert next_table.match("PUT", path).allow == allow


def test_next_redirects_trailing_slash(next_table: engine.RouteTable) -> None:
    match = next_table.match("GET", "/users/42/")
    assert (match.status, match.location) == (308, "/users/42")
    assert next_table.match("GET", "/").status == 200


@pytest.mark.parametrize(
    ("convention", "files"),
    [
        pytest.param("tanstack", ["users.$id.py", "index.py"], id="tanstack"),
        pytest.param("expo", ["users/[id]+api.py", "index+api.py"], id="expo"),
    ],
)
def test_trailing_slash_is_ignored_outside_next(tmp_path: Path, convention: str, files: list[str]) -> None:
    table = engine.load_routes(write_app(tmp_path, files), convention=convention)
    match = table.match("GET", "/users/42/")
    assert (match.status, match.pattern, match.params) == (200, "/users/[id]", {"id": "42"})
    assert table.match("GET", "/").status == 200


def test_tanstack_splat_is_a_string(tmp_path: Path) -> None:
    table = engine.load_routes(write_app(tmp_path, ["files/$.py", "files/index.py"]), convention="tanstack")
    assert table.match("GET", "/files/a/b%2Fc/d").params == {"_splat": "a/b/c/d"}
    assert table.match("GET", "/files").pattern == "/files"


def test_expo_catch_all_and_priority(tmp_path: Path) -> None:
    table = engine.load_routes(
        write_app(tmp_path, ["blog/[...rest]+api.py", "blog/[slug]+api.py", "blog/index+api.py"]), convention="expo"
    )
    assert table.match("GET", "/blog").pattern == "/blog"
    assert table.match("GET", "/blog/x").params == {"slug": "x"}
    assert table.match("GET", "/blog/x/y").params == {"rest": ["x", "y"]}


def test_match_order_of_routes_list(next_table: engine.RouteTable) -> None:
    patterns = [r.pattern for r in next_table.routes]
    assert patterns.index("/users/new") < patterns.index("/users/[id]")
    assert patterns.index("/files/readme") < patterns.index("/files/[...path]")
    assert patterns[0] == "/"


def test_cost_does_not_depend_on_unrelated_routes(tmp_path: Path) -> None:
    # A deep tree of siblings: the lookup walks one node per segment, so 2,000 siblings
    # still answer correctly at every depth (a regression guard for the tree, not a timing).
    files = [f"r{i}/[id]/route.py" for i in range(2000)] + ["r1999/x/route.py"]
    table = engine.load_routes(write_app(tmp_path, files))
    assert table.match("GET", "/r1999/x").pattern == "/r1999/x"
    assert table.match("GET", "/r1500/9").params == {"id": "9"}
    assert table.match("GET", "/r2000/9").status == 404


# --- candidate order in each dialect ------------------------------------------------------
#
# One set of routes, written in each dialect's file names: at each segment, left to right,
# static > [param] > [...catch-all] > [[...optional]], and the matcher backs up out of a
# branch that dead-ends. TanStack has no optional catch-all, and names its catch-all `$`
# (`_splat`, one string).

ORDER_ROUTES = [
    "/p/a", "/p/[x]", "/p/[...rest]",
    "/q/a", "/q/[x]", "/q/[[...opt]]",
    "/l/a/[y]", "/l/[x]/b",
    "/k/a/b/c", "/k/[x]/b/d",
    "/b/[x]/c", "/b/[...rest]",
    "/u/new", "/u/[id]/edit",
    "/pc/100%25", "/pc/[x]",
    "/t/[a]/x/[b]",
]  # fmt: skip


def dialect_file(convention: str, pattern: str) -> str:
    """The file that gives `pattern` in a dialect: `/p/[x]` -> `p/[x]/route.py`, `p/[x]+api.py`, `p/$x.py`."""
    parts = pattern.strip("/").split("/")
    if convention == "next":
        return "/".join([*parts, "route.py"])
    if convention == "expo":
        return "/".join(parts) + "+api.py"
    tanstack = ["$" if p.startswith("[...") else "$" + p[1:-1] if p.startswith("[") else p for p in parts]
    return "/".join(tanstack) + ".py"


def dialect_pattern(convention: str, pattern: str) -> str:
    return pattern.replace("[...rest]", "[..._splat]") if convention == "tanstack" else pattern


def dialect_params(convention: str, params: dict[str, object]) -> dict[str, object]:
    if convention == "tanstack" and "rest" in params:
        params = dict(params)
        params["_splat"] = "/".join(params.pop("rest"))
    return params


@pytest.fixture(scope="module", params=["next", "tanstack", "expo"])
def order_table(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> engine.RouteTable:
    convention: str = request.param
    routes = [r for r in ORDER_ROUTES if not (convention == "tanstack" and "[[" in r)]
    app = write_app(tmp_path_factory.mktemp(convention), [dialect_file(convention, r) for r in routes])
    table = engine.load_routes(app, convention=convention)
    assert sorted(r.pattern for r in table.routes) == sorted(dialect_pattern(convention, r) for r in routes)
    return table


@pytest.mark.parametrize(
    ("path", "pattern", "params"),
    [
        pytest.param("/p/a", "/p/a", {}, id="static-first"),
        pytest.param("/p/z", "/p/[x]", {"x": "z"}, id="then-param"),
        pytest.param("/p/z/w", "/p/[...rest]", {"rest": ["z", "w"]}, id="then-catch-all"),
        pytest.param("/p/a/w", "/p/[...rest]", {"rest": ["a", "w"]}, id="static-and-param-dead-end-to-catch-all"),
        pytest.param("/q", "/q/[[...opt]]", {}, id="optional-empty"),
        pytest.param("/q/a", "/q/a", {}, id="static-beats-optional"),
        pytest.param("/q/z", "/q/[x]", {"x": "z"}, id="param-beats-optional"),
        pytest.param("/q/z/w", "/q/[[...opt]]", {"opt": ["z", "w"]}, id="then-optional"),
        pytest.param("/l/a/b", "/l/a/[y]", {"y": "b"}, id="left-to-right"),
        pytest.param("/l/z/b", "/l/[x]/b", {"x": "z"}, id="left-param-then-static"),
        pytest.param("/k/a/b/c", "/k/a/b/c", {}, id="deep-static"),
        pytest.param("/k/a/b/d", "/k/[x]/b/d", {"x": "a"}, id="backtracks-two-levels"),
        pytest.param("/k/a/b", None, {}, id="no-leaf-on-either-branch-404"),
        pytest.param("/b/1/c", "/b/[x]/c", {"x": "1"}, id="param-branch"),
        pytest.param("/b/1/d", "/b/[...rest]", {"rest": ["1", "d"]}, id="param-dead-end-to-catch-all"),
        pytest.param("/b/c", "/b/[...rest]", {"rest": ["c"]}, id="catch-all-one-segment"),
        pytest.param("/b", None, {}, id="catch-all-needs-a-segment"),
        pytest.param("/u/new", "/u/new", {}, id="static-beats-param"),
        pytest.param("/u/new/edit", "/u/[id]/edit", {"id": "new"}, id="backtracks-static-without-child"),
        pytest.param("/u/new/x", None, {}, id="dead-end-404"),
        pytest.param("/p/a%2Fb", "/p/[x]", {"x": "a/b"}, id="encoded-slash-stays-one-segment"),
        pytest.param("/p/%61", "/p/a", {}, id="static-decoded"),
        pytest.param("/p/%61/w", "/p/[...rest]", {"rest": ["a", "w"]}, id="catch-all-decoded"),
        pytest.param("/u/%6Eew/edit", "/u/[id]/edit", {"id": "new"}, id="decoded-then-backtracks"),
        pytest.param("/pc/100%25", "/pc/[x]", {"x": "100%"}, id="percent-pattern-not-matched-raw"),
        pytest.param("/pc/100%2525", "/pc/100%25", {}, id="percent-pattern-matched-decoded"),
        pytest.param("/p/a/../z", "/p/[x]", {"x": "z"}, id="dots-resolved-first"),
        pytest.param("/p/./a", "/p/a", {}, id="dot-resolved-first"),
        pytest.param("/u//edit", None, {}, id="empty-segment-is-no-param"),
        pytest.param("/pc/100%2526", "/pc/[x]", {"x": "100%26"}, id="percent-param-beside-percent-static"),
        pytest.param("/pc/100", "/pc/[x]", {"x": "100"}, id="plain-param-beside-percent-static"),
        pytest.param("/p/a-b", "/p/[x]", {"x": "a-b"}, id="param-not-alphanumeric"),
        pytest.param("/p/v1.2", "/p/[x]", {"x": "v1.2"}, id="param-with-a-dot"),
        pytest.param("/p/caf%C3%A9", "/p/[x]", {"x": "café"}, id="param-decoded-utf8"),
        pytest.param("/p/café", "/p/[x]", {"x": "café"}, id="param-raw-unicode"),
        pytest.param("/u/a.b/edit", "/u/[id]/edit", {"id": "a.b"}, id="dotted-param-then-static"),
        pytest.param("/t/1/x/2", "/t/[a]/x/[b]", {"a": "1", "b": "2"}, id="two-params"),
        pytest.param("/t/1/x/2-3", "/t/[a]/x/[b]", {"a": "1", "b": "2-3"}, id="two-params-one-not-alphanumeric"),
        pytest.param("/t/1/x/%32", "/t/[a]/x/[b]", {"a": "1", "b": "2"}, id="two-params-one-encoded"),
        pytest.param("/t/./1/x/2", "/t/[a]/x/[b]", {"a": "1", "b": "2"}, id="two-params-after-a-dot-segment"),
        pytest.param("/t/1/x", None, {}, id="two-params-one-missing"),
        pytest.param("/p//w", "/p/[...rest]", {"rest": ["", "w"]}, id="catch-all-takes-empty-segments"),
    ],
)
def test_candidate_order(
    order_table: engine.RouteTable, path: str, pattern: str | None, params: dict[str, object]
) -> None:
    convention = order_table.convention
    if convention == "tanstack" and pattern == "/q/[[...opt]]":
        pattern, params = None, {}  # no optional catch-all in TanStack: nothing else matches
    match = order_table.match("GET", path)
    want = None if pattern is None else dialect_pattern(convention, pattern)
    assert (match.status, match.pattern, match.params) == (
        200 if pattern else 404,
        want,
        dialect_params(convention, params) if pattern else {},
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        pytest.param("POST", "/p/a", 405, ("GET", "HEAD", "OPTIONS"), id="static-405"),
        pytest.param("DELETE", "/p/z", 405, ("GET", "HEAD", "OPTIONS"), id="param-405"),
        pytest.param("PUT", "/u/new/edit", 405, ("GET", "HEAD", "OPTIONS"), id="backtracked-405"),
        pytest.param("HEAD", "/b/1/d", 200, ("GET", "HEAD", "OPTIONS"), id="head-catch-all"),
        pytest.param("OPTIONS", "/p/z", 204, ("GET", "HEAD", "OPTIONS"), id="options-204"),
        pytest.param("BREW", "/p/a", 501, (), id="unknown-method-static-501"),
        pytest.param("BREW", "/p/z", 501, (), id="unknown-method-param-501"),
        pytest.param("BREW", "/nothing", 501, (), id="unknown-method-miss-501"),
        pytest.param("BREW", "/p/%2e%2e", 501, (), id="unknown-method-before-400"),
        pytest.param("GET", "/p/%2e%2e", 400, (), id="encoded-dot-segment-400"),
        pytest.param("GET", "/p/..%2f..%2fetc", 400, (), id="disguised-dot-segment-400"),
        pytest.param("GET", "/p/../..", 400, (), id="above-the-root-400"),
        pytest.param("GET", "/nothing/here", 404, (), id="miss-404"),
    ],
)
def test_statuses(
    order_table: engine.RouteTable, method: str, path: str, status: int, allow: tuple[str, ...]
) -> None:
    match = order_table.match(method, path)
    assert (match.status, match.allow) == (status, allow)


@pytest.mark.parametrize("path", ["/p/z/", "/p/a/", "/u/new/edit/", "/p/a//", "/nothing/"])
def test_trailing_slash_per_dialect(order_table: engine.RouteTable, path: str) -> None:
    match = order_table.match("GET", path)
    bare = order_table.match("GET", path.rstrip("/"))
    if order_table.convention == "next":
        assert (match.status, match.location, match.pattern) == (308, path.rstrip("/"), None)
    else:
        assert match[:5] == bare[:5]

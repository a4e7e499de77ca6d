"""Every conflict kind of the brief's table, in each dialect it applies to."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

import engine
from tests.conftest import GET_HANDLER, MakeApp

NO_METHODS = "def helper():\n    return 1\n"
BROKEN = "async def GET(request):\n    return {'oops': \n"
LOWERCASE = "def get(request):\n    return 'hi'\n"
MW = "def middleware(request):\n    return None\n"


def files(*paths: str) -> dict[str, str]:
    return {p: GET_HANDLER for p in paths}


# (id, convention, layout, kind, severity, files involved)
CASES: list[tuple[str, str, Mapping[str, str], str, str, list[str]]] = [
    # duplicate-route
    ("next-groups", "next", files("(a)/x/route.py", "(b)/x/route.py"),
     "duplicate-route", "error", ["(a)/x/route.py", "(b)/x/route.py"]),
    ("tanstack-three-ways", "tanstack", files("users.py", "users.index.py", "users/index.py"),
     "duplicate-route", "error", ["users.index.py", "users.py", "users/index.py"]),
    ("expo-index", "expo", files("hello+api.py", "hello/index+api.py"),
     "duplicate-route", "error", ["hello+api.py", "hello/index+api.py"]),
    # ambiguous-params
    ("next", "next", files("blog/[id]/route.py", "blog/[slug]/route.py"),
     "ambiguous-params", "error", ["blog/[id]/route.py", "blog/[slug]/route.py"]),
    ("tanstack", "tanstack", files("blog.$id.py", "blog/$slug.py"),
     "ambiguous-params", "error", ["blog.$id.py", "blog/$slug.py"]),
    ("expo", "expo", files("blog/[id]+api.py", "blog/[slug]+api.py"),
     "ambiguous-params", "error", ["blog/[id]+api.py", "blog/[slug]+api.py"]),
    # param-names: an error in next, a warning elsewhere
    ("next", "next", files("users/[id]/route.py", "users/[userId]/posts/route.py"),
     "param-names", "error", ["users/[id]/route.py", "users/[userId]/posts/route.py"]),
    ("tanstack", "tanstack", files("users.$id.py", "users.$userId.posts.py"),
     "param-names", "warning", ["users.$id.py", "users.$userId.posts.py"]),
    ("expo", "expo", files("users/[id]+api.py", "users/[userId]/posts+api.py"),
     "param-names", "warning", ["users/[id]+api.py", "users/[userId]/posts+api.py"]),
    # optional-catch-all (TanStack has no optional catch-all)
    ("next", "next", files("docs/route.py", "docs/[[...slug]]/route.py"),
     "optional-catch-all", "error", ["docs/route.py", "docs/[[...slug]]/route.py"]),
    ("next-beside-catch-all", "next", files("docs/[...a]/route.py", "docs/[[...b]]/route.py"),
     "optional-catch-all", "error", ["docs/[...a]/route.py", "docs/[[...b]]/route.py"]),
    ("expo", "expo", files("docs+api.py", "docs/[[...slug]]+api.py"),
     "optional-catch-all", "error", ["docs+api.py", "docs/[[...slug]]+api.py"]),
    # catch-all-position
    ("next", "next", files("files/[...path]/meta/route.py"),
     "catch-all-position", "error", ["files/[...path]/meta/route.py"]),
    ("tanstack", "tanstack", files("files/$/meta.py"), "catch-all-position", "error", ["files/$/meta.py"]),
    ("expo", "expo", files("files/[...path]/meta+api.py"),
     "catch-all-position", "error", ["files/[...path]/meta+api.py"]),
    # repeated-param
    ("next", "next", files("a/[id]/b/[id]/route.py"), "repeated-param", "error", ["a/[id]/b/[id]/route.py"]),
    ("tanstack", "tanstack", files("a.$id.b.$id.py"), "repeated-param", "error", ["a.$id.b.$id.py"]),
    ("expo", "expo", files("a/[id]/b/[id]+api.py"), "repeated-param", "error", ["a/[id]/b/[id]+api.py"]),
    # route-page (next only)
    ("next", "next", {"x/route.py": GET_HANDLER, "x/page.py": "def page(request, params):\n    return 'x'\n"},
     "route-page", "error", ["x/route.py", "x/page.py"]),
    # middleware-location
    ("next-nested", "next", {"api/middleware.py": MW, "a/route.py": GET_HANDLER},
     "middleware-location", "error", ["api/middleware.py"]),
    ("next-two", "next", {"middleware.py": MW, "(g)/middleware.py": MW, "a/route.py": GET_HANDLER},
     "middleware-location", "error", ["middleware.py", "(g)/middleware.py"]),
    ("expo-nested", "expo", {"api/+middleware.py": MW, "a+api.py": GET_HANDLER},
     "middleware-location", "error", ["api/+middleware.py"]),
    ("expo-two", "expo", {"+middleware.py": MW, "(g)/+middleware.py": MW, "a+api.py": GET_HANDLER},
     "middleware-location", "error", ["+middleware.py", "(g)/+middleware.py"]),
    ("tanstack-nested", "tanstack", {"api/__root.py": "middleware = []\n", "a.py": GET_HANDLER},
     "middleware-location", "error", ["api/__root.py"]),
    # invalid-segment
    ("next-double-brackets", "next", files("x/[[id]]/route.py"), "invalid-segment", "error", ["x/[[id]]/route.py"]),
    ("next-two-dots", "next", files("x/[..id]/route.py"), "invalid-segment", "error", ["x/[..id]/route.py"]),
    ("next-empty", "next", files("x/[]/route.py"), "invalid-segment", "error", ["x/[]/route.py"]),
    ("next-partial", "next", files("x/a[b]/route.py"), "invalid-segment", "error", ["x/a[b]/route.py"]),
    ("expo-double-brackets", "expo", files("[[id]]+api.py"), "invalid-segment", "error", ["[[id]]+api.py"]),
    ("expo-group-file", "expo", files("(group)+api.py"), "invalid-segment", "error", ["(group)+api.py"]),
    ("tanstack-group-file", "tanstack", files("(group).py"), "invalid-segment", "error", ["(group).py"]),
    ("tanstack-dollar-inside", "tanstack", files("a$b.py"), "invalid-segment", "error", ["a$b.py"]),
    ("tanstack-unclosed-bracket", "tanstack", files("a[.js.py"), "invalid-segment", "error", ["a[.js.py"]),
    # load-error
    ("next", "next", {"a/route.py": BROKEN}, "load-error", "error", ["a/route.py"]),
    ("tanstack", "tanstack", {"a.py": BROKEN}, "load-error", "error", ["a.py"]),
    ("expo", "expo", {"a+api.py": BROKEN}, "load-error", "error", ["a+api.py"]),
    ("global-middleware", "next", {"middleware.py": "def middleware(:\n", "a/route.py": GET_HANDLER},
     "load-error", "error", ["middleware.py"]),
    ("tanstack-layout", "tanstack", {"_auth.py": "middleware = [\n", "_auth/a.py": GET_HANDLER},
     "load-error", "error", ["_auth.py"]),
    # no-handlers
    ("next", "next", {"a/route.py": NO_METHODS}, "no-handlers", "warning", ["a/route.py"]),
    ("next-page", "next", {"a/page.py": NO_METHODS}, "no-handlers", "warning", ["a/page.py"]),
    ("tanstack", "tanstack", {"a.py": NO_METHODS}, "no-handlers", "warning", ["a.py"]),
    ("expo", "expo", {"a+api.py": NO_METHODS}, "no-handlers", "warning", ["a+api.py"]),
    # lowercase-method
    ("next", "next", {"a/route.py": LOWERCASE}, "lowercase-method", "warning", ["a/route.py"]),
    ("tanstack", "tanstack", {"a.py": LOWERCASE}, "lowercase-method", "warning", ["a.py"]),
    ("expo", "expo", {"a+api.py": LOWERCASE}, "lowercase-method", "warning", ["a+api.py"]),
    # path-mismatch (tanstack only)
    ("tanstack", "tanstack", {"users.$id.py": "Route = create_file_route('/user/$id')(server={'handlers': {}})\n"
                                               "def GET(request): ...\n"},
     "path-mismatch", "warning", ["users.$id.py"]),
]


@pytest.mark.parametrize(
    ("convention", "layout", "kind", "severity", "involved"),
    [pytest.param(*row[1:], id=f"{row[3]}-{row[0]}") for row in CASES],
)
def test_conflict_is_reported(
    make_app: MakeApp,
    convention: str,
    layout: Mapping[str, str],
    kind: str,
    severity: str,
    involved: list[str],
) -> None:
    table = engine.load_routes(make_app(layout), convention=convention)
    found = [c for c in table.conflicts if c.kind == kind]
    assert len(found) == 1, table.conflicts
    conflict = found[0]
    assert conflict.severity == severity
    assert sorted(conflict.files) == sorted(involved)
    # The message names every file involved, so a reader can act on it.
    for file in involved:
        assert file in conflict.message
    # Each layout shows one problem, not a cascade (no-handlers pages aside).
    assert len(table.conflicts) == 1, table.conflicts


@pytest.mark.parametrize(
    ("convention", "layout"),
    [
        pytest.param("tanstack", {"users.index.py": "Route = create_file_route('/users/')\n"}, id="index-slash"),
        pytest.param("tanstack", {"_auth/a.py": "Route = create_file_route('/_auth/a')\n"}, id="pathless"),
        pytest.param("tanstack", {"(g)/about.py": "Route = create_file_route('/about')\n"}, id="group"),
        pytest.param("tanstack", {"posts_.$id.py": "Route = create_file_route('/posts_/$id')\n"}, id="break-out"),
    ],
)
def test_matching_declared_paths_are_fine(make_app: MakeApp, convention: str, layout: dict[str, str]) -> None:
    sources = {f: s + GET_HANDLER for f, s in layout.items()}
    table = engine.load_routes(make_app(sources), convention=convention)
    assert table.conflicts == ()


def test_duplicate_serves_one_file_deterministically(make_app: MakeApp) -> None:
    app = make_app(files("(b)/x/route.py", "(a)/x/route.py"))
    table = engine.load_routes(app)
    assert table.match("GET", "/x").file == "(a)/x/route.py"
    (conflict,) = table.conflicts
    assert "(a)/x/route.py serves it" in conflict.message


def test_route_page_clash_serves_the_handler(make_app: MakeApp) -> None:
    app = make_app({"x/route.py": GET_HANDLER, "x/page.py": "def page(request, params): ..."})
    assert engine.load_routes(app).match("GET", "/x").file == "x/route.py"


def test_broken_file_is_a_problem_not_a_crash(make_app: MakeApp) -> None:
    app = make_app({"a/route.py": BROKEN, "b/route.py": GET_HANDLER, "c/route.py": b"\xff\xfe\x00".decode("latin-1")})
    table = engine.load_routes(app)
    broken = {r.file: r.error for r in table.routes}
    assert broken["a/route.py"] is not None and "SyntaxError" in broken["a/route.py"]
    assert broken["c/route.py"] is not None
    assert broken["b/route.py"] is None
    # The broken routes still match: serving answers 500 naming the file.
    assert table.match("GET", "/a").file == "a/route.py"
    assert table.match("GET", "/b").status == 200


def test_unservable_routes_do_not_match(make_app: MakeApp) -> None:
    app = make_app(files("x/[[id]]/route.py", "a/[id]/b/[id]/route.py", "f/[...p]/meta/route.py"))
    table = engine.load_routes(app)
    assert all(r.error for r in table.routes)
    for path in ("/x/1", "/x/[[id]]", "/a/1/b/2", "/f/1/meta"):
        assert table.match("GET", path).status == 404


def test_clean_app_has_no_conflicts(make_app: MakeApp) -> None:
    app = make_app(
        files("route.py", "users/route.py", "users/[id]/route.py", "users/[id]/posts/route.py",
              "files/[...path]/route.py", "docs/[[...slug]]/route.py", "(g)/about/route.py")
    )
    assert engine.load_routes(app).conflicts == ()

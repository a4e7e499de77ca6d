"""File layout -> URL patterns, one table per dialect (brief section 2)."""

from __future__ import annotations

import pytest

import engine
from tests.conftest import GET_HANDLER, MakeApp

# (id, files, {file: pattern}); files missing from the mapping must not be routed.
NEXT = [
    ("root", ["route.py"], {"route.py": "/"}),
    ("static", ["x/y/route.py"], {"x/y/route.py": "/x/y"}),
    ("param", ["users/[id]/route.py"], {"users/[id]/route.py": "/users/[id]"}),
    ("catch-all", ["files/[...path]/route.py"], {"files/[...path]/route.py": "/files/[...path]"}),
    ("optional-catch-all", ["docs/[[...slug]]/route.py"], {"docs/[[...slug]]/route.py": "/docs/[[...slug]]"}),
    ("group", ["(shop)/cart/route.py"], {"(shop)/cart/route.py": "/cart"}),
    ("slot", ["@modal/login/route.py"], {"@modal/login/route.py": "/login"}),
    ("private-folder", ["_lib/route.py", "a/_x/b/route.py", "ok/route.py"], {"ok/route.py": "/ok"}),
    ("escaped-underscore", ["%5Fapi/route.py"], {"%5Fapi/route.py": "/_api"}),
    ("page", ["about/page.py"], {"about/page.py": "/about"}),
    ("other-modules-ignored", ["users/route.py", "users/helpers.py", "utils.py"], {"users/route.py": "/users"}),
    ("helper-package", ["lib/__init__.py", "lib/route.py", "a/route.py"], {"a/route.py": "/a"}),
    ("hidden-and-cache", [".routeconsole/x/route.py", "__pycache__/route.py", "a/route.py"], {"a/route.py": "/a"}),
    ("middleware-not-a-route", ["middleware.py", "a/route.py"], {"a/route.py": "/a"}),
]

TANSTACK = [
    ("flat-file", ["users.py"], {"users.py": "/users"}),
    ("dots-are-slashes", ["users.$id.posts.py"], {"users.$id.posts.py": "/users/[id]/posts"}),
    ("folders", ["users/$id/posts.py"], {"users/$id/posts.py": "/users/[id]/posts"}),
    ("index-file", ["users.index.py"], {"users.index.py": "/users"}),
    ("index-in-folder", ["users/index.py"], {"users/index.py": "/users"}),
    ("route-in-folder", ["posts/route.py"], {"posts/route.py": "/posts"}),
    ("root-index", ["index.py"], {"index.py": "/"}),
    ("splat", ["api/file/$.py"], {"api/file/$.py": "/api/file/[..._splat]"}),
    ("escaped-dot", ["my-script[.]js.py"], {"my-script[.]js.py": "/my-script.js"}),
    ("escaped-json", ["users[.]json.py"], {"users[.]json.py": "/users.json"}),
    ("pathless-layout", ["_auth.py", "_auth/dashboard.py"], {"_auth/dashboard.py": "/dashboard"}),
    ("pathless-layout-dots", ["_auth.py", "_auth.settings.py"], {"_auth.settings.py": "/settings"}),
    ("break-out", ["posts.py", "posts_.$id.edit.py"], {"posts.py": "/posts", "posts_.$id.edit.py": "/posts/[id]/edit"}),
    ("ignored-dash", ["-components/x.py", "-helper.py", "a.py"], {"a.py": "/a"}),
    ("group", ["(marketing)/about.py"], {"(marketing)/about.py": "/about"}),
    ("root-is-middleware", ["__root.py", "a.py"], {"a.py": "/a"}),
    ("helper-package", ["lib/__init__.py", "lib/db.py", "a.py"], {"a.py": "/a"}),
]

EXPO = [
    ("api-file", ["hello+api.py"], {"hello+api.py": "/hello"}),
    ("nested", ["x/hello+api.py"], {"x/hello+api.py": "/x/hello"}),
    ("index", ["blog/index+api.py"], {"blog/index+api.py": "/blog"}),
    ("root-index", ["index+api.py"], {"index+api.py": "/"}),
    ("param", ["users/[id]+api.py"], {"users/[id]+api.py": "/users/[id]"}),
    ("param-folder", ["users/[id]/posts+api.py"], {"users/[id]/posts+api.py": "/users/[id]/posts"}),
    ("catch-all", ["files/[...rest]+api.py"], {"files/[...rest]+api.py": "/files/[...rest]"}),
    ("group", ["(auth)/login+api.py"], {"(auth)/login+api.py": "/login"}),
    ("only-api-files", ["hello+api.py", "hello.py", "lib/db.py", "+middleware.py"], {"hello+api.py": "/hello"}),
]


def _cases(dialect: str, rows: list[tuple[str, list[str], dict[str, str]]]) -> list[object]:
    return [pytest.param(dialect, files, expected, id=f"{dialect}-{name}") for name, files, expected in rows]


@pytest.mark.parametrize(
    ("convention", "files", "expected"),
    _cases("next", NEXT) + _cases("tanstack", TANSTACK) + _cases("expo", EXPO),
)
def test_file_layout_gives_patterns(
    make_app: MakeApp, convention: str, files: list[str], expected: dict[str, str]
) -> None:
    table = engine.load_routes(make_app(files), convention=convention)
    assert {r.file: r.pattern for r in table.routes} == expected
    assert table.convention == convention


@pytest.mark.parametrize(
    ("files", "convention"),
    [
        pytest.param(["a/hello+api.py", "b/route.py"], "expo", id="api-file-means-expo"),
        pytest.param(["a/route.py", "b.py"], "next", id="route-file-means-next"),
        pytest.param(["about/page.py"], "next", id="page-file-means-next"),
        pytest.param(["users.$id.py", "index.py"], "tanstack", id="otherwise-tanstack"),
        pytest.param([], "tanstack", id="empty-app-is-tanstack"),
    ],
)
def test_dialect_is_detected_from_markers(make_app: MakeApp, files: list[str], convention: str) -> None:
    assert engine.load_routes(make_app(files)).convention == convention


def test_forced_convention_overrides_detection(make_app: MakeApp) -> None:
    app = make_app(["users/route.py"])
    table = engine.load_routes(app, convention="tanstack")
    assert table.convention == "tanstack"
    assert [r.pattern for r in table.routes] == ["/users"]


def test_routes_carry_methods_params_and_kind(make_app: MakeApp) -> None:
    app = make_app(
        {
            "users/[id]/route.py": "def PUT(request): ...\nasync def GET(request, params): ...\n"
            "def helper(): ...\nPATCH = PUT\n",
            "docs/[[...slug]]/page.py": "def page(request, params):\n    return '<h1>docs</h1>'\n",
        }
    )
    table = engine.load_routes(app)
    by_file = {r.file: r for r in table.routes}
    user = by_file["users/[id]/route.py"]
    assert user.methods == ("GET", "PATCH", "PUT")
    assert user.params == ("id",)
    assert user.kind == "route"
    assert user.allow == ("GET", "HEAD", "OPTIONS", "PATCH", "PUT")
    docs = by_file["docs/[[...slug]]/page.py"]
    assert (docs.kind, docs.methods, docs.params) == ("page", ("GET",), ("slug",))


def test_tanstack_file_route_handlers_are_read(make_app: MakeApp) -> None:
    source = (
        "from engine import create_file_route\n"
        "Route = create_file_route('/users/$id')(server={\n"
        "    'middleware': [auth],\n"
        "    'handlers': {'GET': get_user, 'POST': {'middleware': [audit], 'handler': create}},\n"
        "})\n"
    )
    table = engine.load_routes(make_app({"users/$id.py": source}))
    (route,) = table.routes
    assert route.methods == ("GET", "POST")
    assert route.has_middleware
    assert table.conflicts == ()


def test_tanstack_middleware_is_inherited_root_to_leaf(make_app: MakeApp) -> None:
    app = make_app(
        ["__root.py", "posts.py", "posts.$id.py", "posts.$id.comments.py", "posts_.$id.edit.py",
         "_auth.py", "_auth/dashboard.py", "users/index.py", "users/route.py"]
    )
    table = engine.load_routes(app, convention="tanstack")
    layouts = {r.file: r.layouts for r in table.routes}
    assert layouts["posts.$id.comments.py"] == ("posts.py", "posts.$id.py")
    assert layouts["posts_.$id.edit.py"] == ()
    assert layouts["_auth/dashboard.py"] == ("_auth.py",)
    assert layouts["users/index.py"] == ("users/route.py",)
    assert table.global_middleware == "__root.py"


FUNCTION_MIDDLEWARE = "def middleware(request):\n    return None\n"


@pytest.mark.parametrize(
    ("convention", "files"),
    [
        pytest.param("next", {"middleware.py": FUNCTION_MIDDLEWARE, "a/route.py": GET_HANDLER}, id="next"),
        pytest.param("expo", {"+middleware.py": FUNCTION_MIDDLEWARE, "a+api.py": GET_HANDLER}, id="expo"),
        pytest.param("tanstack", {"__root.py": "middleware = []\n", "a.py": GET_HANDLER}, id="tanstack"),
    ],
)
def test_global_middleware_per_dialect(make_app: MakeApp, convention: str, files: dict[str, str]) -> None:
    table = engine.load_routes(make_app(files), convention=convention)
    assert table.global_middleware == next(iter(files))
    assert table.conflicts == ()

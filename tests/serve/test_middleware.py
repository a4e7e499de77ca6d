"""Middleware in every layer, context passing, spans, and caching."""

from __future__ import annotations

import pytest

from tests.serve.conftest import ServeApp

pytestmark = pytest.mark.anyio

GLOBAL_FN = """
from engine import Response

def middleware(request):
    if request.headers.get("x-block"):
        return Response("blocked by global middleware", status=403)
    if request.headers.get("x-read-body"):
        request.body  # attribute access is fine; reading is not:
        import asyncio
        return asyncio.run(request.body())
    if request.headers.get("x-set"):
        request.method = "POST"
"""


@pytest.mark.parametrize(
    ("convention", "files"),
    [
        pytest.param("next", {"middleware.py": GLOBAL_FN, "a/route.py": "def GET():\n    return 'a'\n"}, id="next"),
        pytest.param("expo", {"+middleware.py": GLOBAL_FN, "a+api.py": "def GET():\n    return 'a'\n"}, id="expo"),
    ],
)
async def test_global_middleware_function(serve: ServeApp, convention: str, files: dict[str, str]) -> None:
    async with serve(files, convention=convention) as s:
        assert (await s.request("GET", "/a")).text == "a"
        assert s.spans() == [
            ("middleware", "global", "middleware", "next"),
            ("handler", "handler", "GET", "respond"),
        ]
        blocked = await s.request("GET", "/a", headers={"x-block": "1"})
        assert (blocked.status_code, blocked.text) == (403, "blocked by global middleware")
        assert s.spans() == [("middleware", "global", "middleware", "respond")]
        # It runs before matching: 404s included.
        missing = await s.request("GET", "/missing", headers={"x-block": "1"})
        assert missing.status_code == 403
        assert (await s.request("GET", "/missing")).status_code == 404
        assert s.spans() == [("middleware", "global", "middleware", "next")]


@pytest.mark.parametrize("header", ["x-read-body", "x-set"])
async def test_global_middleware_request_is_immutable(serve: ServeApp, header: str) -> None:
    files = {"middleware.py": GLOBAL_FN, "a/route.py": "def GET():\n    return 'a'\n"}
    async with serve(files) as s:
        r = await s.request("GET", "/a", headers={header: "1"})
        trace = s.last_trace()
    assert r.status_code == 500
    assert "middleware in middleware.py raised ImmutableRequestError" in r.text
    assert "immutable" in trace["spans"][0]["error"]


ROUTE_MW = """
from engine import Response, use

async def outer(request, next):
    response = await next(context={"user": "ada"})
    response.headers["x-outer"] = "1"
    return response

def inner(request, next, context):  # sync middleware runs off the loop, next() blocks
    return next(context={"role": "admin", "seen": context["user"]})

async def deny(request, next):
    return Response("denied", status=401)

async def audit(request, next):
    response = await next(context={"audited": True})
    response.headers["x-audit"] = request.method
    return response

middleware = [outer, inner]

def GET(context):
    return context

@use(audit)
async def POST(context):
    return context

@use(deny)
def DELETE():
    return "never"
"""


async def test_route_and_handler_middleware_with_context(serve: ServeApp) -> None:
    async with serve({"x/route.py": ROUTE_MW}) as s:
        r = await s.request("GET", "/x")
        assert r.json() == {"user": "ada", "role": "admin", "seen": "ada"}
        assert r.headers["x-outer"] == "1"
        spans = s.last_trace()["spans"]
        assert [(sp["layer"], sp["name"], sp["outcome"], sp["context"]) for sp in spans] == [
            ("route", "outer", "next", ["user"]),
            ("route", "inner", "next", ["role", "seen"]),
            ("handler", "GET", "respond", []),
        ]
        # The onion nests: each span starts after and ends after the one inside it.
        assert spans[0]["start_ms"] <= spans[1]["start_ms"] <= spans[2]["start_ms"]
        assert spans[0]["duration_ms"] >= spans[1]["duration_ms"] >= spans[2]["duration_ms"]

        r = await s.request("POST", "/x")
        assert r.json() == {"user": "ada", "role": "admin", "seen": "ada", "audited": True}
        assert (r.headers["x-audit"], r.headers["x-outer"]) == ("POST", "1")
        assert [(k, layer, name) for k, layer, name, _ in s.spans()] == [
            ("middleware", "route", "outer"),
            ("middleware", "route", "inner"),
            ("middleware", "handler", "audit"),
            ("handler", "handler", "POST"),
        ]

        r = await s.request("DELETE", "/x")
        assert (r.status_code, r.text) == (401, "denied")
        assert s.spans()[-1] == ("middleware", "handler", "deny", "respond")


async def test_middleware_that_raises_is_a_raise_span_and_500(serve: ServeApp) -> None:
    source = (
        "async def broken(request, next):\n    raise KeyError('token')\n"
        "middleware = [broken]\n"
        "def GET():\n    return 'x'\n"
    )
    async with serve({"x/route.py": source}) as s:
        r = await s.request("GET", "/x")
        assert r.status_code == 500 and "broken in x/route.py raised KeyError" in r.text
        assert s.spans() == [("middleware", "route", "broken", "raise")]


TANSTACK = {
    "__root.py": (
        "async def root(request, next):\n"
        "    response = await next(context={'root': True})\n"
        "    response.headers['x-root'] = '1'\n"
        "    return response\n"
        "middleware = [root]\n"
    ),
    "posts.py": (
        "async def posts_mw(request, next):\n    return await next(context={'posts': True})\n"
        "middleware = [posts_mw]\n"
        "def GET(context):\n    return context\n"
    ),
    "posts.$id.py": "def GET(context, params):\n    return {**context, **params}\n",
    "posts_.$id.edit.py": "def GET(context, params):\n    return {**context, **params}\n",
    "_auth.py": (
        "from engine import Response\n"
        "async def auth(request, next):\n"
        "    if 'authorization' not in request.headers:\n"
        "        return Response('login first', status=401)\n"
        "    return await next(context={'user': 'ada'})\n"
        "middleware = [auth]\n"
    ),
    "_auth/dashboard.py": "def GET(context):\n    return context\n",
    "users.$id.py": (
        "from engine import create_file_route\n"
        "async def load(request, next, params):\n    return await next(context={'loaded': params['id']})\n"
        "async def audit(request, next):\n    return await next(context={'audit': True})\n"
        "def get_user(context):\n    return context\n"
        "def create(context):\n    return context\n"
        "Route = create_file_route('/users/$id')(server={\n"
        "    'middleware': [load],\n"
        "    'handlers': {'GET': get_user, 'POST': {'middleware': [audit], 'handler': create}},\n"
        "})\n"
    ),
}


async def test_tanstack_inheritance_layouts_and_break_out(serve: ServeApp) -> None:
    async with serve(TANSTACK, convention="tanstack") as s:
        r = await s.request("GET", "/posts/5")
        assert r.json() == {"root": True, "posts": True, "id": "5"}
        assert r.headers["x-root"] == "1"
        assert [(layer, name) for _, layer, name, _ in s.spans()] == [
            ("global", "root"),
            ("layout", "posts_mw"),
            ("handler", "GET"),
        ]
        # Break-out: the URL is under /posts but posts.py's middleware does not wrap it.
        assert (await s.request("GET", "/posts/5/edit")).json() == {"root": True, "id": "5"}
        # Pathless layout: its middleware wraps /dashboard.
        assert (await s.request("GET", "/dashboard")).status_code == 401
        assert (await s.request("GET", "/dashboard", headers={"authorization": "x"})).json() == {
            "root": True,
            "user": "ada",
        }
        # The root middleware wraps 404s too.
        missing = await s.request("GET", "/nowhere")
        assert (missing.status_code, missing.headers["x-root"]) == (404, "1")


async def test_tanstack_create_file_route_handlers(serve: ServeApp) -> None:
    async with serve(TANSTACK, convention="tanstack") as s:
        assert (await s.request("GET", "/users/9")).json() == {"root": True, "loaded": "9"}
        assert (await s.request("POST", "/users/9")).json() == {"root": True, "loaded": "9", "audit": True}
        assert [name for _, _, name, _ in s.spans()] == ["root", "load", "audit", "create"]
        assert (await s.request("PUT", "/users/9")).headers["allow"] == "GET, HEAD, OPTIONS, POST"


CACHED = """
import itertools
counter = itertools.count(1)
revalidate = 60

def GET(request):
    return {"n": next(counter)}
"""


async def test_revalidate_caches_get_by_path_and_query(serve: ServeApp) -> None:
    async with serve({"c/route.py": CACHED}) as s:
        assert (await s.request("GET", "/c")).json() == {"n": 1}
        assert s.spans() == [("cache", "route", "revalidate 60s", "miss"), ("handler", "handler", "GET", "respond")]
        assert (await s.request("GET", "/c")).json() == {"n": 1}
        assert s.spans() == [("cache", "route", "revalidate 60s", "hit")]
        assert (await s.request("GET", "/c?page=2")).json() == {"n": 2}
        head = await s.request("HEAD", "/c")
        assert (head.status_code, head.content) == (200, b"")
        assert s.spans() == [("cache", "route", "revalidate 60s", "hit")]


async def test_revalidate_expires(serve: ServeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.app

    now = [1000.0]
    monkeypatch.setattr(engine.app.time, "monotonic", lambda: now[0])
    async with serve({"c/route.py": CACHED}) as s:
        assert (await s.request("GET", "/c")).json() == {"n": 1}
        now[0] += 59
        assert (await s.request("GET", "/c")).json() == {"n": 1}
        now[0] += 2
        assert (await s.request("GET", "/c")).json() == {"n": 2}


async def test_force_static_caches_until_reload(serve: ServeApp) -> None:
    source = CACHED.replace("revalidate = 60", 'dynamic = "force-static"')
    async with serve({"c/route.py": source}) as s:
        for _ in range(3):
            assert (await s.request("GET", "/c")).json() == {"n": 1}
        assert s.spans() == [("cache", "route", "force-static", "hit")]


async def test_errors_and_other_methods_are_not_cached(serve: ServeApp) -> None:
    source = CACHED + "\ndef POST():\n    return {'n': next(counter)}\n"
    async with serve({"c/route.py": source}) as s:
        assert (await s.request("POST", "/c")).json() == {"n": 1}
        assert (await s.request("POST", "/c")).json() == {"n": 2}
        assert ("cache", "route", "revalidate 60s", "miss") not in s.spans()

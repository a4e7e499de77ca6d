"""The handler API through the ASGI interface: Request, Response, return values."""

from __future__ import annotations

import json
import sys

import pytest

import engine
from tests.conftest import MakeApp
from tests.serve.conftest import ServeApp

pytestmark = pytest.mark.anyio

ECHO = """
from engine import Response

async def POST(request, params):
    form = await request.form()
    files = {k: [v.filename, v.content.decode(), v.content_type] for k, v in form.items() if hasattr(v, "filename")}
    fields = {k: form.getlist(k) for k, v in form.items() if not hasattr(v, "filename")}
    return {"fields": fields, "files": files, "text": (await request.text())[:0]}

async def PUT(request):
    data = await request.json()
    return {"json": data, "body": (await request.body()).decode(), "chunks": [c.decode() async for c in request.stream()]}

def GET(request):
    return {
        "method": request.method, "path": request.path, "url": request.url,
        "q": request.query.get("q"), "tags": request.query.getlist("tag"),
        "agent": request.headers["X-Agent"], "agent_lower": request.headers.get("x-agent"),
        "cookies": request.cookies, "client": request.client[0], "params": dict(request.params),
    }
"""


async def test_request_fields(serve: ServeApp) -> None:
    async with serve({"items/[id]/route.py": ECHO}) as s:
        r = await s.request(
            "GET", "/items/7?q=shoes&tag=a&tag=b", headers={"X-Agent": "probe", "cookie": "session=abc; theme=dark"}
        )
    assert r.status_code == 200
    assert r.json() == {
        "method": "GET",
        "path": "/items/7",
        "url": "http://testserver/items/7?q=shoes&tag=a&tag=b",
        "q": "shoes",
        "tags": ["a", "b"],
        "agent": "probe",
        "agent_lower": "probe",
        "cookies": {"session": "abc", "theme": "dark"},
        "client": "127.0.0.1",
        "params": {"id": "7"},
    }


async def test_json_body_and_stream(serve: ServeApp) -> None:
    async with serve({"items/[id]/route.py": ECHO}) as s:
        r = await s.request("PUT", "/items/1", json={"a": [1, 2]})
    assert r.json() == {"json": {"a": [1, 2]}, "body": '{"a":[1,2]}', "chunks": ['{"a":[1,2]}']}


async def test_urlencoded_form(serve: ServeApp) -> None:
    async with serve({"items/[id]/route.py": ECHO}) as s:
        r = await s.request("POST", "/items/1", data={"name": "ada", "tag": ["x", "y"]})
    assert r.json()["fields"] == {"name": ["ada"], "tag": ["x", "y"]}


async def test_multipart_form_with_file(serve: ServeApp) -> None:
    async with serve({"items/[id]/route.py": ECHO}) as s:
        r = await s.request(
            "POST", "/items/1", data={"title": "report"}, files={"upload": ("q3.csv", b"a,b\n1,2\n", "text/csv")}
        )
    assert r.json()["fields"] == {"title": ["report"]}
    assert r.json()["files"] == {"upload": ["q3.csv", "a,b\n1,2\n", "text/csv"]}


async def test_request_headers_are_read_only(serve: ServeApp) -> None:
    source = "def GET(request):\n    request.headers['x'] = '1'\n    return 'unreachable'\n"
    async with serve({"a/route.py": source}) as s:
        r = await s.request("GET", "/a")
        trace = s.last_trace()
    assert r.status_code == 500
    assert "ImmutableRequestError" in trace["spans"][-1]["error"]
    assert "read-only" in trace["spans"][-1]["error"]


RETURNS = """
from engine import Response

def GET(request):
    kind = request.query["kind"]
    if kind == "dict": return {"a": 1}
    if kind == "list": return [1, 2]
    if kind == "str": return "hello"
    if kind == "bytes": return b"\\x00\\x01"
    if kind == "none": return None
    if kind == "response": return Response("made", status=202, headers={"X-Made": "yes"})
    if kind == "int": return 42
"""


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "body"),
    [
        ("dict", 200, "application/json", b'{"a":1}'),
        ("list", 200, "application/json", b"[1,2]"),
        ("str", 200, "text/plain; charset=utf-8", b"hello"),
        ("bytes", 200, "application/octet-stream", b"\x00\x01"),
        ("none", 204, None, b""),
        ("response", 202, "text/plain; charset=utf-8", b"made"),
    ],
)
async def test_return_conveniences(
    serve: ServeApp, kind: str, status: int, content_type: str | None, body: bytes
) -> None:
    async with serve({"r/route.py": RETURNS}) as s:
        r = await s.request("GET", f"/r?kind={kind}")
    assert (r.status_code, r.headers.get("content-type"), r.content) == (status, content_type, body)


async def test_returning_anything_else_is_a_500_that_says_what(serve: ServeApp) -> None:
    async with serve({"r/route.py": RETURNS}) as s:
        r = await s.request("GET", "/r?kind=int")
    assert r.status_code == 500
    assert "GET in r/route.py returned int" in r.text
    assert "return a Response, dict, list, str, bytes or None" in r.text


RESPONSES = """
import asyncio
from engine import Response

def GET(request):
    kind = request.query["kind"]
    if kind == "json":
        return Response.json({"ok": True}, status=201, headers={"x-a": "1"})
    if kind == "redirect":
        return Response.redirect("/elsewhere")
    if kind == "redirect301":
        return Response.redirect("/moved", status=301)
    if kind == "cookies":
        r = Response("c")
        r.set_cookie("session", "abc", httponly=True, max_age=60)
        r.delete_cookie("old")
        return r
    if kind == "sync-stream":
        return Response((f"line {i}\\n" for i in range(3)), headers={"content-type": "text/plain"})
    if kind == "async-stream":
        async def chunks():
            for i in range(3):
                await asyncio.sleep(0)
                yield f"chunk {i};".encode()
        return Response(chunks())
"""


async def test_response_helpers(serve: ServeApp) -> None:
    async with serve({"r/route.py": RESPONSES}) as s:
        r = await s.request("GET", "/r?kind=json")
        assert (r.status_code, r.json(), r.headers["x-a"]) == (201, {"ok": True}, "1")
        r = await s.request("GET", "/r?kind=redirect")
        assert (r.status_code, r.headers["location"]) == (307, "/elsewhere")
        r = await s.request("GET", "/r?kind=redirect301")
        assert (r.status_code, r.headers["location"]) == (301, "/moved")
        r = await s.request("GET", "/r?kind=cookies")
        cookies = r.headers.get_list("set-cookie")
        assert cookies[0].startswith("session=abc") and "HttpOnly" in cookies[0] and "Max-Age=60" in cookies[0]
        assert cookies[1].startswith("old=") and "Max-Age=0" in cookies[1]


@pytest.mark.parametrize(
    ("kind", "body"), [("sync-stream", "line 0\nline 1\nline 2\n"), ("async-stream", "chunk 0;chunk 1;chunk 2;")]
)
async def test_streaming_responses(serve: ServeApp, kind: str, body: str) -> None:
    async with serve({"r/route.py": RESPONSES}) as s:
        r = await s.request("GET", f"/r?kind={kind}")
        trace = s.last_trace()
    assert (r.status_code, r.text) == (200, body)
    assert "content-length" not in r.headers
    assert trace["response"]["body"] == body


async def test_arguments_are_passed_by_name(serve: ServeApp) -> None:
    source = (
        "def GET(params, request):\n    return [params['id'], request.method]\n"
        "async def POST():\n    return 'no args'\n"
        "def PUT(context, params):\n    return [context, params]\n"
    )
    async with serve({"x/[id]/route.py": source}) as s:
        assert (await s.request("GET", "/x/5")).json() == ["5", "GET"]
        assert (await s.request("POST", "/x/5")).text == "no args"
        assert (await s.request("PUT", "/x/5")).json() == [{}, {"id": "5"}]


async def test_unknown_parameter_name_is_a_load_error(serve: ServeApp) -> None:
    async with serve(
        {"x/route.py": "def GET(req):\n    return 'x'\n", "ok/route.py": "def GET():\n    return 'ok'\n"}
    ) as s:
        r = await s.request("GET", "/x")
        assert r.status_code == 500
        assert "asks for 'req'" in r.text and "request" in r.text
        assert (await s.request("GET", "/ok")).text == "ok"


async def test_page_returns_html(serve: ServeApp) -> None:
    source = "def page(request, params):\n    return f\"<h1>{'/'.join(params.get('slug', []))}</h1>\"\n"
    async with serve({"docs/[[...slug]]/page.py": source}) as s:
        r = await s.request("GET", "/docs/a/b")
        assert (r.status_code, r.headers["content-type"], r.text) == (200, "text/html; charset=utf-8", "<h1>a/b</h1>")
        assert (await s.request("GET", "/docs")).text == "<h1></h1>"
        assert (await s.request("POST", "/docs")).status_code == 405


async def test_trace_json_shape(serve: ServeApp) -> None:
    async with serve({"users/[id]/route.py": "def GET(params):\n    return {'id': params['id']}\n"}) as s:
        await s.request("GET", "/users/3?x=1", headers={"x-probe": "1"})
        trace = s.last_trace()
    assert set(trace) >= {
        "id",
        "time",
        "method",
        "path",
        "query",
        "status",
        "duration_ms",
        "route",
        "request",
        "response",
        "spans",
    }
    assert (trace["method"], trace["path"], trace["query"], trace["status"]) == ("GET", "/users/3", "x=1", 200)
    assert trace["route"] == {"pattern": "/users/[id]", "file": "users/[id]/route.py", "params": {"id": "3"}}
    assert ["x-probe", "1"] in trace["request"]["headers"]
    assert json.loads(trace["response"]["body"]) == {"id": "3"}
    (span,) = trace["spans"]
    assert span | {"start_ms": 0, "duration_ms": 0} == {
        "kind": "handler",
        "layer": "handler",
        "name": "GET",
        "file": "users/[id]/route.py",
        "line": 1,
        "start_ms": 0,
        "duration_ms": 0,
        "outcome": "respond",
        "context": [],
        "error": None,
    }


async def test_trace_bodies_are_capped(serve: ServeApp) -> None:
    source = "async def POST(request):\n    return await request.body()\n"
    async with serve({"big/route.py": source}) as s:
        r = await s.request("POST", "/big", content=b"x" * (2 * 1024 * 1024))
        trace = s.last_trace()
    assert r.status_code == 200 and len(r.content) == 2 * 1024 * 1024
    for side in ("request", "response"):
        assert trace[side]["truncated"] is True
        assert len(trace[side]["body"]) == 1024 * 1024
        assert trace[side]["size"] == 2 * 1024 * 1024


async def test_apps_import_their_own_helpers_by_name(serve: ServeApp) -> None:
    route = "from lib.names import NAME\ndef GET():\n    return NAME\n"
    async with serve({"lib/__init__.py": "", "lib/names.py": "NAME = 'first'\n", "a/route.py": route}) as s:
        assert (await s.request("GET", "/a")).text == "first"
    # A second app with a helper package of the same name gets its own, not the cached one.
    async with serve({"lib/__init__.py": "", "lib/names.py": "NAME = 'second'\n", "a/route.py": route}) as s:
        assert (await s.request("GET", "/a")).text == "second"


async def test_route_named_like_a_stdlib_module_does_not_break_it(serve: ServeApp) -> None:
    async with serve({"json.py": "def GET():\n    return {'route': 'json'}\n"}, convention="tanstack") as s:
        assert (await s.request("GET", "/json")).json() == {"route": "json"}
    import json

    assert json.dumps([1]) == "[1]"


def test_a_closed_app_leaves_sys_path_as_it_found_it(make_app: MakeApp) -> None:
    # Left on sys.path, an app's json.py shadowed the real json for every later import in the
    # process, and for the processes it spawns (which inherit sys.path).
    app_dir = make_app({"json.py": "raise ImportError('the app json.py, not the stdlib')\n", "route.py": ECHO})
    app = engine.create_app(app_dir)
    assert str(app_dir.resolve()) in sys.path
    app.close()
    assert str(app_dir.resolve()) not in sys.path

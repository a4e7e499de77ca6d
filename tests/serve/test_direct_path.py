"""Requests on an app without global middleware are routed without the global onion;
they must be served and traced exactly like any other request."""

from __future__ import annotations

import pytest

from tests.serve.conftest import ServeApp

pytestmark = pytest.mark.anyio

ROUTE = """
from engine import Response

async def GET(request, params):
    return Response(f"hello {params['id']}", headers={"x-answer": "42"})

async def POST(context):
    return {"context": context}

async def DELETE():
    raise ValueError("nope")
"""

FILES = {"users/[id]/route.py": ROUTE, "plain/route.py": "async def GET():\n    return None\n"}


async def test_async_handler_without_middleware_has_a_full_trace(serve: ServeApp) -> None:
    async with serve(FILES) as s:
        r = await s.request("GET", "/users/42?x=1", headers={"x-probe": "1"})
        trace = s.last_trace()
    assert (r.status_code, r.text, r.headers["x-answer"], r.headers["content-length"]) == (200, "hello 42", "42", "8")
    assert (trace["method"], trace["path"], trace["query"], trace["status"]) == ("GET", "/users/42", "x=1", 200)
    assert trace["route"] == {"pattern": "/users/[id]", "file": "users/[id]/route.py", "params": {"id": "42"}}
    assert trace["client"] == "127.0.0.1:50000"
    assert ["x-probe", "1"] in trace["request"]["headers"]
    assert ["x-answer", "42"] in trace["response"]["headers"]
    assert ["content-length", "8"] in trace["response"]["headers"]
    assert trace["response"]["body"] == "hello 42"
    (span,) = trace["spans"]
    assert (span["kind"], span["layer"], span["name"], span["file"], span["outcome"], span["error"]) == (
        "handler",
        "handler",
        "GET",
        "users/[id]/route.py",
        "respond",
        None,
    )
    assert 0 <= span["start_ms"] <= span["start_ms"] + span["duration_ms"] <= trace["duration_ms"]


async def test_handlers_get_only_the_arguments_they_name(serve: ServeApp) -> None:
    async with serve(FILES) as s:
        assert (await s.request("POST", "/users/1")).json() == {"context": {}}
        none = await s.request("GET", "/plain")
        assert (none.status_code, none.content) == (204, b"")
        assert "content-length" not in none.headers


async def test_head_falls_back_to_get(serve: ServeApp) -> None:
    async with serve(FILES) as s:
        r = await s.request("HEAD", "/users/7")
        trace = s.last_trace()
    assert (r.status_code, r.content, r.headers["content-length"]) == (200, b"", "7")
    assert trace["status"] == 200 and [sp["name"] for sp in trace["spans"]] == ["GET"]


@pytest.mark.parametrize(
    ("method", "path", "status", "route"),
    [
        pytest.param("GET", "/nowhere", 404, None, id="404"),
        pytest.param("PUT", "/users/1", 405, "/users/[id]", id="405"),
        pytest.param("BREW", "/users/1", 501, None, id="501"),
        pytest.param("OPTIONS", "/users/1", 204, "/users/[id]", id="options"),
    ],
)
async def test_unserved_requests_are_traced(
    serve: ServeApp, method: str, path: str, status: int, route: str | None
) -> None:
    async with serve(FILES) as s:
        r = await s.request(method, path)
        trace = s.last_trace()
    assert r.status_code == status
    assert (trace["method"], trace["path"], trace["status"], trace["spans"]) == (method, path, status, [])
    assert (trace["route"] or {}).get("pattern") == route
    if status in (204, 405):
        assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, POST"


async def test_raising_handler_is_a_traced_500(serve: ServeApp) -> None:
    async with serve(FILES) as s:
        r = await s.request("DELETE", "/users/1")
        trace = s.last_trace()
        assert (await s.request("GET", "/users/2")).status_code == 200  # still serving
    assert r.status_code == 500
    assert "DELETE in users/[id]/route.py raised ValueError: nope" in r.text
    assert trace["status"] == 500 and trace["response"]["body"] == r.text
    (span,) = trace["spans"]
    assert (span["name"], span["outcome"]) == ("DELETE", "raise")
    assert "ValueError: nope" in span["error"]


async def test_a_url_served_again_is_routed_the_same_with_its_own_params(serve: ServeApp) -> None:
    # Routing remembers recent URLs; what it hands a request must still be the request's own.
    files = {
        **FILES,
        "items/[id]/route.py": "async def GET(params):\n    params['id'] += '!'\n    return dict(params)\n",
        "files/[...path]/route.py": "async def GET(params):\n    params['path'].append('x')\n    return params\n",
    }
    async with serve(files) as s:
        for _ in range(3):
            assert (await s.request("GET", "/items/7")).json() == {"id": "7!"}
            assert s.last_trace()["route"]["params"] == {"id": "7!"}
            assert (await s.request("GET", "/files/a/b")).json() == {"path": ["a", "b", "x"]}
            assert (await s.request("GET", "/users/1")).text == "hello 1"
            assert (await s.request("PUT", "/users/1")).status_code == 405
            assert (await s.request("DELETE", "/users/1")).status_code == 500
            assert (await s.request("GET", "/users/1/")).status_code == 308  # next: the slash redirects

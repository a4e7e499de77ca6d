"""Paths and route code that try to escape: dot segments never reach a handler, and no
exception from app code, BaseExceptions included, stops the server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

import engine
from engine.server import Server
from tests.conftest import MakeApp, write_app

# A catch-all that would serve files, and a param route: what they were given is the answer.
PATHS = {
    "files/[...path]/route.py": "def GET(params):\n    return {'path': params['path']}\n",
    "one/[name]/route.py": "def GET(request, params):\n    return {'name': params['name'], 'path': request.path}\n",
    "one/route.py": "def GET(request):\n    return {'one': True, 'path': request.path}\n",
    "a/c/route.py": "def GET(request):\n    return {'ac': True, 'path': request.path}\n",
    "route.py": "def GET(request):\n    return {'root': True, 'path': request.path}\n",
    # Global middleware runs before matching: it must never see a dot segment either (418 if it does).
    "middleware.py": (
        "def middleware(request):\n"
        "    if '..' in request.path.split('/') or '.' in request.path.split('/'):\n"
        "        from engine import Response\n"
        "        return Response('middleware saw a dot segment', status=418)\n"
    ),
}


async def call(app: engine.RouteApp, raw_path: str, method: str = "GET") -> tuple[int, bytes]:
    """One request straight through the ASGI interface, the raw path exactly as a client sent it
    (httpx and browsers resolve dot segments before sending; curl --path-as-is and scanners don't)."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    return status, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("raw_path", "status", "answer"),
    [
        ("/one/..", 200, {"root": True, "path": "/"}),
        ("/one/x/..", 308, None),  # /one/ (as a browser resolves it), then next's trailing-slash redirect
        ("/a/b/../c", 200, {"ac": True, "path": "/a/c"}),
        ("/a/./c", 200, {"ac": True, "path": "/a/c"}),
        ("/files/a/b/./c", 200, {"path": ["a", "b", "c"]}),
        ("/files/a/../../etc/passwd", 404, None),  # resolves to /etc/passwd: no such route, not the catch-all
        ("/files/../..", 400, None),
        ("/..", 400, None),
        ("/files/..%2f..%2fetc", 400, None),
        ("/files/%2e%2e/etc", 400, None),
        ("/files/%2E%2e/etc", 400, None),
        ("/files/%2e", 400, None),
        ("/one/%2e%2e", 400, None),
        ("/files/a%5c..%5cetc", 400, None),
        ("/files/x%2F.%2Fy", 400, None),
        ("/files/a%2Fb", 200, {"path": ["a/b"]}),  # an ordinary encoded segment still works
        ("/files/report.v2.csv", 200, {"path": ["report.v2.csv"]}),
        ("/files/...", 200, {"path": ["..."]}),  # three dots are a name, not a dot segment
    ],
)
async def test_no_handler_sees_a_dot_segment(make_app: MakeApp, raw_path: str, status: int, answer: Any) -> None:
    app = engine.create_app(make_app(PATHS))
    try:
        got, body = await call(app, raw_path)
        assert got == status, body
        if answer is not None:
            assert json.loads(body) == answer
        if status == 400:
            assert body.startswith(b"Bad Request: "), body
    finally:
        app.close()


@pytest.mark.parametrize(
    ("path", "status", "params"),
    [
        ("/files/..%2f..%2fetc", 400, {}),
        ("/files/%2e%2e", 400, {}),
        ("/..", 400, {}),
        ("/files/a/../b", 200, {"path": ["b"]}),
    ],
)
def test_match_reports_the_same_status(make_app: MakeApp, path: str, status: int, params: dict[str, Any]) -> None:
    app = make_app(PATHS)
    assert engine.load_routes(app).match("GET", path).status == status
    out = subprocess.run(
        [str(Path(sys.executable).parent / "routeconsole"), "match", str(app), path, "--json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    data = json.loads(out.stdout)
    assert (data["status"], data["params"]) == (status, params)


RAISERS = {
    "exit/route.py": "import sys\ndef GET():\n    sys.exit(3)\n",
    "aexit/route.py": "import sys\nasync def GET():\n    raise SystemExit('bye')\n",
    "interrupt/route.py": "def GET():\n    raise KeyboardInterrupt\n",
    "base/route.py": "class Odd(BaseException):\n    pass\nasync def GET():\n    raise Odd('odd')\n",
    "cancel/route.py": "import asyncio\nasync def GET():\n    raise asyncio.CancelledError('mine')\n",
    "mwexit/route.py": (
        "import sys\n"
        "def quit_(request, next):\n    sys.exit(1)\n"
        "middleware = [quit_]\n"
        "def GET():\n    return 'unreachable'\n"
    ),
    "stream/route.py": (
        "from engine import Response\n"
        "def chunks():\n    yield 'a'\n    raise SystemExit(1)\n"
        "def GET():\n    return Response(chunks())\n"
    ),
    "ok/route.py": "def GET():\n    return 'still here'\n",
}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/exit", "exit/route.py"),
        ("/aexit", "aexit/route.py"),
        ("/interrupt", "interrupt/route.py"),
        ("/base", "base/route.py"),
        ("/cancel", "cancel/route.py"),
        ("/mwexit", "mwexit/route.py"),
    ],
)
async def test_base_exceptions_from_route_code_are_a_500_naming_the_file(
    make_app: MakeApp, path: str, named: str
) -> None:
    app = engine.create_app(make_app(RAISERS))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            r = await client.get(path)
            assert r.status_code == 500
            assert named in r.text
            assert (await client.get("/ok")).text == "still here"
    finally:
        app.close()


def test_sys_exit_in_a_handler_does_not_stop_the_real_server(tmp_path: Path) -> None:
    server = Server(engine.create_app(write_app(tmp_path / "app", RAISERS)), port=0)
    url = server.start()
    try:
        for path in ("/exit", "/aexit", "/interrupt", "/base", "/mwexit", "/cancel"):
            assert httpx.get(url + path, timeout=5).status_code == 500
        streamed = httpx.get(url + "/stream", timeout=5)
        assert (streamed.status_code, streamed.text) == (200, "a")
        assert httpx.get(url + "/ok", timeout=5).text == "still here"
        # And a raw request with a dot segment (httpx would resolve it first).
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"GET /files/..%2f..%2fetc HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 400"), reply
    finally:
        server.stop()

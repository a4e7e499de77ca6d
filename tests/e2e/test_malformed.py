"""Malformed HTTP on a raw socket against the real server (issue 10, item 8).

Each request is refused (a 4xx, or the connection closed, without a 5xx), the server
keeps serving ordinary requests on new connections, and the console keeps drawing.
Every socket operation has a short timeout and targets 127.0.0.1 only: a timeout is a
failure (the server neither answered nor closed), never something a test waits out.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import engine
from console.app import ConsoleApp
from console.widgets.log_view import LogView
from engine.server import Server
from tests.conftest import write_app
from tests.console.conftest import APP as CONSOLE_APP
from tests.console.conftest import until

TIMEOUT = 3.0  # seconds for any one socket operation

APP = {
    "users/[id]/route.py": "def GET(params):\n    return {'id': params['id']}\n",
    "echo/route.py": "async def POST(request):\n    return await request.body()\n",
}

HEAD = b"Host: 127.0.0.1\r\n"
MALFORMED = {
    "garbage-request-line": b"\x00\xff\xfe garbage \x01\r\n\r\n",
    "negative-content-length": b"POST /echo HTTP/1.1\r\n" + HEAD + b"Content-Length: -5\r\n\r\nhello",
    "double-content-length": b"POST /echo HTTP/1.1\r\n" + HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n12345",
    # Both framings: RFC 9112 6.3 lets a server reject it or use Transfer-Encoding, but it
    # MUST close the connection after answering (a request-smuggling vector otherwise).
    "content-length-and-chunked": (
        b"POST /echo HTTP/1.1\r\n" + HEAD + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n"
    ),
    "chunk-size-not-hex": (
        b"POST /echo HTTP/1.1\r\n" + HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    ),
    "chunk-without-crlf": (
        b"POST /echo HTTP/1.1\r\n" + HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
    ),
    "header-of-100kb": b"GET /users/1 HTTP/1.1\r\n" + HEAD + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n",
    # Both over 64 KiB: h11 limits only what it buffers of an incomplete request (16 KiB), so a
    # header block that arrives whole in one 64 KiB read is accepted, whatever its size.
    "10000-headers": b"GET /users/1 HTTP/1.1\r\n" + HEAD + b"X-Header: value-value\r\n" * 10_000 + b"\r\n",
    "nul-in-path": b"GET /users/a\x00b HTTP/1.1\r\n" + HEAD + b"\r\n",
    "escape-in-path": b"GET /users/\x1b[2J HTTP/1.1\r\n" + HEAD + b"\r\n",
    "url-of-200kb": b"GET /users/" + b"a" * 200_000 + b" HTTP/1.1\r\n" + HEAD + b"\r\n",
    "http-9.9": b"GET /users/1 HTTP/9.9\r\n" + HEAD + b"\r\n",
    "space-in-header-name": b"GET /users/1 HTTP/1.1\r\n" + HEAD + b"Bad Header: y\r\n\r\n",
    "no-host": b"GET /users/1 HTTP/1.1\r\n\r\n",
}


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    assert host == "127.0.0.1"
    return host, int(port)


def send_raw(url: str, data: bytes) -> tuple[bytes, bool]:
    """Send `data` on a new connection: what came back, and whether the server closed it.

    Reading stops at a 4xx status line (refused; whether the connection stays open does not
    matter), at the server closing the connection, or after TIMEOUT without either.
    """
    reply, closed = b"", False
    with socket.create_connection(address(url), timeout=TIMEOUT) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)  # it may close on us mid-send: then read what it said before
        try:
            while not reply.startswith(b"HTTP/1.1 4"):
                chunk = sock.recv(65536)
                if not chunk:
                    closed = True
                    break
                reply += chunk
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            pass  # kept open
    return reply, closed


def refused(reply: bytes, closed: bool) -> bool:
    """A 4xx, or the connection closed (with no answer, or one that is not a 5xx)."""
    return reply.startswith(b"HTTP/1.1 4") or (closed and not reply.startswith(b"HTTP/1.1 5"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(engine.create_app(write_app(tmp_path_factory.mktemp("malformed") / "app", APP)), port=0)
    srv.start()
    yield srv
    srv.stop()


def test_the_raw_socket_helper_reads_an_ordinary_answer(server: Server) -> None:
    assert server.url is not None
    reply, closed = send_raw(server.url, b"GET /users/1 HTTP/1.1\r\n" + HEAD + b"Connection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b'{"id":"1"}') and closed


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_request_is_refused_and_the_server_keeps_serving(server: Server, data: bytes) -> None:
    assert server.url is not None
    reply, closed = send_raw(server.url, data)
    assert refused(reply, closed), (reply[:200], "closed" if closed else "kept open")
    assert httpx.get(f"{server.url}/users/1", timeout=TIMEOUT).json() == {"id": "1"}


def read_to_close(url: str, data: bytes) -> tuple[bytes, bool]:
    """Send `data` on a new connection and read everything until the server closes it: what came
    back, and whether `recv` returned b"" (closed) within TIMEOUT of the last bytes."""
    reply = b""
    with socket.create_connection(address(url), timeout=TIMEOUT) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            return reply, True
        except TimeoutError:
            return reply, False  # still open after its answer
    return reply, True


@pytest.mark.parametrize("name", ["content-length-and-chunked", "http-9.9"])
def test_an_ambiguous_request_is_answered_400_and_the_connection_closed(server: Server, name: str) -> None:
    """RFC 9112 6.3: after refusing a request whose framing is in doubt the server MUST close the
    connection, or what follows the 400 on it could be read as another request (smuggling)."""
    assert server.url is not None
    reply, closed = read_to_close(server.url, MALFORMED[name])
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert closed, "the connection stayed open after the 400"
    assert reply.count(b"HTTP/1.1 ") == 1  # the chunked body was not served as a second request


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[ConsoleApp]:
    running = engine.Engine(write_app(tmp_path / "app", CONSOLE_APP), port=0, log=tmp_path / "log.sqlite3")
    running.start()
    yield ConsoleApp(running)
    running.stop(timeout=0.5)


@pytest.mark.anyio
async def test_the_console_keeps_drawing_after_malformed_requests(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        url = console.running.url
        assert url is not None
        for name in ("garbage-request-line", "double-content-length", "chunk-size-not-hex", "header-of-100kb"):
            assert refused(*send_raw(url, MALFORMED[name])), name
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/users/9", timeout=TIMEOUT)
        assert response.json() == {"id": "9", "seen": True}
        log = console.query_one(LogView)
        await until(pilot, lambda: any(log.row_at(i).path == "/users/9" for i in range(log.count)))
        await pilot.pause()
        # Drawn, not only stored: the row is on the screen.
        screen = "\n".join(log.render_line(y).text for y in range(log.size.height))
        assert "/users/9" in screen

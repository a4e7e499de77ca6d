"""The console against a real embedded engine: a temporary app served on 127.0.0.1:0."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import engine
from console.app import ConsoleApp
from tests.conftest import write_app

APP = {
    "route.py": "def GET():\n    return {'hello': 'world'}\n",
    "users/route.py": (
        "from engine import Response\n"
        "USERS = {'1': {'id': '1', 'name': 'Ada'}}\n"
        "def GET():\n    return list(USERS.values())\n"
        "async def POST(request):\n"
        "    data = await request.json()\n"
        "    USERS[data['id']] = data\n"
        "    return Response.json(data, status=201)\n"
    ),
    "users/[id]/route.py": (
        "async def stamp(request, next):\n"
        "    response = await next(context={'seen': True})\n"
        "    response.headers['x-stamp'] = 'yes'\n"
        "    return response\n"
        "middleware = [stamp]\n"
        "def GET(params, context):\n    return {'id': params['id'], 'seen': context['seen']}\n"
    ),
    "boom/route.py": "def GET():\n    raise RuntimeError('kaboom')\n",
    # Blocks until the file named by ?flag exists: a handler that hangs, on a pool thread.
    "hang/route.py": (
        "import os, time\n"
        "def GET(request):\n"
        "    while not os.path.exists(request.query['flag']):\n"
        "        time.sleep(0.01)\n"
        "    return 'released'\n"
    ),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app", APP)


@pytest.fixture
def running(app_dir: Path) -> Iterator[engine.Engine]:
    started = engine.Engine(app_dir, port=0, log=app_dir.parent / "log.sqlite3")
    started.start()
    yield started
    started.stop(timeout=0.5)


@pytest.fixture
def console(running: engine.Engine) -> ConsoleApp:
    return ConsoleApp(running)


def text_of(renderable: Any, width: int = 160) -> str:
    """What a Rich renderable (a Static's content) says, as plain text."""
    out = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    out.print(renderable)
    return out.export_text()


async def until(pilot: Any, condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the app run until `condition()` holds (events arrive from other threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the console did not get there in time")
        await pilot.pause(0.02)


def fixed_trace(
    n: int,
    method: str,
    path: str,
    status: int,
    *,
    pattern: str | None,
    file: str | None,
    spans: list[engine.Span] | None = None,
    body: bytes = b"",
    source: str = "external",
    replay_of: int | None = None,
) -> engine.Trace:
    """A trace with fixed ids, times and durations, for snapshots."""
    trace = engine.Trace(f"fixed{n:04d}", 1_800_000_000.0 + n * 1.25, method, path, "")
    trace.status = status
    trace.duration_ms = 2.5 + n
    trace.route = {"pattern": pattern, "file": file, "params": {}} if pattern else None
    trace.request.headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"curl/8.5.0")]
    trace.response.headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    trace.response.keep(body)
    trace.spans = spans or []
    trace.source = source
    trace.replay_of = replay_of
    return trace

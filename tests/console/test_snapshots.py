"""SVG snapshots of the main screens, with fixed data: ids, times, durations, URL and paths.

Update after a deliberate change to the look: `pytest tests/console/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

import engine
from console.app import ConsoleApp
from tests.conftest import write_app
from tests.console.conftest import fixed_trace, until

SIZE = (150, 42)
FIXED_URL = "http://127.0.0.1:8000"

APP = {
    "route.py": "def GET():\n    return {'hello': 'world'}\n",
    "users/route.py": "def GET():\n    return []\n\nasync def POST(request):\n    return await request.json()\n",
    "users/[id]/route.py": (
        "async def load_user(request, next, params):\n"
        "    return await next(context={'user': params['id']})\n"
        "\n"
        "middleware = [load_user]\n"
        "\n"
        "def GET(context):\n"
        "    return {'id': context['user']}\n"
        "\n"
        "def DELETE(params):\n"
        "    return None\n"
    ),
    "files/[...path]/route.py": "def GET(params):\n    return params['path']\n",
    "docs/[[...slug]]/page.py": "def GET():\n    return '<h1>docs</h1>'\n",
}

CLASH = {"users/[uid]/route.py": "def GET(params):\n    return params['uid']\n"}


def _traces() -> list[engine.Trace]:
    spans = [
        engine.Span("middleware", "route", "load_user", "users/[id]/route.py", 1, 0.4, 2.1, "next", ["user"]),
        engine.Span("handler", "handler", "GET", "users/[id]/route.py", 6, 1.2, 0.9, "respond"),
    ]
    failing = [
        engine.Span(
            "handler",
            "handler",
            "GET",
            "files/[...path]/route.py",
            1,
            0.3,
            0.5,
            "raise",
            error='Traceback (most recent call last):\n  File "files/[...path]/route.py", line 2, in GET\n'
            "KeyError: 'path'",
        )
    ]
    user: dict[str, Any] = {
        "pattern": "/users/[id]",
        "file": "users/[id]/route.py",
        "spans": spans,
        "body": b'{"id":"7"}',
    }
    return [
        fixed_trace(1, "GET", "/", 200, pattern="/", file="route.py", body=b'{"hello":"world"}'),
        fixed_trace(2, "POST", "/users", 200, pattern="/users", file="users/route.py", body=b'{"name":"Ada"}'),
        fixed_trace(3, "GET", "/nope", 404, pattern=None, file=None),
        fixed_trace(
            4, "GET", "/files/a/b", 500, pattern="/files/[...path]", file="files/[...path]/route.py", spans=failing
        ),
        fixed_trace(5, "GET", "/users/7", 200, source="composer", **user),
        fixed_trace(6, "GET", "/users/7", 200, source="replay", replay_of=5, **user),
    ]


@pytest.fixture
def fixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Build a console on a fixed app with a fixed log; `files` adds to the app."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(tmp_path)
    started: list[engine.Engine] = []

    def build(extra: dict[str, str] | None = None, theme: str | None = None) -> ConsoleApp:
        write_app(tmp_path / "app", {**APP, **(extra or {})})
        log = engine.RequestLog(tmp_path / "log.sqlite3")
        log.append_many(_traces())
        log.close()
        running = engine.Engine(Path("app"), port=0, log=tmp_path / "log.sqlite3", reload=False)
        running.start()
        running.url = FIXED_URL  # shown in the header; the real port changes from run to run
        started.append(running)
        return ConsoleApp(running, theme=theme)

    yield build
    for running in started:
        running.stop(timeout=0.5)
    monkeypatch.delenv("TZ")
    time.tzset()


def test_main_screen_with_a_selected_trace(snap_compare: Any, fixed: Any) -> None:
    assert snap_compare(fixed(), terminal_size=SIZE, press=["l", "up"])


def test_a_failed_request_shows_its_traceback(snap_compare: Any, fixed: Any) -> None:
    assert snap_compare(fixed(), terminal_size=SIZE, press=["l", "up", "up", "up"])


def test_problems_with_sources_side_by_side(snap_compare: Any, fixed: Any) -> None:
    assert snap_compare(fixed(CLASH), terminal_size=SIZE, press=["p"])


def test_composer_in_the_light_theme(snap_compare: Any, fixed: Any) -> None:
    async def open_composer(pilot: Any) -> None:
        from tests.console.test_console import select_route

        select_route(pilot.app, "/users/[id]")
        await pilot.press("enter", "4", "2")
        await until(pilot, lambda: pilot.app.screen.query_one("#path", Input).value == "/users/42")
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor is drawn or not depending on timing
        await pilot.pause(0.1)

    assert snap_compare(fixed(theme="light"), terminal_size=SIZE, run_before=open_composer)


def test_help_in_high_contrast(snap_compare: Any, fixed: Any) -> None:
    assert snap_compare(fixed(theme="high-contrast"), terminal_size=SIZE, press=["question_mark"])

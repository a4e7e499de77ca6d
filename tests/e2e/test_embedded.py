"""`engine.Engine`: the app served, watched and logged in the background, as the console runs it."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import httpx
import pytest

import engine
from tests.conftest import write_app

APP = {
    "users/[id]/route.py": "def GET(params):\n    return {'id': params['id']}\n",
    # Spins until the test creates the file named by its query.
    "stuck/route.py": (
        "import os, time\n"
        "def GET(request):\n"
        "    while not os.path.exists(request.query['flag']):\n"
        "        time.sleep(0.01)\n"
        "    return 'late'\n"
    ),
}


def test_requests_are_served_logged_and_fed_live(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", APP)
    before = set(threading.enumerate())
    running = engine.Engine(app, port=0)
    fed: list[engine.LogSummary] = []
    arrived = threading.Event()
    running.log.on_written = lambda rows: (fed.extend(rows), arrived.set())
    url = running.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        response = httpx.get(f"{url}/users/7?x=1", headers={"x-routeconsole-source": "composer"})
        assert response.json() == {"id": "7"}
        assert arrived.wait(5)
        row = fed[0]
        assert (row.method, row.path, row.query, row.status, row.pattern, row.source) == (
            "GET",
            "/users/7",
            "x=1",
            200,
            "/users/[id]",
            "composer",
        )
        assert running.log.summaries() == fed
        entry = running.log.get(row.id)
        assert entry is not None and entry["route"]["params"] == {"id": "7"}
    finally:
        assert running.stop() == []
    assert (app / ".routeconsole" / "log.sqlite3").exists()
    # Nothing of it keeps running: server, watcher, log writer, event delivery.
    left = [t.name for t in set(threading.enumerate()) - before if t.name.startswith("routeconsole-") and t.is_alive()]
    # Handler threads may still finish a request; the importer's threads are one idle pool for
    # the whole process (daemons, kept for the next load).
    assert [n for n in left if not n.startswith(("routeconsole-handler", "routeconsole-import"))] == []


def test_a_run_without_a_log_file_keeps_nothing_behind(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", APP)
    running = engine.Engine(app, port=0, log=None, reload=False)
    running.start()
    scratch = running.log.path
    assert scratch.exists() and not scratch.is_relative_to(app)
    running.stop()
    assert not scratch.exists()
    assert not (app / ".routeconsole").exists()


def test_stop_names_a_handler_that_is_still_running(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    running = engine.Engine(write_app(tmp_path / "app", APP), port=0, log=None, reload=False)
    url = running.start()
    flag = tmp_path / "release"
    started = threading.Event()

    def call() -> None:
        started.set()
        with contextlib.suppress(httpx.TimeoutException):
            httpx.get(f"{url}/stuck", params={"flag": str(flag)}, timeout=0.5)

    caller = threading.Thread(target=call)
    caller.start()
    started.wait()
    caller.join()  # the client gave up; the handler thread sleeps on
    try:
        stuck = running.stop(timeout=0.2)
        assert len(stuck) == 1 and stuck[0].startswith("routeconsole-handler")
        # The cancelled connection is not reported as an error by asyncio (it would reach the terminal).
        assert not [r for r in caplog.records if r.name == "asyncio"]
    finally:
        flag.touch()

"""`routeconsole watch`: the console over an app served elsewhere, following its log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import engine
from console.app import ConsoleApp
from console.widgets.log_view import LogView
from tests.conftest import write_app
from tests.console.conftest import until
from tests.console.test_console import tree_text

pytestmark = pytest.mark.anyio


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[engine.Engine]:
    """A server this console does not run: its own engine, writing its own log."""
    app_dir = write_app(tmp_path / "app", {"users/[id]/route.py": "def GET(params):\n    return params\n"})
    served = engine.Engine(app_dir, port=0, log=tmp_path / "log.sqlite3")
    served.start()
    httpx.get(f"{served.url}/users/0", timeout=5)  # logged before the console opens
    assert served.log.flush()
    yield served
    served.stop(timeout=0.5)


async def test_watch_follows_the_log_reads_the_files_and_sends_to_the_url(
    elsewhere: engine.Engine, tmp_path: Path
) -> None:
    assert elsewhere.url is not None
    watched = engine.WatchedEngine(elsewhere.app_dir, url=elsewhere.url, log=tmp_path / "log.sqlite3")
    watched.start()
    console = ConsoleApp(watched)
    try:
        async with console.run_test(size=(160, 45)) as pilot:
            log = console.main.query_one(LogView)
            await until(pilot, lambda: log.count == 1)  # what was logged before
            async with httpx.AsyncClient() as client:
                await client.get(f"{elsewhere.url}/users/1")
            await until(pilot, lambda: log.count == 2)  # what the other server logs now
            assert [r.path for r in log.rows] == ["/users/0", "/users/1"]
            log.focus()
            await until(pilot, lambda: console.entry is not None)
            await pilot.press("r")  # a replay goes to the URL, and comes back through the log
            await until(pilot, lambda: log.count == 3)
            assert log.rows[-1].source == "replay"
            (elsewhere.app_dir / "posts").mkdir()
            (elsewhere.app_dir / "posts" / "route.py").write_text("def GET():\n    return []\n")
            await until(pilot, lambda: "posts" in tree_text(console))  # the tree follows the files
            await pilot.press("ctrl+r")  # nothing to restart here: it says so, and carries on
            await pilot.pause(0.2)
            assert log.count == 3
    finally:
        watched.stop()

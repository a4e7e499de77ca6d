"""The console over an app in a process of its own (what `routeconsole APP` runs): the app
dies, the console stays, says so, and serves again; a restart ends a handler stuck in a loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from textual.widgets import RichLog, TabbedContent

import engine
from console.app import ConsoleApp
from console.screens.dialogs import HelpScreen
from console.widgets.log_view import LogView
from engine.store import RequestLog
from tests.conftest import write_app
from tests.console.conftest import until
from tests.console.test_console import shown

pytestmark = pytest.mark.anyio

APP = {
    "ok/route.py": "def GET():\n    print('printed by the route')\n    return 'ok'\n",
    "die/route.py": "import os\ndef GET():\n    os._exit(7)\n",
    "spin/route.py": "def GET():\n    while True:\n        pass\n",
}


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[engine.SupervisedEngine]:
    running = engine.SupervisedEngine(write_app(tmp_path / "app", APP), port=0, log=tmp_path / "log.sqlite3")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def server_log(app: ConsoleApp) -> str:
    return "\n".join(line.text for line in app.main.query_one("#server-log", RichLog).lines)


async def test_the_console_outlives_its_app_and_shows_why(supervised: engine.SupervisedEngine) -> None:
    console = ConsoleApp(supervised)
    async with console.run_test(size=(160, 45)) as pilot:
        console.query_one(TabbedContent).active = "server-tab"  # a RichLog draws once it has a size
        log = console.main.query_one(LogView)
        async with httpx.AsyncClient(timeout=10) as client:
            assert (await client.get(f"{supervised.url}/ok")).text == "ok"
            await until(pilot, lambda: log.count == 1)
            await until(pilot, lambda: "stdout: printed by the route" in server_log(console))
            first = supervised.process.pid
            with pytest.raises(httpx.HTTPError):
                await client.get(f"{supervised.url}/die")
            await until(pilot, lambda: "app exited" in shown(console, "#status"))
            assert "exit code 7" in server_log(console)
            await until(pilot, lambda: supervised.process.pid not in (None, first), timeout=15)
            await until(pilot, lambda: "app exited" not in shown(console, "#status"), timeout=15)
            assert (await client.get(f"{supervised.url}/ok")).text == "ok"
            await until(pilot, lambda: log.count == 2)


async def test_the_restart_key_ends_a_handler_stuck_in_a_loop(supervised: engine.SupervisedEngine) -> None:
    console = ConsoleApp(supervised)
    async with console.run_test(size=(160, 45)) as pilot:
        console.query_one(TabbedContent).active = "server-tab"
        async with httpx.AsyncClient(timeout=10) as client:
            first = supervised.process.pid
            with pytest.raises(httpx.TimeoutException):
                await client.get(f"{supervised.url}/spin", timeout=0.5)
            await pilot.press("ctrl+r")
            await until(pilot, lambda: supervised.process.pid not in (None, first), timeout=15)
            await until(pilot, lambda: "serving" in server_log(console), timeout=15)  # the new process
            assert (await client.get(f"{supervised.url}/ok")).text == "ok"


async def test_two_thousand_requests_at_c16_all_reach_the_list_and_the_log(
    supervised: engine.SupervisedEngine, tmp_path: Path
) -> None:
    console = ConsoleApp(supervised)
    async with console.run_test(size=(120, 30)) as pilot:
        log = console.main.query_one(LogView)
        statuses: list[int] = []

        def load() -> None:
            def client(n: int) -> None:
                with httpx.Client(base_url=str(supervised.url), timeout=10) as http:
                    statuses.extend(http.get("/ok").status_code for _ in range(125))

            threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)

        sending = asyncio.get_running_loop().run_in_executor(None, load)
        while not sending.done():
            await pilot.pause(0.05)  # the UI keeps running while the load goes on
        await sending
        assert statuses == [200] * 2000
        await until(pilot, lambda: log.count == 2000, timeout=30)
        await pilot.press("question_mark")  # keys are still answered
        await until(pilot, lambda: isinstance(console.screen, HelpScreen))
    written = RequestLog(tmp_path / "log.sqlite3")
    try:
        assert len(written.summaries()) == 2000
    finally:
        written.close()


async def test_workers_every_request_from_any_worker_lands_in_the_one_list(tmp_path: Path) -> None:
    running = engine.SupervisedEngine(
        write_app(tmp_path / "app", APP), port=0, log=tmp_path / "log.sqlite3", workers=2, reload=False
    )
    running.start()
    try:
        console = ConsoleApp(running)
        async with console.run_test(size=(120, 30)) as pilot:
            assert console.reload_state == "not watching"  # --no-reload: neither the workers nor the tree follow files
            log = console.main.query_one(LogView)

            def load() -> list[int]:
                with httpx.Client(base_url=str(running.url), timeout=10) as http:
                    return [http.get("/ok", headers={"connection": "close"}).status_code for _ in range(40)]

            sending = asyncio.get_running_loop().run_in_executor(None, load)
            while not sending.done():
                await pilot.pause(0.05)
            assert await sending == [200] * 40
            await until(pilot, lambda: log.count == 40, timeout=20)
    finally:
        running.stop()
    with pytest.raises(httpx.ConnectError):  # no worker outlives the console's stop
        httpx.get(f"{running.url}/ok", timeout=2)


async def test_an_app_that_crashes_at_import_is_shown_as_exited_even_before_the_console_opens(
    tmp_path: Path,
) -> None:
    crash = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    running = engine.SupervisedEngine(write_app(tmp_path / "app", {"route.py": crash}), port=0, log=None)
    exits: list[object] = []
    running.events.subscribe(lambda e: exits.append(e) if isinstance(e, engine.AppRestarting) else None)
    running.start()
    try:
        deadline = time.monotonic() + 15
        while len(exits) < 2:  # it has died twice before the console opens; the next start is 1 s off
            assert time.monotonic() < deadline
            time.sleep(0.02)
        console = ConsoleApp(running)
        async with console.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            assert "app exited · restarting in 1 s" in shown(console, "#status")  # told at once, not at its next end
            await pilot.press("ctrl+r")  # restart is still offered: it dies again, and says so
            await until(pilot, lambda: len(exits) >= 3, timeout=15)
            await until(pilot, lambda: "app exited" in shown(console, "#status"))
    finally:
        running.stop()


async def test_the_header_says_when_requests_go_to_a_collector(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", APP)
    for otlp, said in ((None, False), ("http://127.0.0.1:9", True)):  # nothing listens on port 9
        running = engine.SupervisedEngine(app, port=0, log=False, otlp=otlp)
        running.start()
        try:
            console = ConsoleApp(running)
            async with console.run_test(size=(160, 45)) as pilot:
                await pilot.pause()
                assert ("otlp" in shown(console, "#status")) is said
        finally:
            running.stop()

"""The console, driven by keys through Textual's Pilot, against a real embedded engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import Input, OptionList, RichLog, Select, Static, TabbedContent, TextArea

import engine
from console.app import ConsoleApp
from console.config import Config
from console.screens.composer import ComposerScreen
from console.screens.dialogs import ConfirmScreen, ExportScreen, HelpScreen, ViewerScreen
from console.widgets.log_view import LogView
from console.widgets.route_tree import RouteTree
from tests.console.conftest import text_of, until

pytestmark = pytest.mark.anyio


def tree_text(app: ConsoleApp) -> str:
    tree = app.query_one(RouteTree)
    lines = []
    stack = [tree.root]
    while stack:
        node = stack.pop()
        lines.append(str(node.label))
        stack.extend(reversed(node.children))
    return "\n".join(lines)


def shown(app: ConsoleApp, selector: str) -> str:
    return text_of(app.query_one(selector, Static).content)


def select_route(app: ConsoleApp, pattern: str) -> None:
    tree = app.query_one(RouteTree)
    stack = [tree.root]
    while stack:
        node = stack.pop()
        if node.data is not None and node.data.route is not None and node.data.route.pattern == pattern:
            tree.move_cursor(node)
            tree.focus()
            return
        stack.extend(node.children)
    raise AssertionError(f"{pattern} is not in the tree")


async def logged(console: ConsoleApp, pilot: Any, method: str, path: str, **kwargs: Any) -> LogView:
    """Send a request from outside, wait for its row, and focus the log on it."""
    log = console.main.query_one(LogView)
    count = log.count
    async with httpx.AsyncClient() as client:
        await client.request(method, f"{console.running.url}{path}", **kwargs)
    await until(pilot, lambda: log.count == count + 1)
    log.focus()
    return log


async def test_first_screen_shows_the_routes_and_where_they_are_served(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        text = tree_text(console)
        for part in ("users", "[id]", "boom", "hang", "GET POST", "users/[id]/route.py"):
            assert part in text
        status = shown(console, "#status")
        assert console.running.url in status
        assert "5 routes" in status and "0 errors" in status and "watching" in status


async def test_a_request_from_outside_appears_with_its_waterfall(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        log = console.query_one(LogView)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{console.running.url}/users/7", headers={"accept": "application/json"})
        assert response.json() == {"id": "7", "seen": True}
        await until(pilot, lambda: log.count == 1)
        row = log.rows[0]
        assert (row.method, row.path, row.status, row.pattern, row.source) == (
            "GET",
            "/users/7",
            200,
            "/users/[id]",
            "external",
        )
        await until(pilot, lambda: console.entry is not None)
        trace = shown(console, "#trace")
        assert "stamp" in trace and "GET" in trace and "seen" in trace  # the middleware, the handler, context added
        assert "→ next" in trace and "● respond" in trace
        assert "accept:" in shown(console, "#request") and "application/json" in shown(console, "#request")
        response_text = shown(console, "#response")
        assert "x-stamp:" in response_text and '"seen": true' in response_text  # pretty-printed JSON


async def test_a_raising_handler_is_a_500_row_with_its_traceback_and_a_server_log_line(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{console.running.url}/boom")).status_code == 500
        log = console.query_one(LogView)
        await until(pilot, lambda: log.count == 1 and console.entry is not None)
        assert log.rows[0].status == 500
        trace = shown(console, "#trace")
        assert "RuntimeError: kaboom" in trace and "✖ raise" in trace
        console.query_one(TabbedContent).active = "server-tab"  # a RichLog draws once it has a size
        server_log = console.query_one("#server-log", RichLog)
        await until(pilot, lambda: any("kaboom" in line.text for line in server_log.lines))


async def test_enter_on_a_route_composes_and_sends_a_request_logged_as_composer(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        select_route(console, "/users/[id]")
        await pilot.press("enter")
        assert isinstance(console.screen, ComposerScreen)
        await pilot.press("4", "2")
        assert console.screen.query_one("#path", Input).value == "/users/42"
        await pilot.press("ctrl+j")
        screen = console.screen
        await until(pilot, lambda: screen.last is not None)
        assert screen.last is not None and screen.last.json() == {"id": "42", "seen": True}
        response_text = text_of(screen.query_one("#response", Static).content)
        assert "200 OK" in response_text and '"id": "42"' in response_text
        await pilot.press("escape")
        log = console.query_one(LogView)
        await until(pilot, lambda: log.count == 1)
        assert log.rows[0].source == "composer" and log.rows[0].path == "/users/42"


async def test_the_composer_sends_json_bodies_headers_and_query(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        select_route(console, "/users")
        await pilot.press("c")
        screen = console.screen
        assert isinstance(screen, ComposerScreen)
        screen.query_one("#method", Select).value = "POST"
        screen.query_one("#query", TextArea).text = "dry=no"
        screen.query_one("#headers", TextArea).text = "x-note: hi"
        screen.query_one("#body", TextArea).text = '{"id": "2", "name": "Bo"}'
        await pilot.press("ctrl+j")
        await until(pilot, lambda: screen.last is not None)
        assert screen.last is not None and screen.last.status_code == 201
        await pilot.press("escape")
        log = console.query_one(LogView)
        await until(pilot, lambda: log.count == 1)
        entry = console.running.log.get(log.rows[0].id)
        assert entry is not None and entry["query"] == "dry=no"
        headers = dict(entry["request"]["headers"])
        assert headers["x-note"] == "hi" and headers["content-type"] == "application/json"
        assert json.loads(entry["request"]["body"]) == {"id": "2", "name": "Bo"}


async def test_invalid_json_is_not_sent_and_says_why(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        select_route(console, "/users")
        await pilot.press("c")
        screen = console.screen
        screen.query_one("#method", Select).value = "POST"
        screen.query_one("#body", TextArea).text = "{nope"
        await pilot.press("ctrl+j")
        await pilot.pause()
        assert "not valid JSON" in text_of(screen.query_one("#response", Static).content)
        assert screen.last is None


async def test_replay_makes_a_linked_row_and_diff_compares_it(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        log = await logged(console, pilot, "GET", "/users/5")
        await pilot.press("r")  # GET: no question asked
        await until(pilot, lambda: log.count == 2)
        assert log.rows[1].replay_of == log.rows[0].id and log.rows[1].source == "replay"
        await pilot.press("d")
        assert isinstance(console.screen, ViewerScreen)
        body = text_of(console.screen.body)
        assert "original" in body and "replay" in body and "x-stamp: yes" in body
        assert "same answer" in console.screen.title_text


async def test_replaying_a_post_asks_first(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        log = await logged(console, pilot, "POST", "/users", json={"id": "9", "name": "Cy"})
        await pilot.press("r")
        assert isinstance(console.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause(0.3)
        assert log.count == 1
        await pilot.press("r", "y")
        await until(pilot, lambda: log.count == 2)
        assert log.rows[1].method == "POST" and log.rows[1].replay_of == log.rows[0].id


async def test_edit_loads_the_entry_into_the_composer_and_sends_it_as_a_replay(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        log = await logged(console, pilot, "POST", "/users?x=1", json={"id": "3", "name": "Di"})
        await pilot.press("e")
        screen = console.screen
        assert isinstance(screen, ComposerScreen)
        assert screen.query_one("#method", Select).value == "POST"
        assert screen.query_one("#path", Input).value == "/users"
        assert screen.query_one("#query", TextArea).text == "x=1"
        assert json.loads(screen.query_one("#body", TextArea).text) == {"id": "3", "name": "Di"}
        screen.query_one("#body", TextArea).text = '{"id": "3", "name": "Edited"}'
        await pilot.press("ctrl+j")
        await until(pilot, lambda: screen.last is not None)
        await pilot.press("escape")
        await until(pilot, lambda: log.count == 2)
        assert log.rows[1].replay_of == log.rows[0].id
        await pilot.press("d")
        assert "differs" in console.screen.title_text  # type: ignore[attr-defined]
        assert "Edited" in text_of(console.screen.body)  # type: ignore[attr-defined]


async def test_export_copies_curl_and_writes_har(
    console: ConsoleApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with console.run_test(size=(160, 45)) as pilot:
        await logged(console, pilot, "GET", "/users/8?q=a b")
        await pilot.press("x")
        assert isinstance(console.screen, ExportScreen)
        await pilot.press("enter")  # the first option: curl
        await pilot.pause()
        assert console.clipboard.startswith("curl ") and "/users/8?q=a%20b" in console.clipboard
        await pilot.press("x")
        export = console.screen
        har_path = tmp_path / "out.har"
        export.query_one("#har-path", Input).value = str(har_path)
        export.query_one(OptionList).highlighted = 1
        await pilot.press("enter")
        await until(pilot, har_path.exists)
        await pilot.pause(0.2)
        har = json.loads(har_path.read_text())
        assert [e["request"]["url"].split("/", 3)[3] for e in har["log"]["entries"]] == ["users/8?q=a%20b"]


async def test_saving_a_route_file_updates_the_tree_and_problems_in_place(console: ConsoleApp, app_dir: Path) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        assert "orders" not in tree_text(console)
        (app_dir / "orders").mkdir()
        (app_dir / "orders" / "route.py").write_text("def GET():\n    return []\n")
        await until(pilot, lambda: "orders" in tree_text(console))
        assert "reloaded" in shown(console, "#status")
        # a clash: /users/[uid] has the shape of /users/[id]
        (app_dir / "users" / "[uid]").mkdir()
        (app_dir / "users" / "[uid]" / "route.py").write_text("def GET():\n    return 1\n")
        await until(pilot, lambda: console.table.conflicts != ())
        assert "1 error" in shown(console, "#status")
        await pilot.press("p")
        assert console.query_one(TabbedContent).active == "problems-tab"
        problems = console.query_one("#problems", OptionList)
        assert "ambiguous-params" in str(problems.get_option_at_index(0).prompt)
        tree = console.query_one(RouteTree)
        assert tree.marked == {"users/[id]/route.py", "users/[uid]/route.py"}
        assert tree.selected_route is not None and tree.selected_route.file in tree.marked
        sources = shown(console, "#source-a") + shown(console, "#source-b")
        assert "users/[id]/route.py" in sources and "users/[uid]/route.py" in sources and "def GET" in sources


async def test_a_broken_route_file_is_a_marked_route_not_a_crash(console: ConsoleApp, app_dir: Path) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        (app_dir / "boom" / "route.py").write_text("def GET(:\n")
        await until(pilot, lambda: "load error" in tree_text(console))
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{console.running.url}/boom")).status_code == 500
        await until(pilot, lambda: console.query_one(LogView).count == 1)


async def test_the_ui_keeps_answering_while_a_handler_hangs(console: ConsoleApp, tmp_path: Path) -> None:
    flag = tmp_path / "release"
    async with console.run_test(size=(160, 45)) as pilot, httpx.AsyncClient(timeout=30) as client:
        pending = pilot.app.run_worker(client.get(f"{console.running.url}/hang", params={"flag": str(flag)}))
        await pilot.pause(0.2)
        await pilot.press("question_mark")  # the UI answers keys while the handler blocks
        assert isinstance(console.screen, HelpScreen)
        await pilot.press("escape")
        async with httpx.AsyncClient() as other:
            assert (await other.get(f"{console.running.url}/users/1")).status_code == 200
        log = console.query_one(LogView)
        await until(pilot, lambda: log.count == 1)
        flag.touch()
        await pending.wait()
        await until(pilot, lambda: log.count == 2)
        assert log.rows[1].path == "/hang"


async def test_filters_narrow_the_log_and_the_tree(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        async with httpx.AsyncClient() as client:
            for path in ("/users", "/users/1", "/boom", "/nope"):
                await client.get(f"{console.running.url}{path}")
        log = console.query_one(LogView)
        await until(pilot, lambda: log.count == 4)
        log.focus()
        await pilot.press("slash", "5", "x", "x", "enter")
        assert [r.path for r in (log.row_at(i) for i in range(log.count))] == ["/boom"]
        await pilot.press("slash")
        console.query_one("#log-filter", Input).value = ""
        await pilot.press("enter")
        assert log.count == 4
        console.query_one(RouteTree).focus()
        await pilot.press("slash", "h", "a", "n", "g")
        text = tree_text(console)
        assert "hang" in text and "users" not in text


async def test_follow_keeps_the_newest_selected_until_the_user_moves(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        log = console.query_one(LogView)
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                await client.get(f"{console.running.url}/users")
            await until(pilot, lambda: log.count == 3)
            assert log.following and log.cursor == 2
            log.focus()
            await pilot.press("up")
            assert not log.following and log.cursor == 1
            await client.get(f"{console.running.url}/users")
            await until(pilot, lambda: log.count == 4)
            assert log.cursor == 1
            await pilot.press("f")
            assert log.following and log.cursor == 3


async def test_history_from_earlier_runs_is_listed(app_dir: Path) -> None:
    log_path = app_dir.parent / "log.sqlite3"
    first = engine.Engine(app_dir, port=0, log=log_path, reload=False)
    url = first.start()
    httpx.get(f"{url}/users")
    first.stop()
    again = engine.Engine(app_dir, port=0, log=log_path, reload=False)
    again.start()
    try:
        app = ConsoleApp(again)
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            assert [r.path for r in app.query_one(LogView).rows] == ["/users"]
    finally:
        again.stop()


async def test_themes_come_from_data_files_and_the_palette(console: ConsoleApp) -> None:
    assert {p.label for p in console.palettes.values()} >= {"dark", "light", "high-contrast"}
    async with console.run_test(size=(160, 45)) as pilot:
        assert console.theme == "routeconsole-dark"
        await pilot.press("ctrl+p")
        await pilot.pause()
        console.screen.query_one(Input).value = "theme: light"
        await until(
            pilot, lambda: "theme: light" in str(console.screen.query_one(OptionList).get_option_at_index(0).prompt)
        )
        await pilot.press("enter")
        await until(pilot, lambda: console.theme == "routeconsole-light")
        assert console.palette.syntax == "friendly"


async def test_help_lists_every_binding_and_a_remapped_key_works(running: engine.Engine) -> None:
    app = ConsoleApp(running, config=Config(keys={"log.replay": "R"}), theme="high-contrast")
    async with app.run_test(size=(160, 45)) as pilot:
        async with httpx.AsyncClient() as client:
            await client.get(f"{running.url}/users")
        log = app.query_one(LogView)
        await until(pilot, lambda: log.count == 1)
        log.focus()
        await pilot.press("r")  # no longer bound
        await pilot.pause(0.3)
        assert log.count == 1
        await pilot.press("R")
        await until(pilot, lambda: log.count == 2)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        ids = {row.binding_id for row in app.screen.rows}
        for wanted in (
            "app.quit",
            "app.help",
            "log.replay",
            "log.follow",
            "routes.open",
            "composer.send",
            "log.export",
        ):
            assert wanted in ids
        replay_row = next(row for row in app.screen.rows if row.binding_id == "log.replay")
        assert replay_row.keys == "R"


async def test_footer_offers_what_the_focused_pane_offers(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        console.query_one(RouteTree).focus()
        await pilot.pause()
        keys = {b.binding.id for b in console.active_bindings.values()}
        assert "routes.open" in keys and "log.replay" not in keys
        console.query_one(LogView).focus()
        await pilot.pause()
        keys = {b.binding.id for b in console.active_bindings.values()}
        assert "log.replay" in keys and "routes.open" not in keys


DIALECT_APPS = {
    "tanstack": {
        "__root.py": "",
        "index.py": "def GET():\n    return 'home'\n",
        "users.$id.py": "def GET(params):\n    return {'id': params['id']}\n",
    },
    "expo": {
        "index+api.py": "def GET():\n    return 'home'\n",
        "users/[id]+api.py": "def GET(params):\n    return {'id': params['id']}\n",
    },
}


@pytest.mark.parametrize("dialect", sorted(DIALECT_APPS))
async def test_other_dialects_compose_the_same_way(dialect: str, tmp_path: Path) -> None:
    from tests.conftest import write_app

    running = engine.Engine(write_app(tmp_path / dialect, DIALECT_APPS[dialect]), port=0, log=None, reload=False)
    running.start()
    try:
        app = ConsoleApp(running)
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            assert running.table.convention == dialect and dialect in shown(app, "#status")
            select_route(app, "/users/[id]")
            await pilot.press("enter", "a", "b")
            screen = app.screen
            assert isinstance(screen, ComposerScreen)
            await pilot.press("ctrl+j")
            await until(pilot, lambda: screen.last is not None)
            assert screen.last is not None and screen.last.json() == {"id": "ab"}
    finally:
        running.stop(timeout=0.5)


async def test_requests_arriving_while_the_composer_is_open_are_listed(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.press("c")
        assert isinstance(console.screen, ComposerScreen)
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                await client.get(f"{console.running.url}/users")
        log = console.main.query_one(LogView)  # the screen under the composer
        await until(pilot, lambda: log.count == 3 and console.entry is not None)
        await pilot.press("escape")
        assert console.entry is not None and console.entry["id"] == log.rows[-1].id
        assert "/users" in shown(console, "#trace")


async def test_what_handlers_print_goes_to_the_server_log_pane(console: ConsoleApp, app_dir: Path) -> None:
    (app_dir / "noisy").mkdir()
    (app_dir / "noisy" / "route.py").write_text(
        "import sys\ndef GET():\n    print('to stdout')\n    print('to stderr', file=sys.stderr)\n    return 'ok'\n"
    )
    async with console.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: any(r.pattern == "/noisy" for r in console.table.routes))
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{console.running.url}/noisy")).text == "ok"
        console.query_one(TabbedContent).active = "server-tab"
        server_log = console.query_one("#server-log", RichLog)
        await until(
            pilot,
            lambda: {"stdout: to stdout", "stderr: to stderr"} <= {line.text.strip() for line in server_log.lines},
        )


async def test_brackets_cycle_the_detail_tabs_and_main_keys_rest_under_the_composer(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        tabs = console.query_one(TabbedContent)
        await pilot.press("right_square_bracket")
        assert tabs.active == "request-tab"
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert tabs.active == "match-tab"  # the last: Trace, Request, Response, Problems, Server log, Match
        await pilot.press("left_square_bracket")
        assert tabs.active == "server-tab"
        await pilot.press("c")
        composer = console.screen
        assert isinstance(composer, ComposerScreen)
        composer.query_one("#send").focus()
        await pilot.press("c", "p")  # not another composer, not the main screen's tabs
        assert console.screen is composer and tabs.active == "server-tab"

"""The match bar (`m`): typing a path lights the route tree and explains the contest; `enter`
opens the composer with the params filled; a clash's example goes through the composer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input, OptionList, Static, TabbedContent

import engine
from console.app import ConsoleApp
from console.screens.composer import ComposerScreen
from console.widgets.log_view import LogView
from console.widgets.route_tree import RouteTree
from tests.conftest import GET_HANDLER, write_app
from tests.console.conftest import text_of, until

pytestmark = pytest.mark.anyio

APP = {
    "api/widgets/search/route.py": GET_HANDLER,
    "api/widgets/[id]/route.py": "def GET(params):\n    return {'id': params['id']}\n",
    "api/widgets/[...rest]/route.py": GET_HANDLER,
    "api/[kind]/[id]/route.py": GET_HANDLER,
}


@pytest.fixture
def running(tmp_path: Path) -> Iterator[engine.Engine]:
    started = engine.Engine(write_app(tmp_path / "app", APP), port=0, log=tmp_path / "log.sqlite3")
    started.start()
    yield started
    started.stop(timeout=0.5)


async def test_typing_a_path_lights_the_tree_and_lists_the_contest(running: engine.Engine) -> None:
    console = ConsoleApp(running)
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.press("m")
        bar = console.main.query_one("#match-bar", Input)
        assert bar.has_focus and console.main.query_one(TabbedContent).active == "match-tab"
        await pilot.press(*"/api/widgets/search")
        tree = console.main.query_one(RouteTree)
        assert tree.answer == "/api/widgets/search"
        assert tree.lit == {"/api", "/api/widgets", "/api/widgets/search"}
        panel = text_of(console.main.query_one("#match", Static).content)
        order = [panel.index(p) for p in ("✔ /api/widgets/search", "✖ /api/widgets/[id]", "✖ /api/widgets/[...rest]")]
        assert order == sorted(order)
        assert "segment 3: static `search` is preferred to `[id]`" in panel
        # every keystroke: one more character and the answer moves
        await pilot.press("backspace", *"x")
        assert tree.answer == "/api/widgets/[id]"
        await pilot.press("escape")
        assert (tree.lit, tree.answer) == (frozenset(), None)
        assert not bar.has_class("open")


async def test_a_method_in_the_bar_and_a_near_miss(running: engine.Engine) -> None:
    console = ConsoleApp(running)
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.press("m", *"POST /api/widgets/search")
        panel = text_of(console.main.query_one("#match", Static).content)
        assert "POST /api/widgets/search → 405" in panel
        assert "answers 405: POST is not exported" in panel
        bar = console.main.query_one("#match-bar", Input)
        bar.value = "/apix/widgets/search"
        await pilot.pause()
        panel = text_of(console.main.query_one("#match", Static).content)
        assert "no route matches this path" in panel and "segment 1: `apix` is not `api`" in panel


async def test_enter_opens_the_composer_on_the_winner_with_its_params(running: engine.Engine) -> None:
    console = ConsoleApp(running)
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.press("m", *"/api/widgets/7", "enter")
        await until(pilot, lambda: isinstance(console.screen, ComposerScreen))
        composer = console.screen
        assert isinstance(composer, ComposerScreen)
        assert composer.route is not None and composer.route.pattern == "/api/widgets/[id]"
        assert composer.query_one("#param-id", Input).value == "7"
        assert composer.query_one("#path", Input).value == "/api/widgets/7"


async def test_a_clashs_example_goes_through_the_match_bar_and_the_composer(running: engine.Engine) -> None:
    console = ConsoleApp(running)
    async with console.run_test(size=(160, 45)) as pilot:
        await pilot.press("p")
        problems = console.main.query_one("#problems", OptionList)
        [clash] = [c for c in console.table.conflicts if c.kind == "shadowed-catch-all"]
        example_path, file = clash.examples[0]
        index = next(n for n in range(problems.option_count) if problems.get_option_at_index(n).id == "0:0")
        problems.highlighted = index
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(console.screen, ComposerScreen))
        assert console.main.query_one("#match-bar", Input).value == example_path
        log = console.main.query_one(LogView)
        await until(pilot, lambda: log.count == 1)  # sent at once: the trace shows the clash
        row = log.rows[-1]
        assert (row.path, row.source) == (example_path, "composer")
        assert row.pattern == next(r.pattern for r in console.table.routes if r.file == file)

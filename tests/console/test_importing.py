"""A route file whose import blocks: the console marks its route as importing, and clears
the mark once the import has finished."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import engine
from console.app import ConsoleApp
from tests.conftest import write_app
from tests.console.conftest import until
from tests.console.test_console import tree_text

pytestmark = pytest.mark.anyio


@pytest.fixture
def slow_engine(tmp_path: Path) -> Iterator[tuple[engine.Engine, Path]]:
    flag = tmp_path / "release"
    app_dir = write_app(
        tmp_path / "app",
        {
            "slow/route.py": (
                f"import os, time\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.01)\n"
                "def GET():\n    return 'slow'\n"
            ),
            "fast/route.py": "def GET():\n    return 'fast'\n",
        },
    )
    running = engine.Engine(app_dir, port=0, log=None, import_grace=0.2)
    running.start()
    try:
        yield running, flag
    finally:
        flag.touch()
        running.stop(timeout=0.5)


async def test_the_tree_shows_a_route_still_importing(slow_engine: tuple[engine.Engine, Path]) -> None:
    running, flag = slow_engine
    console = ConsoleApp(running)
    async with console.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        text = tree_text(console)
        slow_line = next(line for line in text.splitlines() if "slow/route.py" in line)
        assert "importing" in slow_line
        assert "importing" not in next(line for line in text.splitlines() if "fast/route.py" in line)
        flag.touch()
        await until(pilot, lambda: "importing" not in tree_text(console))
        assert "GET" in next(line for line in tree_text(console).splitlines() if "slow/route.py" in line)

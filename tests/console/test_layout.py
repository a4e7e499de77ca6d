"""The console at 80x24 (most terminals' default) and wider: what stays, what gives way, zoom.

Each test reads what a widget draws (`render_lines`, the strips that reach the terminal), not
what it was given, so a line that wraps out of a one-row widget or a column Rich squeezes
counts as lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget

import engine
from console.app import ConsoleApp, shorten_path, status_line
from console.widgets.log_view import LogView
from tests.conftest import write_app
from tests.console.conftest import until

pytestmark = pytest.mark.anyio

APP = {
    "users/[id]/route.py": (
        "async def require_authenticated_user(request, next):\n"
        "    return await next(context={'user': 'ada', 'session': 's1'})\n"
        "middleware = [require_authenticated_user]\n"
        "def GET(params, context):\n    return {'id': params['id'], 'user': context['user']}\n"
    ),
}

# Deep enough that header, folder and URL cannot share 80 columns whole.
LONG = Path("clients") / "acme-corporation-internal-tools" / "routeconsole-experiments" / "shop-backend" / "app"


@pytest.fixture
def console(tmp_path: Path) -> Iterator[ConsoleApp]:
    app_dir = write_app(tmp_path / LONG, APP)
    running = engine.Engine(app_dir, port=0, log=tmp_path / "log.sqlite3", reload=False)
    running.start()
    yield ConsoleApp(running)
    running.stop(timeout=0.5)


def drawn(widget: Widget) -> str:
    """The lines a widget draws at its present size, as text."""
    width, height = widget.size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height)))


async def request(console: ConsoleApp, pilot: Any, path: str) -> None:
    log = console.query_one(LogView)
    count = log.count
    async with httpx.AsyncClient() as client:
        await client.get(f"{console.running.url}{path}")
    await until(pilot, lambda: log.count == count + 1 and console.entry is not None)
    await pilot.pause()


async def test_at_80_columns_the_header_keeps_the_url_and_shortens_the_folder(console: ConsoleApp) -> None:
    async with console.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        header = drawn(console.query_one("#status"))
        url = console.running.url
        assert url and url in header
        assert "…/" in header and "/app" in header  # the folder, shortened from the left
        assert str(console.running.app_dir) not in header

        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        header = drawn(console.query_one("#status"))
        assert url in header and "routeconsole-experiments/shop-backend/app" in header
        assert "1 route" in header and "0 errors" in header


def test_the_header_shortens_the_folder_before_it_drops_facts() -> None:
    url = "http://127.0.0.1:8000"
    facts = [(Text("next"), 2), (Text("5 routes"), 3), (Text("0 errors"), 5), (Text("watching"), 1)]
    folder = "/home/ada/projects/shop/app"
    badge = Text(" routeconsole ")
    whole = status_line(badge, folder, url, facts, 200).plain
    assert whole == f" routeconsole  {folder} · {url} · next · 5 routes · 0 errors · watching"
    squeezed = status_line(badge, folder, url, facts, len(whole) - 10).plain
    assert "…/shop/app" in squeezed and "watching" in squeezed  # only the folder gave way
    narrow = status_line(badge, folder, url, facts, 60).plain
    # then watching, next and "5 routes" went; the folder has the room left over
    assert narrow == f" routeconsole  …/shop/app · {url} · 0 errors"
    assert status_line(badge, folder, url, facts, 24).plain.strip() == url
    assert shorten_path(folder, 14) == "…/shop/app"


async def test_the_request_list_drops_route_and_time_first_and_gets_them_back(console: ConsoleApp) -> None:
    async with console.run_test(size=(80, 24)) as pilot:
        await request(console, pilot, "/users/7")
        log = console.query_one(LogView)
        heading, rows = drawn(console.query_one("#log-heading")), drawn(log)
        for column in ("METHOD", "STATUS", "PATH"):
            assert column in heading
        assert "ROUTE" not in heading and "TIME" not in heading
        assert "GET" in rows and "200" in rows and "/users/7" in rows
        assert "/users/[id]" not in rows
        assert log.virtual_size.width <= log.scrollable_content_region.width  # no sideways scrolling

        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        heading, rows = drawn(console.query_one("#log-heading")), drawn(log)
        assert "ROUTE" in heading and "TIME" in heading
        assert "/users/[id]" in rows
        route = heading.index("ROUTE")
        assert rows.splitlines()[0][route:].startswith("/users/[id]")  # under its heading


async def test_span_names_stay_whole_in_a_narrow_trace_pane(console: ConsoleApp) -> None:
    async with console.run_test(size=(80, 24)) as pilot:
        await request(console, pilot, "/users/7")
        trace = drawn(console.query_one("#trace"))
        # its row in the waterfall (the name is whole in the list of files below it anyway)
        row = next(line for line in trace.splitlines() if line.startswith("require_auth"))
        assert row.startswith("require_authenticated_user ") and "→" in row
        assert "LAYER" not in trace  # it gave way to the names

        await pilot.resize_terminal(200, 50)
        await pilot.pause()
        trace = drawn(console.query_one("#trace"))
        assert "LAYER" in trace and "CONTEXT +" in trace and "user, session" in trace


async def test_z_zooms_the_focused_pane_to_the_whole_screen_and_back(console: ConsoleApp) -> None:
    async with console.run_test(size=(80, 24)) as pilot:
        await request(console, pilot, "/users/7")
        whole = Region(0, 0, 80, 23)  # all but the footer
        left, log, details = (console.query_one(s) for s in ("#left", LogView, "#details"))

        await pilot.press("l", "z")
        assert log.region.width == 80 and log.region.bottom == 23
        assert not left.display and not details.display and not console.query_one("#status").display

        await pilot.press("t")  # focus moving to another pane while zoomed zooms that one
        assert left.region == whole and not console.query_one("#right").display

        await pilot.press("p")
        assert details.region == whole

        await pilot.press("z")
        assert left.display and log.display and details.display
        assert details.region.width < 80 and left.region.width < 80

        rows = {row.binding_id: row for row in console.binding_rows()}
        assert rows["app.zoom"].keys == "z"  # listed by `?` from the binding itself

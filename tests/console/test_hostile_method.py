"""A method with control characters (an app embedding the engine can pass any ASGI method) is
drawn with stand-ins in the list, the Request tab, the trace and the composer (issue 10 review)."""

from __future__ import annotations

import httpx
import pytest
from textual.widgets import Select, Static

from console.app import ConsoleApp
from console.screens.composer import ComposerScreen
from console.widgets.log_view import LogView
from engine.visible import UNSAFE
from tests.console.conftest import text_of, until

pytestmark = pytest.mark.anyio

METHOD = "GE\x1b]0;PWNED\x07T"
SHOWN = "GE␛]0;PWNED␇T"


def raw(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if c in UNSAFE and c != "\n"})


async def test_a_hostile_method_is_drawn_with_stand_ins(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        log = console.main.query_one(LogView)
        transport = httpx.ASGITransport(app=console.running.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.request(METHOD, "/users")
        await until(pilot, lambda: log.count == 1 and console.entry is not None)
        row = log.render_line(0).text
        assert raw(row) == [] and SHOWN[:6] in row
        for pane in ("#request", "#trace"):
            drawn = text_of(console.main.query_one(pane, Static).content)
            assert raw(drawn) == [] and SHOWN in drawn, pane
        log.focus()
        await pilot.press("e")
        screen = console.screen
        assert isinstance(screen, ComposerScreen)
        assert screen.query_one("#method", Select).value == SHOWN

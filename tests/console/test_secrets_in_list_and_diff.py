"""The request list's PATH column and the replay diff mask secrets as Request and Response do,
until the reveal key shows them (issue 10 review, item 5)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from console.app import ConsoleApp
from console.screens.dialogs import ViewerScreen
from console.widgets.log_view import LogView
from tests.conftest import SESSION_APP, write_app
from tests.console.conftest import text_of, until

pytestmark = pytest.mark.anyio


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:  # the conftest's `running` engine and `console` serve this app
    return write_app(tmp_path / "app", SESSION_APP)


async def test_list_path_column_masks_query_secrets_until_revealed(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        log = console.main.query_one(LogView)
        async with httpx.AsyncClient() as client:
            await client.get(f"{console.running.url}/login?token=qs-secret&p=2")
        await until(pilot, lambda: log.count == 1 and console.entry is not None)
        log.focus()
        row = log.render_line(0).text
        assert "qs-secret" not in row and "/login?token=%5Bredacted%5D" in row
        await pilot.press("v")
        await pilot.pause()
        assert "/login?token=qs-secret&p=2" in log.render_line(0).text
        await pilot.press("v")
        await pilot.pause()
        assert "qs-secret" not in log.render_line(0).text


async def test_replay_diff_masks_set_cookie_and_json_tokens_until_revealed(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        log = console.main.query_one(LogView)
        async with httpx.AsyncClient() as client:
            await client.get(f"{console.running.url}/login")
        await until(pilot, lambda: log.count == 1 and console.entry is not None)
        log.focus()
        await pilot.press("r")  # GET: no question asked
        await until(pilot, lambda: log.count == 2)
        await pilot.press("d")
        screen = console.screen
        assert isinstance(screen, ViewerScreen)
        body = text_of(screen.body)
        assert "tok-" not in body and "sid-" not in body, body
        assert "set-cookie: [redacted]" in body and '"token": "[redacted]"' in body and '"user": "ada"' in body
        assert "differs" in screen.title_text and "only in secret values, masked: v reveals" in screen.title_text
        await pilot.press("escape")
        await until(pilot, lambda: console.screen is not screen)
        await pilot.press("v", "d")
        screen = console.screen
        assert isinstance(screen, ViewerScreen)
        body = text_of(screen.body)
        assert "tok-" in body and "set-cookie: sid=sid-" in body

"""The console masks secrets on screen and in exports until asked (issue 10, item 2, console side)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import httpx
import pytest
from textual.widgets import OptionList

import engine
from console.app import ConsoleApp
from console.config import Config
from console.screens.dialogs import ExportScreen
from console.widgets.log_view import LogView
from tests.console.conftest import text_of, until

pytestmark = pytest.mark.anyio

SECRET_HEADERS = {
    "authorization": "Bearer s3cret-token",
    "cookie": "sid=c00kie",
    "x-session": "sess-1d",  # secret by the config's redact list
    "x-plain": "kept-as-is",
}


@pytest.fixture
def console(running: engine.Engine) -> ConsoleApp:
    return ConsoleApp(running, config=Config(redact=("x-session",)))


async def send_secrets(console: ConsoleApp, pilot: object) -> LogView:
    log = console.main.query_one(LogView)
    async with httpx.AsyncClient() as client:
        body = {"id": "2", "name": "Bo", "password": "hunter2"}  # /users answers it back
        response = await client.post(f"{console.running.url}/users", json=body, headers=SECRET_HEADERS)
        assert response.status_code == 201
    await until(pilot, lambda: log.count == 1 and console.entry is not None)
    log.focus()
    return log


def shown(console: ConsoleApp, selector: str) -> str:
    return text_of(console.main.query_one(selector).content)  # type: ignore[attr-defined]


async def test_request_and_response_mask_secrets_until_v_reveals_them(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await send_secrets(console, pilot)
        request, response = shown(console, "#request"), shown(console, "#response")
        for secret in ("s3cret-token", "c00kie", "sess-1d", "hunter2"):
            assert secret not in request
        assert "hunter2" not in response
        for name in ("authorization", "cookie", "x-session"):
            assert re.search(rf"{name}:\s+\[redacted\]", request), name
        assert "kept-as-is" in request and '"name": "Bo"' in request  # the rest is shown
        assert "secrets masked · v reveals" in request and "secrets masked · v reveals" in response
        await pilot.press("v")
        request = shown(console, "#request")
        assert "Bearer s3cret-token" in request and "sid=c00kie" in request and "hunter2" in request
        assert "secrets shown · v masks them" in request
        await pilot.press("v")
        assert "s3cret-token" not in shown(console, "#request")
        # The log keeps the real values: a replay sends the same token.
        entry = console.running.log.get(console.main.query_one(LogView).rows[0].id)
        assert entry is not None and ["authorization", "Bearer s3cret-token"] in entry["request"]["headers"]


async def test_export_masks_secrets_unless_the_with_secrets_choice_is_taken(
    console: ConsoleApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with console.run_test(size=(160, 45)) as pilot:
        await send_secrets(console, pilot)

        async def export(option: str, har: Path | None = None) -> None:
            await pilot.press("x")
            screen = console.screen
            assert isinstance(screen, ExportScreen)
            if har is not None:
                screen.query_one("#har-path").value = str(har)  # type: ignore[attr-defined]
            options = screen.query_one(OptionList)
            options.highlighted = options.get_option_index(option)
            await pilot.press("enter")
            await until(pilot, lambda: console.screen is not screen)

        await export("curl")
        assert "authorization: [redacted]" in console.clipboard and "s3cret" not in console.clipboard
        assert "sess-1d" not in console.clipboard and "hunter2" not in console.clipboard
        await export("curl-secrets")
        assert "authorization: Bearer s3cret-token" in console.clipboard and "hunter2" in console.clipboard

        masked, revealed = tmp_path / "masked.har", tmp_path / "revealed.har"
        await export("har", masked)
        await until(pilot, masked.exists)
        await export("har-secrets", revealed)
        await until(pilot, revealed.exists)
        await until(pilot, lambda: masked.stat().st_size > 0 and revealed.stat().st_size > 0)

        http_masked, http_revealed = tmp_path / "masked.http", tmp_path / "revealed.har"  # .har: made .http
        await export("http", http_masked)
        await export("http-secrets", http_revealed)
        http_revealed = http_revealed.with_suffix(".http")
        await until(pilot, lambda: http_masked.exists() and http_revealed.exists())
        await until(pilot, lambda: http_masked.stat().st_size > 0 and http_revealed.stat().st_size > 0)
    assert "s3cret" not in http_masked.read_text() and "authorization: [redacted]" in http_masked.read_text()
    assert "authorization: Bearer s3cret-token" in http_revealed.read_text()
    assert stat.S_IMODE(http_masked.stat().st_mode) == 0o600
    masked_har, revealed_har = json.loads(masked.read_text()), json.loads(revealed.read_text())
    assert "s3cret" not in masked.read_text() and "hunter2" not in masked.read_text()
    headers = {h["name"]: h["value"] for h in revealed_har["log"]["entries"][0]["request"]["headers"]}
    assert headers["authorization"] == "Bearer s3cret-token" and headers["x-session"] == "sess-1d"
    assert (
        masked_har["log"]["entries"][0]["request"]["headers"] != revealed_har["log"]["entries"][0]["request"]["headers"]
    )
    assert stat.S_IMODE(revealed.stat().st_mode) == 0o600
    assert stat.S_IMODE(masked.stat().st_mode) == 0o600  # a masked export still names hosts, paths, bodies

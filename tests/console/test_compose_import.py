"""The composer takes requests from elsewhere: a `.http` file (a round trip of `log --http`),
a curl command from the palette, and a curl command pasted into the path field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.widgets import Input, OptionList, Select, Static, TextArea

from console.app import ConsoleApp
from console.screens.composer import ComposerScreen
from console.screens.dialogs import ImportCurlScreen, OpenHttpScreen
from engine.httpfile import to_http
from tests.console.conftest import text_of, until
from tests.console.test_console import logged

pytestmark = pytest.mark.anyio

CURL = (
    "curl 'http://example.test:9999/users?dry=no' \\\n"
    "  -H 'Content-Type: application/json' -H $'X-Note: it\\'s me' \\\n"
    '  --data-raw \'{"id": "5", "name": "Ed"}\' --compressed'
)


async def palette(console: ConsoleApp, pilot: Any, command: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.pause()
    console.screen.query_one(Input).value = command
    await until(pilot, lambda: command in str(console.screen.query_one(OptionList).get_option_at_index(0).prompt))
    await pilot.press("enter")
    await pilot.pause()


async def open_http(console: ConsoleApp, pilot: Any, path: Path) -> OpenHttpScreen:
    """The palette's "composer: open .http file", with `path` typed and entered."""
    await palette(console, pilot, "composer: open .http file")
    dialog = console.screen
    assert isinstance(dialog, OpenHttpScreen)
    dialog.query_one("#http-path", Input).value = str(path)
    await pilot.press("enter")
    await pilot.pause()
    return dialog


def fields(screen: ComposerScreen) -> dict[str, str]:
    return {
        "method": str(screen.query_one("#method", Select).value),
        "path": screen.query_one("#path", Input).value,
        "query": screen.query_one("#query", TextArea).text,
        "headers": screen.query_one("#headers", TextArea).text,
        "body": screen.query_one("#body", TextArea).text,
        "kind": str(screen.query_one("#body-kind", Select).value),
    }


async def test_a_logged_request_exported_as_http_opens_in_the_composer_and_sends_the_same(
    console: ConsoleApp, tmp_path: Path
) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await logged(console, pilot, "GET", "/users/7")
        await logged(console, pilot, "POST", "/users?dry=no", json={"id": "4", "name": "Di"}, headers={"x-note": "hi"})
        text, _ = to_http(console.running.log.entries())
        exported = tmp_path / "requests.http"
        exported.write_text(text)

        dialog = await open_http(console, pilot, exported)
        options = dialog.query_one("#http-requests", OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == [
            "#1 GET /users/7 (200)",
            "#2 POST /users (201)",
        ]
        options.highlighted = 1
        await pilot.press("enter")
        await pilot.pause()
        screen = console.screen
        assert isinstance(screen, ComposerScreen)
        filled = fields(screen)
        assert (filled["method"], filled["path"], filled["query"], filled["kind"]) == (
            "POST",
            "/users",
            "dry=no",
            "json",
        )
        assert "x-note: hi" in filled["headers"]
        assert json.loads(filled["body"]) == {"id": "4", "name": "Di"}
        assert "a request from #2 POST /users (201)" in text_of(screen.query_one("#composer-title", Static).content)

        screen.query_one("#body", TextArea).text = '{"id": "6", "name": "Fay"}'
        await pilot.press("ctrl+j")
        await until(pilot, lambda: screen.last is not None)
        assert screen.last is not None and screen.last.status_code == 201
        sent = screen.last.request
        assert sent.headers["x-note"] == "hi" and sent.url.query == b"dry=no"


async def test_a_http_file_that_cannot_be_read_says_which_line(console: ConsoleApp, tmp_path: Path) -> None:
    broken = tmp_path / "broken.http"
    broken.write_text("GET http://localhost/{{host}}/x\n")
    async with console.run_test(size=(160, 45)) as pilot:
        dialog = await open_http(console, pilot, broken)
        said = text_of(dialog.query_one("#import-problem", Static).content)
        assert "line 1: {{host}} is not defined in this file" in said
        assert console.screen is dialog


async def test_a_http_file_lists_the_requests_it_can_read_and_names_the_others(
    console: ConsoleApp, tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed.http"
    mixed.write_text("### broken\nGET http://h/{{nope}}\n\n### fine\nGET http://h/users/7\n")
    async with console.run_test(size=(160, 45)) as pilot:
        dialog = await open_http(console, pilot, mixed)
        options = dialog.query_one("#http-requests", OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == ["fine"]
        said = text_of(dialog.query_one("#import-problem", Static).content)
        assert "1 requests: pick one" in said and "Skipped: line 2: {{nope}} is not defined" in said


async def test_import_curl_from_the_palette_fills_the_composer(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45)) as pilot:
        await palette(console, pilot, "composer: import curl")
        dialog = console.screen
        assert isinstance(dialog, ImportCurlScreen)
        dialog.query_one("#curl-text", TextArea).text = "curl --frobnicate http://h/"
        await pilot.press("ctrl+j")
        await pilot.pause()
        said = text_of(dialog.query_one("#import-problem", Static).content)
        assert "Cannot import: the option --frobnicate is not one routeconsole reads" in said
        dialog.query_one("#curl-text", TextArea).text = CURL
        await pilot.press("ctrl+j")
        await pilot.pause()
        screen = console.screen
        assert isinstance(screen, ComposerScreen)
        assert fields(screen) == {
            "method": "POST",
            "path": "/users",  # the composer sends to this app's server, whatever host the command named
            "query": "dry=no",
            "headers": "Content-Type: application/json\nX-Note: it's me",
            "body": '{"id": "5", "name": "Ed"}',
            "kind": "json",
        }
        await pilot.press("ctrl+j")
        await until(pilot, lambda: screen.last is not None)
        assert screen.last is not None and screen.last.status_code == 201


async def test_pasting_a_curl_command_into_the_path_field_fills_the_composer(console: ConsoleApp) -> None:
    async with console.run_test(size=(160, 45), notifications=True) as pilot:
        await palette(console, pilot, "composer: new request")
        screen = console.screen
        assert isinstance(screen, ComposerScreen)
        path = screen.query_one("#path", Input)
        path.focus()
        path.post_message(events.Paste("curl -F file=@a.png http://h/upload"))
        await pilot.pause()
        assert path.value == "/"  # nothing pasted, and a message says why
        said = " ".join(str(n.message) for n in console._notifications)
        assert "-F sends a multipart form" in said
        path.post_message(events.Paste("curl 'http://[::1/users'"))  # a host no URL parser reads
        await pilot.pause()
        assert console.is_running and path.value == "/"
        assert "cannot be read" in " ".join(str(n.message) for n in console._notifications)
        path.post_message(events.Paste(CURL))
        await pilot.pause()
        assert fields(screen)["path"] == "/users" and fields(screen)["method"] == "POST"
        assert "a pasted curl command" in text_of(screen.query_one("#composer-title", Static).content)
        path.post_message(events.Paste("/users/42"))  # an ordinary paste is an ordinary paste
        await pilot.pause()
        assert "/users/42" in path.value and path.value != "/users"

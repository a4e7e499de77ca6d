"""Hostile traffic and hostile route code never move the terminal: every view draws control
characters as visible stand-ins (issue 10, item 1).

The app below answers with escape sequences in bodies, headers, JSON keys and values,
exceptions, printed output, context keys and file names; requests carry them in headers and
bodies. Each view of the console is drawn and its screen checked for any character
`engine.visible.UNSAFE` names.
"""

from __future__ import annotations

import html
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import OptionList, Static, TabbedContent

from console.app import ConsoleApp
from console.screens.composer import ComposerScreen
from console.screens.dialogs import ExportScreen, ViewerScreen
from console.widgets.log_view import LogView
from engine.visible import UNSAFE
from tests.conftest import write_app
from tests.console.conftest import text_of, until
from tests.console.test_console import select_route

pytestmark = pytest.mark.anyio

# Retitle the terminal, clear it, a C1 CSI, a carriage return, a right-to-left override.
HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\x9b31m\r\u202eevil"
# What HTTP/1.1 lets through in a header value: no CR, and one byte per character.
HOSTILE_HEADER = "\x1b]0;PWNED\x07\x1b[2J\x9b31m"
EVIL_DIR = "evil\x1b]0;PWNED\x07"  # not a valid segment: listed, not served
BELL_DIR = "bell\x07\x9b\u202e"  # served: requests match it and the log shows its pattern

HOSTILE_APP = {
    # The source itself holds raw control characters, for the source views.
    "route.py": (
        "from engine import Response\n"
        f"H = {HOSTILE!r}  # \x1b]0;PWNED\x07 \u202e\n"
        f"def GET():\n    return Response(H, headers={{'x-evil': {HOSTILE_HEADER!r}}})\n"
    ),
    "json/route.py": f"H = {HOSTILE!r}\ndef GET():\n    return {{H: [H, {{'nested': H}}]}}\n",
    # JSON escapes: json.loads turns them into raw control characters when pretty-printing.
    "escaped/route.py": (
        "from engine import Response\n"
        "def GET():\n"
        '    body = \'{"k\\\\u001b]0;PWNED\\\\u0007": "v\\\\u001b[2J\\\\u009b\\\\u202e"}\'\n'
        "    return Response(body, headers={'content-type': 'application/json'})\n"
    ),
    "boom/route.py": f"def GET():\n    raise RuntimeError({HOSTILE!r})\n",
    # Prints, and adds a context key.
    "noisy/route.py": (
        f"import sys\nH = {HOSTILE!r}\n"
        "async def mark(request, next):\n    return await next(context={H: 1})\n"
        "middleware = [mark]\n"
        "def GET():\n    print(H)\n    print(H, file=sys.stderr)\n    return 'ok'\n"
    ),
    "echo/route.py": "async def POST(request):\n    return await request.text()\n",
    f"{EVIL_DIR}/route.py": "def GET():\n    return 'x'  # \x1b[2J\u202e\n",
    f"{BELL_DIR}/route.py": "def GET():\n    return 'ding'\n",
    # Two files for one URL: a problem whose message and side-by-side sources name them.
    "(g\x1b[2J)/dup/route.py": "def GET():\n    return 1  # \x1b]0;PWNED\x07\n",
    "dup/route.py": "def GET():\n    return 2\n",
}

REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/", {}),
    ("GET", "/json", {}),
    ("GET", "/escaped", {}),
    ("GET", "/boom", {}),
    ("GET", "/noisy", {}),
    ("GET", "/%1b]0;PWNED%07?q=%1b%9b", {}),
    ("GET", "/bell%07%C2%9B%E2%80%AE", {}),
    ("POST", "/echo", {"content": HOSTILE.encode(), "headers": {"content-type": "text/plain"}}),
    ("POST", "/echo", {"json": {HOSTILE: HOSTILE}}),
]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app", HOSTILE_APP)


def drawn(app: ConsoleApp) -> str:
    """The screen as drawn, and what it is asserted never holds: a raw control character."""
    svg = app.export_screenshot()
    raw = sorted({f"U+{ord(c):04X}" for c in svg if c in UNSAFE and c != "\n"})
    assert not raw, f"raw control characters on screen: {raw}"
    # The text of the SVG, without its markup and without spaces (it leaves out blank runs).
    return re.sub(r"\s", "", html.unescape(re.sub(r"<[^>]*>", "", svg)))


def says(screen: str, text: str) -> bool:
    return re.sub(r"\s", "", text) in screen


async def fire(console: ConsoleApp, pilot: Any) -> LogView:
    log = console.main.query_one(LogView)
    async with httpx.AsyncClient(timeout=10) as client:
        for method, path, options in REQUESTS:
            extra = dict(options)
            headers = {"x-hostile": HOSTILE_HEADER.encode("latin-1"), **extra.pop("headers", {})}
            await client.request(method, f"{console.running.url}{path}", headers=headers, **extra)
    await until(pilot, lambda: log.count == len(REQUESTS))
    return log


async def test_every_view_draws_hostile_text_as_visible_stand_ins(console: ConsoleApp) -> None:
    console.animation_level = "none"  # the tabs' underline slides otherwise: a pause per tab
    async with console.run_test(size=(150, 45), notifications=True) as pilot:
        log = await fire(console, pilot)
        shown = drawn(console)
        assert says(shown, "evil␛]0;PWNED␇")  # the tree shows the hostile folder, made visible
        assert says(shown, "/bell␇\\x9b\\u202e")  # the log lists its pattern
        tabs = console.query_one(TabbedContent)
        log.focus()
        seen = ""
        for index in range(log.count):
            log.cursor = index
            row_id = log.rows[index].id
            await until(pilot, lambda: console.entry is not None and console.entry["id"] == row_id)  # noqa: B023
            for tab in ("trace-tab", "request-tab", "response-tab"):
                tabs.active = tab
                await pilot.pause()
                seen += drawn(console)
        # The stand-ins are there: the text is shown, not dropped.
        assert says(seen, "␛]0;PWNED␇␛[2J\\x9b31m")  # bodies, header values
        assert says(seen, "\\u202eevil")
        assert says(seen, '"k\\u001b]0;PWNED\\u0007": "v\\u001b[2J\\x9b\\u202e"')  # escaped JSON, pretty-printed
        assert says(seen, "RuntimeError")  # the traceback
        tabs.active = "server-tab"
        await until(pilot, lambda: says(drawn(console), "stdout: ␛]0;PWNED"))
        await pilot.press("p")
        problems = console.query_one("#problems", OptionList)
        for index in range(problems.option_count):
            problems.highlighted = index
            await pilot.pause()
            drawn(console)
        assert says(drawn(console), "(g␛[2J)/dup/route.py")

        # The source of a route, from the log (`s`) and from the tree.
        log.focus()
        log.cursor = 0
        await until(pilot, lambda: console.entry is not None and console.entry["path"] == "/")
        await pilot.press("s")
        assert isinstance(console.screen, ViewerScreen)
        assert says(drawn(console), "PWNED␇")
        await pilot.press("escape")
        select_route(console, f"/{EVIL_DIR}")
        await pilot.press("s")
        assert isinstance(console.screen, ViewerScreen)
        assert says(drawn(console), "\\u202e")
        await pilot.press("escape")

        # Replay `/`, then the diff of the two answers; the toasts quote the path.
        log.focus()
        log.cursor = 0
        await pilot.press("r")
        await until(pilot, lambda: log.count == len(REQUESTS) + 1)
        log.cursor = 0
        await pilot.pause()
        await pilot.press("d")
        assert isinstance(console.screen, ViewerScreen)
        assert says(drawn(console), "␛]0;PWNED")
        await pilot.press("escape")

        # Copy as curl: the toast shows the command, hostile header and all.
        log.cursor = 1
        await pilot.press("x")
        assert isinstance(console.screen, ExportScreen)
        await pilot.press("enter")
        await until(pilot, lambda: says(drawn(console), "Copied as curl"))

        # The composer's response, and an edited replay of the hostile request.
        select_route(console, "/json")
        await pilot.press("enter")
        composer = console.screen
        assert isinstance(composer, ComposerScreen)
        await pilot.press("ctrl+j")
        await until(pilot, lambda: composer.last is not None)
        await pilot.pause()
        assert says(drawn(console), "␛]0;PWNED␇")
        await pilot.press("escape")

        # A logged request with hostile headers and body, loaded into the composer (`e`).
        log.focus()
        log.cursor = len(REQUESTS) - 1
        await pilot.press("e")
        composer = console.screen
        assert isinstance(composer, ComposerScreen)
        await pilot.pause()
        drawn(console)
        await pilot.press("ctrl+j")
        response = composer.query_one("#response", Static)
        await until(pilot, lambda: "Not sent: the x-hostile header holds '␛'" in text_of(response.content))
        drawn(console)


TMUX = shutil.which("tmux")


def pane(socket: str, *command: str) -> str:
    return subprocess.run(["tmux", "-S", socket, *command], capture_output=True, text=True, timeout=10).stdout


def wait_for_pane(socket: str, wanted: str, timeout: float = 15.0, *, gone: str = "") -> str:
    """The pane's text once it shows `wanted` (and no longer shows `gone`)."""
    deadline = time.monotonic() + timeout
    while True:
        screen = pane(socket, "capture-pane", "-p")
        if wanted in screen and not (gone and gone in screen):
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"the pane never showed {wanted!r}:\n{screen}")
        time.sleep(0.05)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_a_real_terminal_keeps_its_title_and_screen(app_dir: Path, tmp_path: Path) -> None:
    """The console in tmux, hostile requests selected and their tabs shown: the pane's title is
    not PWNED and the console's header and footer are still on the screen (not cleared)."""
    socket = str(tmp_path / "tmux.sock")  # a server of its own, gone with the test's folder
    # 64 rows: the Server log shows /boom's traceback and what /noisy printed together, in
    # whichever order they arrive (a traceback comes over the app's channel, a print over its stdout).
    routeconsole = Path(sys.executable).parent / "routeconsole"
    command = shlex.join(
        ["env", f"XDG_CONFIG_HOME={tmp_path}", str(routeconsole), str(app_dir), "--port", "0", "--no-log"]
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TMUX")}
    subprocess.run(
        ["tmux", "-S", socket, "new-session", "-d", "-x", "120", "-y", "64", command],
        check=True, timeout=10, env=environment,
    )  # fmt: skip
    try:
        url = re.search(r"http://127\.0\.0\.1:\d+", wait_for_pane(socket, "http://127.0.0.1:"))
        assert url is not None
        title = pane(socket, "display", "-p", "#{pane_title}")
        with httpx.Client(timeout=10) as client:
            for path in ("/", "/boom", "/noisy"):
                client.get(f"{url.group(0)}{path}", headers={"x-hostile": HOSTILE_HEADER.encode("latin-1")})
        wait_for_pane(socket, "/noisy")
        pane(socket, "send-keys", "l")  # the request list
        for row, path in enumerate(("/noisy", "/boom", "/")):
            if row:
                pane(socket, "send-keys", "Up")
            wait_for_pane(socket, f"GET {path} ")  # the trace's title line
            pane(socket, "send-keys", "]")
            wait_for_pane(socket, "x-hostile:")  # Request
            pane(socket, "send-keys", "]")
            wait_for_pane(socket, "content-type:")  # Response
            pane(socket, "send-keys", "]", "]")
            wait_for_pane(socket, "stdout:")  # Server log: what /noisy printed
            pane(socket, "send-keys", "]", "]")  # past Match, back to Trace
        screen = wait_for_pane(socket, "SPAN")  # back to the Trace tab
        # Only what changes is drawn again: a cleared screen would have lost the header.
        assert screen.startswith(" routeconsole ")
        assert pane(socket, "display", "-p", "#{pane_title}") == title != "PWNED"
        pane(socket, "send-keys", "s")  # route.py's source, a raw ESC in a comment
        assert "␛]0;PWNED␇" in wait_for_pane(socket, "def GET")  # shown, as stand-ins
        pane(socket, "send-keys", "Escape")
        wait_for_pane(socket, "^p palette", gone="def GET")
        assert pane(socket, "display", "-p", "#{pane_title}") == title
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True, timeout=10)

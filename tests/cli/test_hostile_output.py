"""The command line's tables for people never print a control character from traffic, route
code or file names raw: they show visible stand-ins (issue 10, item 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

import engine
from engine.visible import UNSAFE
from tests.conftest import write_app

ROUTECONSOLE = str(Path(sys.executable).parent / "routeconsole")
HOSTILE = "\x1b]0;PWNED\x07\x1b[2J\x9b31m\r\u202eevil"
BELL_DIR = "bell\x07\x9b\u202e"  # a valid static segment: served, matched, logged
BELL_PATH = "/bell%07%C2%9B%E2%80%AE"

APP = {
    f"{BELL_DIR}/route.py": "def GET():\n    return 'ding'\n",
    # Answers differently each time, so a replay prints a diff of the hostile bodies.
    "count/route.py": f"import uuid\ndef GET():\n    return {HOSTILE!r} + uuid.uuid4().hex\n",
    "evil\x1b]0;PWNED\x07/route.py": "def GET():\n    return 'x'\n",  # an invalid segment: a problem
}


def run(*args: object) -> str:
    out = subprocess.run([ROUTECONSOLE, *map(str, args)], capture_output=True, text=True, timeout=60)
    return out.stdout + out.stderr


def raw_controls(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if c in UNSAFE and c != "\n"})


def test_log_match_list_and_replay_show_control_characters_as_stand_ins(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", APP)
    log = tmp_path / "log.sqlite3"
    running = engine.Engine(app, port=0, log=log, reload=False)
    url = running.start()
    try:
        assert httpx.get(f"{url}{BELL_PATH}").text == "ding"
        assert httpx.get(f"{url}/count").status_code == 200
        httpx.get(f"{url}/%1b]0;PWNED%07?q=%1b%9b", headers={"x-h": HOSTILE[:14].encode("latin-1")})
    finally:
        running.stop()
    outputs = {
        "log": run("log", app, "--log", log),
        "match": run("match", app, BELL_PATH),
        "match-encoded": run("match", app, "/%1b]0;PWNED%07"),
        "list": run("list", app),
        "check": run("check", app),
        "replay": run("replay", app, "2", "--log", log),
    }
    for command, text in outputs.items():
        assert raw_controls(text) == [], f"{command} printed raw control characters:\n{text}"
    assert "/bell␇\\x9b\\u202e" in outputs["log"]
    assert "/bell␇\\x9b\\u202e" in outputs["match"] and "bell␇\\x9b\\u202e/route.py" in outputs["match"]
    assert "evil␛]0;PWNED␇/route.py" in outputs["list"] and "evil␛]0;PWNED␇/route.py" in outputs["check"]
    assert "␛]0;PWNED␇␛[2J\\x9b31m" in outputs["replay"] and "\\u202eevil" in outputs["replay"]  # the diff
    assert "differs" in outputs["replay"]

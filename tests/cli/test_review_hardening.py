"""What the command line writes to a terminal or a file, hardened (issue 10 review): log records
from route code, `--json`, HAR files' mode, and secrets in the tables and diffs."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import engine
from engine.visible import UNSAFE
from tests.cli.test_log_replay import ROUTECONSOLE
from tests.conftest import SESSION_APP, write_app

HOSTILE_ERROR = "\x1b]0;PWNED\x07\x1b[2J"


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ROUTECONSOLE, *map(str, args)], capture_output=True, text=True, timeout=60)


@contextmanager
def serving(app: Path, *args: str) -> Iterator[str]:
    """`serve APP` on a free port; its stderr is in `stderr[0]` once the block ends."""
    with subprocess.Popen(
        [ROUTECONSOLE, "serve", str(app), "--port", "0", "--no-reload", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
            assert url
            yield url.group(0)
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            STDERR.append(err)


STDERR: list[str] = []


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_logs_route_code_exceptions_with_stand_ins(tmp_path: Path, workers: str) -> None:
    app = write_app(tmp_path / "app", {"boom/route.py": f"def GET():\n    raise RuntimeError({HOSTILE_ERROR!r})\n"})
    with serving(app, "--no-log", "--workers", workers) as url:
        assert httpx.get(f"{url}/boom", timeout=30).status_code == 500
    stderr = STDERR.pop()
    assert "RuntimeError" in stderr, stderr
    assert "\x1b" not in stderr and "\x07" not in stderr
    assert "␛]0;PWNED␇␛[2J" in stderr


def test_replay_in_process_logs_route_code_exceptions_with_stand_ins(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"boom/route.py": "def GET():\n    return 'fine'\n"})
    log = tmp_path / "log.sqlite3"
    with serving(app, "--log", str(log)) as url:
        assert httpx.get(f"{url}/boom").text == "fine"
    (app / "boom" / "route.py").write_text(f"def GET():\n    raise RuntimeError({HOSTILE_ERROR!r})\n")
    result = run("replay", app, "1", "--log", log)
    assert result.returncode == 1 and "RuntimeError" in result.stderr, result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "␛]0;PWNED␇␛[2J" in result.stderr


def test_json_output_escapes_what_json_dumps_leaves_raw(tmp_path: Path) -> None:
    folder = "odd\x9b\u202e\u2028\x7f"
    app = write_app(tmp_path / "app", {f"{folder}/route.py": "def GET():\n    return 'ok'\n"})
    listed = run("list", app, "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted({f"U+{ord(c):04X}" for c in listed.stdout if c in UNSAFE and c != "\n"}) == []
    assert f"/{folder}" in [route["pattern"] for route in json.loads(listed.stdout)["routes"]]

    log = tmp_path / "log.sqlite3"
    with serving(app, "--log", str(log)) as url:
        httpx.get(f"{url}/echo", headers={"x-odd": b"a\x9bb"})
    logged = run("log", app, "--log", log, "--json")
    assert logged.returncode == 0, logged.stderr
    assert sorted({f"U+{ord(c):04X}" for c in logged.stdout if c in UNSAFE and c != "\n"}) == []
    (entry,) = json.loads(logged.stdout)
    assert ["x-odd", "a\x9bb"] in entry["request"]["headers"]


@pytest.mark.parametrize("reveal", [[], ["--reveal"]], ids=["masked", "revealed"])
def test_har_files_are_readable_only_by_their_owner(tmp_path: Path, reveal: list[str]) -> None:
    app = write_app(tmp_path / "app", {"echo/route.py": "def GET():\n    return 'ok'\n"})
    log = tmp_path / "log.sqlite3"
    with serving(app, "--log", str(log)) as url:
        httpx.get(f"{url}/echo", headers={"authorization": "Bearer live-token"})
    fresh, existing = tmp_path / "fresh.har", tmp_path / "existing.har"
    existing.write_text("old")
    existing.chmod(0o644)
    for har in (fresh, existing):
        result = run("log", app, "--log", log, "--har", har, *reveal)
        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE(har.stat().st_mode) == 0o600
        assert ("live-token" in har.read_text()) == bool(reveal)




@pytest.fixture
def session_log(tmp_path: Path) -> tuple[Path, Path]:
    app = write_app(tmp_path / "app", SESSION_APP)
    log = tmp_path / "log.sqlite3"
    with serving(app, "--log", str(log)) as url:
        httpx.get(f"{url}/login?access_token=qs-secret&page=2")
    return app, log


def test_log_table_masks_query_secrets_unless_revealed(session_log: tuple[Path, Path]) -> None:
    app, log = session_log
    table = run("log", app, "--log", log).stdout
    assert "qs-secret" not in table and "/login?access_token=%5Bredacted%5D&page=2" in table
    assert "/login?access_token=qs-secret&page=2" in run("log", app, "--log", log, "--reveal").stdout


def test_replay_diffs_mask_secrets_unless_revealed(session_log: tuple[Path, Path]) -> None:
    app, log = session_log
    human = run("replay", app, "1", "--log", log)
    assert human.returncode == 1, human.stderr  # the answers differ (in their secrets)
    assert "tok-" not in human.stdout and "sid-" not in human.stdout, human.stdout
    (result,) = json.loads(run("replay", app, "1", "--log", log, "--json").stdout)
    assert not result["same"]
    assert "tok-" not in result["diff"] and "sid-" not in result["diff"]
    assert "differ only in secret values, masked here" in result["diff"]

    revealed = run("replay", app, "1", "--log", log, "--reveal")
    assert "tok-" in revealed.stdout and "set-cookie: sid=sid-" in revealed.stdout
    (result,) = json.loads(run("replay", app, "1", "--log", log, "--json", "--reveal").stdout)
    assert '"token": "tok-' in result["diff"] and "set-cookie: sid=sid-" in result["diff"]


def test_replay_diff_shows_masked_lines_where_the_rest_differs(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", SESSION_APP)
    log = tmp_path / "log.sqlite3"
    with serving(app, "--log", str(log)) as url:
        httpx.get(f"{url}/login")
    (app / "login" / "route.py").write_text(SESSION_APP["login/route.py"].replace("'ada'", "'bo'"))
    (result,) = json.loads(run("replay", app, "1", "--log", log, "--json").stdout)
    assert '-  "user": "ada"' in result["diff"] and '+  "user": "bo"' in result["diff"]
    assert "tok-" not in result["diff"] and "sid-" not in result["diff"]


def test_log_and_replay_tables_show_a_hostile_method_with_stand_ins(tmp_path: Path) -> None:
    """An app embedding the engine can pass any ASGI method, control characters included."""
    app = write_app(tmp_path / "app", {"users/route.py": "def GET():\n    return 'ok'\n"})
    log = tmp_path / "log.sqlite3"
    running = engine.Engine(app, port=0, log=log, reload=False)
    running.start()

    async def send() -> None:
        transport = httpx.ASGITransport(app=running.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.request("GE\x1b]0;PWNED\x07T", "/users")

    try:
        asyncio.run(send())
    finally:
        running.stop()
    outputs = {"log": run("log", app, "--log", log), "replay": run("replay", app, "1", "--log", log)}
    for command, result in outputs.items():
        text = result.stdout + result.stderr
        assert sorted({f"U+{ord(c):04X}" for c in text if c in UNSAFE and c != "\n"}) == [], command
        assert "GE␛]0;PWNED␇T" in result.stdout, (command, text)

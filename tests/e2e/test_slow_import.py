"""A route file whose import blocks holds up only its own route: the server listens, the
other routes and reloads of other files carry on, and it serves once its import ends."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

import engine
from engine.server import Server
from tests.conftest import write_app

ROUTECONSOLE = str(Path(sys.executable).parent / "routeconsole")


def blocking(flag: Path, answer: str) -> str:
    """A route module whose top level blocks until `flag` exists (a stand-in for a slow
    network call or a `time.sleep(40)` that a test can end)."""
    return (
        "import os, time\n"
        f"while not os.path.exists({str(flag)!r}):\n"
        "    time.sleep(0.01)\n"
        f"def GET():\n    return {answer!r}\n"
    )


def wait_for(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_blocking_import_answers_503_until_it_finishes(tmp_path: Path) -> None:
    flag = tmp_path / "release"
    app_dir = write_app(
        tmp_path / "app",
        {
            "slow/route.py": blocking(flag, "slow at last"),
            "fast/route.py": "def GET():\n    return 'fast'\n",
            "other/route.py": "def GET():\n    return 'other v1'\n",
        },
    )
    reloads: list[engine.RoutesReloaded] = []
    sink = engine.EventSink()
    sink.subscribe(lambda e: reloads.append(e) if isinstance(e, engine.RoutesReloaded) else None)
    app = engine.create_app(app_dir, import_grace=0.3, events=sink)
    server = Server(app, port=0)
    try:
        url = server.start()
        assert httpx.get(f"{url}/fast", timeout=5).text == "fast"
        r = httpx.get(f"{url}/slow", timeout=5)
        assert r.status_code == 503
        assert re.search(r"slow/route\.py still importing after \d+ s", r.text), r.text
        importing = [c for c in app.table.conflicts if c.kind == "importing"]
        assert [(c.severity, c.files) for c in importing] == [("warning", ("slow/route.py",))]

        # Saving another file reloads at once, and the slow one is still importing, not re-run.
        (app_dir / "other/route.py").write_text("def GET():\n    return 'other v2'\n")
        app.reload([app_dir / "other/route.py"])
        assert httpx.get(f"{url}/other", timeout=5).text == "other v2"
        assert httpx.get(f"{url}/slow", timeout=5).status_code == 503

        flag.touch()
        wait_for(lambda: httpx.get(f"{url}/slow", timeout=5).status_code == 200)
        assert httpx.get(f"{url}/slow", timeout=5).text == "slow at last"
        assert not [c for c in app.table.conflicts if c.kind == "importing"]
        sink.flush()
        assert reloads[-1].changed == ("slow/route.py",)
    finally:
        flag.touch()
        server.stop()
        app.close()


def test_a_module_that_fails_after_a_slow_import_is_a_load_error(tmp_path: Path) -> None:
    flag = tmp_path / "release"
    source = blocking(flag, "never") + "raise SystemExit('gave up')\n"
    app = engine.create_app(write_app(tmp_path / "app", {"slow/route.py": source}), import_grace=0.2)
    try:
        assert [c.kind for c in app.table.conflicts] == ["importing"]
        flag.touch()
        wait_for(lambda: [c.kind for c in app.table.conflicts] == ["load-error"])
        assert "SystemExit: gave up" in app.table.conflicts[0].message
    finally:
        flag.touch()
        app.close()


def test_serve_listens_while_a_route_is_still_importing(tmp_path: Path) -> None:
    flag = tmp_path / "release"
    app_dir = write_app(
        tmp_path / "app",
        {"slow/route.py": blocking(flag, "slow"), "route.py": "def GET():\n    return 'home'\n"},
    )
    proc = subprocess.Popen(
        [ROUTECONSOLE, "serve", str(app_dir), "--port", "0", "--no-log", "--no-reload", "--import-grace", "0.5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url is not None, line
        assert httpx.get(url.group(0) + "/", timeout=5).text == "home"
        assert httpx.get(url.group(0) + "/slow", timeout=5).status_code == 503
        flag.touch()
        wait_for(lambda: httpx.get(url.group(0) + "/slow", timeout=5).text == "slow")
    finally:
        flag.touch()
        proc.terminate()
        proc.communicate(timeout=10)


def test_blocking_files_behind_a_failing_layout_never_hold_up_the_load(tmp_path: Path) -> None:
    # The layout fails, so its routes' modules (queued all the same) are never waited for: they
    # must not keep the importer's threads from the files after them, and the load must end.
    flag = tmp_path / "release"
    files = {"_auth.py": "raise RuntimeError('no auth')\n", "zz.py": "def GET():\n    return 'zz'\n"}
    files.update({f"_auth/a{n}.py": blocking(flag, f"a{n}") for n in range(8)})
    app_dir = write_app(tmp_path / "app", files)
    made: list[engine.RouteApp] = []
    loading = threading.Thread(
        target=lambda: made.append(engine.create_app(app_dir, convention="tanstack", import_grace=0.2)), daemon=True
    )
    try:
        loading.start()
        loading.join(timeout=30)
        assert not loading.is_alive(), "the load never ended"
        app = made[0]
        assert app.table.match("GET", "/zz").status == 200
        assert not [c for c in app.table.conflicts if "zz.py" in c.files]
        app.close()
    finally:
        flag.touch()

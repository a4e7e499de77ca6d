"""`engine.asgi:create`, the factory for running an app under any ASGI server: here hypercorn's
own command with two worker processes, every request in the one log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROUTECONSOLE, write_app

HYPERCORN = str(Path(sys.executable).parent / "hypercorn")
APP = {"who/[name]/route.py": "import os\ndef GET(params):\n    return {'name': params['name'], 'pid': os.getpid()}\n"}


def test_hypercorn_workers_serve_the_factory_and_share_one_log(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", APP)
    log = tmp_path / "shared.sqlite3"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    env = {**os.environ, "ROUTECONSOLE_APP": str(app), "ROUTECONSOLE_LOG": str(log)}
    command = [HYPERCORN, "engine.asgi:create()", "--workers", "2", "--bind", f"fd://{listener.fileno()}"]
    with subprocess.Popen(
        command, env=env, pass_fds=(listener.fileno(),), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        listener.close()
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        first = client.get("/who/0")
                        break
                    except httpx.TransportError:
                        assert proc.poll() is None and time.monotonic() < deadline, "hypercorn never answered"
                        time.sleep(0.1)
                answers = [first] + [client.get(f"/who/{n}") for n in range(1, 40)]
            assert [a.json()["name"] for a in answers] == [str(n) for n in range(40)]
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    logged = json.loads(
        subprocess.run(
            [ROUTECONSOLE, "log", str(app), "--log", str(log), "--json"], capture_output=True, text=True, timeout=60
        ).stdout
    )
    assert sorted(e["path"] for e in logged) == sorted(f"/who/{n}" for n in range(40))
    assert {e["route"]["pattern"] for e in logged} == {"/who/[name]"}


def test_the_factory_without_its_variable_says_what_it_needs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROUTECONSOLE_APP"}
    done = subprocess.run(
        [sys.executable, "-c", "import engine.asgi; engine.asgi.create()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "engine.asgi:create needs ROUTECONSOLE_APP" in done.stderr

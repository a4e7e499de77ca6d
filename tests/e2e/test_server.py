"""The real server on 127.0.0.1 with an ephemeral port: embedded and `routeconsole serve`."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import engine
from engine.server import Server, is_loopback
from tests.conftest import write_app

ROUTECONSOLE = str(Path(sys.executable).parent / "routeconsole")

APP = {
    "users/[id]/route.py": "def GET(params):\n    return {'id': params['id']}\n",
    "slow/route.py": "import time\ndef GET():\n    time.sleep(1.0)\n    return 'slow'\n",
    "boom/route.py": "def GET():\n    raise RuntimeError('boom')\n",
    "stream/route.py": (
        "from engine import Response\ndef GET():\n    return Response(f'{i}\\n' for i in range(1000))\n"
    ),
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, list[engine.Trace]]]:
    sink = engine.EventSink()
    traces: list[engine.Trace] = []
    sink.subscribe(lambda e: traces.append(e.trace) if isinstance(e, engine.RequestFinished) else None)
    srv = Server(engine.create_app(write_app(tmp_path / "app", APP), events=sink), port=0)
    srv.start()
    yield srv, traces
    srv.stop()
    sink.flush()


def test_embedded_server_serves_on_loopback(server: tuple[Server, list[engine.Trace]]) -> None:
    srv, traces = server
    assert srv.url is not None and srv.url.startswith("http://127.0.0.1:")
    r = httpx.get(f"{srv.url}/users/42", timeout=5)
    assert (r.status_code, r.json()) == (200, {"id": "42"})
    assert (httpx.get(f"{srv.url}/boom", timeout=5)).status_code == 500
    assert len(httpx.get(f"{srv.url}/stream", timeout=5).text.splitlines()) == 1000
    srv.app.events.flush()
    assert [(t.path, t.status) for t in traces] == [("/users/42", 200), ("/boom", 500), ("/stream", 200)]
    assert traces[0].to_json()["client"].startswith("127.0.0.1:")


def test_embedded_server_runs_off_the_main_thread_and_stops(tmp_path: Path) -> None:
    app = engine.create_app(write_app(tmp_path / "app", APP))
    srv = Server(app, port=0)
    url = srv.start()
    threads = {t.name for t in threading.enumerate()}
    assert "routeconsole-server" in threads
    srv.stop()
    assert "routeconsole-server" not in {t.name for t in threading.enumerate()}
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_blocking_handlers_do_not_stall_other_requests(server: tuple[Server, list[engine.Trace]]) -> None:
    srv, _ = server
    results: dict[str, float] = {}

    def fetch(path: str) -> None:
        start = time.perf_counter()
        httpx.get(f"{srv.url}{path}", timeout=10)
        results[path] = time.perf_counter() - start

    slow = threading.Thread(target=fetch, args=("/slow",))
    slow.start()
    time.sleep(0.1)
    fetch("/users/1")
    # Ordering, not timing: the fast request finished while the slow one still slept.
    assert "/slow" not in results
    slow.join()
    assert results["/slow"] >= 1.0


def test_malformed_http_gets_400_and_the_server_lives(server: tuple[Server, list[engine.Trace]]) -> None:
    srv, _ = server
    assert srv.url is not None
    host, port = srv.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        reply = sock.recv(1024)
    assert reply.startswith(b"HTTP/1.1 400")
    assert httpx.get(f"{srv.url}/users/1", timeout=5).status_code == 200


@contextmanager
def serving(app: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`routeconsole serve APP --port 0`, its URL, and a clean reap whatever happens."""
    with subprocess.Popen(
        [ROUTECONSOLE, "serve", str(app), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert found, line
            yield proc, found.group(0)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_command_prints_url_and_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    with serving(write_app(tmp_path / "app", APP)) as (proc, url):
        assert httpx.get(f"{url}/users/7", timeout=5).json() == {"id": "7"}
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=15)
        assert proc.returncode == 0
        assert "Traceback" not in err


def test_serve_command_with_workers(tmp_path: Path) -> None:
    with serving(write_app(tmp_path / "app", APP), "--workers", "2") as (_, url):
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.get(f"{url}/users/3", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "workers never answered"
                time.sleep(0.2)
        assert r.json() == {"id": "3"}


def test_serve_command_reports_bad_input(tmp_path: Path) -> None:
    result = subprocess.run([ROUTECONSOLE, "serve", str(tmp_path / "missing")], capture_output=True, text=True)
    assert result.returncode == 2 and "no such directory" in result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback

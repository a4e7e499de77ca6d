"""The app in a process of its own, supervised: real child processes, real faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.channel import ChannelWriter, read_frames
from engine.feed import LogServer
from engine.store import RequestLog
from engine.supervisor import AppProcess
from tests.conftest import write_app

APP = {
    "ok/route.py": "def GET():\n    return 'ok'\n",
    "aspin/route.py": "async def GET():\n    while True:\n        pass\n",
    "die/route.py": "import os\ndef GET():\n    os._exit(1)\n",
    "spin/route.py": "def GET():\n    while True:\n        pass\n",
    "shout/route.py": "def GET():\n    print('hello from the route')\n    return 'printed'\n",
}


class Messages:
    """What the supervisor reported, in order, for tests to wait on."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def __call__(self, message: dict[str, Any]) -> None:
        with self._cond:
            self.items.append(message)
            self._cond.notify_all()

    def of(self, event: str) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.items if m["event"] == event]

    def wait_for(self, check: Callable[[], object], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check():
                left = deadline - time.monotonic()
                assert left > 0, f"timed out; got {[m['event'] for m in self.items]}"
                self._cond.wait(left)


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[tuple[AppProcess, Messages, Path]]:
    messages = Messages()
    log_path = tmp_path / "log.sqlite3"
    # The request log is written here, as the console writes it: fed by the app process.
    request_log = RequestLog(log_path)
    request_log.on_written = lambda rows: messages({"event": "logged", "rows": [r._asdict() for r in rows]})
    writer = LogServer(request_log)
    writer.start()
    app = AppProcess(write_app(tmp_path / "app", APP), feed=writer.address, on_message=messages)
    app.start()
    try:
        messages.wait_for(lambda: messages.of("started"))
        yield app, messages, log_path
    finally:
        app.stop()
        writer.stop()
        request_log.close()


def test_the_channel_carries_whole_frames_in_order() -> None:
    read_fd, write_fd = os.pipe()
    received: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: received.extend(read_frames(read_fd)))
    reader.start()
    writer = ChannelWriter(write_fd)
    sent = [{"event": "logged", "n": n, "text": "é\x1b" * n} for n in range(200)]  # more than a pipe holds
    for message in sent:
        writer.send(message)
    writer.close()
    reader.join(5)
    assert received == sent


def test_the_app_serves_from_its_own_process_and_reports_over_the_channel(
    supervised: tuple[AppProcess, Messages, Path],
) -> None:
    app, messages, _ = supervised
    assert app.pid is not None and app.pid != os.getpid()
    assert messages.of("started")[0]["url"] == app.url
    assert httpx.get(f"{app.url}/ok", timeout=5).text == "ok"
    assert httpx.get(f"{app.url}/shout", timeout=5).text == "printed"
    messages.wait_for(lambda: sum(len(m["rows"]) for m in messages.of("logged")) == 2)
    assert [r["path"] for m in messages.of("logged") for r in m["rows"]] == ["/ok", "/shout"]
    messages.wait_for(lambda: any(m["text"] == "hello from the route" for m in messages.of("output")))


def test_os_exit_in_a_handler_restarts_the_app_and_loses_no_logged_request(
    supervised: tuple[AppProcess, Messages, Path],
) -> None:
    app, messages, log_path = supervised
    first = app.pid
    for _ in range(3):
        assert httpx.get(f"{app.url}/ok", timeout=5).status_code == 200
    messages.wait_for(lambda: sum(len(m["rows"]) for m in messages.of("logged")) == 3)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{app.url}/die", timeout=5)
    messages.wait_for(lambda: messages.of("exited") and len(messages.of("started")) == 2)
    exited = messages.of("exited")[0]
    assert (exited["pid"], exited["returncode"], exited["signal"]) == (first, 1, None)
    assert app.pid not in (None, first)
    assert httpx.get(f"{app.url}/ok", timeout=5).text == "ok"  # the same URL after the restart
    messages.wait_for(lambda: sum(len(m["rows"]) for m in messages.of("logged")) == 4)
    log = RequestLog(log_path)
    try:
        assert [r.path for r in log.summaries()] == ["/ok"] * 4
    finally:
        log.close()


def test_os_exit_under_load_loses_no_answered_request(supervised: tuple[AppProcess, Messages, Path]) -> None:
    """Requests answered by the app process before it died are in the log, also under load:
    each trace reaches the log writer's socket before its response is complete."""
    app, messages, log_path = supervised
    answered: list[str] = []
    stop = threading.Event()

    def client(worker: int) -> None:
        with httpx.Client(base_url=str(app.url), timeout=5) as http:
            for n in range(10_000):
                if stop.is_set():
                    return
                query = f"w={worker}&n={n}"
                try:
                    if http.get(f"/ok?{query}").status_code == 200:
                        answered.append(query)
                except httpx.HTTPError:
                    return  # the process died under this connection

    threads = [threading.Thread(target=client, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(answered) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{app.url}/die", timeout=5)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(answered) >= 300
    messages.wait_for(lambda: messages.of("exited"))
    log = RequestLog(log_path)
    try:
        logged: set[str] = set()
        deadline = time.monotonic() + 10
        while not set(answered) <= logged and time.monotonic() < deadline:
            logged = {r.query for r in log.summaries()}
            time.sleep(0.05)
        assert set(answered) - logged == set()
    finally:
        log.close()


def test_restart_ends_a_handler_spinning_forever(supervised: tuple[AppProcess, Messages, Path]) -> None:
    app, messages, _ = supervised
    first = app.pid
    with pytest.raises(httpx.TimeoutException):
        httpx.get(f"{app.url}/spin", timeout=0.5)
    app.restart()
    messages.wait_for(lambda: len(messages.of("started")) == 2)
    assert httpx.get(f"{app.url}/ok", timeout=5).text == "ok"
    assert first is not None and _gone(first)
    assert messages.of("restarting") == []  # a restart asked for is not a crash to back off from


def test_a_file_that_segfaults_at_import_is_restarted_with_a_growing_delay(tmp_path: Path) -> None:
    messages = Messages()
    crash = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    app = AppProcess(write_app(tmp_path / "app", {"route.py": crash}), on_message=messages)
    app.start()
    try:
        messages.wait_for(lambda: len(messages.of("restarting")) >= 3)
        assert {m["signal"] for m in messages.of("exited")} == {"SIGSEGV"}
        delays = [m["delay"] for m in messages.of("restarting")]
        assert delays[:3] == [0.5, 1.0, 2.0]
        assert messages.of("started") == []
    finally:
        app.stop()
    assert app.pid is None


def _gone(pid: int, timeout: float = 2.0) -> bool:
    """Whether `pid` has ended (a zombie nobody reaped counts as ended) within `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def app_processes(app_dir: Path) -> list[int]:
    """The live app processes serving `app_dir` (by their command lines in /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                b"engine.child" in command
                and str(app_dir.resolve()).encode() in command
                and not _gone(int(entry.name), 0)
            ):
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_restarts_asked_at_once_leave_one_app_process(supervised: tuple[AppProcess, Messages, Path]) -> None:
    app, messages, _ = supervised
    first = app.pid
    for _ in range(3):
        app.restart()  # the ones in between may be stopped before they serve
    messages.wait_for(
        lambda: any(m["pid"] not in (first, None) and m["pid"] == app.pid for m in messages.of("started"))
    )
    assert app_processes(Path(app.app_dir)) == [app.pid]
    assert messages.of("exited") == []  # a restart asked for is not reported as a crash
    assert httpx.get(f"{app.url}/ok", timeout=5).text == "ok"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("stuck", [None, "/spin", "/aspin"], ids=["idle", "sync-spin", "async-spin"])
def test_the_app_process_never_outlives_a_killed_supervisor(tmp_path: Path, stuck: str | None) -> None:
    app_dir = write_app(tmp_path / "app", APP)
    script = textwrap.dedent(
        f"""
        import signal, threading
        from engine.supervisor import AppProcess
        started = threading.Event()
        app = AppProcess({str(app_dir)!r}, on_message=lambda m: m["event"] == "started" and started.set())
        app.start()
        started.wait(20)
        print(app.pid, app.url, flush=True)
        signal.pause()
        """
    )
    supervisor = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert supervisor.stdout is not None
        pid, url = supervisor.stdout.readline().split()
        child = int(pid)
        assert not _gone(child, timeout=0.1)
        if stuck is not None:  # a handler stuck in a loop: the event loop or a pool thread never yields
            with pytest.raises(httpx.TimeoutException):
                httpx.get(url + stuck, timeout=0.5)
        supervisor.send_signal(signal.SIGKILL)
        supervisor.wait(5)
        assert _gone(child, timeout=2.0), "the app process outlived its supervisor by 2 s"
    finally:
        supervisor.kill()
        supervisor.wait(5)
        if supervisor.stdout is not None:
            supervisor.stdout.close()


def _folder_named_engine(where: Path) -> Path:
    """A working directory holding the user's own package named `engine`."""
    (where / "engine").mkdir(parents=True)
    (where / "engine" / "__init__.py").write_text('raise SystemExit("this is the user\'s engine")\n')
    return where


def test_a_folder_named_engine_in_the_working_directory_is_not_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app process runs `python -P -m engine.child`: the working directory is not first on
    its sys.path, so a project's own `engine` package there does not replace this one."""
    monkeypatch.chdir(_folder_named_engine(tmp_path / "project"))
    messages = Messages()
    app = AppProcess(write_app(tmp_path / "app", APP), on_message=messages)
    app.start()
    try:
        messages.wait_for(lambda: messages.of("started") or messages.of("exited"))
        assert not messages.of("exited"), messages.items
        assert httpx.get(f"{app.url}/ok", timeout=5).text == "ok"
    finally:
        app.stop()

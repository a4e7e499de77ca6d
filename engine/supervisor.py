"""Run the app in a child process and keep it running, as uvicorn's `--reload` and Next's
dev server do: the user's code can exit, crash, spin or segfault, and the supervisor (the
console) stays up, says why, and starts it again.

    app = AppProcess("./app", port=0, log_path=path, on_message=print)
    url = app.start()      # binds 127.0.0.1 once; the URL outlives every restart
    app.restart()          # a handler stuck in a loop: SIGTERM, then SIGKILL
    app.stop()             # within `timeout` seconds, whatever the child does

`on_message(message)` is called on the supervisor's reader threads with each dict the child
sends over its channel (`started`, `reloaded`, `logged`, `record`: see `engine.child`) and
with the supervisor's own:

    {"event": "output", "stream": "stdout"|"stderr", "text": line}   what route code printed
    {"event": "exited", "pid", "returncode", "signal": "SIGSEGV"|None, "last_lines": [...]}
    {"event": "restarting", "delay": seconds, "failures": n}

A child that dies before it serves, or soon after, is restarted after a growing delay
(0.5 s, 1 s, 2 s ... up to 30 s), so a file that crashes at import never starts a storm
of processes; one that served a while is restarted at once.
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

from .app import DEFAULT_BODY_LIMIT
from .channel import ChannelError, read_frames
from .loader import IMPORT_GRACE
from .server import DEFAULT_HOST, bind_socket, url_of

log = logging.getLogger("routeconsole.supervisor")

STOP_GRACE: Final = 1.0  # seconds between SIGTERM and SIGKILL
HEALTHY_AFTER: Final = 5.0  # seconds of serving after which a crash is not a crash loop
FIRST_DELAY: Final = 0.5
MAX_DELAY: Final = 30.0
LAST_LINES: Final = 20  # lines of output kept to say why a child died

Message = dict[str, Any]


class AppProcess:
    def __init__(
        self,
        app_dir: str | Path,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        log_path: Path | None = None,
        convention: str | None = None,
        reload: bool = True,
        debug: bool = False,
        body_limit: int = DEFAULT_BODY_LIMIT,
        import_grace: float = IMPORT_GRACE,
        on_message: Callable[[Message], None] = lambda message: None,
    ) -> None:
        self.app_dir = Path(app_dir)
        self.host, self.port = host, port
        self.on_message = on_message
        self._args = [str(self.app_dir.resolve())]
        if log_path is not None:
            self._args += ["--log", str(log_path)]
        if convention:
            self._args += ["--convention", convention]
        if not reload:
            self._args.append("--no-reload")
        if debug:
            self._args.append("--debug")
        self._args += ["--body-limit", str(body_limit), "--import-grace", str(import_grace)]
        self._sock: socket.socket | None = None
        self.url: str | None = None
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._serving_since: float | None = None
        self._failures = 0
        self._stopping = False
        self._restart_timer: threading.Timer | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=LAST_LINES)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> str:
        """Bind the socket and start the app process; return the URL it serves."""
        self._sock = bind_socket(self.host, self.port)
        self.url = url_of(self._sock)
        self._spawn()
        return self.url

    def restart(self) -> None:
        """Stop the app process (SIGTERM, then SIGKILL) and start a new one at once."""
        with self._lock:
            self._cancel_timer()
            self._failures = 0
            process = self._process
            self._process = None  # its waiter sees it was replaced, and does not restart it
        if process is not None:
            _terminate(process, STOP_GRACE)
        self._spawn()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the app process within `timeout` seconds and release the socket."""
        with self._lock:
            self._stopping = True
            self._cancel_timer()
            process = self._process
        if process is not None:
            _terminate(process, max(0.1, timeout - 0.5))
        if self._sock is not None:
            self._sock.close()

    def _spawn(self) -> None:
        assert self._sock is not None
        read_fd, write_fd = os.pipe()
        os.set_inheritable(write_fd, True)
        sock_fd = self._sock.fileno()
        command = [
            sys.executable,
            "-m",
            "engine.child",
            *self._args,
            "--socket-fd",
            str(sock_fd),
            "--channel-fd",
            str(write_fd),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self._lock:
            if self._stopping:
                os.close(read_fd)
                os.close(write_fd)
                return
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,  # closed when this process dies: the child's cue to stop
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(sock_fd, write_fd),
                env=env,
            )
            os.close(write_fd)
            self._process = process
            self._started_at = time.monotonic()
            self._serving_since = None
        readers: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = [
            ("channel", self._read_channel, (read_fd, process)),
            ("stdout", self._read_output, (process.stdout, "stdout")),
            ("stderr", self._read_output, (process.stderr, "stderr")),
            ("wait", self._wait, (process,)),
        ]
        for name, target, args in readers:
            threading.Thread(target=target, args=args, name=f"routeconsole-{name}", daemon=True).start()

    def _read_channel(self, fd: int, process: subprocess.Popen[bytes]) -> None:
        try:
            for message in read_frames(fd):
                if message.get("event") == "started":
                    self._serving_since = time.monotonic()
                self._deliver(message)
        except ChannelError as exc:
            log.error("app process %s: %s", process.pid, exc)

    def _read_output(self, stream: IO[bytes], name: str) -> None:
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self._output.append(line)
                self._deliver({"event": "output", "stream": name, "text": line})

    def _wait(self, process: subprocess.Popen[bytes]) -> None:
        returncode = process.wait()
        if process.stdin is not None:
            process.stdin.close()
        time.sleep(0.05)  # the last lines it wrote are read by now
        signame = signal.Signals(-returncode).name if returncode < 0 else None
        self._deliver(
            {
                "event": "exited",
                "pid": process.pid,
                "returncode": returncode,
                "signal": signame,
                "last_lines": list(self._output),
            }
        )
        with self._lock:
            if self._stopping or self._process is not process:
                return  # stopped, or replaced by restart()
            served = self._serving_since
            if served is not None and time.monotonic() - served > HEALTHY_AFTER:
                self._failures = 0
                delay = 0.0
            else:
                self._failures += 1
                delay = min(FIRST_DELAY * 2 ** (self._failures - 1), MAX_DELAY)
            self._restart_timer = threading.Timer(delay, self._spawn)
            self._restart_timer.daemon = True
            self._restart_timer.start()
            failures = self._failures
        self._deliver({"event": "restarting", "delay": delay, "failures": failures})

    def _deliver(self, message: Message) -> None:
        try:
            self.on_message(message)
        except Exception:
            log.exception("a subscriber failed on %s", message.get("event"))

    def _cancel_timer(self) -> None:
        if self._restart_timer is not None:
            self._restart_timer.cancel()
            self._restart_timer = None


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

"""Run the app in a child process and keep it running, as uvicorn's `--reload` and Next's
dev server do: the user's code can exit, crash, spin or segfault, and the supervisor (the
console) stays up, says why, and starts it again.

    app = AppProcess("./app", port=0, feed=log_server.address, on_message=print)
    url = app.start()      # binds 127.0.0.1 once; the URL outlives every restart
    app.restart()          # a handler stuck in a loop: SIGTERM, then SIGKILL
    app.stop()             # within `timeout` seconds, whatever the child does

`on_message(message)` is called on the supervisor's reader threads with each dict the child
sends over its channel (`started`, `reloaded`, `record`: see `engine.child`) and
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
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from .app import DEFAULT_BODY_LIMIT, check_export, otlp_wanted
from .channel import ChannelError, read_frames
from .discovery import load_routes
from .errors import EngineError
from .events import AppExited, AppRestarting, EventSink, RoutesReloaded, ServerStarted
from .feed import LogServer
from .loader import IMPORT_GRACE
from .server import DEFAULT_HOST, bind_socket, url_of
from .store import RequestLog, choose_log_path
from .table import Conflict, RouteTable
from .watched import WatchedEngine

if TYPE_CHECKING:
    from .otel import TraceExport

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
        feed: str | None = None,
        convention: str | None = None,
        reload: bool = True,
        debug: bool = False,
        body_limit: int = DEFAULT_BODY_LIMIT,
        import_grace: float = IMPORT_GRACE,
        workers: int = 1,
        otlp: str | None = None,
        export: bool = True,
        on_message: Callable[[Message], None] = lambda message: None,
    ) -> None:
        self.app_dir = Path(app_dir)
        self.host, self.port = host, port
        self.on_message = on_message
        self._args = [str(self.app_dir.resolve())]
        if feed is not None:
            self._args += ["--feed", feed]
        if otlp:
            self._args += ["--otlp", otlp]
        if not export:
            self._args.append("--no-export")
        if convention:
            self._args += ["--convention", convention]
        if not reload:
            self._args.append("--no-reload")
        if debug:
            self._args.append("--debug")
        self._args += ["--body-limit", str(body_limit), "--import-grace", str(import_grace)]
        if workers > 1:
            self._args += ["--workers", str(workers)]
        self._sock: socket.socket | None = None
        self.url: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._serving_since: float | None = None
        self._failures = 0
        self._output: collections.deque[str] = collections.deque(maxlen=LAST_LINES)
        # One thread starts, stops and restarts the app process, in the order
        # asked; nothing else touches `_process`. Two restarts at once can then never leave
        # two app processes behind, and the kernel's parent-death signal (tied to the thread
        # that started the child) fires only when this thread ends, with the supervisor.
        self._commands: queue.SimpleQueue[tuple[str, subprocess.Popen[bytes] | None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> str:
        """Bind the socket and start the app process; return the URL it serves."""
        self._sock = bind_socket(self.host, self.port)
        self.url = url_of(self._sock)
        self._thread = threading.Thread(target=self._supervise, name="routeconsole-supervisor", daemon=True)
        self._thread.start()
        self._commands.put(("spawn", None))
        return self.url

    def restart(self) -> None:
        """Stop the app process (SIGTERM, then SIGKILL) and start a new one at once."""
        self._commands.put(("restart", None))

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the app process within `timeout` seconds and release the socket."""
        if self._thread is not None:
            self._commands.put(("stop", None))
            self._thread.join(timeout)
        if self._sock is not None:
            self._sock.close()

    def _supervise(self) -> None:
        restart_at: float | None = None
        while True:
            wait = None if restart_at is None else max(0.0, restart_at - time.monotonic())
            try:
                command, ended = self._commands.get(timeout=wait)
            except queue.Empty:
                command, ended = "spawn", None
            process = self._process
            if command == "stop":
                if process is not None:  # SIGTERM, and SIGKILL for a child not ended a second later
                    _terminate(process, STOP_GRACE)
                return
            if command == "exited":
                if ended is None or ended is not process:
                    continue  # a process restart() replaced: its end is no news
                restart_at = time.monotonic() + self._report_exit(ended)
                self._process = None
            elif command == "restart":
                restart_at = None
                self._failures = 0
                if process is not None:
                    log.info("restarting app process %s", process.pid)
                    _terminate(process, STOP_GRACE)
                self._process = self._spawn()
            elif command == "spawn" and (process is None or process.poll() is not None):
                restart_at = None
                self._process = self._spawn()

    def _report_exit(self, process: subprocess.Popen[bytes]) -> float:
        """Say how the app process ended; the delay before the next start."""
        returncode = process.returncode
        try:
            signame: str | None = signal.Signals(-returncode).name if returncode < 0 else None
        except ValueError:  # a real-time signal: no name
            signame = f"signal {-returncode}"
        self._deliver(
            {
                "event": "exited",
                "pid": process.pid,
                "returncode": returncode,
                "signal": signame,
                "last_lines": list(self._output),
            }
        )
        served = self._serving_since
        if served is not None and time.monotonic() - served > HEALTHY_AFTER:
            self._failures, delay = 0, 0.0
        else:
            self._failures += 1
            delay = min(FIRST_DELAY * 2 ** (self._failures - 1), MAX_DELAY)
        self._deliver({"event": "restarting", "delay": delay, "failures": self._failures})
        return delay

    def _spawn(self) -> subprocess.Popen[bytes]:
        assert self._sock is not None
        read_fd, write_fd = os.pipe()
        sock_fd = self._sock.fileno()
        command = [
            sys.executable,
            "-P",  # not the working directory first on sys.path: a folder `engine` there is the user's
            "-m",
            "engine.child",
            *self._args,
            "--socket-fd",
            str(sock_fd),
            "--channel-fd",
            str(write_fd),
            "--parent-pid",
            str(os.getpid()),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,  # closed when this process dies: the child's cue to stop
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(sock_fd, write_fd),
                env=env,
            )
        finally:
            os.close(write_fd)
        self._serving_since = None
        self._output.clear()
        readers = [
            threading.Thread(target=self._read_output, args=(process.stdout, "stdout"), daemon=True),
            threading.Thread(target=self._read_output, args=(process.stderr, "stderr"), daemon=True),
        ]
        for reader in readers:
            reader.start()
        threading.Thread(target=self._read_channel, args=(read_fd, process), daemon=True).start()
        threading.Thread(target=self._wait, args=(process, readers), daemon=True).start()
        return process

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

    def _wait(self, process: subprocess.Popen[bytes], readers: list[threading.Thread]) -> None:
        process.wait()
        if process.stdin is not None:
            process.stdin.close()
        for reader in readers:  # its last lines, unless something it started still holds the pipe
            reader.join(0.5)
        self._commands.put(("exited", process))

    def _deliver(self, message: Message) -> None:
        try:
            self.on_message(message)
        except Exception:
            log.exception("a subscriber failed on %s", message.get("event"))


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class SupervisedEngine:
    """`engine.Engine`'s surface over an `AppProcess`: what the console runs on.

    The route tree is read from the files here (with `ast`, never importing them) and takes
    the app process's own problems (import errors, imports still running) from its reports.
    Its reports become the same events an in-process `Engine` publishes (`RoutesReloaded`,
    `ServerStarted`, `ServerStopped`). Its traces come over a `LogFeed` to the `LogServer`
    here, which writes the request log and hands each batch's rows to `log.on_written`. Its log
    records and printed lines are logged here under `routeconsole.app`, where the console's
    Server log pane reads them. `AppExited` and `AppRestarting` say when it died and when it
    comes back.
    With `otlp` (a collector's base URL), or the OpenTelemetry SDK's endpoint variables, which
    it inherits, the app process (each worker) exports its requests as spans (`engine.otel`).
    """

    def __init__(
        self,
        app_dir: str | Path,
        *,
        host: str = DEFAULT_HOST,
        port: int = 8000,
        convention: str | None = None,
        log: Path | bool | None = True,
        reload: bool = True,
        debug: bool = False,
        body_limit: int = DEFAULT_BODY_LIMIT,
        import_grace: float = IMPORT_GRACE,
        workers: int = 1,
        otlp: str | None = None,
    ) -> None:
        if workers < 1:
            raise EngineError(f"--workers takes a number of processes (1 or more), got {workers}")
        self.app_dir = Path(app_dir)
        exporting = otlp_wanted(otlp)
        if exporting:
            check_export(otlp)  # a missing extra or a bad URL is said here, at once
        self.convention = convention
        self._table = load_routes(self.app_dir, convention=convention)  # first: a missing APP is an error
        log_path, self._scratch = choose_log_path(self.app_dir, log)
        self.persistent = self._scratch is None
        # The request log is written here, fed by the app process (or each worker) over a socket.
        self.log = RequestLog(log_path)
        # Spans are made and sent here, by the log's writer, from the traces the app process
        # sends it anyway: the app process exports nothing itself.
        self._export: TraceExport | None = None
        if exporting:
            from .otel import TraceExport

            self._export = TraceExport.start(None, service=self.app_dir.resolve().name, otlp=otlp)
        self.log_server = LogServer(self.log, export=self._export.export_many if self._export else None)
        self.exporting = self._export is not None
        # With several workers the channel carries only the master's news: each worker follows
        # the files itself, and the console follows them too, as `watch` does.
        self._follower = (
            WatchedEngine(self.app_dir, log=log_path, convention=convention, follow_log=False, watch_files=reload)
            if workers > 1
            else None
        )
        self.events = self._follower.events if self._follower is not None else EventSink()
        self.watching = reload
        self.process = AppProcess(
            self.app_dir,
            host=host,
            port=port,
            feed=self.log_server.address,
            convention=convention,
            reload=reload,
            debug=debug,
            body_limit=body_limit,
            import_grace=import_grace,
            workers=workers,
            export=False,
            on_message=self._on_message,
        )
        self.url: str | None = None
        # The app process's latest news (serving, ended, starting again), for a console that
        # subscribes after it happened.
        self.state: ServerStarted | AppExited | AppRestarting | None = None

    @property
    def table(self) -> RouteTable:
        return self._follower.table if self._follower is not None else self._table

    def start(self) -> str:
        self.log_server.start()
        self.url = self.process.start()
        if self._follower is not None:
            self._follower.url = self.url
            self._follower.start()
        return self.url

    def reload(self) -> None:
        """Re-read every file: a new app process."""
        self.process.restart()

    def restart(self) -> None:
        self.process.restart()

    def stop(self, timeout: float = 2.0) -> list[str]:
        self.process.stop(timeout)
        self.log_server.stop()  # what the app process sent before it stopped is written
        if self._export is not None:
            self._export.shutdown()  # and exported
        if self._follower is not None:
            self._follower.stop()
        self.events.flush()
        self.log.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        return []

    def _publish_state(self, event: ServerStarted | AppExited | AppRestarting) -> None:
        self.state = event
        self.events.publish(event)

    def _table_with(self, problems: list[dict[str, Any]]) -> RouteTable:
        """The routes read from the files, with the problems the app process found importing them."""
        table = load_routes(self.app_dir, convention=self.convention)
        found = [Conflict.from_json(p) for p in problems]
        extra = [c for c in found if c not in table.conflicts]
        errors = {c.files[0]: c.message for c in extra if c.kind == "load-error" and c.files}
        return table.with_problems(extra, errors) if extra else table

    def _on_message(self, message: Message) -> None:
        event = message.get("event")
        if event == "record":
            logging.getLogger(str(message["name"])).log(int(message["level"]), "%s", message["message"])
        elif event == "output":
            app_log.info("%s: %s", message["stream"], message["text"])
        elif event in ("started", "reloaded") and self._follower is not None:
            if event == "started":
                log.info("app process %s serving %s", message["pid"], message["url"])
                self._publish_state(ServerStarted(str(message["url"])))
        elif event in ("started", "reloaded"):
            before = self._table
            try:
                self._table = self._table_with(message["problems"])
            except EngineError as exc:  # the folder went away: keep the last tree
                log.error("%s", exc)
            if event == "started":
                log.info("app process %s serving %s", message["pid"], message["url"])
                self._publish_state(ServerStarted(str(message["url"])))
                if self._table.routes == before.routes and self._table.conflicts == before.conflicts:
                    return  # a restart of the same code: nothing to announce as a reload
            new_problems = tuple(c for c in self._table.conflicts if c not in set(before.conflicts))
            self.events.publish(
                RoutesReloaded(
                    changed=tuple(message.get("changed", ())),
                    added=tuple(message.get("added", ())),
                    removed=tuple(message.get("removed", ())),
                    problems=self._table.conflicts,
                    new_problems=new_problems,
                    duration_ms=float(message.get("duration_ms", 0.0)),
                )
            )
        elif event == "exited":
            how = f"signal {message['signal']}" if message["signal"] else f"exit code {message['returncode']}"
            last = "\n".join(message["last_lines"][-5:])
            log.warning(
                "app process %s ended (%s)%s", message["pid"], how, f"; its last lines:\n{last}" if last else ""
            )
            self._publish_state(AppExited(int(message["pid"]), int(message["returncode"]), message["signal"]))
        elif event == "restarting":
            log.info("starting the app again in %.1f s", message["delay"])
            self._publish_state(AppRestarting(float(message["delay"]), int(message["failures"])))


app_log = logging.getLogger("routeconsole.app")

"""The whole engine for one app, running in the background of another program (the console).

    running = Engine("./app", port=0)
    url = running.start()          # hypercorn on its own thread; the watcher; the request log
    running.events.subscribe(...)  # RequestFinished, RoutesReloaded, ServerStarted, ...
    running.log.summaries()        # what was logged, this run and earlier ones
    running.stop()

Nothing here touches signals, stdout or the caller's event loop: the server gets a
`shutdown_trigger`, and everything it has to say goes to the `routeconsole` loggers.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from .app import DEFAULT_BODY_LIMIT, HANDLER_THREAD_PREFIX, RouteApp
from .events import EventSink
from .loader import IMPORT_GRACE
from .reload import Reloader
from .server import DEFAULT_HOST, DEFAULT_PORT, Server
from .store import RequestLog, choose_log_path
from .table import RouteTable


class Engine:
    """An app served on its own thread, watched for changes, its requests logged.

    `log`: where the request log lives. The default is `APP/.routeconsole/log.sqlite3`;
    `None` keeps a log for this run only, in a temporary file removed by `stop()`.
    """

    def __init__(
        self,
        app_dir: str | Path,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        convention: str | None = None,
        log: Path | bool | None = True,
        reload: bool = True,
        debug: bool = False,
        body_limit: int = DEFAULT_BODY_LIMIT,
        import_grace: float = IMPORT_GRACE,
    ) -> None:
        self.app_dir = Path(app_dir)
        self.events = EventSink()
        self.app = RouteApp(
            self.app_dir,
            convention=convention,
            debug=debug,
            body_limit=body_limit,
            events=self.events,
            import_grace=import_grace,
        )
        log_path, self._scratch = choose_log_path(self.app_dir, log)
        self.persistent = self._scratch is None
        self.exporting = self.app.export is not None  # OpenTelemetry, from this process (the variables)
        self.log = RequestLog(log_path)
        # Quitting the console should feel immediate: requests in flight get a second.
        self.server = Server(self.app, host=host, port=port, graceful_timeout=1.0)
        self.reloader = Reloader(self.app) if reload else None
        self.url: str | None = None

    @property
    def table(self) -> RouteTable:
        """The routes being served now (replaced, not mutated, by each reload)."""
        return self.app.table

    def start(self) -> str:
        """Start logging, serving and watching; return the URL the server listens on."""
        self.log.attach(self.events)
        self.url = self.server.start()
        if self.reloader is not None:
            self.reloader.start()
        return self.url

    @property
    def watching(self) -> bool:
        return self.reloader is not None

    def reload(self) -> None:
        """Re-read every file now (the watcher does this on its own for saved files)."""
        self.app.reload()

    def restart(self) -> None:
        """Re-read every file. In this process a handler stuck in a loop cannot be stopped:
        `engine.supervisor.SupervisedEngine` runs the app where a restart ends it."""
        self.app.reload()

    def stop(self, timeout: float = 2.0) -> list[str]:
        """Stop watching and serving, write every logged request, and return the names
        of handler threads still running (a handler that spins forever): the caller
        decides whether to wait for them or to exit without them."""
        if self.reloader is not None:
            self.reloader.stop()
        self.server.stop()
        self.events.flush()
        self.log.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        deadline = time.monotonic() + timeout
        stuck = []
        for thread in threading.enumerate():
            if thread.name.startswith(HANDLER_THREAD_PREFIX):
                thread.join(max(0.0, deadline - time.monotonic()))
                if thread.is_alive():
                    stuck.append(thread.name)
        return stuck

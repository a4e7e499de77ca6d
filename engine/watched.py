"""The console's view of an app served elsewhere: `routeconsole watch APP --url URL --log PATH`.

A deployed or containerised app runs `routeconsole serve` (or `engine.create_app` under any
ASGI server with a `RequestLog` attached); the console follows it without running any of
its code:

- the route tree and its problems come from the files, read with `ast` and re-read when
  they change (the import problems only the serving process can see are not shown);
- the requests come from the log that server writes, polled for new rows (SQLite in WAL
  mode lets a reader follow a writer in another process);
- the composer and replay send to `url`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from .discovery import load_routes
from .errors import EngineError
from .events import EventSink, RoutesReloaded
from .reload import Reloader
from .store import RequestLog, default_log_path
from .table import RouteTable

POLL_INTERVAL: Final = 0.05  # seconds between looks at the log for new rows

log = logging.getLogger("routeconsole.watch")


class WatchedEngine:
    """`engine.Engine`'s surface for an app that runs somewhere else."""

    def __init__(
        self,
        app_dir: str | Path,
        *,
        url: str = "http://127.0.0.1:8000",
        log: Path | None = None,
        convention: str | None = None,
        poll_interval: float = POLL_INTERVAL,
        follow_log: bool = True,
        watch_files: bool = True,
    ) -> None:
        self.app_dir = Path(app_dir)
        self.convention = convention
        self._table = load_routes(self.app_dir, convention=convention)  # first: a missing APP is an error
        self.events = EventSink()
        self.url: str | None = url.rstrip("/")
        self.log = RequestLog(log if log is not None else default_log_path(self.app_dir))
        self._reload_lock = threading.Lock()
        self.persistent = True
        self.exporting = False  # the server elsewhere exports, or not: nothing here says
        self.watching = watch_files
        self.poll_interval = poll_interval
        self._reloader = Reloader(self)
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.follow_log = follow_log  # False: the log's new rows reach on_written some other way

    @property
    def table(self) -> RouteTable:
        return self._table

    def start(self) -> str | None:
        """Follow the log and the files; the URL requests are sent to."""
        if self.follow_log:
            newest = self.log.summaries(limit=1)
            after = newest[-1].id if newest else 0
            self._poller = threading.Thread(target=self._poll, args=(after,), name="routeconsole-follow", daemon=True)
            self._poller.start()
        if self.watching:
            self._reloader.start()
        return self.url

    def reload(self, changed: Iterable[str | Path] | None = None) -> RoutesReloaded:
        """Re-read the route files (the watcher calls this for each batch of saved files)."""
        start = time.perf_counter()
        with self._reload_lock:  # the watcher's thread and the console's both reload
            before = self._table
            try:
                self._table = load_routes(self.app_dir, convention=self.convention)
            except EngineError:
                log.exception("re-reading %s failed; the tree shows the last files read", self.app_dir)
                raise
        root = self.app_dir.resolve()
        files = sorted(Path(c).resolve().relative_to(root).as_posix() for c in changed or ())
        old, new = {r.pattern for r in before.routes}, {r.pattern for r in self._table.routes}
        event = RoutesReloaded(
            changed=tuple(files),
            added=tuple(sorted(new - old)),
            removed=tuple(sorted(old - new)),
            problems=self._table.conflicts,
            new_problems=tuple(c for c in self._table.conflicts if c not in set(before.conflicts)),
            duration_ms=(time.perf_counter() - start) * 1000,
        )
        self.events.publish(event)
        return event

    def restart(self) -> None:
        raise EngineError("watch runs none of the app here: restart the server where it runs")

    def stop(self, timeout: float = 2.0) -> list[str]:
        self._stop.set()
        self._reloader.stop()
        if self._poller is not None:
            self._poller.join(timeout)
        self.events.flush()
        self.log.close()
        return []

    def _poll(self, after: int) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                rows = self.log.summaries(after=after)
                if not rows:
                    newest = self.log.summaries(limit=1)
                    if newest and newest[-1].id < after:  # a new log in its place: follow it from its start
                        after = 0
                    continue
            except Exception:  # a locked or replaced file: look again next time
                log.exception("reading %s failed", self.log.path)
                continue
            after = rows[-1].id
            on_written = self.log.on_written
            if on_written is not None:
                on_written(rows)

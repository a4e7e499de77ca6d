"""Live reload: watch APP with watchfiles and rebuild the app when Python files change.

Only `.py` files (and new folders) count; `.routeconsole/`, caches, `.git` and the
like (watchfiles' DefaultFilter) and editor temp files (`.swp`, `~`, `4913`) are ignored.
The watcher runs on its own thread; each batch of changes is one `RouteApp.reload`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from watchfiles import Change, DefaultFilter, watch

from .events import RoutesReloaded

log = logging.getLogger("routeconsole.reload")


class RouteFilter(DefaultFilter):
    """`.py` files, and folders as they appear.

    A folder made and filled at once (`mkdir new && echo ... > new/route.py`) can have
    its file created before the watcher watches the folder; the folder's own event is
    then the only sign, and the reload's rescan finds the file.
    """

    def __call__(self, change: Change, path: str) -> bool:
        if not super().__call__(change, path):
            return False
        return path.endswith(".py") or (change == Change.added and os.path.isdir(path))


def _expand(paths: set[Path]) -> list[Path]:
    """Files for the reload to consider: an added folder stands for the .py files in it."""
    files: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files.update(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
        else:
            files.add(path)
    return sorted(files)


class Reloadable(Protocol):
    """What the watcher reloads: a served app (`RouteApp`), or the routes of one served elsewhere."""

    app_dir: Path

    def reload(self, changed: Iterable[str | Path] | None = None) -> RoutesReloaded: ...


class Reloader:
    def __init__(self, app: Reloadable, *, step_ms: int = 30) -> None:
        self.app = app
        self.step_ms = step_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="routeconsole-reload", daemon=True)
        self._thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        root = self.app.app_dir.resolve()
        watch_filter = RouteFilter(ignore_paths=[root / ".routeconsole"])
        try:
            # yield_on_timeout: the first (empty) yield tells us the watcher is running, so
            # start() returns only once a change made right after it will be seen.
            for changes in watch(
                root,
                watch_filter=watch_filter,
                stop_event=self._stop,
                step=self.step_ms,
                debounce=400,
                rust_timeout=100,
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                self._ready.set()
                if not changes:
                    continue
                paths = _expand({Path(path) for _, path in changes})
                try:
                    event = self.app.reload(paths)
                except Exception:
                    continue  # logged by reload(); the previous routes keep serving
                log.info("reloaded %s in %.1f ms", ", ".join(event.changed) or "the app", event.duration_ms)
        except Exception:
            log.exception("watching %s stopped", root)
        finally:
            self._ready.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

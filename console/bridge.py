"""The one place engine threads meet the UI: engine events and log records in, Textual messages out.

The engine calls back on its own threads (the server's, the watcher's, the log writer's);
`post_message` is thread-safe, so each callback only wraps what it got in a message and
returns. Nothing here waits on the UI, and nothing in the UI waits on the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from textual.message_pump import MessagePump

import engine

from .messages import AppStateChanged, RequestsLogged, RoutesReloaded, ServerLogged

# The app the console runs: in a supervised process of its own (`routeconsole APP`), in this
# process (tests, and programs that embed the console), or elsewhere (`routeconsole watch`).
Running = engine.Engine | engine.SupervisedEngine | engine.WatchedEngine

LOGGER = "routeconsole"  # the engine's loggers: routeconsole.app, .server, .reload, .log, .events


class _PaneHandler(logging.Handler):
    def __init__(self, target: MessagePump) -> None:
        super().__init__(level=logging.INFO)
        self.target = target
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.target.post_message(ServerLogged(record, self.format(record)))
        except Exception:
            self.handleError(record)


class Bridge:
    def __init__(self, running: Running, target: MessagePump) -> None:
        self.running = running
        self.target = target
        self._detach: list[Callable[[], None]] = []

    def attach(self) -> None:
        handler = _PaneHandler(self.target)
        logger = logging.getLogger(LOGGER)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        # Textual owns stdout and stderr: the engine's records go to the pane only.
        propagate, logger.propagate = logger.propagate, False

        def restore() -> None:
            logger.removeHandler(handler)
            logger.propagate = propagate

        self._detach.append(restore)
        self._detach.append(self.running.events.subscribe(self._on_event))
        self.running.log.on_written = self._on_written
        self._detach.append(lambda: setattr(self.running.log, "on_written", None))
        state = getattr(self.running, "state", None)  # the app process may have ended before the console opened
        if state is not None:
            self._on_event(state)

    def detach(self) -> None:
        while self._detach:
            self._detach.pop()()

    def _on_event(self, event: object) -> None:
        if isinstance(event, engine.RoutesReloaded):
            self.target.post_message(RoutesReloaded(event, self.running.table))
        elif isinstance(event, engine.ServerStarted):
            self.target.post_message(AppStateChanged("", failed=False))
        elif isinstance(event, engine.AppExited):
            how = event.signal or f"exit code {event.returncode}"
            self.target.post_message(AppStateChanged(f"app exited ({how})", failed=True))
        elif isinstance(event, engine.AppRestarting):
            self.target.post_message(AppStateChanged(f"app exited · restarting in {event.delay:g} s", failed=True))

    def _on_written(self, rows: list[engine.LogSummary]) -> None:
        self.target.post_message(RequestsLogged(rows))

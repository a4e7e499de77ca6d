"""Events the engine publishes, and the sink that hands them to subscribers.

    sink = EventSink()
    unsubscribe = sink.subscribe(print)      # called on the sink's own thread
    app = create_app("./app", events=sink)   # every request -> RequestFinished(trace)

`publish` never makes a request wait: it puts the event on a queue and returns. One
daemon thread delivers events in order; a subscriber that raises is logged, not fatal.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .table import Conflict
from .trace import Trace

log = logging.getLogger("routeconsole.events")


@dataclass(frozen=True, slots=True)
class RequestFinished:
    trace: Trace


@dataclass(frozen=True, slots=True)
class ServerStarted:
    url: str


@dataclass(frozen=True, slots=True)
class ServerStopped:
    url: str


@dataclass(frozen=True, slots=True)
class RoutesReloaded:
    """The app was rebuilt after files changed; requests now run the new code."""

    changed: tuple[str, ...]  # files relative to APP
    added: tuple[str, ...]  # patterns that appeared
    removed: tuple[str, ...]  # patterns that went away
    problems: tuple[Conflict, ...]  # all problems now
    new_problems: tuple[Conflict, ...]  # those that were not there before
    duration_ms: float


Event = RequestFinished | ServerStarted | ServerStopped | RoutesReloaded
Subscriber = Callable[[Any], None]


class EventSink:
    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)
            if self._thread is None:
                self._thread = threading.Thread(target=self._deliver, name="routeconsole-events", daemon=True)
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    def publish(self, event: object) -> None:
        # PERF: with no subscriber an event costs one attribute read.
        if self._subscribers:
            self._queue.put(event)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every event published so far has been delivered."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _deliver(self) -> None:
        while True:
            event = self._queue.get()
            if isinstance(event, threading.Event):
                event.set()
                continue
            for subscriber in self._subscribers:
                try:
                    subscriber(event)
                except Exception:
                    log.exception("event subscriber %r failed on %s", subscriber, type(event).__name__)

"""Events the engine publishes, and the sink that hands them to subscribers.

    sink = EventSink()
    unsubscribe = sink.subscribe(print)      # called on the sink's own thread
    app = create_app("./app", events=sink)   # every request -> RequestFinished(trace)

`publish` never makes a request wait: it appends the event to a deque and returns, without
waking anyone. One daemon thread delivers events in order, draining the deque every few
milliseconds; a subscriber that raises is logged, not fatal.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .table import Conflict
from .trace import Trace

log = logging.getLogger("routeconsole.events")

DRAIN_INTERVAL: Final = 0.005  # seconds: how stale an event may get before delivery


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
        self._queue: collections.deque[object] = collections.deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers = (*self._subscribers, subscriber)
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._deliver, args=(self._stop,), name="routeconsole-events", daemon=True
                )
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)

        return unsubscribe

    def publish(self, event: object) -> None:
        # PERF: with no subscriber an event costs one attribute read; with some, a deque
        # append. Waking the delivery thread per request cost a GIL hand-off each time.
        if self._subscribers:
            self._queue.append(event)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every event published so far has been delivered."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then stop the delivery thread (a new subscriber starts another)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            self._wake.set()
            thread.join(timeout)

    def _deliver(self, stop: threading.Event) -> None:
        queue, wake = self._queue, self._wake
        while True:
            while queue:
                event = queue.popleft()
                if isinstance(event, threading.Event):
                    event.set()
                    continue
                for subscriber in self._subscribers:
                    try:
                        subscriber(event)
                    except Exception:
                        log.exception("event subscriber %r failed on %s", subscriber, type(event).__name__)
            if stop.is_set():
                return
            wake.wait(DRAIN_INTERVAL)
            wake.clear()

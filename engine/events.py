"""Events the engine publishes, and the sink that hands them to subscribers.

    sink = EventSink()
    unsubscribe = sink.subscribe(print)
    app = create_app("./app", events=sink)   # every request -> RequestFinished(trace)

`publish` never makes a request wait: it appends the event to a deque and returns. Events
published on a running event loop (every `RequestFinished`) are delivered in batches by
one timer on that loop, `DRAIN_INTERVAL` after the first event of a batch; an event
published with no loop running (a reload, say, from the watcher's thread) is delivered at
once, on the publisher's thread, after whatever was still queued. Either way subscribers
see events in order and one at a time. A subscriber must return quickly, handing slow work
to a thread of its own as the request log does; one that raises is logged, not fatal.

`subscribe(fn, at_once=True)` is for the one subscriber that must not wait for the batch:
the request log's feed (`engine.feed.LogFeed`), which hands each trace to the kernel while
its request is still being answered, so a process that dies a moment later has lost no
answered request. It is called in `publish`, on the publisher's thread, and must be
thread-safe and cheap.

PERF: there is no delivery thread. One that woke every few milliseconds took the GIL from
the event loop at each wake: under load it cost the server about 5% of its requests per
second (bench_serve, side by side), more than building the traces. A timer on the loop
costs one callback per batch, and an idle server does nothing at all.
"""

from __future__ import annotations

import asyncio
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
FLUSH_TIMEOUT: Final = 5.0  # seconds to wait for a delivery under way on another thread


# PERF: not frozen, unlike the other events: a frozen dataclass's __init__ sets its field
# through object.__setattr__, which nearly doubled its cost, and one is built per request.
@dataclass(slots=True)
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


@dataclass(frozen=True, slots=True)
class AppExited:
    """The app process ended: `signal` names the signal that ended it, else `returncode` says how."""

    pid: int
    returncode: int
    signal: str | None


@dataclass(frozen=True, slots=True)
class AppRestarting:
    """The app process will be started again in `delay` seconds (`failures` in a row so far)."""

    delay: float
    failures: int


Event = RequestFinished | ServerStarted | ServerStopped | RoutesReloaded | AppExited | AppRestarting
Subscriber = Callable[[Any], None]


class EventSink:
    def __init__(self) -> None:
        self._subscribers: tuple[Subscriber, ...] = ()
        self._at_once: tuple[Subscriber, ...] = ()
        self._queue: collections.deque[object] = collections.deque()
        self._pending: asyncio.AbstractEventLoop | None = None  # the loop whose timer is set
        # Held while delivering, so that subscribers are called one event at a time, in
        # order, whichever thread delivers. Reentrant: a subscriber may publish or flush.
        self._delivering = threading.RLock()
        self._draining = False
        self._subscribing = threading.Lock()

    def subscribe(self, subscriber: Subscriber, *, at_once: bool = False) -> Callable[[], None]:
        with self._subscribing:
            if at_once:
                self._at_once = (*self._at_once, subscriber)
            else:
                self._subscribers = (*self._subscribers, subscriber)

        def unsubscribe() -> None:
            with self._subscribing:
                self._subscribers = tuple(s for s in self._subscribers if s is not subscriber)
                self._at_once = tuple(s for s in self._at_once if s is not subscriber)

        return unsubscribe

    def publish(self, event: object) -> None:
        # PERF: with no subscriber an event costs two attribute reads; with some, a deque
        # append, and once per batch a timer.
        for now in self._at_once:
            try:
                now(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", now, type(event).__name__)
        if not self._subscribers:
            return
        self._queue.append(event)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop on this thread: deliver here and now
            if not self.flush():
                log.warning("events wait: a subscriber has been delivering for %g s", FLUSH_TIMEOUT)
            return
        if self._pending is loop:
            return  # this loop's timer delivers it
        self._pending = loop
        loop.call_later(DRAIN_INTERVAL, self._on_timer, loop)

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Deliver every event published so far, on this thread; False if another thread's
        delivery did not finish within `timeout` seconds. (Called by a subscriber, it
        returns at once: the delivery under way takes the events behind the current one.)"""
        if not self._delivering.acquire(timeout=timeout):
            return False
        try:
            self._drain()
        finally:
            self._delivering.release()
        return True

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        # The loop never waits: if another thread is delivering, try again later.
        if not self._delivering.acquire(blocking=False):
            loop.call_later(DRAIN_INTERVAL, self._on_timer, loop)
            return
        try:
            self._drain()
        finally:
            self._delivering.release()

    def _drain(self) -> None:
        # Called holding `_delivering`. A subscriber that publishes or flushes lands here
        # again on the same thread: the delivery under way takes its events, in order.
        if self._draining:
            return
        self._draining = True
        # Cleared before the queue is emptied: an event appended after this is either
        # delivered by the loop below or finds no timer pending and sets one.
        self._pending = None
        queue = self._queue
        try:
            while queue:
                event = queue.popleft()
                for subscriber in self._subscribers:
                    try:
                        subscriber(event)
                    except Exception:
                        log.exception("event subscriber %r failed on %s", subscriber, type(event).__name__)
        finally:
            self._draining = False

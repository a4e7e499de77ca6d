"""The event sink: batched delivery on the publishing loop, in order, never on a thread of its own."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

import engine
from engine.events import DRAIN_INTERVAL


class Recorder:
    def __init__(self) -> None:
        self.events: list[object] = []
        self.threads: set[int] = set()

    def __call__(self, event: object) -> None:
        self.events.append(event)
        self.threads.add(threading.get_ident())


def test_events_on_a_loop_arrive_in_a_batch_on_that_loops_thread() -> None:
    sink, seen = engine.EventSink(), Recorder()
    sink.subscribe(seen)
    threads_before = threading.active_count()

    async def publish() -> tuple[int, int]:
        for n in range(100):
            sink.publish(engine.ServerStarted(f"http://127.0.0.1:{n}"))
        right_after = len(seen.events)
        await asyncio.sleep(DRAIN_INTERVAL * 4)
        return right_after, threading.get_ident()

    right_after, loop_thread = asyncio.run(publish())
    assert right_after == 0  # publishing only queued them
    assert [e.url for e in seen.events] == [f"http://127.0.0.1:{n}" for n in range(100)]  # type: ignore[attr-defined]
    assert seen.threads == {loop_thread}
    assert threading.active_count() == threads_before  # no delivery thread


def test_an_event_published_off_any_loop_is_delivered_at_once_after_the_queued_ones() -> None:
    sink, seen = engine.EventSink(), Recorder()
    sink.subscribe(seen)

    async def queue_one() -> None:
        sink.publish(engine.ServerStarted("first"))  # its loop ends before the timer fires

    asyncio.run(queue_one())
    assert seen.events == []
    watcher = threading.Thread(target=sink.publish, args=(engine.ServerStopped("second"),))
    watcher.start()
    watcher.join()
    assert seen.events == [engine.ServerStarted("first"), engine.ServerStopped("second")]
    assert seen.threads == {watcher.ident}


def test_a_new_loop_delivers_after_an_old_one_closed_with_events_queued() -> None:
    sink, seen = engine.EventSink(), Recorder()
    sink.subscribe(seen)

    async def publish(url: str, wait: bool) -> None:
        sink.publish(engine.ServerStarted(url))
        if wait:
            await asyncio.sleep(DRAIN_INTERVAL * 4)

    asyncio.run(publish("old", wait=False))
    asyncio.run(publish("new", wait=True))
    assert [e.url for e in seen.events] == ["old", "new"]  # type: ignore[attr-defined]


def test_flush_from_another_thread_delivers_what_a_running_loop_queued() -> None:
    sink, seen = engine.EventSink(), Recorder()
    sink.subscribe(seen)
    flushed: list[bool] = []

    async def publish_then_flush_elsewhere() -> int:
        sink.publish(engine.ServerStarted("a"))
        sink.publish(engine.ServerStarted("b"))
        other = threading.Thread(target=lambda: flushed.append(sink.flush()))
        other.start()
        other.join()
        return len(seen.events)

    assert asyncio.run(publish_then_flush_elsewhere()) == 2
    assert flushed == [True]


def test_a_raising_subscriber_is_logged_and_the_others_still_get_the_event(caplog: pytest.LogCaptureFixture) -> None:
    sink, seen = engine.EventSink(), Recorder()

    def broken(event: object) -> None:
        raise RuntimeError("subscriber bug")

    sink.subscribe(broken)
    sink.subscribe(seen)
    with caplog.at_level(logging.ERROR, logger="routeconsole.events"):
        sink.publish(engine.ServerStarted("x"))
    assert seen.events == [engine.ServerStarted("x")]
    assert "failed on ServerStarted" in caplog.text
    assert "subscriber bug" in caplog.text


def test_a_subscriber_may_publish_and_unsubscribe() -> None:
    sink, seen = engine.EventSink(), Recorder()

    def relay(event: object) -> None:
        if isinstance(event, engine.ServerStarted):
            sink.publish(engine.ServerStopped(event.url))

    sink.subscribe(relay)
    unsubscribe = sink.subscribe(seen)
    sink.publish(engine.ServerStarted("x"))
    assert seen.events == [engine.ServerStarted("x"), engine.ServerStopped("x")]
    unsubscribe()
    sink.publish(engine.ServerStarted("y"))
    assert len(seen.events) == 2


def test_without_subscribers_nothing_is_kept() -> None:
    sink = engine.EventSink()
    sink.publish(engine.ServerStarted("x"))
    seen = Recorder()
    sink.subscribe(seen)
    assert sink.flush()
    assert seen.events == []


def test_a_loop_left_open_but_stopped_does_not_hold_later_events() -> None:
    sink, seen = engine.EventSink(), Recorder()
    sink.subscribe(seen)
    loop = asyncio.new_event_loop()
    try:

        async def publish() -> None:
            sink.publish(engine.ServerStarted("queued on a loop that stops"))

        loop.run_until_complete(publish())  # the loop stops before its timer fires, and stays open
        assert seen.events == []
        sink.publish(engine.ServerStopped("from a thread with no loop"))  # delivers both, now
        assert [type(e).__name__ for e in seen.events] == ["ServerStarted", "ServerStopped"]
    finally:
        loop.close()


def test_each_loop_delivers_its_own_events_even_while_another_is_busy() -> None:
    sink, seen = engine.EventSink(), Recorder()
    sink.subscribe(seen)
    busy_started, server_done = threading.Event(), threading.Event()

    async def busy() -> None:  # publishes first, then blocks its loop for a while
        sink.publish(engine.ServerStarted("busy"))
        busy_started.set()
        server_done.wait(5)

    async def server() -> None:
        busy_started.wait(5)
        sink.publish(engine.ServerStarted("server"))
        await asyncio.sleep(DRAIN_INTERVAL * 10)
        server_done.set()

    threads = [threading.Thread(target=asyncio.run, args=(c(),), name=c.__name__) for c in (busy, server)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    server_thread = next(t.ident for t in threads if t.name == "server")
    # The server's loop delivered both while the busy loop was still blocked.
    assert [e.url for e in seen.events] == ["busy", "server"]  # type: ignore[attr-defined]
    assert seen.threads == {server_thread}

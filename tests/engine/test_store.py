"""The request log: file, permissions, batching, restarts, several writers, versioning."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import engine
from engine.store import SCHEMA_VERSION, RequestLog, default_log_path, open_log


def trace(n: int, **extra: object) -> engine.Trace:
    t = engine.Trace.begin("GET", f"/items/{n}", "")
    t.finish(200)
    for key, value in extra.items():
        setattr(t, key, value)
    return t


def test_log_file_is_private_ignored_and_wal(tmp_path: Path) -> None:
    path = default_log_path(tmp_path)
    log = RequestLog(path)
    log.close()
    assert path == tmp_path / ".routeconsole" / "log.sqlite3"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert (tmp_path / ".routeconsole" / ".gitignore").read_text() == "*\n"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_batched_writes_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    sink = engine.EventSink()
    log = RequestLog(path)
    log.attach(sink)
    for n in range(250):
        sink.publish(engine.RequestFinished(trace(n)))
    sink.flush()
    log.close()  # a clean stop writes everything queued
    entries = list(open_log(path))
    assert [e["path"] for e in entries] == [f"/items/{n}" for n in range(250)]
    assert [e["id"] for e in entries] == list(range(1, 251))
    # Restarted, the log goes on where it was.
    log = RequestLog(path)
    log.append_many([trace(999)])
    assert log.entries(limit=1)[0]["id"] == 251
    log.close()


def test_entries_have_the_log_fields(tmp_path: Path) -> None:
    log = RequestLog(tmp_path / "log.sqlite3")
    (first,) = log.append_many([trace(1)])
    log.append_many([trace(2, source="replay", replay_of=first)])
    entries = log.entries()
    log.close()
    assert [(e["id"], e["source"], e["replay_of"]) for e in entries] == [(1, "external", None), (2, "replay", 1)]
    assert {"trace_id", "time", "method", "path", "query", "status", "duration_ms", "route", "request", "response",
            "spans"} <= set(entries[0])


def test_readers_and_several_writers_at_once(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    RequestLog(path).close()
    writers = [RequestLog(path) for _ in range(3)]  # as several --workers processes would

    def write(log: RequestLog, worker: int) -> None:
        for n in range(100):
            log.append_many([trace(worker * 1000 + n)])

    threads = [threading.Thread(target=write, args=(log, i)) for i, log in enumerate(writers)]
    for t in threads:
        t.start()
    seen = 0
    while any(t.is_alive() for t in threads):
        seen = max(seen, len(list(open_log(path))))  # a reader while they write
    for t in threads:
        t.join()
    for log in writers:
        log.close()
    entries = list(open_log(path))
    assert len(entries) == 300
    assert len({e["path"] for e in entries}) == 300


def test_a_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    RequestLog(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    try:
        RequestLog(path)
    except RuntimeError as exc:
        assert "newer routeconsole" in str(exc)
    else:
        raise AssertionError("expected a RuntimeError")


def _open_when_all_are_ready(path: str, ready: Any, results: Any) -> None:
    ready.wait()
    try:
        RequestLog(Path(path)).close()
        results.put("ok")
    except Exception as exc:  # reported to the test, which names it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_log_at_once_all_get_it(tmp_path: Path) -> None:
    # `serve --workers N`: every worker opens the same log, new, at the same moment. SQLite
    # refused all but one of them a switch to WAL at once ("database is locked").
    ctx = multiprocessing.get_context("spawn")
    for round_ in range(4):
        path = str(tmp_path / f"round{round_}" / "log.sqlite3")
        ready, results = ctx.Barrier(6), ctx.Queue()
        workers = [ctx.Process(target=_open_when_all_are_ready, args=(path, ready, results)) for _ in range(6)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        assert outcomes == ["ok"] * 6
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION

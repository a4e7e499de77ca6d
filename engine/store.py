"""The persistent request log: every trace, in SQLite, written off the request path.

    APP/.routeconsole/log.sqlite3      (created with a .gitignore of `*`, mode 0600, WAL)

`RequestLog.attach(sink)` subscribes to an `EventSink`; traces are queued and written
by one thread, a transaction per batch (group commit: whatever queued while the last
batch was written goes in the next), so a request never waits on the disk and a quiet
server's requests reach the file, and the console, within milliseconds. `close()`
writes what is queued; a kill -9 loses at most the batch in flight, and WAL keeps the
file consistent. Readers (`routeconsole log`, the console) open the same file while
the server writes; several worker processes can append to one log (SQLite serialises
writers; `busy_timeout` makes them wait their turn).

The schema is versioned (`PRAGMA user_version`); `_MIGRATIONS` lists the steps from
each version to the next, so a later release can migrate an old log.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, Final, NamedTuple

from .events import EventSink, RequestFinished
from .trace import Trace

log = logging.getLogger("routeconsole.log")

LOG_DIR: Final = ".routeconsole"
LOG_FILE: Final = "log.sqlite3"
MAX_BATCH: Final = 5000  # traces per transaction
LOCK_TIMEOUT: Final = 10.0  # seconds to wait for another process holding the log
SCHEMA_VERSION: Final = 1

_MIGRATIONS: Final[dict[int, str]] = {
    # version reached -> SQL that gets there from the version before
    1: """
    CREATE TABLE IF NOT EXISTS requests (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        trace_id    TEXT NOT NULL UNIQUE,
        time        REAL NOT NULL,
        method      TEXT NOT NULL,
        path        TEXT NOT NULL,
        query       TEXT NOT NULL,
        status      INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        pattern     TEXT,
        source      TEXT NOT NULL,
        replay_of   INTEGER REFERENCES requests(id),
        trace       TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS requests_replay_of ON requests(replay_of);
    """,
}


class LogSummary(NamedTuple):
    """One entry's row in a list: what a log table shows, without headers, bodies or spans.

    PERF: a console holding 100,000 of these keeps ~20 MB; the whole entry (`RequestLog.get`)
    is read only for the one on screen.
    """

    id: int
    time: float  # epoch seconds
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    pattern: str | None
    source: str
    replay_of: int | None


def default_log_path(app_dir: Path) -> Path:
    return app_dir / LOG_DIR / LOG_FILE


def choose_log_path(app_dir: Path, log: Path | bool | None) -> tuple[Path, Path | None]:
    """Where a run's request log goes: APP's own log (`True`), `log` itself (a path), or, for
    `None`/`False`, a log for this run only. Returns the path and the scratch folder holding a
    log for this run only (the caller removes it when it stops), else None."""
    if log is True:
        return default_log_path(app_dir), None
    if isinstance(log, Path):
        return log, None
    scratch = Path(tempfile.mkdtemp(prefix="routeconsole-"))
    return scratch / LOG_FILE, scratch


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) a log database, migrated to the current schema."""
    fresh = not path.exists()
    if fresh:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent.name == LOG_DIR and not (path.parent / ".gitignore").exists():
            (path.parent / ".gitignore").write_text("*\n")
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    db = sqlite3.connect(path, timeout=LOCK_TIMEOUT, isolation_level=None, check_same_thread=False)
    _use_wal(db)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    _migrate(db)
    return db


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch a log to write-ahead logging (it stays so: the mode is kept in the file).

    Several processes may open a new log at once (`serve --workers N`). SQLite answers
    "database is locked" at once, without waiting, to all but one of those switching the
    mode together, so the others wait here and look again.
    """
    deadline = time.monotonic() + LOCK_TIMEOUT
    while db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _migrate(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"the request log was written by a newer routeconsole (schema {version})")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] >= target:  # another process got here first
                db.execute("COMMIT")
                continue
            for statement in _MIGRATIONS[target].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={target}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


class RequestLog:
    """Append traces to the log in batches; read entries back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)
        self._queue: queue.SimpleQueue[Trace | threading.Event | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self.written = 0
        # Called on the writer thread with each batch as written (the console's live feed).
        self.on_written: Callable[[list[LogSummary]], None] | None = None

    def attach(self, sink: EventSink) -> None:
        self._unsubscribe = sink.subscribe(self._on_event)
        self._writer = threading.Thread(target=self._write_loop, name="routeconsole-log", daemon=True)
        self._writer.start()

    def _on_event(self, event: object) -> None:
        if isinstance(event, RequestFinished):
            self._queue.put(event.trace)

    def _write_loop(self) -> None:
        # Items are traces, a threading.Event (flush marker: set once all before it is
        # written) or None (stop). What is queued when the writer gets to it is one
        # transaction: under load batches grow by themselves, idle it writes at once.
        stopping = False
        while not stopping:
            batch: list[Trace] = []
            markers: list[threading.Event] = []
            item = self._queue.get()
            while True:
                if item is None:
                    stopping = True
                elif isinstance(item, threading.Event):
                    markers.append(item)
                else:
                    batch.append(item)
                if stopping or markers or len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if stopping:  # take whatever is still queued
                while True:
                    try:
                        rest = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(rest, Trace):
                        batch.append(rest)
                    elif isinstance(rest, threading.Event):
                        markers.append(rest)
            self.write_batch(batch)
            for marker in markers:
                marker.set()

    def write_batch(self, batch: list[Trace]) -> None:
        """Append `batch` in one transaction and tell `on_written`; errors are logged, not raised
        (this runs on a writer's thread)."""
        if not batch:
            return
        try:
            ids = self.append_many(batch)
        except (sqlite3.Error, ValueError, TypeError):
            log.exception("could not write %d requests to %s", len(batch), self.path)
            return
        if self.on_written is not None:
            try:
                self.on_written([_summary(i, t) for i, t in zip(ids, batch, strict=True)])
            except Exception:
                log.exception("request log listener failed")

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every trace queued so far is in the database."""
        if self._writer is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def wait_for_replay(
        self, original: int, *, timeout: float = 2.0, before: Callable[[], object] | None = None
    ) -> int | None:
        """The id of the newest replay of `original`, waiting up to `timeout` for it to be
        written (the server logs a request just after answering it)."""
        known = self.replay_of(original)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if before is not None:
                before()
            found = self.replay_of(original)
            if found is not None and found != known:
                return found
            time.sleep(0.01)
        return known

    def replay_of(self, original: int) -> int | None:
        """The newest entry that replays `original`."""
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM requests WHERE replay_of = ? ORDER BY id DESC LIMIT 1", (original,)
            ).fetchone()
        return int(row[0]) if row else None

    def append_many(self, traces: list[Trace]) -> list[int]:
        rows = [_row(t) for t in traces]
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT INTO requests (trace_id, time, method, path, query, status, duration_ms, pattern,"
                    " source, replay_of, trace) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                # PERF: one statement for the batch, not one per row with RETURNING. The ids are
                # the batch's: AUTOINCREMENT numbers rows in order, and BEGIN IMMEDIATE keeps
                # every other writer out until COMMIT.
                (last,) = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'requests'").fetchone()
                ids = list(range(last - len(rows) + 1, last + 1))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        self.written += len(ids)
        return ids

    def close(self) -> None:
        """Stop listening and write everything queued."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(10)
            self._writer = None
        with self._lock:
            self._db.close()

    # Reading -----------------------------------------------------------------------

    def entries(self, limit: int | None = None, *, after: int = 0) -> list[dict[str, Any]]:
        return read_entries(self._db, limit=limit, after=after, lock=self._lock)

    def summaries(self, *, after: int = 0, limit: int | None = None) -> list[LogSummary]:
        """Entries' list rows, oldest first; with `limit`, the newest `limit` of them."""
        sql = _SUMMARY + " WHERE id > ? ORDER BY id DESC" + (" LIMIT ?" if limit is not None else "")
        args: tuple[int, ...] = (after, limit) if limit is not None else (after,)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [LogSummary(*row) for row in reversed(rows)]

    def get(self, entry_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(_SELECT + " WHERE id = ?", (entry_id,)).fetchone()
        return _entry(row) if row else None


_SELECT: Final = "SELECT id, source, replay_of, trace FROM requests"
_SUMMARY: Final = "SELECT id, time, method, path, query, status, duration_ms, pattern, source, replay_of FROM requests"


def read_entries(
    db: sqlite3.Connection, *, limit: int | None = None, after: int = 0, lock: threading.Lock | None = None
) -> list[dict[str, Any]]:
    """Entries oldest first; with `limit`, the newest `limit` of them."""
    sql = _SELECT + " WHERE id > ? ORDER BY id DESC" + (" LIMIT ?" if limit is not None else "")
    args: tuple[int, ...] = (after, limit) if limit is not None else (after,)
    if lock is not None:
        with lock:
            rows = db.execute(sql, args).fetchall()
    else:
        rows = db.execute(sql, args).fetchall()
    return [_entry(r) for r in reversed(rows)]


def open_log(path: Path) -> Iterator[dict[str, Any]]:
    """Read a log file without writing to it (for `routeconsole log`)."""
    with closing(connect(path)) as db:
        yield from read_entries(db)


def _row(trace: Trace) -> tuple[Any, ...]:
    """The columns of a new row: the trace id, the summary's columns, the whole trace as JSON."""
    return (trace.id, *_summary(0, trace)[1:], json.dumps(trace.to_json(), separators=(",", ":")))


def _entry(row: tuple[Any, ...]) -> dict[str, Any]:
    entry_id, source, replay_of, trace = row
    data: dict[str, Any] = json.loads(trace)
    data.update(id=entry_id, source=source, replay_of=replay_of, trace_id=data.pop("id"))
    return data


def _summary(entry_id: int, trace: Trace) -> LogSummary:
    pattern = trace.route["pattern"] if trace.route else None
    return LogSummary(
        entry_id,
        trace.time,
        trace.method,
        trace.path,
        trace.query,
        trace.status,
        trace.duration_ms,
        pattern,
        trace.source,
        trace.replay_of,
    )

"""What happened in the engine, as Textual messages (posted by `bridge.Bridge`)."""

from __future__ import annotations

import logging

from textual.message import Message

import engine


class RequestsLogged(Message):
    """Requests were answered and written to the log, oldest first."""

    def __init__(self, rows: list[engine.LogSummary]) -> None:
        super().__init__()
        self.rows = rows


class RoutesReloaded(Message):
    """Files changed and the app was rebuilt; `table` is what is served now."""

    def __init__(self, event: engine.RoutesReloaded, table: engine.RouteTable) -> None:
        super().__init__()
        self.event = event
        self.table = table


class AppStateChanged(Message):
    """The app process started, ended or is about to start again; `text` says so for the header
    (empty while it serves)."""

    def __init__(self, text: str, *, failed: bool) -> None:
        super().__init__()
        self.text = text
        self.failed = failed


class ServerLogged(Message):
    """A record from the server, the watcher or the app's code (the `routeconsole` loggers)."""

    def __init__(self, record: logging.LogRecord, text: str) -> None:
        super().__init__()
        self.record = record
        self.text = text

"""routeconsole's routing engine: file-based HTTP routes for Python.

The public surface is what `__all__` lists; everything else is private and may change.

    table = engine.load_routes("./app")          # read the files, never run them
    table.routes, table.conflicts                # what is routed, what clashes
    table.match("GET", "/users/42")              # status, pattern, file, params, allow
    app = engine.create_app("./app")             # an ASGI 3 application
    running = engine.Engine("./app"); running.start()   # served, watched and logged, in the background

Route files import their helpers from here: `from engine import Response, use`.
"""

from __future__ import annotations

from .app import RouteApp, create_app
from .discovery import load_routes
from .embedded import Engine
from .errors import AppNotFound, EngineError, UnknownConvention
from .events import (
    AppExited,
    AppRestarting,
    EventSink,
    RequestFinished,
    RoutesReloaded,
    ServerStarted,
    ServerStopped,
)
from .export import to_curl, to_har
from .http import FormData, Headers, ImmutableRequestError, QueryParams, Request, Response, UploadFile
from .loader import IMPORT_GRACE, create_file_route, use
from .matcher import Match
from .redact import MASK, is_secret_header, redact_entry, redact_headers
from .replay import Answer, ReplayResult, compare, replay_request
from .store import LogSummary, RequestLog
from .supervisor import SupervisedEngine
from .table import Conflict, Route, RouteTable
from .trace import REPLAY_OF_HEADER, SOURCE_HEADER, Span, Trace
from .watched import WatchedEngine

CONVENTIONS = ("next", "tanstack", "expo")

__all__ = [
    "CONVENTIONS",
    "IMPORT_GRACE",
    "MASK",
    "REPLAY_OF_HEADER",
    "SOURCE_HEADER",
    "Answer",
    "AppExited",
    "AppNotFound",
    "AppRestarting",
    "Conflict",
    "Engine",
    "EngineError",
    "EventSink",
    "FormData",
    "Headers",
    "ImmutableRequestError",
    "LogSummary",
    "Match",
    "QueryParams",
    "ReplayResult",
    "Request",
    "RequestFinished",
    "RequestLog",
    "Response",
    "Route",
    "RouteApp",
    "RouteTable",
    "RoutesReloaded",
    "ServerStarted",
    "ServerStopped",
    "Span",
    "SupervisedEngine",
    "Trace",
    "UnknownConvention",
    "UploadFile",
    "WatchedEngine",
    "compare",
    "create_app",
    "create_file_route",
    "is_secret_header",
    "load_routes",
    "redact_entry",
    "redact_headers",
    "replay_request",
    "to_curl",
    "to_har",
    "use",
]

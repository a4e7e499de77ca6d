"""routeconsole's routing engine: file-based HTTP routes for Python.

The public surface is what `__all__` lists; everything else is private and may change.

    table = engine.load_routes("./app")          # read the files, never run them
    table.routes, table.conflicts                # what is routed, what clashes
    table.match("GET", "/users/42")              # status, pattern, file, params, allow
    app = engine.create_app("./app")             # an ASGI 3 application

Route files import their helpers from here: `from engine import Response, use`.
"""

from __future__ import annotations

from .app import RouteApp, create_app
from .discovery import load_routes
from .errors import AppNotFound, EngineError, UnknownConvention
from .events import EventSink, RequestFinished, ServerStarted, ServerStopped
from .http import FormData, Headers, ImmutableRequestError, QueryParams, Request, Response, UploadFile
from .loader import create_file_route, use
from .matcher import Match
from .table import Conflict, Route, RouteTable
from .trace import Span, Trace

CONVENTIONS = ("next", "tanstack", "expo")

__all__ = [
    "CONVENTIONS",
    "AppNotFound",
    "Conflict",
    "EngineError",
    "EventSink",
    "FormData",
    "Headers",
    "ImmutableRequestError",
    "Match",
    "QueryParams",
    "Request",
    "RequestFinished",
    "Response",
    "Route",
    "RouteApp",
    "RouteTable",
    "ServerStarted",
    "ServerStopped",
    "Span",
    "Trace",
    "UnknownConvention",
    "UploadFile",
    "create_app",
    "create_file_route",
    "load_routes",
    "use",
]

"""routeconsole's routing engine: file-based HTTP routes for Python.

The public surface is what `__all__` lists; everything else is private and may change.

    table = engine.load_routes("./app")          # read the files, never run them
    table.routes, table.conflicts                # what is routed, what clashes
    table.match("GET", "/users/42")              # status, pattern, file, params, allow
"""

from __future__ import annotations

from .discovery import load_routes
from .errors import AppNotFound, EngineError, UnknownConvention
from .matcher import Match
from .table import Conflict, Route, RouteTable

CONVENTIONS = ("next", "tanstack", "expo")

__all__ = [
    "CONVENTIONS",
    "AppNotFound",
    "Conflict",
    "EngineError",
    "Match",
    "Route",
    "RouteTable",
    "UnknownConvention",
    "load_routes",
]

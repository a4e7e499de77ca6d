"""Dialects: how file paths under APP become URL patterns.

Adding a dialect means adding a module with a class that satisfies `Dialect` and
listing it in `DIALECTS`; nothing else changes. Detection tries each dialect's markers
in order and falls back to the last one.
"""

from __future__ import annotations

from .base import Dialect, Layout, Misplaced, RouteSpec
from .expo import ExpoDialect
from .next import NextDialect
from .tanstack import TanstackDialect

# Detection order: `*+api.py` -> expo, `route.py`/`page.py` -> next, otherwise tanstack.
DIALECTS: dict[str, Dialect] = {d.name: d for d in (ExpoDialect(), NextDialect(), TanstackDialect())}

__all__ = ["DIALECTS", "Dialect", "Layout", "Misplaced", "RouteSpec", "detect"]


def detect(files: list[str]) -> Dialect:
    dialects = list(DIALECTS.values())
    for dialect in dialects[:-1]:
        if any(dialect.is_marker(f) for f in files):
            return dialect
    return dialects[-1]

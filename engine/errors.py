"""Exceptions the engine raises for bad input.

EngineError                 base: anything the caller passed that the engine cannot use
├── AppNotFound             the app directory does not exist or is not a directory
└── UnknownConvention       --convention names no dialect
"""

from __future__ import annotations


class EngineError(Exception):
    """Bad input to the engine; the message says what to do next."""


class AppNotFound(EngineError):
    pass


class UnknownConvention(EngineError):
    pass

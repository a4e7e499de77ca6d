"""Find the Python files under APP that a dialect may route.

Skipped everywhere: hidden files and folders (`.routeconsole/`, `.git/`, `.venv/`),
`__pycache__`, `node_modules`, and helper packages: a folder that holds an
`__init__.py` is app code imported by routes, never routed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from .dialects import DIALECTS, detect
from .errors import AppNotFound, UnknownConvention
from .source import FactsCache, read_facts
from .table import RouteTable, build_table

_SKIP_DIRS: Final = frozenset({"__pycache__", "node_modules", "venv", "site-packages"})


def python_files(app_dir: Path) -> list[str]:
    """Relative, "/"-separated paths of the routable `.py` files under `app_dir`, sorted."""
    found: list[str] = []
    _walk(str(app_dir), "", found)
    found.sort()
    return found


def _walk(directory: str, prefix: str, found: list[str]) -> None:
    # PERF: one os.scandir per folder, whose entries carry their type; a helper package is
    # recognised from its own listing rather than by a separate stat of `__init__.py`.
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return  # unreadable folder: nothing in it can be routed
    if prefix and any(e.name == "__init__.py" for e in entries):
        return  # a helper package: app code imported by routes, never routed
    subdirs: list[os.DirEntry[str]] = []
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        if entry.is_dir():
            if name not in _SKIP_DIRS:
                subdirs.append(entry)
        elif name.endswith(".py") and name != "__init__.py":
            found.append(prefix + name)
    for entry in subdirs:
        _walk(entry.path, prefix + entry.name + "/", found)


def load_routes(
    app_dir: str | os.PathLike[str], *, convention: str | None = None, facts: FactsCache | None = None
) -> RouteTable:
    """Read the route files under `app_dir` into a validated `RouteTable`.

    The dialect is detected from marker files unless `convention` names one
    (`next`, `tanstack`, `expo`). No route file is executed.

    `facts` remembers what each file declares between calls, so a reload re-reads only
    the files that changed.

    Raises `AppNotFound` when `app_dir` is not a directory and `UnknownConvention`
    for any other `convention`.
    """
    path = Path(app_dir)
    if not path.is_dir():
        raise AppNotFound(f"{app_dir}: no such directory; pass the folder that holds your route files")
    files = python_files(path)
    if convention is None:
        dialect = detect(files)
    elif convention in DIALECTS:
        dialect = DIALECTS[convention]
    else:
        raise UnknownConvention(f"unknown convention {convention!r}: choose one of {', '.join(sorted(DIALECTS))}")
    return build_table(path, dialect, dialect.layout(files), facts.read if facts else read_facts)

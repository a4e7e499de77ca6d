"""The small interface every dialect implements.

A dialect turns the app's file list into `RouteSpec`s (file -> URL segments) and names
its global middleware. It knows nothing of the files' contents, matching or conflicts
between routes: those are the route table's job, the same for every dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..segments import Segment

RouteKind = Literal["route", "page"]


@dataclass(frozen=True, slots=True)
class RouteSpec:
    file: str  # relative to APP, "/"-separated
    segments: tuple[Segment, ...]
    kind: RouteKind = "route"
    # Files whose `middleware` wraps this route, root to leaf (tanstack's inherited layouts).
    layouts: tuple[str, ...] = ()
    # The path the file itself implies in the dialect's own notation (tanstack's route id),
    # compared with what the file declares, e.g. `create_file_route("/x")`.
    route_id: str | None = None
    invalid: str | None = None  # why the file's path cannot be routed, when it cannot


@dataclass(frozen=True, slots=True)
class Misplaced:
    """A file the dialect recognises but that sits where it has no effect."""

    kind: str  # a conflict kind id, e.g. "middleware-location" or "invalid-segment"
    files: tuple[str, ...]
    message: str


@dataclass(slots=True)
class Layout:
    """What a dialect reads from the file list."""

    routes: list[RouteSpec] = field(default_factory=list)
    global_middleware: str | None = None
    problems: list[Misplaced] = field(default_factory=list)


class Dialect(Protocol):
    name: str
    # Matching rule for a trailing slash: "redirect" answers 308 to the path without it,
    # "ignore" matches as if it were absent.
    trailing_slash: Literal["redirect", "ignore"]
    # Severity of two routes naming one parameter position differently.
    param_names_severity: Literal["error", "warning"]

    def is_marker(self, path: str) -> bool:
        """True when this file shows an app is written in this dialect."""
        ...

    def layout(self, files: list[str]) -> Layout:
        """Map the app's `.py` files (relative, "/"-separated, sorted) to routes."""
        ...


def pick_global_middleware(candidates: list[str], name: str, layout: Layout) -> None:
    """Choose the global middleware among files at URL root (APP itself or group folders).

    One file at APP itself wins; any other candidate is reported, since only one runs.
    """
    if not candidates:
        return
    candidates = sorted(candidates, key=lambda f: (f.count("/"), f))
    layout.global_middleware = candidates[0]
    if len(candidates) > 1:
        layout.problems.append(
            Misplaced(
                "middleware-location",
                tuple(candidates),
                f"{len(candidates)} global middleware files ({', '.join(candidates)}); only "
                f"{candidates[0]} runs. "
                f"Keep a single {name} at the app's root and move the rest into it.",
            )
        )


def is_group(name: str) -> bool:
    return len(name) > 2 and name.startswith("(") and name.endswith(")")

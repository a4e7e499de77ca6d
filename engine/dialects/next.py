"""Next.js App Router route handlers (`app/`), brought to Python.

users/[id]/route.py      -> /users/[id]
(shop)/cart/route.py     -> /cart            groups and @slots add no segment
docs/[[...slug]]/page.py -> /docs/[[...slug]] (a page: GET/HEAD answered by `page()`)
_lib/db.py               -> not routed       `_` folders are private; `%5F` is a literal `_`
middleware.py            -> global middleware, at APP root only
"""

from __future__ import annotations

from typing import Final, Literal

from ..segments import parse_names
from .base import Layout, Misplaced, RouteKind, RouteSpec, is_group, pick_global_middleware

_FILES: Final[dict[str, RouteKind]] = {"route.py": "route", "page.py": "page"}


class NextDialect:
    name = "next"
    trailing_slash: Literal["redirect", "ignore"] = "redirect"
    param_names_severity: Literal["error", "warning"] = "error"

    def is_marker(self, path: str) -> bool:
        return path.rsplit("/", 1)[-1] in _FILES

    def layout(self, files: list[str]) -> Layout:
        layout = Layout()
        middleware: list[str] = []
        for file in files:
            *folders, filename = file.split("/")
            if any(f.startswith("_") for f in folders):
                continue  # private folder: colocated code, never routed
            if filename == "middleware.py":
                if all(is_group(f) or f.startswith("@") for f in folders):
                    middleware.append(file)
                else:
                    layout.problems.append(
                        Misplaced(
                            "middleware-location",
                            (file,),
                            f"{file} never runs: middleware.py is read only at the app's root. "
                            "Move it there, or use `middleware = [...]` in the route files it should wrap.",
                        )
                    )
                continue
            kind = _FILES.get(filename)
            if kind is None:
                continue  # any other module is colocated code
            layout.routes.append(_spec(file, folders, kind))
        pick_global_middleware(middleware, "middleware.py", layout)
        return layout


def _spec(file: str, folders: list[str], kind: RouteKind) -> RouteSpec:
    names = [f.replace("%5F", "_").replace("%5f", "_") for f in folders if not (is_group(f) or f.startswith("@"))]
    segments, problem = parse_names(names)
    return RouteSpec(file, segments, kind, invalid=problem)

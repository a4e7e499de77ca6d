"""Expo Router API routes (`app/`), brought to Python.

    hello+api.py            -> /hello
    users/[id]+api.py       -> /users/[id]
    blog/index+api.py       -> /blog             `index` is the folder itself
    (auth)/login+api.py     -> /login            groups add no segment
    +middleware.py          -> global middleware, one, at APP root only
Only `+api.py` files are routes; every other module is app code.
"""

from __future__ import annotations

from typing import Final, Literal

from ..segments import parse_names
from .base import Layout, Misplaced, RouteSpec, is_group, pick_global_middleware

_SUFFIX: Final = "+api.py"
_MIDDLEWARE: Final = "+middleware.py"


class ExpoDialect:
    name = "expo"
    trailing_slash: Literal["redirect", "ignore"] = "ignore"
    param_names_severity: Literal["error", "warning"] = "warning"

    def is_marker(self, path: str) -> bool:
        return path.endswith(_SUFFIX)

    def layout(self, files: list[str]) -> Layout:
        layout = Layout()
        middleware: list[str] = []
        for file in files:
            *folders, filename = file.split("/")
            if filename == _MIDDLEWARE:
                if all(is_group(f) for f in folders):
                    middleware.append(file)
                else:
                    layout.problems.append(
                        Misplaced(
                            "middleware-location",
                            (file,),
                            f"{file} never runs: Expo reads one +middleware.py, at the app's root. "
                            "Move it there and branch on request.path inside it.",
                        )
                    )
                continue
            if filename.endswith(_SUFFIX):
                layout.routes.append(_spec(file, folders, filename[: -len(_SUFFIX)]))
        pick_global_middleware(middleware, _MIDDLEWARE, layout)
        return layout


def _spec(file: str, folders: list[str], stem: str) -> RouteSpec:
    names = [f for f in folders if not is_group(f)]
    if stem != "index":
        names.append(stem)
    segments, problem = parse_names(names)
    if is_group(stem):
        problem = f"'{stem}': a group is a folder, not a route file"
    return RouteSpec(file, segments, invalid=problem)

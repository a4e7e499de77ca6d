"""TanStack Start server routes (`routes/`), brought to Python.

Every `.py` file is a route; `.` in a file name and `/` are the same separator:

    users.$id.posts.py == users/$id/posts.py  -> /users/[id]/posts
    users.index.py == users/index.py          -> /users   (`route.py` in a folder likewise)
    files/$.py                                -> /files/[..._splat]
    my-script[.]js.py                         -> /my-script.js   (bracketed text is literal)
    _auth.py, _auth/dashboard.py              -> _auth is a pathless layout: its `middleware`
                                                 wraps /dashboard, it adds no segment
    posts_.$id.edit.py                        -> /posts/[id]/edit, not wrapped by posts.py
    -components/, (group)/                    -> ignored / no segment
    __root.py                                 -> middleware for every route

A route inherits the middleware of each route on its branch, root to leaf: the parents
of `/posts/$id/edit` are the files for `/posts/$id` and `/posts`, when they exist.
"""

from __future__ import annotations

from typing import Final, Literal

from ..segments import CATCHALL, PARAM, SPLAT, STATIC, InvalidSegment, Segment, static_segment
from .base import Layout, Misplaced, RouteSpec, is_group, pick_global_middleware

_ROOT: Final = "__root"


class TanstackDialect:
    name = "tanstack"
    trailing_slash: Literal["redirect", "ignore"] = "ignore"
    param_names_severity: Literal["error", "warning"] = "warning"

    def is_marker(self, path: str) -> bool:
        return False  # the fallback when no other dialect's marker is present

    def layout(self, files: list[str]) -> Layout:
        layout = Layout()
        roots: list[str] = []
        parents: dict[tuple[str, ...], str] = {}  # route id tokens -> the file that can wrap children
        entries: list[tuple[str, list[str], bool, str | None]] = []
        for file in files:
            parts = file[:-3].split("/")
            if any(p.startswith("-") for p in parts):
                continue  # `-name` files and folders are ignored by the router
            try:
                folder_tokens = [t for p in parts[:-1] for t in split_tokens(p)]
                stem_tokens = split_tokens(parts[-1])
            except InvalidSegment as exc:
                literal = tuple(Segment(STATIC, p) for p in parts)
                layout.routes.append(RouteSpec(file, literal, invalid=str(exc)))
                continue
            tokens = folder_tokens + stem_tokens
            if _ROOT in tokens:
                if tokens[-1] == _ROOT and all(is_group(t) for t in tokens[:-1]):
                    roots.append(file)
                else:
                    layout.problems.append(
                        Misplaced(
                            "middleware-location",
                            (file,),
                            f"{file}: __root is read only at the routes folder's root. "
                            "Rename it, or move its middleware into a pathless layout (`_name.py`).",
                        )
                    )
                continue
            invalid = None
            if any(is_group(t) for t in stem_tokens):
                invalid = f"'{parts[-1]}.py': a (group) is a folder, not a route file"
            index = tokens[-1] == "index"
            if tokens[-1] in ("index", "route"):
                tokens.pop()
            if not index:
                parents.setdefault(tuple(tokens), file)
            entries.append((file, tokens, index, invalid))

        for file, tokens, index, invalid in entries:
            if tokens and tokens[-1].startswith("_") and not tokens[-1].endswith("_") and not index:
                continue  # a pathless layout file: it wraps its children, it answers nothing itself
            chain = [tuple(tokens[:k]) for k in range(1, len(tokens) + (1 if index else 0))]
            layouts = tuple(parents[c] for c in chain if c in parents and parents[c] != file)
            route_id = "/" + "/".join(tokens) + ("/" if index and tokens else "")
            segments: list[Segment] = []
            for token in tokens:
                try:
                    segment = _segment(token)
                except InvalidSegment as exc:
                    segment = Segment(STATIC, token)
                    invalid = invalid or str(exc)
                if segment is not None:
                    segments.append(segment)
            if invalid and not segments:
                segments = [Segment(STATIC, parts[-1])]
            layout.routes.append(RouteSpec(file, tuple(segments), "route", layouts, route_id, invalid))
        pick_global_middleware(roots, "__root.py", layout)
        return layout


def split_tokens(name: str) -> list[str]:
    """Split a file or folder name on `.`, except inside brackets: `a[.]b.c` -> `a[.]b`, `c`."""
    if not name:
        raise InvalidSegment("'': an empty name is not a URL segment")
    tokens: list[str] = []
    current: list[str] = []
    depth = 0
    for char in name:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise InvalidSegment(f"'{name}': ']' without its '['")
        if char == "." and depth == 0:
            tokens.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth:
        raise InvalidSegment(f"'{name}': '[' without its ']'")
    tokens.append("".join(current))
    if any(t == "" for t in tokens):
        raise InvalidSegment(f"'{name}': empty segment between dots")
    return tokens


def _segment(token: str) -> Segment | None:
    if is_group(token):
        return None
    if token.startswith("_") and not token.endswith("_"):
        return None  # pathless layout
    if token.endswith("_") and len(token) > 1:
        token = token[:-1]  # break-out: the segment stays, the parent's middleware does not apply
    if token == "$":
        return Segment(CATCHALL, SPLAT)
    if token.startswith("$"):
        name = token[1:]
        if not name.isidentifier():
            raise InvalidSegment(f"'{token}': '{name}' is not a valid parameter name")
        return Segment(PARAM, name)
    if "$" in token.replace("[$]", ""):
        raise InvalidSegment(f"'{token}': '$' starts a parameter and must begin the segment (escape it as [$])")
    return static_segment(token, token.replace("[", "").replace("]", ""))

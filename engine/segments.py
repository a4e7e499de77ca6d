"""URL segments in the canonical form every dialect reports.

A route pattern is a tuple of `Segment`s. The canonical text of a pattern is
`/users/[id]`, `/files/[...path]`, `/docs/[[...slug]]` whatever the dialect wrote
(TanStack's `$id` and `$` become `[id]` and `[..._splat]`).

The kinds are ordered by matching priority: at each position a static segment
beats a parameter, which beats a catch-all, which beats an optional catch-all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

STATIC: Final = 0
PARAM: Final = 1
CATCHALL: Final = 2  # one or more segments; the param is a list (a string for TanStack's splat)
OPTIONAL: Final = 3  # zero or more segments; the param is absent when empty

SPLAT: Final = "_splat"


@dataclass(frozen=True, slots=True, order=True)
class Segment:
    kind: int
    value: str  # the literal text of a static segment, else the parameter's name

    @property
    def text(self) -> str:
        if self.kind == STATIC:
            return self.value
        if self.kind == PARAM:
            return f"[{self.value}]"
        if self.kind == CATCHALL:
            return f"[...{self.value}]"
        return f"[[...{self.value}]]"


def pattern_text(segments: tuple[Segment, ...]) -> str:
    """`(Segment(STATIC, "users"), Segment(PARAM, "id"))` -> `/users/[id]`."""
    return "/" + "/".join(s.text for s in segments)


class InvalidSegment(ValueError):
    """A folder or file name that no dialect can route; the message explains it."""


def parse_pattern(text: str) -> tuple[Segment, ...]:
    """The inverse of `pattern_text`: `/users/[id]/[...rest]` -> its segments.

    `/` is the root, `()`. Text that is not a canonical pattern (no leading `/`, an empty
    segment as in `//` or a trailing `/`, malformed brackets) raises `InvalidSegment`.
    """
    if not text.startswith("/"):
        raise InvalidSegment(f"{text!r}: a pattern starts with '/'")
    if text == "/":
        return ()
    return tuple(parse_bracketed(part) for part in text[1:].split("/"))


_SEPARATORS: Final = re.compile(r"[/\\]")


def holds_dot_segment(text: str) -> bool:
    """Whether `text` is `.` or `..`, or splits on `/` or `\\` into parts that include one
    (`a/..`, `..\\etc`): a decoded URL segment that would climb, or a name no URL reaches."""
    return "." in text and any(part in (".", "..") for part in _SEPARATORS.split(text))


def static_segment(name: str, value: str | None = None) -> Segment:
    """The static segment `value` (by default `name` itself), written as `name` in the file tree.

    Raises `InvalidSegment` for text no request can reach: an empty segment, and a dot
    segment (`.`, `..`, or text that splits on `/` or `\\` into one, like `a\\..`), since
    dot segments are resolved, or refused with 400, before any matching.
    """
    text = name if value is None else value
    if not text:
        raise InvalidSegment(f"'{name}': an empty name is not a URL segment")
    if holds_dot_segment(text):
        raise InvalidSegment(
            f"'{name}': '{text}' is a dot segment, which is resolved (or refused) before matching, "
            "so no request can reach it"
        )
    return Segment(STATIC, text)


def parse_bracketed(name: str) -> Segment:
    """Parse a Next.js / Expo folder or file stem into a segment.

    `users` -> static, `[id]` -> param, `[...slug]` -> catch-all, `[[...slug]]` -> optional
    catch-all. Malformed brackets (`[[id]]`, `[..id]`, `[]`, `a[b]`), an empty name and a
    dot segment (see `static_segment`) raise `InvalidSegment`.
    """
    if "[" not in name and "]" not in name:
        return static_segment(name)
    if name.startswith("[[") and name.endswith("]]"):
        inner = name[2:-2]
        if not inner.startswith("..."):
            raise InvalidSegment(
                f"'{name}': double brackets are only for an optional catch-all; write '[[...{inner}]]' or '[{inner}]'"
            )
        return Segment(OPTIONAL, _param_name(name, inner[3:]))
    if name.startswith("[") and name.endswith("]"):
        inner = name[1:-1]
        if inner.startswith("..."):
            return Segment(CATCHALL, _param_name(name, inner[3:]))
        if inner.startswith("."):
            raise InvalidSegment(f"'{name}': a catch-all takes three dots: '[...{inner.lstrip('.')}]'")
        return Segment(PARAM, _param_name(name, inner))
    raise InvalidSegment(f"'{name}': a dynamic segment must be the whole name, like '[id]'")


def parse_names(names: list[str]) -> tuple[tuple[Segment, ...], str | None]:
    """Parse folder/file names into segments; an invalid name stays as literal text.

    Returns the segments and the first problem found, so the pattern still shows what
    the user wrote (`/a/[[id]]`) next to the explanation.
    """
    segments: list[Segment] = []
    problem: str | None = None
    for name in names:
        try:
            segments.append(parse_bracketed(name))
        except InvalidSegment as exc:
            segments.append(Segment(STATIC, name))
            problem = problem or str(exc)
    return tuple(segments), problem


def _param_name(name: str, inner: str) -> str:
    if not inner:
        raise InvalidSegment(f"'{name}': the parameter needs a name, like '[id]'")
    if any(c in inner for c in "[]./"):
        raise InvalidSegment(f"'{name}': '{inner}' is not a valid parameter name")
    return inner

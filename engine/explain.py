"""Why a path reaches its route: the whole contest, and the routes that nearly won.

`explain(table, method, path)` answers what `RouteTable.match` answers, plus

- `candidates`: every route whose pattern matches the path, in the order the matcher
  prefers them. The first answers (also when its answer is a 405); each other one says
  where it lost to the one before it: "segment 3: static `search` is preferred to `[id]`",
  or, for a file with the same URL shape as the winner, "shadowed: ... serves the same URL".
- `near`: up to five routes that miss the path by one segment (a different static name,
  one segment too few or too many) or, for a 405, by the method, most similar first.

It walks every route (it is for a person asking, not for serving): `RouteTable.match`
stays the fast path and pays nothing for this. Matching here is written independently of
the matcher's tree, from the rules (static > `[x]` > `[...x]` > `[[...x]]`, segment by
segment, left to right), and the answer is checked against the matcher's: the route the
matcher serves always comes first.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, unquote

from .matcher import Match, UnsafePath, resolve_dots
from .segments import CATCHALL, OPTIONAL, PARAM, STATIC, Segment

if TYPE_CHECKING:  # the table builds its conflicts' examples with this module
    from .table import Route, RouteTable

log = logging.getLogger("routeconsole.explain")

MAX_NEAR: Final = 5
MAX_EXAMPLES: Final = 3
EXAMPLE: Final = "example"  # what an example path puts where a pattern has a parameter


@dataclass(frozen=True, slots=True)
class Candidate:
    pattern: str
    file: str
    chosen: bool
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"pattern": self.pattern, "file": self.file, "chosen": self.chosen, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Near:
    pattern: str
    file: str
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"pattern": self.pattern, "file": self.file, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Explanation:
    match: Match
    candidates: tuple[Candidate, ...]
    near: tuple[Near, ...]

    def to_json(self, method: str, path: str) -> dict[str, object]:
        return {
            **self.match.to_json(method, path),
            "candidates": [c.to_json() for c in self.candidates],
            "near": [n.to_json() for n in self.near],
        }


def path_segments(path: str) -> list[str] | None:
    """A raw request path as the matcher splits it (dots resolved, a trailing slash dropped,
    each segment percent-decoded on its own); None for a path refused with 400."""
    try:
        path = resolve_dots(path)
    except UnsafePath:
        return None
    path = path.rstrip("/") or "/"
    if path == "/":
        return []
    return [unquote(s) for s in path[1:].split("/")]


def claims(route: Route, segments: Sequence[str]) -> bool:
    """Whether `route`'s pattern matches the path `segments`."""
    pattern = route.segments
    for i, segment in enumerate(pattern):
        if segment.kind == CATCHALL:
            return len(segments) > i
        if segment.kind == OPTIONAL:
            return len(segments) >= i
        if i >= len(segments):
            return False
        if segment.kind == STATIC and segment.value != segments[i]:
            return False
        if segment.kind == PARAM and not segments[i]:
            return False
    return len(segments) == len(pattern)


def preference(route: Route) -> tuple[int, ...]:
    """The matcher's order: compare the kinds of the segments left to right, lower first
    (a shorter pattern before a longer one that agrees with it so far)."""
    return tuple(s.kind for s in route.segments)


def contest(routes: Sequence[Route], segments: Sequence[str], served: frozenset[str]) -> list[Route]:
    """The routes that match `segments`, ordered by the rules alone: served routes in the
    matcher's order; a route the matcher does not serve right after the served route of
    its shape (it lost to that file), or where its shape would stand."""
    matching = [r for r in routes if claims(r, segments)]
    matching.sort(key=lambda r: (preference(r), r.file not in served, r.file))
    return matching


def explain(table: RouteTable, method: str, path: str) -> Explanation:
    method = method.upper()
    match = table.match(method, path)
    segments = path_segments(path)
    if segments is None or match.status == 501:
        return Explanation(match, (), ())
    served = table.served()
    matching = contest(table.routes, segments, served)
    if match.file is not None and matching and matching[0].file != match.file:  # never, by the rules
        log.warning("explain: the rules put %s first, the matcher serves %s", matching[0].file, match.file)
        matching.sort(key=lambda r: r.file != match.file)  # say what the matcher does
    candidates: list[Candidate] = []
    for n, route in enumerate(matching):
        reason = _answer(match, route, method) if n == 0 else _lost(route, matching[n - 1], matching[0], served)
        candidates.append(Candidate(route.pattern, route.file, n == 0, reason))
    near = _near(table, method, segments, match, {c.file for c in candidates})
    return Explanation(match, tuple(candidates), tuple(near))


def _answer(match: Match, route: Route, method: str) -> str:
    if match.file != route.file:
        return "not served: " + (route.error or "it cannot be routed")
    if match.status == 405:
        return f"answers 405: {method} is not exported; Allow: {', '.join(match.allow)}"
    if match.status == 204:
        return "answers the OPTIONS itself (204 with Allow): the file exports no OPTIONS"
    if route.error:
        return f"answers 500 until the file loads: {route.error}"
    return f"answers {match.status}: the most specific pattern that matches"


def _lost(route: Route, before: Route, winner: Route, served: frozenset[str]) -> str:
    """Why `route` comes after `before` (the candidate preferred just ahead of it)."""
    if route.file not in served:
        if preference(route) == preference(winner) and _same_shape(route, winner):
            return f"shadowed: `{winner.file}` serves the same URL"
        return "never served: " + (route.error or "the file cannot be routed")
    for i, (mine, theirs) in enumerate(zip(route.segments, before.segments, strict=False)):
        if mine.kind != theirs.kind:
            return f"segment {i + 1}: {_describe(theirs)} is preferred to {_describe(mine)}"
    if len(before.segments) < len(route.segments):
        extra = route.segments[len(before.segments)]
        return f"segment {len(before.segments) + 1}: the path ends here, which {_describe(extra)} also takes"
    return f"`{before.file}` is preferred (same shape, earlier in path order)"


def _same_shape(a: Route, b: Route) -> bool:
    return len(a.segments) == len(b.segments) and all(
        x.kind == y.kind and (x.kind != STATIC or x.value == y.value)
        for x, y in zip(a.segments, b.segments, strict=True)
    )


def _describe(segment: Segment) -> str:
    if segment.kind == STATIC:
        return f"static `{segment.value}`"
    return f"`{segment.text}`"


def _near(table: RouteTable, method: str, segments: list[str], match: Match, taken: set[str]) -> list[Near]:
    near: list[tuple[float, Near]] = []
    if match.status == 405 and match.route is not None:
        route = match.route
        near.append(
            (2.0, Near(route.pattern, route.file, f"{method} is not exported; Allow: {', '.join(match.allow)}"))
        )
        taken = taken | {route.file}
    served = table.served()
    for route in table.routes:
        if route.file in taken or route.file not in served:
            continue
        miss = _one_miss(route.segments, segments)
        if miss is not None:
            near.append((miss[0], Near(route.pattern, route.file, miss[1])))
    near.sort(key=lambda item: -item[0])
    return [n for _, n in near[:MAX_NEAR]]


def _one_miss(pattern: Sequence[Segment], segments: Sequence[str]) -> tuple[float, str] | None:
    """(similarity, reason) when `pattern` misses `segments` by exactly one segment, else None."""
    fixed = [s for s in pattern if s.kind in (STATIC, PARAM)]
    tail = pattern[len(fixed) :] if len(fixed) < len(pattern) else ()
    if tail and len(fixed) != len(pattern) - 1:
        return None  # a catch-all that is not last: never served anyway
    wrong = [i for i, s in enumerate(fixed) if i < len(segments) and not _fits(s, segments[i])]
    length = len(fixed)
    if len(wrong) == 1 and (len(segments) == length or (tail and len(segments) >= length)):
        i = wrong[0]
        expected = fixed[i]
        if expected.kind == PARAM:
            return 0.5, f"segment {i + 1}: `{expected.text}` takes no empty segment"
        similarity = difflib.SequenceMatcher(None, expected.value, segments[i]).ratio()
        return 1.0 + similarity, f"segment {i + 1}: `{segments[i]}` is not `{expected.value}`"
    if wrong:
        return None
    if len(segments) == length - 1 and not tail:
        return 0.9, f"segment {length}: the route needs one more segment, {_describe(fixed[-1])}"
    if len(segments) == length + 1 and not tail:
        return 0.8, f"segment {length + 1}: `{segments[-1]}` is one segment more than the route takes"
    if tail and tail[0].kind == CATCHALL and len(segments) == length:
        return 0.7, f"segment {length + 1}: `{tail[0].text}` needs at least one more segment"
    return None


def _fits(segment: Segment, value: str) -> bool:
    return value == segment.value if segment.kind == STATIC else bool(value)


# Examples for a clash -----------------------------------------------------------------


def sample_paths(route: Route) -> list[str]:
    """Readable request paths `route` matches: `/blog/[slug]` -> `/blog/example`; a
    catch-all gives one and two segments, an optional catch-all none and one."""
    paths = [""]
    for segment in route.segments:
        if segment.kind == STATIC:
            paths = [f"{p}/{quote(segment.value, safe='')}" for p in paths]
        elif segment.kind == PARAM:
            paths = [f"{p}/{EXAMPLE}" for p in paths]
        elif segment.kind == CATCHALL:
            paths = [f"{p}/{tail}" for p in paths for tail in (EXAMPLE, f"{EXAMPLE}/more")]
        else:
            paths = [q for p in paths for q in (p, f"{p}/{EXAMPLE}")]
    return [p or "/" for p in paths]


def examples(routes: Sequence[Route], match: Callable[[str, str], Match]) -> tuple[tuple[str, str], ...]:
    """Up to MAX_EXAMPLES paths that the first of `routes` and another of them both match,
    each with the file that serves it (`match`'s answer, as `routeconsole match` gives it);
    one for each other route first, then more."""
    first = routes[0]
    per_pair: list[list[str]] = []
    for other in routes[1 : MAX_EXAMPLES + 1]:  # a catch-all at the root may have thousands of rivals
        shared = []
        for path in dict.fromkeys([*sample_paths(first), *sample_paths(other)]):
            segments = path_segments(path)
            if segments is not None and claims(first, segments) and claims(other, segments):
                shared.append(path)
        per_pair.append(shared)
    ordered = [p for rank in range(MAX_EXAMPLES) for shared in per_pair for p in shared[rank : rank + 1]]
    found: dict[str, str] = {}
    for path in ordered:
        answer = match("GET", path)
        if answer.file is not None and path not in found:
            found[path] = answer.file
        if len(found) == MAX_EXAMPLES:
            break
    return tuple(found.items())

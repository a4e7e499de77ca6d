"""Property tests (issue 10, item 8): the edges fuzzed with hypothesis.

- file names -> dialect -> pattern: never an exception; a route is either a canonical
  pattern that reads back the same, or an `invalid-segment` problem that says why;
- canonical pattern text <-> `parse_pattern`: a round trip, and any other text is refused
  with `InvalidSegment`, never anything else;
- raw request paths -> matcher: never an exception, never a 5xx (but 501 for an unknown
  method), and no route ever sees a dot segment;
- the console's `visible()`: no control character survives, printable text is unchanged.

The hypothesis profile (examples, deadline, CI) is set in tests/conftest.py.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.dialects import DIALECTS
from engine.matcher import KNOWN_METHODS, Match
from engine.segments import (
    CATCHALL,
    OPTIONAL,
    PARAM,
    STATIC,
    InvalidSegment,
    Segment,
    parse_pattern,
    pattern_text,
)
from engine.source import FileFacts
from engine.table import RouteTable, build_table
from engine.visible import UNSAFE, visible
from tests.conftest import write_app

# --- file names -> dialect -> pattern -------------------------------------------------

# The pieces each dialect gives a meaning to, and some that no dialect should choke on.
NAME_PIECES = [
    "[", "]", "[[", "]]", "...", ".", "..", "$", "_", "-", "(", ")", "(g)", "@", "@s", "+",
    "%5F", "%5f", "%2e", "%2F", "%", "index", "route", "__root", "id", "a", "é", "日本", "\\",
    " ", "\t", "\x1b", "",
]  # fmt: skip
names = st.lists(st.one_of(st.sampled_from(NAME_PIECES), st.text(max_size=3)), max_size=5).map("".join)

FILE_NAMES = {
    "next": st.sampled_from(["route.py", "page.py", "middleware.py", "helpers.py"]),
    "tanstack": names.map(lambda n: n + ".py"),
    "expo": st.one_of(names.map(lambda n: n + "+api.py"), st.sampled_from(["+middleware.py", "helpers.py"])),
}


def files_of(convention: str) -> st.SearchStrategy[list[str]]:
    """Lists of "/"-separated relative paths, as discovery hands them to a dialect."""
    path = st.tuples(st.lists(names, max_size=3), FILE_NAMES[convention]).map(lambda t: "/".join([*t[0], t[1]]))
    return st.lists(path, min_size=1, max_size=5, unique=True).map(sorted)


# Every file answers GET, as a route (`GET`) or as a next page (`page`).
SOURCE = "def GET(request):\n    return 'ok'\n\n\ndef page(request, params):\n    return 'ok'\n"
GET_FACTS = FileFacts(methods=("GET",), has_page=True, has_global_middleware=True)
DOT_PARTS = re.compile(r"[/\\]")


def is_dot_segment(text: str) -> bool:
    """`.`, `..`, or text that splits on `/` or `\\` into one of them."""
    return any(part in (".", "..") for part in DOT_PARTS.split(text))


def example_url(segments: tuple[Segment, ...]) -> str:
    """A raw request path the pattern matches: each static percent-encoded on its own."""
    parts: list[str] = []
    for segment in segments:
        if segment.kind == STATIC:
            parts.append(quote(segment.value, safe=""))
        elif segment.kind == PARAM:
            parts.append("p1")
        elif segment.kind == CATCHALL:
            parts.append("c1/c2")
    return "/" + "/".join(parts)


def check_layout(table: RouteTable, files: list[str]) -> None:
    invalid_files = {f for c in table.conflicts if c.kind == "invalid-segment" for f in c.files}
    served = table.served()
    for route in table.routes:
        assert route.file in files
        if route.file in invalid_files:
            # A clear problem, naming the file, and the route is not served.
            assert route.error and route.file in route.error
            assert route.file not in served
            continue
        for segment in route.segments:
            assert segment.value, route
            assert "/" not in segment.value, route
            if segment.kind == STATIC:
                assert not is_dot_segment(segment.value), route
                assert "[" not in segment.value and "]" not in segment.value, route
        # The canonical text reads back as the very same segments.
        assert parse_pattern(route.pattern) == route.segments
        if route.file in served:
            # ... and a request for it reaches a route (this one, or one that outranks it).
            m = table.match("GET", example_url(route.segments))
            assert m.status == 200, (route.pattern, example_url(route.segments), m)


@pytest.mark.parametrize("convention", sorted(DIALECTS))
@settings(max_examples=settings.default.max_examples // 2)  # per dialect: three of them
@given(data=st.data())
def test_any_file_names_give_a_pattern_or_an_invalid_segment_problem(convention: str, data: st.DataObject) -> None:
    files = data.draw(files_of(convention))
    dialect = DIALECTS[convention]
    layout = dialect.layout(files)
    table = build_table(Path("/nonexistent-app"), dialect, layout, lambda _: GET_FACTS)
    check_layout(table, files)


def on_disk(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\x00" not in name and len(name) < 80


@pytest.mark.parametrize("convention", sorted(DIALECTS))
@settings(max_examples=settings.default.max_examples // 8)  # per dialect; writing files is the slow part
@given(data=st.data())
def test_route_files_on_disk_load_into_a_table(convention: str, data: st.DataObject) -> None:
    """The same through `engine.load_routes`: discovery, reading the files, the table."""
    files = data.draw(files_of(convention).filter(lambda fs: all(on_disk(p) for f in fs for p in f.split("/"))))
    with tempfile.TemporaryDirectory() as tmp:
        try:
            app = write_app(Path(tmp) / "app", dict.fromkeys(files, SOURCE))
        except (OSError, UnicodeEncodeError):
            return  # a name this file system refuses (a file where a folder goes, too long)
        table = engine.load_routes(app, convention=convention)
        check_layout(table, files)


# --- canonical pattern <-> parse ------------------------------------------------------

static_values = st.text(st.characters(exclude_characters="/[]", exclude_categories=("Cs",)), min_size=1).filter(
    lambda s: not is_dot_segment(s)
)
param_names = st.text(st.characters(exclude_characters="/[].", exclude_categories=("Cs",)), min_size=1)
segments = st.one_of(
    st.builds(Segment, st.just(STATIC), static_values),
    st.builds(Segment, st.sampled_from([PARAM, CATCHALL, OPTIONAL]), param_names),
)


@given(st.lists(segments, max_size=8).map(tuple))
def test_canonical_pattern_text_parses_back_to_its_segments(pattern: tuple[Segment, ...]) -> None:
    text = pattern_text(pattern)
    assert parse_pattern(text) == pattern
    assert pattern_text(parse_pattern(text)) == text


PATTERN_PIECES = ["/", "//", "[", "]", "[[", "]]", "...", ".", "..", "id", "_splat", "\\", ""]


@given(st.one_of(st.text(), st.lists(st.sampled_from(PATTERN_PIECES) | st.text(max_size=2), max_size=10).map("".join)))
def test_any_text_parses_as_its_own_pattern_or_is_refused(text: str) -> None:
    try:
        parsed = parse_pattern(text)
    except InvalidSegment as exc:
        assert str(exc)
    else:
        assert pattern_text(parsed) == text


def test_parse_pattern_examples() -> None:
    assert parse_pattern("/") == ()
    assert parse_pattern("/users/[id]/[...rest]") == (
        Segment(STATIC, "users"),
        Segment(PARAM, "id"),
        Segment(CATCHALL, "rest"),
    )
    assert parse_pattern("/docs/[[...slug]]") == (Segment(STATIC, "docs"), Segment(OPTIONAL, "slug"))
    for bad in ("", "users", "//", "/users/", "/a//b", "/[[id]]", "/[]", "/..", "/a/."):
        with pytest.raises(InvalidSegment):
            parse_pattern(bad)


# --- raw paths -> matcher --------------------------------------------------------------

NEXT_APP = [
    "route.py",
    "users/route.py",
    "users/new/route.py",
    "users/[id]/route.py",
    "users/[id]/edit/route.py",
    "files/[...path]/route.py",
    "docs/[[...slug]]/route.py",
    "(g)/about/route.py",
    "%5Fapi/route.py",
    "[lang]/x/route.py",
]
TANSTACK_APP = [
    "index.py",
    "users.py",
    "users.$id.py",
    "files/$.py",
    "a.b.c.py",
    "my[.]file.py",
    "_auth.py",
    "_auth/x.py",
]


@pytest.fixture(scope="module")
def tables() -> Iterator[list[RouteTable]]:
    with tempfile.TemporaryDirectory() as tmp:
        yield [
            engine.load_routes(write_app(Path(tmp) / "next", NEXT_APP), convention="next"),
            engine.load_routes(write_app(Path(tmp) / "tanstack", TANSTACK_APP), convention="tanstack"),
        ]


RAW_PIECES = [
    "/", "//", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "\\", "%", "%zz", "%00", "%ff", "%C3%A9",
    "%252e", "users", "new", "edit", "files", "docs", "about", "_api", "x", "a.b", "é", "\x00", "?", "#", ";", " ",
]  # fmt: skip
raw_paths = st.one_of(
    st.lists(st.sampled_from(RAW_PIECES) | st.text(max_size=3), max_size=16).map(lambda parts: "/" + "".join(parts)),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),  # any bytes, as ASGI's raw_path decoded
    st.builds(
        lambda seg, n, tail: "/" + "/".join([seg] * n) + tail,
        st.sampled_from(["a", "..", ".", "%2e", "files", "users", ""]),
        st.integers(1_000, 20_000),
        st.sampled_from(["", "/", "/..", "/x"]),
    ),
)
methods = st.sampled_from(sorted(KNOWN_METHODS)) | st.sampled_from(["get", "FOO", "", "GET ", "M-SEARCH"])


def resolved(raw: str) -> str | None:
    """`raw` with `.` and `..` resolved as a browser resolves them; None when it is refused
    (it climbs above the root, or a segment is a dot segment in disguise: `%2e`, `..%2f`)."""
    out: list[str] = []
    parts = raw.split("/")[1:]
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part in (".", ".."):
            if part == "..":
                if not out:
                    return None
                out.pop()
            if last:
                out.append("")
        elif is_dot_segment(unquote(part)):
            return None
        else:
            out.append(part)
    return "/" + "/".join(out)


def dot_free(m: Match) -> bool:
    values = [v for value in m.params.values() for v in ([value] if isinstance(value, str) else value)]
    return not any(is_dot_segment(v) for v in values)


@given(method=methods, raw=raw_paths)
def test_the_matcher_answers_any_raw_path_without_a_5xx(tables: list[RouteTable], method: str, raw: str) -> None:
    for table in tables:
        m = table.match(method, raw)
        assert m.status in (200, 204, 308, 400, 404, 405, 501), m
        assert (m.status == 501) == (method not in KNOWN_METHODS), m
        assert dot_free(m), m


@given(method=st.sampled_from(sorted(KNOWN_METHODS)), raw=raw_paths.filter(lambda p: p.startswith("/")))
def test_dot_segments_are_resolved_or_refused_with_400(tables: list[RouteTable], method: str, raw: str) -> None:
    target = resolved(raw)
    for table in tables:
        m = table.match(method, raw)
        if target is None:
            assert m.status == 400, m
        else:
            assert m[:5] + m[6:] == table.match(method, target)[:5] + table.match(method, target)[6:]


# A static folder whose name is a dot segment once decoded: reachable as `/%252e`, but the raw
# `/%2e` is an encoded dot segment and must be refused like any other.
PERCENT_APP = [
    "%2e/route.py",
    "%2E%2e/route.py",
    "x/a%5C..%5Cb/route.py",
    "100%25/route.py",
    "files/[...path]/route.py",
]


@pytest.fixture(scope="module")
def percent_table() -> Iterator[RouteTable]:
    with tempfile.TemporaryDirectory() as tmp:
        yield engine.load_routes(write_app(Path(tmp) / "next", PERCENT_APP), convention="next")


@given(raw=raw_paths.filter(lambda p: p.startswith("/")) | st.sampled_from(["/%2e", "/%2E%2e", "/x/a%5C..%5Cb"]))
def test_a_static_folder_with_percent_in_its_name_is_no_way_around_the_dot_rule(
    percent_table: RouteTable, raw: str
) -> None:
    m = percent_table.match("GET", raw)
    if resolved(raw) is None:
        assert m.status == 400, (raw, m)
    assert dot_free(m), m


def test_a_static_folder_with_percent_in_its_name_is_reached_encoded(percent_table: RouteTable) -> None:
    assert percent_table.match("GET", "/%252e").file == "%2e/route.py"
    assert percent_table.match("GET", "/%252E%252e").file == "%2E%2e/route.py"
    assert percent_table.match("GET", "/100%2525").file == "100%25/route.py"
    # Each segment is decoded before it is compared: `/100%25` is the path `/100%`.
    assert percent_table.match("GET", "/100%25").status == 404


# --- the sanitizer ---------------------------------------------------------------------

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_control(char: str) -> bool:
    """What must never reach a terminal raw: C0, DEL, C1, line/paragraph separators, bidi controls."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI_CONTROLS


hostile = st.one_of(
    st.text(),
    st.lists(st.sampled_from(sorted(UNSAFE)) | st.text(max_size=3), max_size=20).map("".join),
)
# Printable text, defined without UNSAFE (a strategy that excluded exactly UNSAFE would let
# `visible()` escape too much unnoticed): every character but the Cc category (C0, DEL, C1),
# surrogates, and the bidi controls and line/paragraph separators listed by hand.
BIDI_AND_SEPARATORS = "\u200e\u200f\u2028\u2029\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
printable = st.text(st.characters(exclude_categories=("Cc", "Cs"), exclude_characters=BIDI_AND_SEPARATORS))


@given(hostile)
def test_visible_leaves_no_control_character(text: str) -> None:
    shown = visible(text)
    assert not any(c in UNSAFE or is_control(c) for c in shown), shown
    assert visible(shown) == shown  # the stand-ins are themselves safe


@given(hostile)
def test_visible_multiline_keeps_only_newlines_and_tabs(text: str) -> None:
    shown = visible(text, multiline=True)
    assert {c for c in shown if c in UNSAFE or is_control(c)} <= {"\n", "\t"}, shown
    assert (shown.count("\n"), shown.count("\t")) == (text.count("\n"), text.count("\t"))


@given(printable)
def test_visible_leaves_printable_text_unchanged(text: str) -> None:
    assert visible(text) == text
    assert visible(text, multiline=True) == text


def test_visible_multiline_takes_crlf_as_a_newline_and_shows_a_lone_cr() -> None:
    assert visible("a\r\nb\r\n", multiline=True) == "a\nb\n"
    assert visible("a\rb", multiline=True) == "a␍b"
    assert visible("a\r\r\nb\n\rc", multiline=True) == "a␍\nb\n␍c"
    assert visible("a\r\nb") == "a␍␊b"  # on one line, both are stand-ins


@pytest.mark.parametrize(
    ("convention", "file"),
    [
        ("tanstack", "[..].py"),  # escaped text that is a dot segment
        ("tanstack", "a.[.].py"),
        ("tanstack", "[].py"),  # escaped text that is empty
        ("tanstack", "a/[[]]_.py"),
        ("expo", "+api.py"),  # no name before +api
        ("expo", "x/..+api.py"),
        ("next", "a\\../route.py"),  # a dot segment once split on "\"
        ("next", "a//route.py"),  # an empty folder name
    ],
)
def test_empty_and_dot_names_are_invalid_segments(convention: str, file: str) -> None:
    dialect = DIALECTS[convention]
    table = build_table(Path("/nonexistent-app"), dialect, dialect.layout([file]), lambda _: GET_FACTS)
    [conflict] = table.conflicts
    assert (conflict.kind, conflict.files) == ("invalid-segment", (file,))
    assert not table.served()

"""The formats other tools read and write: `.http` files, curl commands, JUnit reports.

Examples for what each reads and refuses, and properties: a logged request written as a
`.http` file or a curl command reads back as the same request, and no input makes the
readers fail other than with their own error saying what is wrong.
"""

from __future__ import annotations

import contextlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine import MASK, to_curl
from engine.curl import CurlError, parse_curl
from engine.export import SKIP_HEADERS
from engine.httpfile import HttpFileError, RequestSpec, parse_http, to_http
from engine.junit import to_junit
from engine.replay import ReplayResult
from engine.trace import Message, Trace


def _examples(entries: Iterable[dict[str, Any]]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """hypothesis `@example`s, one per entry: the edges every run must try."""

    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        for logged in entries:
            test = example(logged=logged)(test)
        return test

    return decorate


def entry(
    id: int = 1,
    method: str = "GET",
    path: str = "/users/7",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    status: int = 200,
) -> dict[str, Any]:
    """A log entry as `routeconsole log --json` gives it."""
    raw = [(b"host", b"127.0.0.1:8000")] + [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers or []]
    request = Message(raw)
    request.keep(body)
    trace = Trace("t", 0.0, method, path, query, status=status, request=request)
    return {**trace.to_json(), "id": id}


# .http files ----------------------------------------------------------------------------


def test_a_logged_request_as_a_http_file_reads_back() -> None:
    text, files = to_http(
        [
            entry(1, "GET", "/users/7", "tag=a&tag=b%20c", [("accept", "application/json")]),
            entry(2, "PUT", "/users/7", "", [("content-type", "application/json")], b'{"name": "Ada"}', status=202),
        ]
    )
    assert files == {}
    assert text.splitlines()[:3] == [
        "### #1 GET /users/7 (200)",
        "GET http://127.0.0.1:8000/users/7?tag=a&tag=b%20c HTTP/1.1",
        "accept: application/json",
    ]
    assert parse_http(text) == [
        RequestSpec(
            "GET",
            "http://127.0.0.1:8000/users/7?tag=a&tag=b%20c",
            (("accept", "application/json"),),
            b"",
            "#1 GET /users/7 (200)",
        ),
        RequestSpec(
            "PUT",
            "http://127.0.0.1:8000/users/7",
            (("content-type", "application/json"),),
            b'{"name": "Ada"}',
            "#2 PUT /users/7 (202)",
        ),
    ]


def test_what_a_request_line_or_header_cannot_hold_is_encoded_or_left_out() -> None:
    hostile = entry(
        path="/find", query="next={{x}}&q=a%20b", headers=[("x-tpl", "{{name}}"), ("x-note", "\x1b]0;owned\x07")]
    )
    text, _ = to_http([hostile])
    assert "\x1b" not in text and "\x07" not in text
    (spec,) = parse_http(text)  # the file stays readable: no {{ for a client to substitute
    assert spec.url == "http://127.0.0.1:8000/find?next=%7B%7Bx%7D%7D&q=a%20b"
    assert spec.headers == ()
    assert "# x-tpl: left out" in text and "# x-note: left out" in text


def test_http_export_masks_secrets_unless_revealed() -> None:
    logged = entry(
        1, "POST", "/login", "", [("authorization", "Bearer t0ken"), ("content-type", "application/json")],
        b'{"user": "ada", "password": "hunter2"}',
    )  # fmt: skip
    masked, _ = to_http([logged])
    assert "t0ken" not in masked and "hunter2" not in masked
    assert f"authorization: {MASK}" in masked and '"password"' in masked
    revealed, _ = to_http([logged], reveal=True)
    assert "Bearer t0ken" in revealed and "hunter2" in revealed
    extra, _ = to_http([entry(headers=[("x-session", "abc")])], redact=["x-session"])
    assert "abc" not in extra


@pytest.mark.parametrize(
    "body",
    [bytes(range(256)), b"### not a separator\n", b"{{host}}", b"< ./file", b"a\r\nb", b"\nleading", b"trailing\n\n"],
)
def test_a_body_the_format_cannot_carry_goes_to_a_file_of_its_own(body: bytes, tmp_path: Path) -> None:
    text, files = to_http([entry(3, "POST", "/echo", body=body)], bodies=tmp_path / "out.bodies")
    assert files == {"out.bodies/3.bin": body}
    assert "< ./out.bodies/3.bin" in text
    (tmp_path / "out.bodies").mkdir()
    (tmp_path / "out.bodies" / "3.bin").write_bytes(body)
    assert parse_http(text, tmp_path)[0].body == body


def test_what_both_clients_write_is_read() -> None:
    text = """\
@host = localhost:8000
@token = abc

# A comment, then a named request (REST Client's form)
# @name create-user
POST http://{{host}}/users
    ?page=2
    &size=10
Authorization: Bearer {{token}}
Content-Type: application/json

{
  "name": "Ada"
}

> {% client.test("ok", function() { client.assert(response.status === 201); }); %}

### just a URL
http://{{host}}/health

###
// JetBrains comment
GET /relative HTTP/1.1
Host: example
"""
    first, second, third = parse_http(text)
    assert first == RequestSpec(
        "POST",
        "http://localhost:8000/users?page=2&size=10",
        (("Authorization", "Bearer abc"), ("Content-Type", "application/json")),
        b'{\n  "name": "Ada"\n}',
        "create-user",
    )
    assert (second.method, second.url, second.name) == ("GET", "http://localhost:8000/health", "just a URL")
    assert (third.method, third.url, third.headers) == ("GET", "/relative", (("Host", "example"),))


def test_with_a_problems_list_the_readable_blocks_are_kept() -> None:
    text = "GET http://h/a\n###\nnot a request\n###\nGET http://h/{{x}}\n###\nPOST http://h/b\n"
    with pytest.raises(HttpFileError, match="line 3"):
        parse_http(text)
    problems: list[HttpFileError] = []
    assert [r.url for r in parse_http(text, problems=problems)] == ["http://h/a", "http://h/b"]
    assert [str(p).split(":")[0] for p in problems] == ["line 3", "line 5"]


def test_a_byte_order_mark_and_a_host_without_a_scheme_are_read(tmp_path: Path) -> None:
    (spec,) = parse_http("\ufeff@host = localhost:8000\nGET {{host}}/users?x=1\n")
    assert spec.url == "localhost:8000/users?x=1"
    from console.compose import draft_for_spec

    draft = draft_for_spec(spec)  # the composer reads it as the host it is, not a scheme
    assert (draft.path, draft.query) == ("/users", "x=1")


@pytest.mark.parametrize(
    "command",
    [
        "curl -d 'note=line1%0Aline2' http://h/x",  # a newline in a value
        "curl -d '%23a=1&b=2' http://h/x",  # a name that reads as a comment line
        "curl 'http://h/x?r=a%0Ab&s=1'",  # the same in a query
    ],
)
def test_fields_the_composer_cannot_show_a_line_each_are_sent_as_they_came(command: str) -> None:
    from console.compose import draft_for_spec

    spec = parse_curl(command)
    sent = draft_for_spec(spec).request("http://127.0.0.1:8000")
    assert sent.url.query == spec.url.partition("?")[2].encode()
    assert sent.content == spec.body
    if spec.body:
        assert sent.headers["content-type"] == "application/x-www-form-urlencoded"


def test_a_body_file_that_is_not_a_regular_file_is_refused_not_waited_for(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(HttpFileError, match="is not a regular file"):
        parse_http("POST http://h/x\n\n< ./fifo\n", tmp_path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("GET http://h/{{env_host}}/x\n", "line 1: {{env_host}} is not defined in this file"),
        ("GET http://h/{{$guid}}\n", "line 1: {{$guid}} is a client's dynamic variable"),
        ("not a request\n", "line 1: 'not a request' is not a request line"),
        ("GET http://h/\nno colon here\n", "line 2: 'no colon here' is not a header"),
        ("POST http://h/\n\n< ./missing.json\n", "line 3: cannot read the body file './missing.json'"),
    ],
)
def test_what_cannot_be_read_is_named_by_line(text: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(HttpFileError, match="^" + says.replace("{", r"\{").replace("$", r"\$").replace(".", r"\.")):
        parse_http(text, tmp_path)


# Header names as HTTP allows them; values of printable Latin-1 without "{{" (which both
# clients substitute; routeconsole's export leaves such a header as it is).
_names = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True).filter(lambda n: n not in SKIP_HEADERS)
_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30)
_entries = st.builds(
    entry,
    id=st.integers(1, 10_000),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    path=st.from_regex(r"/[A-Za-z0-9._~%!$&'()*+,;=:@/-]{0,30}", fullmatch=True),
    query=st.from_regex(r"[A-Za-z0-9=&%._-]{0,20}", fullmatch=True),
    headers=st.lists(st.tuples(_names, _values.map(str.strip).filter(lambda v: "{{" not in v)), max_size=4),
    body=st.binary(max_size=80)
    | st.text(max_size=80).map(str.encode)
    # Text the format gives a meaning to, at the edges of a body.
    | st.lists(st.sampled_from(["a", " ", "\n", "\r", "###", "< ", "{{", "}}", "> {%", "#", "é"]), max_size=8).map(
        lambda parts: "".join(parts).encode()
    ),
)


_EDGES = [b"a\n", b"a\n ", b"a\n \n", b"\na", b" \na", b"a\n###", b"{{x}}", b"a\r\nb", b"<@ f", b"> {% x %}", b"\x00"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(logged=_entries)
@_examples(entry(method="POST", body=body) for body in _EDGES)
def test_any_logged_request_survives_a_http_round_trip(logged: dict[str, Any], tmp_path: Path) -> None:
    text, files = to_http([logged], reveal=True, bodies=tmp_path / "x.bodies")
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    (spec,) = parse_http(text, tmp_path)
    query = f"?{logged['query']}" if logged["query"] else ""
    assert spec.method == logged["method"]
    assert spec.url == f"http://127.0.0.1:8000{logged['path']}{query}"
    headers = [(k, v) for k, v in logged["request"]["headers"] if k not in SKIP_HEADERS]
    # A value no .http client can be told to send as it is (a control character) is a comment.
    kept = [(k, v) for k, v in headers if not any(0x80 <= ord(c) < 0xA0 for c in v)]
    assert list(spec.headers) == kept
    for name, _ in set(headers) - set(kept):
        assert f"# {name}: left out: its value holds a control character" in text
    assert spec.body == _body(logged)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_requests_or_a_http_file_error(text: str) -> None:
    with contextlib.suppress(HttpFileError):
        parse_http(text)


# curl -------------------------------------------------------------------------------

FORM = ("Content-Type", "application/x-www-form-urlencoded")  # what curl sends with -d and no -H


def test_chrome_copy_as_curl_bash() -> None:
    command = r"""curl 'http://localhost:8000/api/items?sort=name' \
  -H 'Accept: application/json, text/plain, */*' \
  -H 'Accept-Language: en-GB,en;q=0.9' \
  -H 'Content-Type: application/json' \
  -H $'Cookie: session=abc; theme=\'dark\'' \
  --data-raw $'{"name":"it\'s","note":"two\\nlines \u00e9"}' \
  --compressed"""
    spec = parse_curl(command)
    assert spec.method == "POST"
    assert spec.url == "http://localhost:8000/api/items?sort=name"
    assert spec.headers == (
        ("Accept", "application/json, text/plain, */*"),
        ("Accept-Language", "en-GB,en;q=0.9"),
        ("Content-Type", "application/json"),
        ("Cookie", "session=abc; theme='dark'"),
    )
    assert spec.body == '{"name":"it\'s","note":"two\\nlines é"}'.encode()


@pytest.mark.parametrize(
    ("command", "method", "url", "headers", "body"),
    [
        ("curl localhost:8000/x", "GET", "http://localhost:8000/x", (), b""),
        ("curl -XDELETE http://h/x -sSL", "DELETE", "http://h/x", (), b""),
        ("curl -I http://h/x", "HEAD", "http://h/x", (), b""),
        ("curl -G http://h/x -d a=1 -d b=2", "GET", "http://h/x?a=1&b=2", (), b""),
        ("curl http://h/x -d a=1 -d b=2", "POST", "http://h/x", (FORM,), b"a=1&b=2"),
        ("curl http://h/x --data-urlencode 'q=a b&c'", "POST", "http://h/x", (FORM,), b"q=a%20b%26c"),
        ("curl http://h/x -H 'content-type: text/csv' -d a,b", "POST", "http://h/x", (("content-type", "text/csv"),), b"a,b"),
        (
            "curl --json '{\"a\":1}' http://h/x",
            "POST",
            "http://h/x",
            (("Content-Type", "application/json"), ("Accept", "application/json")),
            b'{"a":1}',
        ),
        ("curl -u ada:pw http://h/x", "GET", "http://h/x", (("Authorization", "Basic YWRhOnB3"),), b""),
        ("curl -b 'a=1' -A bot -e http://r/ http://h/x", "GET", "http://h/x",
         (("Cookie", "a=1"), ("User-Agent", "bot"), ("Referer", "http://r/")), b""),
        ("curl --request patch --url http://h/x -o out.json -m 5", "PATCH", "http://h/x", (), b""),
    ],
)  # fmt: skip
def test_curl_options(command: str, method: str, url: str, headers: tuple[tuple[str, str], ...], body: bytes) -> None:
    assert parse_curl(command) == RequestSpec(method, url, headers, body)


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("wget http://h/", "not a curl command: it starts with 'wget'"),
        ("curl", "the command has no URL"),
        ("curl -F file=@a.png http://h/", "-F sends a multipart form"),
        ("curl -d @body.json http://h/", "-d '@body.json' reads the body from a file"),
        ("curl --frobnicate http://h/", "the option --frobnicate is not one routeconsole reads"),
        ("curl http://h/a http://h/b", "the command names two URLs"),
        ("curl 'http://h/", "the command cannot be split into words"),
        ("curl -H", "the option -H needs a value"),
        ("curl -H nocolon http://h/", "-H 'nocolon' is not a header"),
        ("curl ftp://h/file", "the URL 'ftp://h/file' is not http or https"),
    ],
)
def test_what_curl_import_cannot_read_is_named(command: str, says: str) -> None:
    with pytest.raises(CurlError) as caught:
        parse_curl(command)
    assert str(caught.value).startswith(says)


@settings(max_examples=150, deadline=None)
@given(logged=_entries)
@_examples(entry(method="POST", body=body) for body in (b"@", b"@file.json", b"a\nb", b"$'x'"))
def test_our_own_curl_commands_read_back(logged: dict[str, Any]) -> None:
    body = _body(logged)
    if body and (logged["request"]["body_encoding"] != "utf-8" or logged["method"] in ("GET", "HEAD")):
        return  # curl gets a binary body from a file, and a GET body is not a body curl sends as data
    spec = parse_curl(to_curl(logged, reveal=True))
    query = f"?{logged['query']}" if logged["query"] else ""
    assert spec.method == logged["method"]
    assert spec.url == f"http://127.0.0.1:8000{logged['path']}{query}"
    headers = [(k, v) for k, v in logged["request"]["headers"] if k not in SKIP_HEADERS]
    if body and not any(k == "content-type" for k, _ in headers):
        headers.append(FORM)  # curl itself would send it
    assert list(spec.headers) == headers
    assert spec.body == body


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.text(max_size=200).map(lambda t: "curl " + t))
def test_any_text_is_a_request_or_a_curl_error(text: str) -> None:
    with contextlib.suppress(CurlError):
        parse_curl(text)


def _body(logged: dict[str, Any]) -> bytes:
    from engine.export import entry_body

    return entry_body(logged["request"])


# JUnit --------------------------------------------------------------------------------


def test_a_replay_as_junit_xml() -> None:
    results = [
        ReplayResult(1, 5, "GET", "/users/7", (200, 200), True, "", seconds=0.004),
        ReplayResult(2, 6, "PUT", "/users/7", (202, 500), False, "-status: 202\n+status: 500\n\x1b[2J", seconds=0.01),
        ReplayResult(3, None, "GET", "/x", (200, 0), False, "replay failed: refused", "refused"),
    ]
    root = ET.fromstring(to_junit(results, name="routeconsole replay app"))
    suite = root.find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("name", "tests", "failures", "errors")} == {
        "name": "routeconsole replay app", "tests": "3", "failures": "1", "errors": "1",
    }  # fmt: skip
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["GET /users/7 #1", "PUT /users/7 #2", "GET /x #3"]
    assert cases[0].find("failure") is None and cases[0].findtext("system-out") == "replayed as log entry #5"
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "status 202 became 500"
    assert failure.text == "-status: 202\n+status: 500\n␛[2J"  # a control character cannot reach the XML raw
    error = cases[2].find("error")
    assert error is not None and error.get("message") == "refused"


@settings(max_examples=100, deadline=None)
@given(st.text(), st.text())
def test_any_diff_or_path_gives_well_formed_xml(path: str, diff: str) -> None:
    result = ReplayResult(1, None, "GET", path, (200, 201), False, diff)
    case = ET.fromstring(to_junit([result])).find("testsuite/testcase")
    assert case is not None and case.get("name", "").startswith("GET ")

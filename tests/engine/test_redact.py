"""engine.redact: exports mask secrets in a copy of the entry; everything else stays as logged."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import MASK, redact_entry, redact_headers
from engine.redact import SECRET_HEADERS, is_secret_field


def entry(
    *,
    headers: list[list[str]] | None = None,
    body: str | bytes = "",
    query: str = "",
    response_headers: list[list[str]] | None = None,
    response_body: str | bytes = "",
) -> dict[str, Any]:
    return {
        "id": 1,
        "trace_id": "t1",
        "time": "2026-01-01T00:00:00.000+00:00",
        "method": "POST",
        "path": "/login",
        "query": query,
        "status": 200,
        "duration_ms": 1.0,
        "route": {"pattern": "/login", "file": "login/route.py", "params": {}},
        "client": "127.0.0.1:5000",
        "source": "external",
        "replay_of": None,
        "request": _message(headers or [], body),
        "response": _message(response_headers or [], response_body),
        "spans": [],
    }


def _message(headers: list[list[str]], body: str | bytes) -> dict[str, Any]:
    if isinstance(body, bytes):
        try:
            text, encoding = body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(body).decode("ascii"), "base64"
    else:
        text, encoding = body, "utf-8"
    size = len(body if isinstance(body, bytes) else body.encode())
    return {"headers": headers, "body": text, "body_encoding": encoding, "size": size, "truncated": False}


def body_bytes(message: dict[str, Any]) -> bytes:
    if message["body_encoding"] == "base64":
        return base64.b64decode(message["body"])
    return str(message["body"]).encode("utf-8")


@pytest.mark.parametrize(
    "name", [*SECRET_HEADERS, "Authorization", "COOKIE", "Set-Cookie", "X-Api-Key", "X-AUTH-TOKEN"]
)
def test_secret_headers_any_case(name: str) -> None:
    assert engine.is_secret_header(name)
    assert redact_headers([[name, "v"], ["accept", "*/*"]]) == [[name, MASK], ["accept", "*/*"]]


def test_extra_headers_from_config() -> None:
    assert redact_headers([["X-Session", "s"]], extra=["x-session"]) == [["X-Session", MASK]]
    assert redact_headers([["X-Session", "s"]]) == [["X-Session", "s"]]


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("user_Password", True),
        ("client_secret", True),
        ("refreshToken", True),
        ("api_key", True),
        ("APIKEY", True),
        ("name", False),
        ("pass", False),
        ("key", False),
    ],
)
def test_secret_field_names(name: str, secret: bool) -> None:
    assert is_secret_field(name) is secret


def test_json_fields_at_any_depth_request_and_response() -> None:
    body = json.dumps({"user": {"Password": "x", "name": "ada"}, "items": [{"api_key": "k", "id": 1}]})
    original = entry(headers=[["content-type", "application/json"]], body=body, response_body=body)
    masked = redact_entry(original)
    expected = {"user": {"Password": MASK, "name": "ada"}, "items": [{"api_key": MASK, "id": 1}]}
    assert json.loads(masked["request"]["body"]) == expected
    assert json.loads(masked["response"]["body"]) == expected  # no content type: JSON by its look
    assert json.loads(original["request"]["body"])["user"]["Password"] == "x"  # the original is untouched


def test_a_secret_field_holding_an_object_is_masked_whole() -> None:
    masked = redact_entry(entry(body='{"tokens": {"access": "a", "refresh": "r"}}'))
    assert json.loads(masked["request"]["body"]) == {"tokens": MASK}


def test_json_cut_at_the_body_cap_is_masked_as_far_as_it_reads() -> None:
    masked = redact_entry(entry(body='{"name": "ada", "password": "hunter2", "more": "x'))
    assert "hunter2" not in masked["request"]["body"] and '"name": "ada"' in masked["request"]["body"]


@pytest.mark.parametrize(
    ("cut", "secrets", "kept"),
    [
        ('{"secret": {"v": "hunter2"}, "name": "ada", "more": "x', ["hunter2"], ['"name": "ada"']),
        ('{"tokens": ["abc", "def"], "name": "ada", "more": "x', ["abc", "def"], ['"name": "ada"']),
        ('{"pass\\u0077ord": "hunter2", "name": "ada", "more": "x', ["hunter2"], ['"name": "ada"']),
        ('{"a": {"token": {"k": "}]\\"x", "deep": ["hunter2"', ["hunter2", "}]"], ['{"a": {"token": ']),
        ('[{"api_key": [1, {"s": "hunter2"}]}, {"id": "ada"}, "x', ["hunter2"], ['{"id": "ada"}']),
    ],
)
def test_cut_json_masks_nested_and_escaped_secrets(cut: str, secrets: list[str], kept: list[str]) -> None:
    masked = redact_entry(entry(body=cut))["request"]["body"]
    assert [s for s in secrets if s in masked] == [] and MASK in masked
    assert [k for k in kept if k not in masked] == []


def test_multipart_with_bare_newlines_is_masked() -> None:
    raw = (
        b'--XyZ\nContent-Disposition: form-data; name="password"\n\nhunter2\n'
        b'--XyZ\nContent-Disposition: form-data; name="user"\n\nada\n'
        b"--XyZ--\n"
    )
    masked = redact_entry(entry(headers=[["content-type", "multipart/form-data; boundary=XyZ"]], body=raw))
    assert body_bytes(masked["request"]) == raw.replace(b"hunter2", MASK.encode())


def test_form_and_query_fields() -> None:
    form = urlencode({"username": "ada", "password": "hunter2", "next": "/a b"})
    masked = redact_entry(
        entry(
            headers=[["content-type", "application/x-www-form-urlencoded"]],
            body=form,
            query="q=1&access_token=abc&page=2",
        )
    )
    assert dict(parse_qsl(masked["request"]["body"])) == {"username": "ada", "password": MASK, "next": "/a b"}
    assert masked["query"] == "q=1&access_token=%5Bredacted%5D&page=2"


def test_multipart_text_fields_masked_files_kept() -> None:
    raw = (
        b'--XyZ\r\nContent-Disposition: form-data; name="password"\r\n\r\nhunter2\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="user"\r\n\r\nada\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="api_key"; filename="k.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n\xff\x00file\r\n"
        b"--XyZ--\r\n"
    )
    masked = redact_entry(entry(headers=[["content-type", "multipart/form-data; boundary=XyZ"]], body=raw))
    assert masked["request"]["body_encoding"] == "base64"  # the file is binary: still base64
    assert body_bytes(masked["request"]) == raw.replace(b"hunter2", MASK.encode())


def test_set_cookie_and_custom_headers_in_the_response() -> None:
    masked = redact_entry(
        entry(response_headers=[["set-cookie", "sid=1"], ["x-session", "s"], ["etag", "e"]]), headers=["X-Session"]
    )
    assert masked["response"]["headers"] == [["set-cookie", MASK], ["x-session", MASK], ["etag", "e"]]


def test_exports_mask_by_default_and_reveal_keeps() -> None:
    logged = entry(headers=[["authorization", "Bearer t"], ["host", "h:1"]], body='{"password": "p"}')
    assert "Bearer t" not in engine.to_curl(logged) and 'p"' not in engine.to_curl(logged)
    assert "authorization: Bearer t" in engine.to_curl(logged, reveal=True)
    har = json.dumps(engine.to_har([logged]))
    assert "Bearer t" not in har and '"p"' not in har.replace('\\"p\\"', "")
    assert "Bearer t" in json.dumps(engine.to_har([logged], reveal=True))
    assert logged["request"]["headers"][0] == ["authorization", "Bearer t"]


# Property tests. Secret values carry a marker no other generated text can hold, so
# "no secret survives" is a search for the marker in the whole output.
MARK = "S3CR3T"
SECRET_NAMES = st.sampled_from(["password", "Password", "client_secret", "token", "API_KEY", "apiKey", "x_token_y"])
plain_text = st.text(max_size=12).filter(lambda s: MARK.lower() not in s.lower())
plain_names = plain_text.filter(lambda s: not is_secret_field(s))
secret_values = st.integers(0, 10**6).map(lambda n: f"{MARK}{n}")
secret_any = st.one_of(
    secret_values, st.lists(secret_values, max_size=3), st.dictionaries(plain_names, secret_values, max_size=3)
)
json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), plain_text)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(plain_names, children, max_size=4),
        st.builds(
            lambda d, k, v: {**d, k: v}, st.dictionaries(plain_names, children, max_size=3), SECRET_NAMES, secret_any
        ),
    ),
    max_leaves=12,
)
header_names = st.one_of(
    st.sampled_from(sorted(SECRET_HEADERS)).map(str.title),
    st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10).filter(lambda n: n not in SECRET_HEADERS),
)


@st.composite
def headers_with_secrets(draw: st.DrawFn) -> list[list[str]]:
    names = draw(st.lists(header_names, max_size=6))
    return [[n, draw(secret_values) if n.lower() in SECRET_HEADERS else draw(plain_text)] for n in names]


def check_json(original: Any, masked: Any) -> None:
    """Secret fields hold MASK; everything else is equal, at every depth."""
    if isinstance(original, dict):
        assert isinstance(masked, dict) and list(masked) == list(original)
        for key, value in original.items():
            if is_secret_field(key):
                assert masked[key] == MASK
            else:
                check_json(value, masked[key])
    elif isinstance(original, list):
        assert isinstance(masked, list) and len(masked) == len(original)
        for a, b in zip(original, masked, strict=True):
            check_json(a, b)
    else:
        assert masked == original


@settings(max_examples=150, deadline=None)
@given(
    request_headers=headers_with_secrets(),
    response_headers=headers_with_secrets(),
    request_json=json_values,
    response_json=json_values,
    query=st.lists(st.tuples(st.one_of(plain_names, SECRET_NAMES), plain_text), max_size=5),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; charset=utf-8"]),
)
def test_no_secret_survives_and_the_rest_is_unchanged(
    request_headers: list[list[str]],
    response_headers: list[list[str]],
    request_json: Any,
    response_json: Any,
    query: list[tuple[str, str]],
    content_type: str,
) -> None:
    if content_type:
        request_headers = [*request_headers, ["content-type", content_type]]
    secret_query = [(k, f"{MARK}{i}" if is_secret_field(k) else v) for i, (k, v) in enumerate(query)]
    original = entry(
        headers=request_headers,
        body=json.dumps(request_json),
        query=urlencode(secret_query),
        response_headers=response_headers,
        response_body=json.dumps(response_json),
    )
    masked = redact_entry(original)
    assert MARK not in json.dumps(masked)
    for side, headers in (("request", request_headers), ("response", response_headers)):
        assert [n for n, _ in masked[side]["headers"]] == [n for n, _ in headers]
        for (_, value), (name, out) in zip(headers, masked[side]["headers"], strict=True):
            assert out == (MASK if name.lower() in SECRET_HEADERS else value)
    check_json(request_json, json.loads(masked["request"]["body"]))
    check_json(response_json, json.loads(masked["response"]["body"]))
    assert parse_qsl(masked["query"], keep_blank_values=True) == [
        (k, MASK if is_secret_field(k) and v else v) for k, v in parse_qsl(original["query"], keep_blank_values=True)
    ]
    untouched = ("id", "method", "path", "status", "route", "spans", "time", "client")
    assert {k: masked[k] for k in untouched} == {k: original[k] for k in untouched}


@settings(max_examples=150, deadline=None)
@given(
    headers=st.lists(st.lists(st.text(max_size=20), min_size=2, max_size=2), max_size=5),
    body=st.one_of(st.binary(max_size=200), st.text(max_size=200)),
    content_type=st.one_of(
        st.sampled_from(
            [
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=b",
                "multipart/form-data",
                "text/plain",
            ]
        ),
        st.text(max_size=40),
    ),
    query=st.text(max_size=40),
)
def test_never_raises_on_arbitrary_bodies_and_headers(
    headers: list[list[str]], body: str | bytes, content_type: str, query: str
) -> None:
    original = entry(headers=[*headers, ["content-type", content_type]], body=body, query=query)
    masked = redact_entry(original)
    json.dumps(masked)
    assert len(masked["request"]["headers"]) == len(original["request"]["headers"])
    if not any(is_secret_field(k) for k, _ in parse_qsl(query, keep_blank_values=True)):
        assert masked["query"] == query


@settings(max_examples=100, deadline=None)
@given(value=json_values, ascii_only=st.booleans(), indent=st.sampled_from([None, 2]), data=st.data())
def test_json_cut_anywhere_leaves_no_secret(
    value: Any, ascii_only: bool, indent: int | None, data: st.DataObject
) -> None:
    """Wherever the body cap cuts a JSON body, no secret value survives: secret values are
    `S3CR3T<n>` under secret keys (in `value` at any depth, and under "token" here); a cut can end
    inside one (`S3CR`), and then what is left of it is masked all the same, so the marker
    itself never appears."""
    text = json.dumps([value, {"token": {"k": [f"{MARK}1"]}}, value], ensure_ascii=ascii_only, indent=indent)
    cut_text = text[: data.draw(st.integers(0, len(text)), label="cut")]
    masked = redact_entry(entry(body=cut_text))["request"]["body"]
    assert MARK not in masked

"""What the composer sends, built from what its fields hold: pure functions, no widgets.

fill_pattern("/users/[id]/files/[...path]", {"id": "7", "path": "a/b c"})
    -> "/users/7/files/a/b%20c"
parse_pairs("a=1\\nb = two words\\n# note\\n", "=")  -> [("a", "1"), ("b", "two words")]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx

import engine
from engine import REPLAY_OF_HEADER, SOURCE_HEADER
from engine.httpfile import RequestSpec

METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
BODY_KINDS: Final = ("json", "form", "text")
# Set by the client, the connection or the composer itself, not by the person composing.
_NOT_EDITABLE: Final = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", SOURCE_HEADER, REPLAY_OF_HEADER}
)


class ComposeError(ValueError):
    """A field holds something that cannot be sent; the message says which and why."""


def parse_segment(part: str) -> tuple[str | None, str]:
    """(kind, name) of a canonical pattern segment; kind is None for static text.

    `[id]` -> ("param", "id"), `[...path]` -> ("catchall", "path"),
    `[[...slug]]` -> ("optional", "slug"), `users` -> (None, "users").
    """
    if part.startswith("[[...") and part.endswith("]]"):
        return "optional", part[5:-2]
    if part.startswith("[...") and part.endswith("]"):
        return "catchall", part[4:-1]
    if part.startswith("[") and part.endswith("]"):
        return "param", part[1:-1]
    return None, part


def pattern_params(pattern: str) -> list[tuple[str, str]]:
    """(name, kind) of each dynamic segment of a canonical pattern, kind param|catchall|optional."""
    segments = (parse_segment(part) for part in pattern.strip("/").split("/"))
    return [(name, kind) for kind, name in segments if kind is not None]


def fill_pattern(pattern: str, values: dict[str, str]) -> str:
    """The path for a pattern with its parameters filled in; an empty optional catch-all drops out,
    an empty required one stays as its pattern text so the mistake is visible."""
    out: list[str] = []
    for part in pattern.strip("/").split("/"):
        kind, name = parse_segment(part)
        value = values.get(name, "").strip() if kind else ""
        if kind is None:
            if part:
                out.append(part)
        elif not value:
            if kind != "optional":
                out.append(part)
        elif kind == "param":
            out.append(quote(value, safe=""))
        else:  # catch-alls take several segments
            out.append("/".join(quote(piece, safe="") for piece in value.strip("/").split("/")))
    return "/" + "/".join(out)


def parse_pairs(text: str, separator: str) -> list[tuple[str, str]]:
    """`key=value` (or `Name: value`) lines; blank lines and `#` comments are skipped."""
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if separator not in line:
            raise ComposeError(f"line {number} {line!r} has no {separator!r}; write name{separator}value")
        name, value = line.split(separator, 1)
        if not name.strip():
            raise ComposeError(f"line {number} {line!r} has no name before {separator!r}")
        pairs.append((name.strip(), value.strip()))
    return pairs


def format_pairs(pairs: list[tuple[str, str]], separator: str) -> str:
    joiner = f"{separator} " if separator == ":" else separator
    return "\n".join(f"{k}{joiner}{v}" for k, v in pairs)


@dataclass
class Draft:
    """Everything the composer's fields hold."""

    method: str = "GET"
    path: str = "/"
    query: str = ""  # key=value lines
    headers: str = ""  # Name: value lines
    body: str = ""
    body_kind: str = "json"
    replay_of: int | None = None  # set when editing a logged request: the send is logged as its replay

    def request(self, base_url: str) -> httpx.Request:
        if not self.path.startswith("/"):
            raise ComposeError(f"the path {self.path!r} must start with /")
        query = parse_pairs(self.query, "=")
        headers = parse_pairs(self.headers, ":")
        names = {k.lower() for k, _ in headers}
        content: bytes | None = None
        if self.body.strip() and self.method not in ("GET", "HEAD"):
            if self.body_kind == "json":
                try:
                    json.loads(self.body)
                except ValueError as exc:
                    raise ComposeError(f"the body is not valid JSON: {exc}") from exc
                default_type = "application/json"
                content = self.body.encode("utf-8")
            elif self.body_kind == "form":
                default_type = "application/x-www-form-urlencoded"
                content = urlencode(parse_pairs(self.body, "=")).encode("ascii")
            else:
                default_type = "text/plain; charset=utf-8"
                content = self.body.encode("utf-8")
            if "content-type" not in names:
                headers.append(("content-type", default_type))
        headers = [(k, v) for k, v in headers if k.lower() not in _NOT_EDITABLE]
        if self.replay_of is not None:
            headers += [(SOURCE_HEADER, "replay"), (REPLAY_OF_HEADER, str(self.replay_of))]
        else:
            headers.append((SOURCE_HEADER, "composer"))
        url = base_url.rstrip("/") + self.path + (f"?{urlencode(query)}" if query else "")
        return httpx.Request(self.method, url, headers=_header_bytes(headers), content=content)


def _header_bytes(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Header values as HTTP carries them: one byte per character (latin-1), as the log reads them."""
    encoded = []
    for name, value in headers:
        if not name.isascii() or not name.isprintable():
            raise ComposeError(f"the header name {name!r} is not plain ASCII")
        try:
            encoded.append((name.encode("ascii"), value.encode("latin-1")))
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            raise ComposeError(
                f"the {name} header holds {bad!r}, which a header cannot carry; only Latin-1 characters can"
            ) from exc
    return encoded


def draft_for_route(route: engine.Route) -> Draft:
    methods = [m for m in route.methods if m in METHODS] or ["GET"]
    method = "GET" if "GET" in methods else methods[0]
    return Draft(method=method, path=route.pattern)


def draft_for_spec(spec: RequestSpec) -> Draft:
    """A request read from a curl command or a `.http` file. Its host is dropped: the composer
    sends to this app's server."""
    url = spec.url
    if not url.startswith("/") and "://" not in url:  # `{{host}}/users`, `localhost:8000/users`
        url = f"http://{url}"
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # `http://[::1/users`
        raise ComposeError(f"the URL {spec.url!r} cannot be read: {exc}") from None
    try:
        body = spec.body.decode("utf-8")
    except UnicodeDecodeError:
        raise ComposeError(
            f"the body is {len(spec.body):,} bytes of binary data, which the composer cannot edit; send it with curl"
        ) from None
    if spec.method not in METHODS:
        raise ComposeError(f"the method {spec.method} is not one the composer sends ({', '.join(METHODS)})")
    return _draft(spec.method, parts.path or "/", parts.query, list(spec.headers), body)


def _draft(
    method: str, path: str, query: str, headers: list[tuple[str, str]], body: str, replay_of: int | None = None
) -> Draft:
    headers = [(k, v) for k, v in headers if k.lower() not in _NOT_EDITABLE]
    mime = next((v for k, v in headers if k.lower() == "content-type"), "").split(";")[0].strip().lower()
    kind = "json" if "json" in mime else "form" if mime == "application/x-www-form-urlencoded" else "text"
    form = parse_qsl(body, keep_blank_values=True) if kind == "form" else []
    if kind == "form" and _as_lines(form):
        body = format_pairs(form, "=")
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
    elif kind == "form":  # a field the one-per-line form cannot hold: sent as the text it is
        kind = "text"
    pairs = parse_qsl(query, keep_blank_values=True)
    if query and not _as_lines(pairs):  # likewise a query: it stays in the path, as it came
        path, query = f"{path}?{query}", ""
    return Draft(
        method=method,
        path=path,
        query=format_pairs(parse_qsl(query, keep_blank_values=True), "="),
        headers=format_pairs(headers, ":"),
        body=body,
        body_kind=kind,
        replay_of=replay_of,
    )


def _as_lines(pairs: list[tuple[str, str]]) -> bool:
    """Whether `name=value` lines hold `pairs` (parse_pairs reads them back the same)."""
    return all(
        "\n" not in k + v and "\r" not in k + v and "=" not in k and k.strip() == k and v.strip() == v
        and k and not k.startswith("#")
        for k, v in pairs
    )  # fmt: skip


def draft_for_entry(entry: dict[str, Any]) -> Draft:
    """A logged request, ready to edit and send as a replay of it."""
    request = entry["request"]
    body = request["body"] if request["body_encoding"] == "utf-8" else ""
    return _draft(entry["method"], entry["path"], entry["query"], list(request["headers"]), body, entry["id"])

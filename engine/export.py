"""Export logged requests: HAR 1.2 for other tools, and curl commands to paste.

HAR is plain JSON with a published shape (http://www.softwareishard.com/blog/har-12-spec/);
each entry keeps the whole routeconsole trace in the `_routeconsole` custom field, which
HAR allows for fields starting with `_`.

Both exports are sanitized by default: `to_curl` and `to_har` mask secret headers and body
and query fields (see `engine.redact`) in what they write, `_routeconsole` included; the
caller's entries are not changed. `redact=` names more secret headers (config.toml's
`redact` list); `reveal=True` writes everything as it was logged.

    to_har(entries)                         # safe to attach to a ticket
    to_har(entries, redact=["x-session"])   # and x-session too
    to_curl(entry, reveal=True)             # the real token, to run again by hand
"""

from __future__ import annotations

import base64
import os
import shlex
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl

from .redact import redact_entry
from .trace import REPLAY_OF_HEADER, SOURCE_HEADER

# Headers curl and replay set themselves, or that describe one connection only.
SKIP_HEADERS: Final = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", SOURCE_HEADER, REPLAY_OF_HEADER}
)


def entry_url(entry: dict[str, Any], base: str | None = None) -> str:
    if base is None:
        host = next((v for k, v in entry["request"]["headers"] if k == "host"), "127.0.0.1:8000")
        base = f"http://{host}"
    query = f"?{entry['query']}" if entry["query"] else ""
    return f"{base.rstrip('/')}{entry['path']}{query}"


def entry_body(message: dict[str, Any]) -> bytes:
    if message["body_encoding"] == "base64":
        return base64.b64decode(message["body"])
    return str(message["body"]).encode("utf-8")


def to_curl(entry: dict[str, Any], base: str | None = None, *, reveal: bool = False, redact: Iterable[str] = ()) -> str:
    """A copy-pastable curl command; `-X` only where curl would not infer the method.

    Secrets are masked unless `reveal`; `redact` names more secret headers.
    """
    if not reveal:
        entry = redact_entry(entry, headers=redact)
    method = entry["method"]
    body = entry_body(entry["request"])
    parts = ["curl"]
    if method == "HEAD":
        parts.append("--head")
    elif method != ("POST" if body else "GET"):
        parts += ["-X", method]
    parts.append(entry_url(entry, base))
    for name, value in entry["request"]["headers"]:
        if name not in SKIP_HEADERS:
            parts += ["-H", f"{name}: {value}"]
    if body:
        # --data-raw: the body as it is, where --data-binary would read a body starting with "@"
        # as the name of a file to send.
        parts += ["--data-raw", body.decode("utf-8", "replace")]
    return " ".join(shlex.quote(p) for p in parts)


def to_har(
    entries: Iterable[dict[str, Any]],
    *,
    creator_version: str = "0.1.0",
    reveal: bool = False,
    redact: Iterable[str] = (),
) -> dict[str, Any]:
    """A HAR 1.2 log; secrets are masked (in `_routeconsole` too) unless `reveal`."""
    if not reveal:
        extra = tuple(redact)
        entries = [redact_entry(e, headers=extra) for e in entries]
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "routeconsole", "version": creator_version},
            "entries": [_har_entry(e) for e in entries],
        }
    }


def _har_entry(entry: dict[str, Any]) -> dict[str, Any]:
    request, response = entry["request"], entry["response"]
    req_type = _header(request, "content-type")
    har_request: dict[str, Any] = {
        "method": entry["method"],
        "url": entry_url(entry),
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": [{"name": k, "value": v} for k, v in request["headers"]],
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(entry["query"], keep_blank_values=True)],
        "headersSize": -1,
        "bodySize": request["size"],
    }
    if request["size"]:
        har_request["postData"] = {"mimeType": req_type or "application/octet-stream", "text": request["body"]}
        if request["body_encoding"] == "base64":
            har_request["postData"]["encoding"] = "base64"
    content: dict[str, Any] = {
        "size": response["size"],
        "mimeType": _header(response, "content-type") or "",
        "text": response["body"],
    }
    if response["body_encoding"] == "base64":
        content["encoding"] = "base64"
    started = entry["time"]
    if not started.endswith("Z") and "+" not in started:
        started = datetime.fromisoformat(started).replace(tzinfo=UTC).isoformat()
    return {
        "startedDateTime": started,
        "time": entry["duration_ms"],
        "request": har_request,
        "response": {
            "status": entry["status"],
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in response["headers"]],
            "content": content,
            "redirectURL": _header(response, "location") or "",
            "headersSize": -1,
            "bodySize": response["size"],
        },
        "cache": {},
        "timings": {"send": 0, "wait": entry["duration_ms"], "receive": 0},
        "_routeconsole": entry,
    }


def write_private(path: Path, text: str | bytes) -> None:
    """Write `text` (str as UTF-8) to `path`, readable and writable by its owner only (mode 0600), like
    the request log: an export holds what was sent, and even a masked one names hosts and paths.

    The file is created 0600 (never readable by others, even for a moment) and an existing file
    is made 0600 before anything is written to it.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text.encode("utf-8") if isinstance(text, str) else text)


def _header(message: dict[str, Any], name: str) -> str | None:
    return next((v for k, v in message["headers"] if k == name), None)

"""Replay logged requests against today's code and diff the answers.

    with httpx.Client() as client:
        results = replay_entries(entries, client=client, base="http://127.0.0.1:8000")

Each replay is sent with `x-routeconsole-source: replay` and `x-routeconsole-replay-of: ID`,
so the log records it as a new entry linked to its original (never an overwrite). The
comparison looks at what a client would notice: the status, the headers that carry
meaning (not `date`, `server`, lengths), and the body: JSON compared as data (key
order ignored), anything else as text.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Final

import httpx

from .export import SKIP_HEADERS, entry_body, entry_url
from .redact import MASK, is_secret_header, redact_body
from .trace import REPLAY_OF_HEADER, SOURCE_HEADER

# Headers that change on every response without meaning anything changed.
VOLATILE_HEADERS: Final = frozenset(
    {
        "date",
        "server",
        "content-length",
        "transfer-encoding",
        "connection",
        "etag",
        "last-modified",
        "age",
        "expires",
        "x-request-id",
        "keep-alive",
        "alt-svc",
    }
)


MASKED_ONLY: Final = "(the answers differ only in secret values, masked here)"


@dataclass(frozen=True, slots=True)
class Answer:
    """A response reduced to what the comparison looks at."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    content_type: str

    @classmethod
    def from_entry(cls, entry: dict[str, Any]) -> Answer:
        response = entry["response"]
        headers = tuple((k.lower(), v) for k, v in response["headers"])
        return cls(entry["status"], headers, entry_body(response), _content_type(headers))

    @classmethod
    def from_httpx(cls, response: httpx.Response) -> Answer:
        headers = tuple((k.lower(), v) for k, v in response.headers.multi_items())
        return cls(response.status_code, headers, response.content, _content_type(headers))

    def masked(self, extra: Iterable[str] = ()) -> Answer:
        """The answer with secret headers' values (set-cookie...) and secret body fields masked
        (see `engine.redact`); `extra` names more secret headers."""
        names = tuple(extra)
        headers = tuple((k, MASK if is_secret_header(k, names) else v) for k, v in self.headers)
        full_type = next((v for k, v in self.headers if k == "content-type"), "")
        return replace(self, headers=headers, body=redact_body(self.body, full_type))

    def lines(self) -> list[str]:
        """A canonical text form: status, meaningful headers, then the body."""
        out = [f"status: {self.status}"]
        out += [f"{k}: {v}" for k, v in sorted(self.headers) if k not in VOLATILE_HEADERS]
        out.append("")
        out += _body_lines(self.body, self.content_type)
        return out


@dataclass(frozen=True, slots=True)
class ReplayResult:
    id: int
    replay_id: int | None
    method: str
    path: str
    status: tuple[int, int]
    same: bool
    diff: str
    error: str | None = None
    seconds: float = 0.0  # from sending the request to the end of its answer

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "replay_id": self.replay_id,
            "method": self.method,
            "path": self.path,
            "status": list(self.status),
            "same": self.same,
            "diff": self.diff,
        }


def compare(original: Answer, new: Answer, *, label: str = "") -> str:
    """A unified diff of two answers; empty when a client would see no difference."""
    diff = difflib.unified_diff(
        original.lines(),
        new.lines(),
        fromfile=f"original {label}".strip(),
        tofile=f"replay {label}".strip(),
        lineterm="",
    )
    return "\n".join(diff)


def replay_request(entry: dict[str, Any], base: str) -> httpx.Request:
    """The logged request again, addressed to the server at `base` (its Host follows)."""
    # The log decoded header bytes as latin-1; encoding them back sends the very same bytes
    # (httpx would refuse a str value that is not ASCII).
    headers = [
        (k.encode("latin-1"), v.encode("latin-1")) for k, v in entry["request"]["headers"] if k not in SKIP_HEADERS
    ]
    headers += [(SOURCE_HEADER.encode(), b"replay"), (REPLAY_OF_HEADER.encode(), str(entry["id"]).encode())]
    return httpx.Request(entry["method"], entry_url(entry, base), headers=headers, content=entry_body(entry["request"]))


def replay_entries(
    entries: Iterable[dict[str, Any]],
    *,
    client: httpx.Client,
    base: str,
    find_replay: Any = None,
    reveal: bool = False,
    redact: Iterable[str] = (),
) -> list[ReplayResult]:
    """Send each entry again to the server at `base` and compare. `find_replay(original_id)`
    returns the log id of the new entry, when the caller can look it up.

    Whether an answer is the same is decided on the real values; the diff shows both answers
    with their secrets masked (set-cookie, tokens in JSON; `redact` names more headers), unless
    `reveal`. A difference only in masked values is said so in the diff."""
    extra = tuple(redact)
    results = []
    for entry in entries:
        request = replay_request(entry, base)
        original = Answer.from_entry(entry)
        try:
            response = client.send(request)
        except httpx.HTTPError as exc:
            results.append(
                ReplayResult(
                    entry["id"],
                    None,
                    entry["method"],
                    entry["path"],
                    (entry["status"], 0),
                    False,
                    f"replay failed: {exc}",
                    str(exc),
                )
            )
            continue
        new = Answer.from_httpx(response)
        label = f"#{entry['id']} {entry['method']} {entry['path']}"
        diff = compare(original, new, label=label)
        if diff and not reveal:
            diff = compare(original.masked(extra), new.masked(extra), label=label) or MASKED_ONLY
        if entry["response"]["truncated"] and diff:
            diff += "\n(the original body was truncated in the log; only its first 1 MiB was compared)"
        replay_id = find_replay(entry["id"]) if find_replay else None
        results.append(
            ReplayResult(
                entry["id"],
                replay_id,
                entry["method"],
                entry["path"],
                (entry["status"], new.status),
                not diff,
                diff,
                seconds=response.elapsed.total_seconds(),
            )
        )
    return results


def _content_type(headers: tuple[tuple[str, str], ...]) -> str:
    return next((v for k, v in headers if k == "content-type"), "").split(";", 1)[0].strip().lower()


def _body_lines(body: bytes, content_type: str) -> list[str]:
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return json.dumps(json.loads(body), indent=2, sort_keys=True, ensure_ascii=False).splitlines()
        except ValueError:
            pass
    try:
        return body.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return [f"<{len(body)} bytes of binary data, sha256 {hashlib.sha256(body).hexdigest()}>"]

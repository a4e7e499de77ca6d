"""Mask secrets in logged requests before they leave routeconsole (HAR, curl, the console's views).

The request log keeps real values, because a replay must send the same token; what is
exported or shown is a copy with the secrets' values replaced by one fixed marker:

    >>> entry["request"]["headers"]
    [['authorization', 'Bearer abc'], ['accept', '*/*']]
    >>> redact_entry(entry)["request"]["headers"]
    [['authorization', '[redacted]'], ['accept', '*/*']]

What is secret:

- headers named in `SECRET_HEADERS`, plus any the caller names (config.toml's `redact` list);
- fields whose name contains `password`, `secret`, `token`, `api_key` or `apikey`
  (case-insensitive) in JSON bodies at any depth, urlencoded bodies, the query string and
  multipart text fields (an uploaded file keeps its content).

The header or field stays, so the export still shows what was sent; only the value goes.
A body that does not parse as what its type says (truncated JSON, a broken form) is masked
as far as it can be read and otherwise left as it was: masking never raises.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final
from urllib.parse import quote, unquote_plus

MASK: Final = "[redacted]"

SECRET_HEADERS: Final[frozenset[str]] = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}
)

_SECRET_FIELD: Final = re.compile(r"password|secret|token|api_key|apikey", re.IGNORECASE)
# In a query string or a form the mask is percent-encoded: a literal `[` makes curl glob the URL.
_URL_MASK: Final = quote(MASK)


def is_secret_header(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether a header's value is a secret; `extra` names more headers (any case)."""
    lowered = name.lower()
    return lowered in SECRET_HEADERS or any(lowered == e.lower() for e in extra)


def is_secret_field(name: str) -> bool:
    """Whether a JSON or form field's value is a secret, by its name: `user_password`, `apiKey`..."""
    return _SECRET_FIELD.search(name) is not None


def redact_headers(pairs: Iterable[Sequence[str]], extra: Iterable[str] = ()) -> list[list[str]]:
    """The same `[name, value]` pairs, in order, with secret headers' values replaced by `MASK`."""
    names = tuple(extra)
    return [[name, MASK if is_secret_header(name, names) else value] for name, value in pairs]


def redact_entry(entry: dict[str, Any], *, headers: Iterable[str] = ()) -> dict[str, Any]:
    """A deep copy of a log entry (the shape `RequestLog.get` returns) with its secrets masked.

    `headers` names secret headers beyond `SECRET_HEADERS`. The entry itself is not changed.
    """
    extra = tuple(headers)
    out = copy.deepcopy(entry)
    if isinstance(out.get("query"), str):
        out["query"] = redact_urlencoded(out["query"])
    for side in ("request", "response"):
        message = out.get(side)
        if isinstance(message, dict):
            _redact_message(message, extra)
    return out


def redact_urlencoded(text: str) -> str:
    """`a=1&password=x` as `a=1&password=%5Bredacted%5D`; every other byte stays as it was."""
    if not text:
        return text
    parts = []
    for part in text.split("&"):
        name, eq, value = part.partition("=")
        if eq and value and is_secret_field(unquote_plus(name)):
            part = f"{name}={_URL_MASK}"
        parts.append(part)
    return "&".join(parts)


def redact_json(data: Any) -> Any:
    """JSON data with every secret field's value (of any type) replaced by `MASK`, at any depth."""
    if isinstance(data, dict):
        return {k: MASK if isinstance(k, str) and is_secret_field(k) else redact_json(v) for k, v in data.items()}
    if isinstance(data, list):
        return [redact_json(v) for v in data]
    return data


def redact_body(raw: bytes, content_type: str) -> bytes:
    """A body with its secret fields masked, read as `content_type` says (the full header value:
    a multipart body needs its boundary) or as JSON by its look; unchanged when nothing is secret."""
    return _redact_body(raw, content_type)


def _redact_message(message: dict[str, Any], extra: tuple[str, ...]) -> None:
    raw_headers = message.get("headers")
    if isinstance(raw_headers, list):
        message["headers"] = [
            [str(p[0]), MASK if is_secret_header(str(p[0]), extra) else p[1]] if _is_pair(p) else p for p in raw_headers
        ]
        content_type = next((str(p[1]) for p in raw_headers if _is_pair(p) and str(p[0]).lower() == "content-type"), "")
    else:
        content_type = ""
    body = message.get("body")
    if not isinstance(body, str) or not body:
        return
    if message.get("body_encoding") == "base64":
        try:
            raw = base64.b64decode(body, validate=True)
        except ValueError:
            return
        masked = _redact_body(raw, content_type)
        if masked != raw:
            try:
                message["body"], message["body_encoding"] = masked.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                message["body"] = base64.b64encode(masked).decode("ascii")
        return
    masked_text = _redact_text(body, content_type)
    if masked_text is not None:
        message["body"] = masked_text


def _is_pair(p: Any) -> bool:
    return isinstance(p, list | tuple) and len(p) == 2


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _redact_body(raw: bytes, content_type: str) -> bytes:
    if _media_type(content_type) == "multipart/form-data":
        return _redact_multipart(raw, content_type)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    masked = _redact_text(text, content_type)
    return raw if masked is None else masked.encode("utf-8")


def _redact_text(text: str, content_type: str) -> str | None:
    """The masked text, or None when nothing in it is secret."""
    kind = _media_type(content_type)
    if kind == "multipart/form-data":
        masked = _redact_multipart(text.encode("utf-8"), content_type)
        return masked.decode("utf-8", "replace") if masked != text.encode("utf-8") else None
    if kind == "application/x-www-form-urlencoded":
        form = redact_urlencoded(text)
        return form if form != text else None
    # JSON by its type, or by its look when the type is missing or generic: a secret in
    # a JSON body sent as text/plain is still a secret.
    if text.lstrip()[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except ValueError:
            return _redact_broken_json(text)
        masked_data = redact_json(data)
        if masked_data == data:
            return None
        return json.dumps(masked_data, ensure_ascii=False)
    return None


def _redact_broken_json(text: str) -> str | None:
    """Mask what can be read of JSON that does not parse (cut at the body cap).

    A scan of its strings: a string followed by `:` is a key; when the key (JSON-decoded, so
    `"pass\\u0077ord"` counts) names a secret, its value becomes `"[redacted]"`: a string to its
    closing quote, an object or array through its matching bracket, a scalar to the next
    delimiter, each or to the end of the text where it is cut off.
    """
    out: list[str] = []
    n, i, copied = len(text), 0, 0
    while i < n:
        if text[i] != '"':
            i += 1
            continue
        end = _string_end(text, i)
        j = end
        while j < n and text[j] in " \t\r\n":
            j += 1
        if j >= n or text[j] != ":" or not is_secret_field(_json_key(text[i:end])):
            i = end
            continue
        j += 1
        while j < n and text[j] in " \t\r\n":
            j += 1
        if j >= n:
            break
        value_end = _value_end(text, j)
        out += [text[copied:j], f'"{MASK}"']
        i = copied = value_end
    out.append(text[copied:])
    masked = "".join(out)
    return masked if masked != text else None


def _string_end(text: str, start: int) -> int:
    """The index after the string opening at `start` (its closing quote), or the text's end."""
    i, n = start + 1, len(text)
    while i < n:
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return n


def _value_end(text: str, start: int) -> int:
    """The index after the JSON value starting at `start`, or the text's end where it is cut."""
    n = len(text)
    if text[start] == '"':
        return _string_end(text, start)
    if text[start] not in "{[":
        i = start
        while i < n and text[i] not in ",}] \t\r\n":
            i += 1
        return i
    depth, i = 0, start
    while i < n:
        c = text[i]
        if c == '"':
            i = _string_end(text, i)
            continue
        if c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def _json_key(quoted: str) -> str:
    """A key's name: the JSON string decoded, or its raw text where it does not decode."""
    try:
        name = json.loads(quoted)
    except ValueError:
        return quoted[1:-1]
    return name if isinstance(name, str) else quoted


_DISPOSITION_PARAM: Final = re.compile(rb';\s*([\w*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\r\n]*)', re.IGNORECASE)


def _redact_multipart(raw: bytes, content_type: str) -> bytes:
    """Mask the values of secret text fields; files, headers and boundaries stay byte for byte."""
    match = re.search(r'boundary\s*=\s*"?([^";]+)"?', content_type, re.IGNORECASE)
    if not match:
        return raw
    delimiter = b"--" + match[1].strip().encode("latin-1", "replace")
    chunks = raw.split(delimiter)
    for i in range(1, len(chunks)):
        head, sep, data = chunks[i].partition(b"\r\n\r\n")
        if not sep:  # bare \n line ends: not what RFC 7578 says, but servers accept them
            head, sep, data = chunks[i].partition(b"\n\n")
        if not sep:
            continue
        params = _disposition_params(head)
        if b"filename" in params or not is_secret_field(params.get(b"name", b"").decode("utf-8", "replace")):
            continue
        ending = b"\r\n" if data.endswith(b"\r\n") else b"\n" if data.endswith(b"\n") else b""
        chunks[i] = head + sep + MASK.encode("ascii") + ending
    return delimiter.join(chunks)


def _disposition_params(head: bytes) -> dict[bytes, bytes]:
    for line in head.splitlines():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-disposition":
            return {
                k.lower(): v[1:-1] if v.startswith(b'"') and v.endswith(b'"') and len(v) > 1 else v.strip()
                for k, v in _DISPOSITION_PARAM.findall(value)
            }
    return {}

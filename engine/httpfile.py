"""`.http` files: the request format VS Code's REST Client and JetBrains' HTTP client read.

    ### #12 POST /users (201)
    POST http://127.0.0.1:8000/users HTTP/1.1
    Content-Type: application/json

    {"name": "Ada"}

`to_http(entries)` writes logged requests in it (secrets masked unless `reveal`, like every
export); `parse_http(text)` reads such a file back into `RequestSpec`s, for the composer.

What `parse_http` reads, from both clients' documentation: requests separated by lines
starting with `###` (the rest of the line names the request); `#` and `//` comment lines
before the request line (`# @name x` names it); file variables (`@host = 127.0.0.1:8000`)
used as `{{host}}`; a request line `METHOD URL [HTTP/1.1]`, or a URL alone for GET;
query lines starting with `?` or `&` right after it; headers up to the first blank line;
then the body, up to the next `###` or a JetBrains response handler (`> {% ... %}`,
`>> file`). A body of one line `< path` is that file's bytes (relative to `base`). Anything
else it cannot read (a variable from an environment file, a line that is not a header)
raises `HttpFileError` naming the line.

A body the format cannot carry as text (bytes that are not UTF-8, control characters, a
line starting with `###` or `<`, `{{`, which both clients would substitute) is written to a
file of its own next to the `.http` file and included with `< ./name.bodies/ID.bin`, which
both clients send as is.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from .export import SKIP_HEADERS, entry_body, entry_url, write_private
from .redact import redact_entry

MAX_INCLUDE: Final = 16 * 1024 * 1024  # bytes read for one `< file` body
_REQUEST_LINE: Final = re.compile(r"^([A-Z][A-Z0-9_-]*)\s+(\S+)(?:\s+HTTP/\d(?:\.\d)?)?\s*$")
_URL_ONLY: Final = re.compile(r"^(https?://\S+|/\S*)\s*$")
_VARIABLE: Final = re.compile(r"^@([A-Za-z_][\w.-]*)\s*=\s*(.*?)\s*$")
_USE: Final = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_HEADER: Final = re.compile(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:\s?(.*)$")
_NAME: Final = re.compile(r"^(?:#|//)\s*@name\s*[= ]\s*(\S.*?)\s*$")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")


class HttpFileError(ValueError):
    """A `.http` file routeconsole cannot read; the message names the line."""


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One request read from a `.http` file or a curl command."""

    method: str
    url: str  # absolute (http://host/path?query), or a path with its query
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    name: str | None = None


# Writing --------------------------------------------------------------------------------


def to_http(
    entries: Iterable[dict[str, Any]],
    *,
    reveal: bool = False,
    redact: Iterable[str] = (),
    bodies: Path | None = None,
) -> tuple[str, dict[str, bytes]]:
    """The entries as a `.http` file, and the bodies it includes from files of their own.

    Returns `(text, files)`: `files` maps a path relative to the `.http` file's folder (under
    `bodies`' name, `requests.bodies/12.bin` by default) to the bytes to write there.
    """
    folder = (bodies or Path("requests.bodies")).name
    extra = tuple(redact)
    blocks: list[str] = []
    files: dict[str, bytes] = {}
    for entry in entries:
        if not reveal:
            entry = redact_entry(entry, headers=extra)
        request = entry["request"]
        title = f"### #{entry['id']} {entry['method']} {entry['path']} ({entry['status']})"
        lines = [_one_line(title), f"{_one_line(entry['method'])} {_url(entry_url(entry))} HTTP/1.1"]
        for name, value in request["headers"]:
            if name in SKIP_HEADERS:
                continue
            if _CONTROL.search(value) or "{{" in value:
                # Neither client can be told to send this as it is (no escape exists for it).
                lines.append(f"# {_one_line(name)}: left out: its value holds a control character or {{{{")
            else:
                lines.append(f"{name}: {value}")
        body = entry_body(request)
        if body:
            lines.append("")
            text = _as_text(body)
            if text is None:
                name = f"{folder}/{entry['id']}.bin"
                files[name] = body
                lines.append(f"< ./{name}")
            else:
                lines.append(text)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else "", files


def write_http(
    path: Path, entries: Iterable[dict[str, Any]], *, reveal: bool = False, redact: Iterable[str] = ()
) -> list[Path]:
    """`to_http` into `path`, and the bodies it cannot hold as text into a folder beside it
    (`requests.bodies/` for `requests.http`): the files of those bodies.
    Everything is made readable only by its owner (0600, the folder 0700), like the log."""
    bodies = path.with_name(path.stem + ".bodies")
    text, files = to_http(entries, reveal=reveal, redact=redact, bodies=bodies)
    written = [path.parent / name for name in files]
    if files:
        bodies.mkdir(mode=0o700, exist_ok=True)
        for file, data in zip(written, files.values(), strict=True):
            write_private(file, data)
    write_private(path, text)
    return written


def _url(url: str) -> str:
    """The URL with what a request line cannot hold as it is (spaces, `{{`, controls) percent-encoded."""
    return quote(url, safe="!#$%&'()*+,/:;=?@[]~|^`\"", encoding="latin-1")  # latin-1: a byte a character


def _one_line(text: str) -> str:
    return _CONTROL.sub("?", text.replace("\n", " ").replace("\r", " "))


def _as_text(body: bytes) -> str | None:
    """The body as the `.http` text that reads back as exactly these bytes, or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _CONTROL.search(text) or "\r" in text or "{{" in text or text != text.strip("\n") or text.isspace():
        return None
    for line in text.split("\n"):
        if line.startswith(("###", "<", "> {%", ">> ", ">>! ")) or (line.strip() == "" and line != ""):
            return None
    return text


# Reading --------------------------------------------------------------------------------


def parse_http(
    text: str, base: Path | None = None, *, problems: list[HttpFileError] | None = None
) -> list[RequestSpec]:
    """Every request in a `.http` file; `base` is the folder `< file` bodies are read from.

    A block that cannot be read raises `HttpFileError`, or, given a `problems` list, is
    added to it and skipped: the requests of the other blocks are still returned."""
    variables: dict[str, str] = {}
    requests: list[RequestSpec] = []
    block: list[tuple[int, str]] = []
    name: str | None = None

    def flush(block: list[tuple[int, str]], name: str | None) -> None:
        try:
            _flush(block, name, variables, base, requests)
        except HttpFileError as exc:
            if problems is None:
                raise
            problems.append(exc)

    # Lines end at "\n" (or "\r\n") only: str.splitlines() would also split a body at \x0c or \u2028.
    text = text.removeprefix("\ufeff")  # a byte order mark, as Windows editors write
    for number, line in enumerate(text.removesuffix("\n").split("\n"), 1):
        line = line.removesuffix("\r")
        if line.startswith("###"):
            flush(block, name)
            block, name = [], line[3:].strip() or None
        else:
            block.append((number, line))
    flush(block, name)
    return requests


def _flush(
    block: list[tuple[int, str]],
    name: str | None,
    variables: dict[str, str],
    base: Path | None,
    out: list[RequestSpec],
) -> None:
    lines = iter(block)
    for number, line in lines:  # up to the request line: comments, variables, names
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(("#", "//")):
            named = _NAME.match(stripped)
            if named:
                name = named.group(1)
            continue
        variable = _VARIABLE.match(stripped)
        if variable:
            variables[variable.group(1)] = _substitute(variable.group(2), variables, number)
            continue
        out.append(_request(number, _substitute(stripped, variables, number), lines, name, variables, base))
        return


def _request(
    number: int,
    line: str,
    rest: Iterable[tuple[int, str]],
    name: str | None,
    variables: Mapping[str, str],
    base: Path | None,
) -> RequestSpec:
    full = _REQUEST_LINE.match(line)
    if full:
        method, url = full.group(1), full.group(2)
    elif _URL_ONLY.match(line):
        method, url = "GET", line.split()[0]
    else:
        raise HttpFileError(f"line {number}: {line!r} is not a request line (METHOD URL [HTTP/1.1])")
    headers: list[tuple[str, str]] = []
    body: list[str] = []
    include: tuple[int, str] | None = None
    part = "query"
    for n, raw in rest:
        if part == "query":
            if raw.lstrip().startswith(("?", "&")):
                url += _substitute(raw.strip(), variables, n)
                continue
            part = "headers"
        if part == "headers":
            if not raw.strip():
                part = "body"
                continue
            if raw.lstrip().startswith(("#", "//")):
                continue
            header = _HEADER.match(raw.strip())
            if not header:
                raise HttpFileError(f"line {n}: {raw.strip()!r} is not a header (Name: value)")
            headers.append((header.group(1), _substitute(header.group(2).strip(), variables, n)))
            continue
        if raw.startswith(("> {%", ">> ", ">>! ", "<> ")):  # JetBrains response handling: not a body
            break
        if not body and raw.startswith("<") and raw[1:2] in (" ", "@"):
            include = (n, raw[2:].strip() if raw.startswith("<@") else raw[1:].strip())
        body.append(raw)
    while body and not body[-1].strip():
        body.pop()
    if include is not None and len(body) == 1:
        content = _read_include(*include, base)
    else:
        content = _substitute("\n".join(body), variables, number).encode("utf-8")
    return RequestSpec(method, url, tuple(headers), content, name)


def _substitute(text: str, variables: Mapping[str, str], number: int) -> str:
    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in variables:
            return variables[key]
        if key.startswith("$"):
            raise HttpFileError(f"line {number}: {{{{{key}}}}} is a client's dynamic variable; write the value itself")
        raise HttpFileError(
            f"line {number}: {{{{{key}}}}} is not defined in this file (environment files are not read)"
        )

    return _USE.sub(value, text) if "{{" in text else text


def _read_include(number: int, name: str, base: Path | None) -> bytes:
    if base is None:
        raise HttpFileError(f"line {number}: the body is the file {name!r}, and this text has no folder to read from")
    path = base / name
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or a device would block the reader
            raise HttpFileError(f"line {number}: the body file {name!r} is not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_INCLUDE + 1)
    except OSError as exc:
        raise HttpFileError(f"line {number}: cannot read the body file {name!r}: {exc.strerror}") from exc
    if len(data) > MAX_INCLUDE:
        raise HttpFileError(f"line {number}: the body file {name!r} is larger than {MAX_INCLUDE} bytes")
    return data

"""Read a curl command (as browsers' "Copy as cURL" and API docs give them) into a request.

    parse_curl("curl -X POST localhost:8000/users -H 'Content-Type: application/json' -d '{\\"a\\":1}'")
    -> RequestSpec(method="POST", url="http://localhost:8000/users",
                   headers=(("Content-Type", "application/json"),), body=b'{"a":1}')

The command is split as a POSIX shell would (`shlex`), after joining `\\`-continued lines
and decoding bash's `$'...'` strings (Chrome's "Copy as cURL (bash)" writes bodies with
quotes or newlines that way). The options that shape a request are read: `-X`, `-H`, the
`-d` family and `--json`, `-G`, `-I`, `-u`, `-b`, `-A`, `-e`, `--url`; options that only
change how curl itself behaves (`-s`, `-L`, `--compressed`, `-o FILE`, ...) are skipped.
Anything else raises `CurlError` naming the part: an unknown option, a body read from a
file (`-d @file`), a multipart form (`-F`), a second URL.
"""

from __future__ import annotations

import base64
import re
import shlex
from typing import Final
from urllib.parse import quote

from .httpfile import RequestSpec

# Options that take no value and change nothing about the request.
_FLAGS: Final = frozenset(
    [
        "-s",
        "--silent",
        "-S",
        "--show-error",
        "-L",
        "--location",
        "-k",
        "--insecure",
        "-v",
        "--verbose",
        "-i",
        "--include",
        "-f",
        "--fail",
        "--fail-with-body",
        "-g",
        "--globoff",
        "--compressed",
        "--http1.0",
        "--http1.1",
        "--http2",
        "--http2-prior-knowledge",
        "-N",
        "--no-buffer",
        "-#",
        "--progress-bar",
        "-q",
        "--disable",
        "--no-keepalive",
        "--tr-encoding",
        "--location-trusted",
        "--raw",
        "--path-as-is",
        "--no-progress-meter",
        "--tcp-nodelay",
    ]
)
# Options that take a value and change nothing about the request.
_SKIPPED: Final = frozenset(
    [
        "-o",
        "--output",
        "-m",
        "--max-time",
        "--connect-timeout",
        "--retry",
        "--retry-delay",
        "--retry-max-time",
        "-w",
        "--write-out",
        "-c",
        "--cookie-jar",
        "--max-redirs",
        "--limit-rate",
        "-D",
        "--dump-header",
        "--cacert",
        "--capath",
        "--resolve",
        "--connect-to",
        "--interface",
        "--local-port",
        "--trace",
        "--trace-ascii",
        "--stderr",
        "--max-filesize",
    ]
)
# Short options that take a value, and so may be written together with it (`-XPOST`).
_SHORT_VALUED: Final = frozenset("XHdAbeuomwcDF")
_DATA: Final = frozenset({"-d", "--data", "--data-ascii", "--data-binary", "--data-raw", "--data-urlencode", "--json"})
_CONTINUATION: Final = re.compile(r"\\\r?\n")
_ESCAPES: Final = {
    "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
    "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?",
}  # fmt: skip


class CurlError(ValueError):
    """A command that cannot be read as a request; the message says which part."""


def parse_curl(command: str) -> RequestSpec:
    words = _split(command)
    if not words or words[0].rsplit("/", 1)[-1] != "curl":
        start = words[0] if words else "nothing"
        raise CurlError(f"not a curl command: it starts with {start!r}")
    method: str | None = None
    url: str | None = None
    headers: list[tuple[str, str]] = []
    data: list[str] = []
    json_body = get = head = False
    args = iter(_expand(words[1:]))
    for word in args:
        if not word.startswith("-") or word == "-":
            url = _one_url(url, word)
            continue
        if word in _FLAGS:
            continue
        if word in ("-G", "--get"):
            get = True
            continue
        if word in ("-I", "--head"):
            head = True
            continue
        value = next(args, None)
        if value is None:
            raise CurlError(f"the option {word} needs a value after it")
        if word in _SKIPPED:
            continue
        if word in ("-X", "--request"):
            method = value.upper()
        elif word == "--url":
            url = _one_url(url, value)
        elif word in ("-H", "--header"):
            headers.append(_header(value))
        elif word in _DATA:
            data.append(_data(word, value))
            json_body = json_body or word == "--json"
        elif word in ("-u", "--user"):
            token = base64.b64encode(value.encode("utf-8")).decode("ascii")
            headers.append(("Authorization", f"Basic {token}"))
        elif word in ("-b", "--cookie"):
            if "=" not in value:
                raise CurlError(f"{word} {value!r} reads cookies from a file; give them as name=value")
            headers.append(("Cookie", value))
        elif word in ("-A", "--user-agent"):
            headers.append(("User-Agent", value))
        elif word in ("-e", "--referer"):
            headers.append(("Referer", value))
        elif word in ("-F", "--form", "--form-string"):
            raise CurlError(f"{word} sends a multipart form, which the composer cannot fill; send it with curl")
        else:
            raise CurlError(f"the option {word} is not one routeconsole reads")
    if url is None:
        raise CurlError("the command has no URL")
    if "://" not in url:
        url = f"http://{url}"
    elif not url.startswith(("http://", "https://")):
        raise CurlError(f"the URL {url!r} is not http or https")
    body = "&".join(data)
    names = {name.lower() for name, _ in headers}
    if json_body:
        if "content-type" not in names:
            headers.append(("Content-Type", "application/json"))
        if "accept" not in names:
            headers.append(("Accept", "application/json"))
    elif data and not get and "content-type" not in names:
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))  # what curl sends with -d
    if get and data:
        url += ("&" if "?" in url else "?") + body
        body = ""
    default = "HEAD" if head else "GET" if get or not data else "POST"
    return RequestSpec(method or default, url, tuple(headers), body.encode("utf-8"))


def _split(command: str) -> list[str]:
    text = _CONTINUATION.sub(" ", command.strip())
    text = text.removeprefix("$ ")  # a shell prompt copied along
    text = _ansi_c(text)
    try:
        return shlex.split(text)
    except ValueError as exc:  # shlex: "No closing quotation", "No escaped character"
        raise CurlError(f"the command cannot be split into words: {exc}") from exc


def _expand(words: list[str]) -> list[str]:
    """`-XPOST` as `-X POST`, `-sSL` as `-s -S -L`."""
    out: list[str] = []
    for word in words:
        if len(word) > 2 and word[0] == "-" and word[1] != "-":
            if word[1] in _SHORT_VALUED:
                out += [word[:2], word[2:]]
                continue
            flags = [f"-{c}" for c in word[1:]]
            if all(f in _FLAGS or f in ("-G", "-I") for f in flags):
                out += flags
                continue
        out.append(word)
    return out


def _one_url(url: str | None, word: str) -> str:
    if url is not None:
        raise CurlError(f"the command names two URLs ({url!r} and {word!r}); the composer sends one request")
    return word


def _header(value: str) -> tuple[str, str]:
    if value.startswith("@"):
        raise CurlError(f"-H {value!r} reads headers from a file; give them one by one")
    name, colon, rest = value.partition(":")
    if not colon or not name.strip():
        raise CurlError(f"-H {value!r} is not a header (Name: value)")
    return name.strip(), rest.strip()


def _data(option: str, value: str) -> str:
    if option == "--data-urlencode":  # content, =content, name=content; @file and name@file read a file
        name, equals, content = value.partition("=")
        if not equals:
            if "@" in value:
                raise CurlError(f"{option} {value!r} reads its content from a file")
            return quote(value, safe="")
        return f"{name}={quote(content, safe='')}" if name else quote(content, safe="")
    if value.startswith("@") and option != "--data-raw":
        raise CurlError(f"{option} {value!r} reads the body from a file; paste the body itself")
    return value


def _ansi_c(text: str) -> str:
    """`text` with each bash `$'...'` string replaced by a plain shell quote of its value."""
    if "$'" not in text:
        return text
    out: list[str] = []
    i, quote_char = 0, ""
    while i < len(text):
        c = text[i]
        if quote_char:  # inside '...' or "..."
            out.append(c)
            if c == "\\" and quote_char == '"' and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif c == quote_char:
                quote_char = ""
            i += 1
        elif c == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
        elif c in "'\"":
            quote_char = c
            out.append(c)
            i += 1
        elif text.startswith("$'", i):
            value, i = _ansi_c_string(text, i + 2)
            out.append(shlex.quote(value))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _ansi_c_string(text: str, i: int) -> tuple[str, int]:
    """The value of a `$'...'` string whose text starts at `i`, and where the string ends."""
    value: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "'":
            return "".join(value), i + 1
        if c != "\\" or i + 1 >= len(text):
            value.append(c)
            i += 1
            continue
        e = text[i + 1]
        if e in _ESCAPES:
            value.append(_ESCAPES[e])
            i += 2
        elif e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = re.match(f"[0-9a-fA-F]{{1,{width}}}", text[i + 2 :])
            if digits is None:
                value.append("\\" + e)
                i += 2
            else:
                value.append(chr(min(int(digits.group(), 16), 0x10FFFF)))
                i += 2 + len(digits.group())
        elif e in "01234567":
            digits = re.match("[0-7]{1,3}", text[i + 1 :])
            assert digits is not None
            value.append(chr(int(digits.group(), 8) & 0xFF))
            i += 1 + len(digits.group())
        else:
            value.append("\\" + e)
            i += 2
    raise CurlError("the command has a $'...' string with no closing quote")

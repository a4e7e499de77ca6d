"""Make text from traffic and route code safe to draw on a terminal.

Everything the console, the CLI or `serve`'s log shows that routeconsole did not write itself (paths,
queries, headers, bodies, JSON keys, tracebacks, what route code prints, log records) may
hold control characters: `\\x1b]0;PWNED\\x07` retitles a terminal, `\\x1b[2J` clears it,
`\\r` overwrites a line, a bidi override reorders what the eye reads. `visible()` is the one
function every view sends such text through: each control character becomes a visible
stand-in and nothing reaches the terminal raw.

    >>> visible("\\x1b]0;PWNED\\x07\\x1b[2J")
    '␛]0;PWNED␇␛[2J'
    >>> visible("a\\tb\\nc", multiline=True)
    'a\\tb\\nc'

C0 controls and DEL become their Unicode control pictures (`␛`, `␇`, `␡`); C1 controls,
bidi controls and line/paragraph separators become `\\x9b`-style escapes. Printable text,
emoji and joiners are unchanged.

It lives in the engine because `serve` writes route code's exceptions to a terminal too
(`VisibleFormatter`); the console and the CLI import it from here.
"""

from __future__ import annotations

import logging
from typing import Final

_C0: Final = {code: chr(0x2400 + code) for code in range(0x20)}  # ␀ ... ␟
_OTHERS: Final = {
    0x7F: "\u2421",  # ␡
    **{code: f"\\x{code:02x}" for code in range(0x80, 0xA0)},  # C1: \x9b is a CSI on some terminals
    # Bidi embeddings, overrides and isolates ("Trojan Source"), and the marks; line and
    # paragraph separators, which some terminals take as newlines.
    **{code: f"\\u{code:04x}" for code in (0x200E, 0x200F, 0x2028, 0x2029, 0x061C)},
    **{code: f"\\u{code:04x}" for code in range(0x202A, 0x202F)},
    **{code: f"\\u{code:04x}" for code in range(0x2066, 0x206A)},
}
_LINE: Final = str.maketrans({**_C0, **_OTHERS})
_MULTILINE: Final = str.maketrans({**{k: v for k, v in _C0.items() if k not in (0x09, 0x0A)}, **_OTHERS})

# Every character `visible()` replaces; tests and callers that check text use it.
UNSAFE: Final = frozenset(chr(code) for code in (*_C0, *_OTHERS))


def visible(text: str, *, multiline: bool = False) -> str:
    """`text` with every control character replaced by a visible stand-in.

    With `multiline`, newlines and tabs are kept (bodies, tracebacks, source), and a CRLF line
    end is a newline; a lone `\\r` and every other control character are replaced all the same.
    """
    if multiline:
        if "\r\n" in text:
            text = text.replace("\r\n", "\n")
        return text.translate(_MULTILINE)
    return text.translate(_LINE)


# JSON's own whitespace stays: `json.dumps` escapes every C0 control inside strings, so a raw
# newline or tab in its output is indentation, and `\\u000a` there would not parse.
_JSON: Final = str.maketrans({ord(c): f"\\u{ord(c):04x}" for c in UNSAFE if c not in " \t\n\r"})


def json_safe(text: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`) with every character of `UNSAFE` as a
    `\\uXXXX` escape: the same JSON, safe to print. `json.dumps` escapes C0 controls itself, but
    not DEL, C1 controls, bidi controls or line separators."""
    return text.translate(_JSON)


class VisibleFormatter(logging.Formatter):
    """A log formatter whose records (route code's exception messages and tracebacks included)
    reach the terminal with their control characters as stand-ins."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record), multiline=True)

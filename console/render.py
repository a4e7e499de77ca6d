"""Rich renderables for what the detail panes show: waterfalls, messages, bodies, sources, diffs.

Pure functions of log entries (the dicts `RequestLog.get` returns) and a `Palette`, so the
widgets stay thin and each view can be checked on its own. Highlighting is Pygments through
Rich's `Syntax`, in the theme's Pygments style.

Everything drawn here that routeconsole did not write (paths, headers, bodies, span names,
context keys, tracebacks, file names and contents) goes through `visible()` in these
functions, after any pretty-printing, so no control character reaches the terminal raw.
"""

from __future__ import annotations

import base64
import difflib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.padding import Padding
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from engine.explain import Explanation
from engine.visible import visible

if TYPE_CHECKING:  # only named in annotations: the CLI draws with this module without loading Textual
    from .theming import Palette

DISPLAY_CAP: Final = 256 * 1024  # body bytes highlighted on screen; the log keeps up to 1 MiB
BAR_WIDTH: Final = 32  # the waterfall's time axis when the pane has room
MIN_BAR_WIDTH: Final = 8  # narrower, the bar goes before a span name is cut
WATERFALL_GAP: Final = 2  # cells between the waterfall's columns
WATERFALL_HEADINGS: Final = {"SPAN": "SPAN", "LAYER": "LAYER", "MS": "MS", "OUTCOME": "OUTCOME", "CONTEXT": "CONTEXT +"}

_LEXERS: Final = {
    "application/json": "json",
    "text/html": "html",
    "application/xml": "xml",
    "text/xml": "xml",
    "text/css": "css",
    "application/javascript": "javascript",
    "text/javascript": "javascript",
    "application/x-www-form-urlencoded": "text",
}

SecretsState = Literal["masked", "shown"] | None  # what the Request/Response tabs say of secrets

OUTCOME_GLYPHS: Final = {"next": "→", "respond": "●", "raise": "✖", "hit": "◆", "miss": "◇"}


def header(entry: dict[str, Any], name: str, which: str = "request") -> str | None:
    for key, value in entry[which]["headers"]:
        if key.lower() == name:
            return str(value)
    return None


def content_type(entry: dict[str, Any], which: str) -> str:
    return (header(entry, "content-type", which) or "").split(";", 1)[0].strip().lower()


def lexer_for(mime: str) -> str:
    if mime.endswith("+json"):
        return "json"
    return _LEXERS.get(mime, "text")


def body_text(message: dict[str, Any]) -> tuple[str | None, bytes]:
    """(text, raw bytes); text is None for a body that is not UTF-8."""
    if message["body_encoding"] == "base64":
        raw = base64.b64decode(message["body"])
        return None, raw
    return message["body"], message["body"].encode("utf-8")


def pretty(text: str, mime: str) -> str:
    if lexer_for(mime) == "json":
        try:
            return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            return text
    return text


def body_view(message: dict[str, Any], mime: str, palette: Palette) -> RenderableType:
    size = message["size"]
    if not size and not message["body"]:
        return Text("(no body)", style="dim")
    text, raw = body_text(message)
    notes: list[Text] = []
    if message["truncated"]:
        notes.append(Text(f"body truncated in the log: {len(raw):,} of {size:,} bytes kept", style="bold yellow"))
    if text is None:
        return Group(*notes, Text(f"{len(raw):,} bytes of binary data", style="dim"))
    if len(text) > DISPLAY_CAP:
        notes.append(Text(f"showing the first {DISPLAY_CAP:,} of {len(text):,} characters", style="bold yellow"))
        text = text[:DISPLAY_CAP]
    # After pretty-printing: json.loads turns an escaped "\u001b" in a body into a raw ESC.
    shown = visible(pretty(text, mime), multiline=True)
    code = Syntax(shown, lexer_for(mime), theme=palette.syntax, word_wrap=True, background_color="default")
    return Group(*notes, code)


def headers_table(headers: Sequence[Sequence[str]]) -> RenderableType:
    if not headers:
        return Text("(no headers)", style="dim")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, value in headers:
        grid.add_row(Text(f"{visible(name)}:"), Text(visible(value)))
    return grid


def secrets_note(secrets: SecretsState, key: str) -> Text | None:
    """The line under the headers saying whether secrets are masked: `secrets` is "masked",
    "shown" (the user revealed them) or None (the entry holds none)."""
    if secrets == "masked":
        return Text(f"secrets masked · {key} reveals", style="dim italic")
    if secrets == "shown":
        return Text(f"secrets shown · {key} masks them", style="bold yellow")
    return None


def request_view(
    entry: dict[str, Any], palette: Palette, *, secrets: SecretsState = None, reveal_key: str = "v"
) -> RenderableType:
    """The request line, headers and body. Mask an entry's secrets first (`engine.redact_entry`)
    and say so with `secrets` (see `secrets_note`)."""
    line = Text()
    line.append(visible(entry["method"]), style=palette.method(entry["method"]))
    query = f"?{entry['query']}" if entry["query"] else ""
    line.append(visible(f" {entry['path']}{query}"))
    line.append(visible(f"   #{entry['id']} · {entry['source']}"), style="dim")
    if entry.get("replay_of"):
        line.append(f" · replay of #{entry['replay_of']}", style="dim")
    if entry.get("client"):
        line.append(visible(f" · from {entry['client']}"), style="dim")
    return _message_view(line, entry, "request", palette, secrets_note(secrets, reveal_key))


def response_view(
    entry: dict[str, Any], palette: Palette, *, secrets: SecretsState = None, reveal_key: str = "v"
) -> RenderableType:
    line = Text()
    line.append(str(entry["status"]), style=palette.status(entry["status"]))
    line.append(f"   {entry['duration_ms']:.1f} ms · {entry['response']['size']:,} bytes", style="dim")
    return _message_view(line, entry, "response", palette, secrets_note(secrets, reveal_key))


def _message_view(
    line: Text, entry: dict[str, Any], which: str, palette: Palette, note: Text | None = None
) -> RenderableType:
    """A summary line, the headers (and a note on secrets), then the body."""
    message = entry[which]
    return Group(
        line,
        Text(""),
        headers_table(message["headers"]),
        *([note] if note is not None else []),
        Text(""),
        body_view(message, content_type(entry, which), palette),
    )


def nesting(spans: Sequence[dict[str, Any]]) -> list[int]:
    """Each span's depth in the onion: how many earlier spans still enclose its start.

    Spans come in the order they started and a middleware's duration covers everything it
    awaited, so a span is inside every earlier span whose end is after its own start.
    For `[mw 0-10, route 1-9, handler 2-8, cache 9.5-9.6]` the depths are `[0, 1, 2, 1]`.
    """
    depths: list[int] = []
    open_ends: list[float] = []
    for span in spans:
        start = span["start_ms"]
        while open_ends and open_ends[-1] <= start:
            open_ends.pop()
        depths.append(len(open_ends))
        open_ends.append(start + span["duration_ms"])
    return depths


def timeline_bar(start: float, duration: float, total: float, width: int, style: Style) -> Text:
    """A bar placed on a time axis of `width` cells spanning `total` ms."""
    total = max(total, 1e-9)
    left = min(width - 1, int(start / total * width))
    length = max(1, round(duration / total * width))
    length = min(length, width - left)
    bar = Text("·" * left, style="dim")
    bar.append("█" * length, style=style)
    bar.append("·" * (width - left - length), style="dim")
    return bar


def waterfall_widths(natural: dict[str, int], width: int | None) -> dict[str, int]:
    """The waterfall's columns that fit `width` cells, in order, each with its width.

    `natural` holds the widest cell of each column but the bar, headings left out (CONTEXT is 0
    when no span added context). Span names stay whole as long as anything else can give way,
    in this order: the BAR narrows from BAR_WIDTH to MIN_BAR_WIDTH, CONTEXT is cut with `…` down
    to its heading, LAYER goes (an empty CONTEXT before it), then CONTEXT, then the bar, and
    OUTCOME keeps only its glyph (width 1). With `width` None every column has its natural
    width and the bar BAR_WIDTH.

    For names 16 wide, layers 8, durations 4, outcomes 9 and no context, at 45 cells (the trace
    pane of an 80-column terminal): `{"SPAN": 16, "BAR": 10, "MS": 4, "OUTCOME": 9}`.
    """
    first, second = ("CONTEXT", "LAYER") if not natural.get("CONTEXT") else ("LAYER", "CONTEXT")
    natural = {column: max(natural.get(column, 0), len(heading)) for column, heading in WATERFALL_HEADINGS.items()}
    order = ("SPAN", "LAYER", "BAR", "MS", "OUTCOME", "CONTEXT")
    if width is None:
        return {column: BAR_WIDTH if column == "BAR" else natural[column] for column in order}
    context_least = len(WATERFALL_HEADINGS["CONTEXT"])
    for dropped in ((), (first,), (first, second)):
        kept = [column for column in order if column not in dropped]
        room = width - WATERFALL_GAP * (len(kept) - 1) - sum(natural[c] for c in kept if c not in ("BAR", "CONTEXT"))
        if room < MIN_BAR_WIDTH + (context_least if "CONTEXT" in kept else 0):
            continue
        widths = {column: natural[column] for column in kept if column != "BAR"}
        if "CONTEXT" in widths:
            widths["CONTEXT"] = max(context_least, min(natural["CONTEXT"], room - MIN_BAR_WIDTH))
            room -= widths["CONTEXT"]
        widths["BAR"] = min(BAR_WIDTH, room)
        return {column: widths[column] for column in order if column in widths}
    widths = {"SPAN": natural["SPAN"], "MS": natural["MS"], "OUTCOME": natural["OUTCOME"]}
    if sum(widths.values()) + 2 * WATERFALL_GAP > width:
        widths["OUTCOME"] = 1
    return widths


def waterfall(entry: dict[str, Any], palette: Palette, *, width: int | None = None) -> RenderableType:
    """The request's spans on a time axis, laid out for `width` cells (see `waterfall_widths`)."""
    spans = entry["spans"]
    theme = palette.theme
    title = Text()
    title.append(visible(entry["method"]), style=palette.method(entry["method"]))
    title.append(visible(f" {entry['path']} "))
    title.append(str(entry["status"]), style=palette.status(entry["status"]))
    title.append(f"  {entry['duration_ms']:.2f} ms", style="bold")
    route = entry.get("route")
    title.append(visible(f"  {route['pattern']} ({route['file']})") if route else "  no route matched", style="dim")
    if not spans:
        return Group(title, Text(""), Text("no middleware or handler ran for this request", style="dim"))
    total = max(entry["duration_ms"], max(s["start_ms"] + s["duration_ms"] for s in spans))
    colours = {"middleware": theme.primary, "handler": theme.success, "cache": theme.accent}
    errors: list[tuple[dict[str, Any], str]] = []
    cells: dict[str, list[Text]] = {"SPAN": [], "LAYER": [], "MS": [], "OUTCOME": [], "CONTEXT": []}
    bars: list[tuple[float, float, Style]] = []
    for span, depth in zip(spans, nesting(spans), strict=True):
        failed = span["outcome"] == "raise"
        colour = theme.error if failed else colours.get(span["kind"], theme.primary)
        name = Text("  " * depth + ("└ " if depth else ""), style="dim")
        name.append(visible(span["name"]), style="bold" if span["kind"] == "handler" else "")
        outcome = span["outcome"] or "?"
        outcome_text = Text(f"{OUTCOME_GLYPHS.get(outcome, '?')} {outcome}", style=Style(color=colour, bold=failed))
        cells["SPAN"].append(name)
        cells["LAYER"].append(Text(f"{span['layer']}" + (f" {span['kind']}" if span["kind"] == "cache" else "")))
        bars.append((span["start_ms"], span["duration_ms"], Style(color=colour)))
        cells["MS"].append(Text(f"{span['duration_ms']:.2f}"))
        cells["OUTCOME"].append(outcome_text)
        cells["CONTEXT"].append(Text(visible(", ".join(span["context"]))))
        if span.get("error"):
            errors.append((span, span["error"]))
    widths = waterfall_widths({column: max(t.cell_len for t in texts) for column, texts in cells.items()}, width)
    grid = Table(box=None, pad_edge=False, show_edge=False, header_style="bold dim", expand=False)
    for column, column_width in widths.items():
        if column == "BAR":
            axis = (f"0 ─ {total:.2f} ms", f"{total:.2f} ms", f"{total:.0f} ms", "")
            heading = next(label for label in axis if len(label) <= column_width)
        elif column == "OUTCOME" and column_width == 1:
            heading = ""
            cells["OUTCOME"] = [Text(text.plain[:1], style=text.style) for text in cells["OUTCOME"]]
        else:
            heading = WATERFALL_HEADINGS[column]
        grid.add_column(
            heading,
            width=column_width,
            no_wrap=True,
            overflow="ellipsis",
            justify="right" if column == "MS" else "left",
            style="dim" if column == "LAYER" else "",
        )
    for n, bar in enumerate(bars):
        grid.add_row(
            *(
                timeline_bar(*bar[:2], total, column_width, bar[2]) if column == "BAR" else cells[column][n]
                for column, column_width in widths.items()
            )
        )
    parts: list[RenderableType] = [title, Text(""), grid]
    files = [f"{s['name']}: {s['file']}:{s['line']}" for s in spans if s.get("file")]
    if files:
        parts += [Text(""), Text(visible("  ".join(files)), style="dim")]
    for span, error in errors[:1]:  # the innermost error is repeated by every layer it crossed
        parts += [
            Text(""),
            Text(visible(f"✖ {span['name']} raised"), style=Style(color=theme.error, bold=True)),
            Syntax(
                visible(error, multiline=True), "pytb", theme=palette.syntax, word_wrap=True, background_color="default"
            ),
        ]
    return Group(*parts)


def source_view(path: Path, lines: Sequence[int], palette: Palette, title: str) -> RenderableType:
    try:
        code = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Text(visible(f"{title}: cannot read it: {exc}"), style="bold red")
    return Group(
        Text(visible(title), style="bold"),
        Syntax(
            visible(code, multiline=True),
            "python",
            theme=palette.syntax,
            line_numbers=True,
            highlight_lines=set(lines),
            word_wrap=False,
            background_color="default",
        ),
    )


def side_by_side(left: list[str], right: list[str], palette: Palette) -> Table:
    """Two columns aligned line by line: removed on the left in red, added on the right in green."""
    theme = palette.theme
    removed = Style(color=theme.error, bold=True)
    added = Style(color=theme.success, bold=True)
    grid = Table(box=None, expand=True, show_header=True, header_style="bold", pad_edge=False)
    grid.add_column("original", ratio=1, overflow="fold")
    grid.add_column("replay", ratio=1, overflow="fold")
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for a, b in zip(left[i1:i2], right[j1:j2], strict=True):
                grid.add_row(Text(visible(a), style="dim"), Text(visible(b), style="dim"))
            continue
        olds, news = left[i1:i2], right[j1:j2]
        for n in range(max(len(olds), len(news))):
            grid.add_row(
                Text(f"- {visible(olds[n])}", style=removed) if n < len(olds) else Text(""),
                Text(f"+ {visible(news[n])}", style=added) if n < len(news) else Text(""),
            )
    return grid


class AtWidth:
    """A renderable built for the width it is drawn at, as in
    `Static(AtWidth(lambda width: waterfall(entry, palette, width=width)))`: a widget draws it
    again when it is resized (or zoomed), so a layout that depends on the width follows it.
    """

    def __init__(self, build: Callable[[int], RenderableType]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)


def explanation_view(explanation: Explanation, method: str, path: str, palette: Palette) -> RenderableType:
    """The match bar's panel: what the path gets, then `contest_view`."""
    theme = palette.theme
    match = explanation.match
    head = Text()
    head.append(f"{visible(method)} {visible(path)} → ", style="bold")
    head.append(str(match.status), style=f"bold {theme.success if match.status < 400 else theme.error}")
    if match.location:
        head.append(f"  redirect to {visible(match.location)}")
    return Group(head, Text(""), contest_view(explanation, f"bold {theme.success}", f"bold {theme.error}"))


def contest_view(explanation: Explanation, chosen: str, lost: str) -> RenderableType:
    """Every route that wanted the path, preferred first, and the near misses (the match bar's
    panel and `match --explain`). Each route is a line (pattern and file) with its reason
    below, indented: at 80 columns a reason keeps the whole width, not a narrow column."""
    lines: list[RenderableType] = []

    def route(mark: Text, pattern: str, file: str, reason: str) -> None:
        line = mark + Text(visible(pattern), style="bold")
        line.append(f"  {visible(file)}", style="dim")
        lines.append(line)
        lines.append(Padding(Text(visible(reason)), (0, 0, 0, 4), expand=False))  # wrapped lines keep the indent

    if explanation.candidates:
        lines.append(Text("candidates, preferred first", style="bold"))
        for candidate in explanation.candidates:
            mark = Text("✔ ", style=chosen) if candidate.chosen else Text("✖ ", style=lost)
            route(mark, candidate.pattern, candidate.file, candidate.reason)
    else:
        lines.append(Text("no route matches this path", style="dim"))
    if explanation.near:
        lines += [Text(""), Text("near misses", style="bold")]
        for near in explanation.near:
            route(Text("· "), near.pattern, near.file, near.reason)
    return Group(*lines)

"""The request log: a live list of every logged request, newest at the bottom.

PERF: the list can hold hundreds of thousands of entries, so it keeps only their
`LogSummary` rows (no headers, bodies or spans) and draws only the lines on screen
(Textual's line API: `render_line` per visible row). A filter keeps a list of indices.
"""

from __future__ import annotations

import functools
from datetime import datetime

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

import engine
from engine.redact import redact_urlencoded
from engine.visible import visible

from ..theming import Palette

# column: (heading, width); PATH and ROUTE share what is left
COLUMNS = (("#", 7), ("TIME", 12), ("METHOD", 7), ("STATUS", 6), ("MS", 8), ("PATH", 0), ("ROUTE", 0))
# A narrow list drops columns in this order until PATH gets MIN_PATH cells (and ROUTE, while
# shown, MIN_ROUTE); METHOD, STATUS and PATH always stay (the route can be read in the trace,
# the time and duration matter less).
DROP_ORDER = ("ROUTE", "TIME", "MS", "#")
MIN_PATH = 16
MIN_ROUTE, MAX_ROUTE = 12, 24
RIGHT_ALIGNED = frozenset({"#", "MS"})


@functools.lru_cache(maxsize=16)  # PERF: asked once per drawn line
def columns_for(width: int) -> tuple[tuple[str, int], ...]:
    """The columns a list `width` cells wide shows, each with its width.

    Columns are separated by one space and the line leaves its last cell free. PATH and ROUTE
    share what the others leave, ROUTE two fifths of it at most (and MAX_ROUTE). At 45 cells
    (an 80-column terminal): `#`, METHOD, STATUS and a 21-cell PATH; at 88 (150 columns) every
    column, PATH 25 and ROUTE 16; at 118 (200 columns) PATH 47 and ROUTE 24.
    """
    shown = [heading for heading, _ in COLUMNS]
    fixed = dict(COLUMNS)

    def room() -> int:
        """Cells left for PATH and ROUTE."""
        return width - 1 - sum(fixed[h] + 1 for h in shown if h != "PATH")

    for name in DROP_ORDER:
        if room() >= MIN_PATH + (MIN_ROUTE if "ROUTE" in shown else 0):
            break
        shown.remove(name)
    left = room()
    route = min(MAX_ROUTE, max(MIN_ROUTE, left * 2 // 5)) if "ROUTE" in shown else 0
    sizes = {**fixed, "PATH": max(MIN_PATH, left - route), "ROUTE": route}
    return tuple((heading, sizes[heading]) for heading in shown)


def fit(text: str, width: int) -> str:
    """`text` padded or cut to exactly `width` cells, a cut marked with `…`."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def row_text(row: engine.LogSummary) -> str:
    """What a filter looks in: method, path and query, status, route, source."""
    query = f"?{row.query}" if row.query else ""
    return f"{row.method} {row.path}{query} {row.status} {row.pattern or ''} {row.source}".lower()


def matches(row: engine.LogSummary, terms: list[str]) -> bool:
    """Every term must appear; `5xx`-style terms match a status class."""
    text = row_text(row)
    for term in terms:
        if len(term) == 3 and term[0].isdigit() and term[1:] == "xx":
            if str(row.status)[0] != term[0]:
                return False
        elif term not in text:
            return False
    return True


class LogView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LogView { background: $surface; }
    LogView > .logview--cursor { background: $accent 30%; }
    LogView:focus > .logview--cursor { background: $accent 50%; }
    LogView > .logview--dim { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"logview--cursor", "logview--dim"}

    BINDINGS = [
        Binding("enter", "open", "Trace", tooltip="Show the selected request's trace", id="log.open"),
        Binding("f", "follow", "Follow", tooltip="Keep the newest request selected", id="log.follow"),
        Binding("slash", "filter", "Filter", tooltip="Show matching requests: 5xx, POST, /users", id="log.filter"),
        Binding("r", "replay", "Replay", tooltip="Send the selected request again", id="log.replay"),
        Binding("e", "edit", "Edit", tooltip="Load the selected request into the composer", id="log.edit"),
        Binding("d", "diff", "Diff", tooltip="Compare a replay with its original", id="log.diff"),
        Binding("x", "export", "Export", tooltip="Copy as curl, or write the log as HAR", id="log.export"),
        Binding("s", "source", "Source", tooltip="Show the matched route's source", id="log.source"),
        Binding("up", "cursor(-1)", "Up", show=False, id="log.up"),
        Binding("down", "cursor(1)", "Down", show=False, id="log.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="log.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="log.page_down"),
        Binding("home", "edge(0)", "First", show=False, id="log.first"),
        Binding("end", "edge(1)", "Last", show=False, id="log.last"),
    ]

    following: reactive[bool] = reactive(True)
    cursor: reactive[int] = reactive(-1)  # an index into the shown rows

    class Selected(Message):
        """The cursor moved to another request."""

        def __init__(self, row: engine.LogSummary) -> None:
            super().__init__()
            self.row = row

    class Action(Message):
        """A key asked for something done with the selected request: open, replay, edit, ..."""

        def __init__(self, action: str, row: engine.LogSummary) -> None:
            super().__init__()
            self.action = action
            self.row = row

    class FilterAsked(Message):
        pass

    class ColumnsChanged(Message):
        """The list was resized: the columns shown, or their widths, may differ."""

    def __init__(self, palette: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.palette = palette
        self.rows: list[engine.LogSummary] = []
        self.shown: list[int] | None = None  # indices into rows when filtered
        self.terms: list[str] = []
        # Secret query fields (`?token=...`) are masked in the PATH column until the console's
        # reveal key (detail.reveal) shows secrets; the app sets this and redraws.
        self.reveal = False
        self._local_tz = datetime.now().astimezone().tzinfo

    # Data ------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self.rows) if self.shown is None else len(self.shown)

    def row_at(self, index: int) -> engine.LogSummary:
        return self.rows[index if self.shown is None else self.shown[index]]

    @property
    def selected(self) -> engine.LogSummary | None:
        return self.row_at(self.cursor) if 0 <= self.cursor < self.count else None

    def add(self, rows: list[engine.LogSummary]) -> None:
        start = len(self.rows)
        self.rows.extend(rows)
        if self.shown is not None:
            self.shown.extend(i for i in range(start, len(self.rows)) if matches(self.rows[i], self.terms))
        self._resize()
        if self.following and self.count:
            self.cursor = self.count - 1
        self.refresh()

    def clear(self) -> None:
        self.rows = []
        self.shown = None if not self.terms else []
        self.cursor = -1
        self._resize()
        self.refresh()

    def set_filter(self, text: str) -> None:
        keep = self.selected
        self.terms = text.lower().split()
        self.shown = None if not self.terms else [i for i, r in enumerate(self.rows) if matches(r, self.terms)]
        self._resize()
        if keep is not None and self.shown is not None:
            position = next((n for n, i in enumerate(self.shown) if self.rows[i].id == keep.id), None)
            self.cursor = position if position is not None else self.count - 1
        elif keep is not None:
            self.cursor = next((n for n, r in enumerate(self.rows) if r.id == keep.id), self.count - 1)
        else:
            self.cursor = self.count - 1
        self.refresh()

    def select_id(self, entry_id: int) -> None:
        for n in range(self.count - 1, -1, -1):
            if self.row_at(n).id == entry_id:
                self.following = False
                self.cursor = n
                return

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.refresh()

    # Drawing ---------------------------------------------------------------------

    def _resize(self) -> None:
        columns = self.columns()
        self.virtual_size = Size(sum(w + 1 for _, w in columns), self.count)

    def columns(self) -> tuple[tuple[str, int], ...]:
        """The columns shown at the list's present width (see `columns_for`)."""
        return columns_for(self.scrollable_content_region.width)

    def on_resize(self) -> None:
        self._resize()
        self.post_message(self.ColumnsChanged())

    def heading(self, note: str = "") -> Text:
        """The headings of the columns shown, aligned with the rows; `note` (the list's state:
        following, a filter) goes in the blank beside PATH, cut with `…` if it does not fit."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for heading, width in self.columns():
            if text:
                text.append(" ")
            if heading == "PATH" and note and width > len("PATH  …"):
                text.append("PATH", style="bold")
                text.append(fit(f"  {note}", width - len("PATH")), style="dim")
            else:
                text.append(heading.rjust(width) if heading in RIGHT_ALIGNED else heading.ljust(width), style="bold")
        return text

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= self.count:
            return Strip.blank(width, self.rich_style)
        row = self.row_at(index)
        base = self.rich_style
        if index == self.cursor:
            base = base + self.get_component_rich_style("logview--cursor")
        dim = base + self.get_component_rich_style("logview--dim")
        gap = Segment(" ", base)
        segments: list[Segment] = []
        for heading, cell_width in self.columns():
            if segments:
                segments.append(gap)
            segments.append(self._cell(row, heading, cell_width, base, dim))
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, base)

    def _cell(self, row: engine.LogSummary, heading: str, width: int, base: Style, dim: Style) -> Segment:
        if heading == "#":
            mark = "↻" if row.replay_of else ("✎" if row.source == "composer" else " ")
            return Segment(f"{row.id:>{width - 1}}{mark}", dim)
        if heading == "TIME":
            when = datetime.fromtimestamp(row.time, self._local_tz).strftime("%H:%M:%S.%f")[:12]
            return Segment(fit(when, width), dim)
        if heading == "METHOD":
            return Segment(fit(visible(row.method), width), base + self.palette.method(row.method))
        if heading == "STATUS":
            return Segment(fit(str(row.status) if row.status else "---", width), base + self.palette.status(row.status))
        if heading == "MS":
            return Segment(f"{row.duration_ms:>{width}.1f}", base)
        if heading == "PATH":
            query = f"?{row.query if self.reveal else redact_urlencoded(row.query)}" if row.query else ""
            return Segment(fit(visible(f"{row.path}{query}"), width), base)
        return Segment(fit(visible(row.pattern or "—"), width), dim)

    # Moving ----------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        if 0 <= new < self.count:
            self.scroll_to_region(Region(0, new, 1, 1), animate=False, force=True)
            self.post_message(self.Selected(self.row_at(new)))

    def _refresh_row(self, index: int) -> None:
        _, scroll_y = self.scroll_offset
        y = index - scroll_y
        if 0 <= y < self.size.height:
            self.refresh_line(y)

    def action_cursor(self, delta: int) -> None:
        if not self.count:
            return
        target = min(max(self.cursor + delta, 0), self.count - 1)
        self.following = self.following and delta > 0 and target == self.count - 1
        self.cursor = target

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 1))

    def action_edge(self, last: int) -> None:
        if self.count:
            self.following = bool(last)
            self.cursor = self.count - 1 if last else 0

    def on_click(self, event: events.Click) -> None:
        index = self.scroll_offset.y + event.y
        if 0 <= index < self.count:
            self.following = False
            self.cursor = index

    def action_follow(self) -> None:
        self.following = not self.following
        if self.following and self.count:
            self.cursor = self.count - 1

    def action_filter(self) -> None:
        self.post_message(self.FilterAsked())

    def _ask(self, action: str) -> None:
        row = self.selected
        if row is not None:
            self.post_message(self.Action(action, row))
        else:
            self.notify("No request selected: send one with the composer (c) or curl", severity="warning")

    def action_open(self) -> None:
        self._ask("open")

    def action_replay(self) -> None:
        self._ask("replay")

    def action_edit(self) -> None:
        self._ask("edit")

    def action_diff(self) -> None:
        self._ask("diff")

    def action_export(self) -> None:
        self._ask("export")

    def action_source(self) -> None:
        self._ask("source")

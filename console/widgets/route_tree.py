"""The route tree: one node per URL segment, each route's methods coloured, problems marked."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

import engine
from engine.visible import visible

from ..compose import parse_segment
from ..theming import Palette


@dataclass(frozen=True)
class RouteNode:
    """What a tree node stands for: a route, or just a segment on the way to some."""

    path: str  # the pattern up to and including this segment
    route: engine.Route | None = None


_RANK = {"warning": 0, "importing": 1, "error": 2}


def route_problems(conflicts: Iterable[engine.Conflict]) -> dict[str, str]:
    """file -> the worst of the problems naming it: "error", "importing" (its module is still
    importing: its URLs answer 503 for now) or "warning"."""
    worst: dict[str, str] = {}
    for conflict in conflicts:
        mark = "importing" if conflict.kind == "importing" else conflict.severity
        for file in conflict.files:
            current = worst.get(file)
            if current is None or _RANK[mark] > _RANK[current]:
                worst[file] = mark
    return worst


class RouteTree(Tree[RouteNode]):
    """Routes by URL segment. `enter` composes a request to the route under the cursor."""

    BINDINGS = [
        Binding("enter", "open", "Compose", tooltip="Open the route in the composer", id="routes.open"),
        Binding("slash", "filter", "Filter", tooltip="Show routes whose pattern or file matches", id="routes.filter"),
        Binding("s", "source", "Source", tooltip="Show the route file's source", id="routes.source"),
    ]

    class Open(Message):
        def __init__(self, route: engine.Route) -> None:
            super().__init__()
            self.route = route

    class ShowSource(Message):
        def __init__(self, file: str, route: engine.Route) -> None:
            super().__init__()
            self.file = file
            self.route = route

    class FilterAsked(Message):
        pass

    def __init__(self, palette: Palette, *, id: str | None = None) -> None:
        super().__init__("/", RouteNode("/"), id=id)
        self.palette = palette
        self.table: engine.RouteTable | None = None
        self.filter_text = ""
        self.marked: frozenset[str] = frozenset()  # files to single out (the selected problem's)
        self.lit: frozenset[str] = frozenset()  # node paths a matched path walks through (the match bar)
        self.answer: str | None = None  # the node path of the route that answers it
        self._by_path: dict[str, TreeNode[RouteNode]] = {}
        self._problems: dict[str, str] = {}
        self.show_root = True
        self.guide_depth = 3

    def show(self, table: engine.RouteTable) -> None:
        self.table = table
        self._rebuild()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip().lower()
        self._rebuild()

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette
        self._rebuild()

    def mark(self, files: Collection[str]) -> None:
        """Single out the routes of these files and move the cursor to the first."""
        if frozenset(files) == self.marked:
            return  # PERF: rebuilding 1,000 routes costs a quarter of a second
        self.marked = frozenset(files)
        first = next((f for f in files if self.table and any(r.file == f for r in self.table.routes)), None)
        self._rebuild(select=first)

    def light(self, walked: Collection[str], answer: str | None) -> None:
        """Light the nodes a request path walks through (each a pattern prefix, `/api`,
        `/api/[id]`) and, more, the route that answers it. Relabels only the nodes whose
        light changes: this runs on every keystroke in the match bar."""
        lit = frozenset(walked)
        if lit == self.lit and answer == self.answer:
            return
        changed = self.lit | lit | {a for a in (self.answer, answer) if a is not None}
        self.lit, self.answer = lit, answer
        for path in changed:
            node = self._by_path.get(path)
            if node is not None:
                node.set_label(self._label(node))
        node = self._by_path.get(answer) if answer is not None else None
        if node is not None and node.line >= 0:
            top = self.scroll_offset.y
            if not top <= node.line < top + self.size.height:  # PERF: a scroll redraws the whole tree
                self.scroll_to_node(node, animate=False)

    @property
    def selected_route(self) -> engine.Route | None:
        node = self.cursor_node
        return node.data.route if node is not None and node.data is not None else None

    def _rebuild(self, select: str | None = None) -> None:
        """Redraw from the table; the cursor goes to `select`'s route, else stays on its route."""
        table = self.table
        if table is None:
            return
        keep = select or (self.selected_route.file if self.selected_route is not None else None)
        self.clear()
        self._problems = route_problems(table.conflicts)
        wanted = self.filter_text
        nodes: dict[str, TreeNode[RouteNode]] = {"/": self.root}
        self._by_path = nodes
        self.root.data = RouteNode("/")
        self.root.set_label(self._label(self.root))
        cursor: TreeNode[RouteNode] | None = None
        for route in sorted(table.routes, key=lambda r: r.pattern):
            if wanted and wanted not in route.pattern.lower() and wanted not in route.file.lower():
                continue
            parent = self.root
            path = ""
            parts = [p for p in route.pattern.split("/") if p]
            for part in parts:
                path += "/" + part
                node = nodes.get(path)
                if node is None:
                    node = parent.add("", RouteNode(path), expand=True)
                    node.set_label(self._label(node))
                    nodes[path] = node
                parent = node
            parent.data = RouteNode(route.pattern, route)
            parent.set_label(self._label(parent))
            if route.file == keep:
                cursor = parent
        self.root.expand()
        for node in nodes.values():
            if not node.children:
                node.allow_expand = False
        if cursor is not None:
            # Lines are laid out on the next refresh; the cursor can only move then.
            self.call_after_refresh(self._put_cursor, cursor)

    def _put_cursor(self, node: TreeNode[RouteNode]) -> None:
        self.move_cursor(node)
        self.scroll_to_node(node, animate=False)

    def _label(self, node: TreeNode[RouteNode]) -> Text:
        data = node.data
        path = data.path if data is not None else "/"
        part = path.rsplit("/", 1)[-1] or "/"
        if data is not None and data.route is not None:
            label = self._route_label(part, data.route, self._problems.get(data.route.file))
        else:
            label = self._segment_label(part) if part != "/" else Text("/", style="bold")
        if path == self.answer:
            label.stylize(Style(color=self.palette.theme.success, bold=True, reverse=True), 0, len(part))
        elif path in self.lit:
            label.stylize(Style(color=self.palette.theme.success, bold=True, underline=True), 0, len(part))
        return label

    def _segment_label(self, part: str) -> Text:
        kind, _ = parse_segment(part)
        return Text(visible(part), style=self.palette.segment(kind) if kind else "")  # names from the file system

    def _route_label(self, part: str, route: engine.Route, severity: str | None) -> Text:
        label = self._segment_label(part) if part != "/" else Text("/", style="bold")
        if route.file in self.marked:
            label.stylize(Style(reverse=True))
        label.append("  ")
        if route.error:
            label.append("✖ load error", style=Style(color=self.palette.theme.error, bold=True))
        else:
            for method in route.methods:
                label.append(method, style=self.palette.method(method))
                label.append(" ")
            if route.kind == "page":
                label.append("page ", style="dim")
        if severity == "error" and not route.error:
            label.append("✖", style=Style(color=self.palette.theme.error, bold=True))
        elif severity == "importing":
            label.append("⧗ importing", style=Style(color=self.palette.theme.warning, bold=True))
        elif severity == "warning":
            label.append("⚠", style=Style(color=self.palette.theme.warning, bold=True))
        label.append(f"  {visible(route.file)}", style="dim")
        return label

    def action_open(self) -> None:
        route = self.selected_route
        if route is not None:
            self.post_message(self.Open(route))
        elif self.cursor_node is not None:
            self.cursor_node.toggle()

    def action_filter(self) -> None:
        self.post_message(self.FilterAsked())

    def action_source(self) -> None:
        route = self.selected_route
        if route is not None:
            self.post_message(self.ShowSource(route.file, route))

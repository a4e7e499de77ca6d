"""The console: the route tree, the live request log and each request's trace, over a running `engine.Engine`.

Data flows one way. The engine's threads report through `bridge.Bridge` as messages
(`RequestsLogged`, `RoutesReloaded`, `ServerLogged`); handlers here update the widgets.
What the user asks for (send, replay, export) goes out over HTTP to the engine's real
socket or to its public objects, in workers, so the UI never waits on the app it runs.
"""

from __future__ import annotations

import gc
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
from rich.cells import cell_len
from rich.console import RenderableType
from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Input, OptionList, RichLog, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

import engine
from engine.explain import Explanation, explain
from engine.export import write_private
from engine.httpfile import RequestSpec, write_http
from engine.visible import json_safe, visible

from . import render
from .bridge import Bridge, Running
from .commands import ConsoleCommands
from .compose import METHODS, ComposeError, Draft, draft_for_entry, draft_for_route, draft_for_spec
from .config import Config, config_dir
from .messages import AppStateChanged, RequestsLogged, RoutesReloaded, ServerLogged
from .screens.composer import ComposerScreen
from .screens.dialogs import (
    BindingRow,
    ConfirmScreen,
    ExportChoice,
    ExportScreen,
    HelpScreen,
    ImportCurlScreen,
    OpenHttpScreen,
    ViewerScreen,
)
from .theming import DEFAULT_THEME, find_palette, load_palettes
from .widgets.log_view import LogView
from .widgets.route_tree import RouteTree

# Seconds between updates of the request list while requests keep coming: 20 a second, as
# often as anyone can read; a request after a quiet spell shows at once.
LIST_INTERVAL = 0.05
# Lines of explanation that fit in the Match tab's minimum height (40 in console.tcss), wrapped
# reasons allowed for.
MATCH_PANEL_FITS = 30
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ConsoleApp(App[None]):
    TITLE = "routeconsole"
    CSS_PATH = "console.tcss"
    COMMANDS = {ConsoleCommands}

    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Stop the server and leave", id="app.quit"),
        Binding(
            "ctrl+r",
            "restart_app",
            "Restart app",
            show=False,
            tooltip="Stop the app process (a handler stuck in a loop too) and start it again",
            id="app.restart",
        ),
        Binding("question_mark,f1", "help", "Help", tooltip="Every key, and how to remap it", id="app.help"),
        Binding("c", "composer", "Composer", tooltip="Compose a request", id="app.composer"),
        Binding("p", "problems", "Problems", tooltip="Route conflicts and load errors", id="app.problems"),
        Binding(
            "m", "match_bar", "Match", tooltip="Type a path: which routes want it, and why one wins", id="app.match"
        ),
        Binding("right_square_bracket", "tab(1)", "Next tab", show=False, id="app.next_tab"),
        Binding("left_square_bracket", "tab(-1)", "Previous tab", show=False, id="app.previous_tab"),
        Binding("t", "focus('routes')", "Routes", show=False, id="app.focus_routes"),
        Binding("l", "focus('log')", "Log", show=False, id="app.focus_log"),
        Binding("z", "zoom", "Zoom", tooltip="Show the focused pane on the whole screen, and back", id="app.zoom"),
        Binding(
            "v",
            "reveal_secrets",
            "Reveal secrets",
            show=False,
            tooltip="Show or mask secrets (authorization, cookies, password fields) in Request and Response",
            id="detail.reveal",
        ),
    ]

    # The panes `z` zooms: a widget's pane is its nearest ancestor (or itself) with one of these ids.
    PANES = {"left": "routes", "log": "log", "log-filter": "log", "details": "details"}

    def __init__(
        self,
        running: Running,
        *,
        config: Config | None = None,
        theme: str | None = None,
        freeze_heap: bool = False,
    ) -> None:
        super().__init__()
        self.running = running
        self.freeze_heap = freeze_heap
        self.config = config or Config()
        self.palettes = load_palettes(self.config.theme_dirs)
        for palette in self.palettes.values():
            self.register_theme(palette.theme)
        self.palette = find_palette(self.palettes, theme or self.config.theme or DEFAULT_THEME)
        self.theme = self.palette.name
        self.bridge = Bridge(running, self)
        self.table = running.table
        self.last_id = 0
        self._arrived: list[engine.LogSummary] = []  # logged, not yet in the list
        self._arrival_timer: Timer | None = None
        self._shown_at = 0.0  # when the list last took new rows (time.monotonic())
        self.entry: dict[str, Any] | None = None  # the selected request, whole
        self.reveal_secrets = False  # Request and Response mask secrets until `v`
        self._pending_entry: int | None = None
        self._entry_timer: Timer | None = None
        self._heading = ""
        self._match_fits = False  # whether the Match tab's text fits its minimum height
        self.reload_state = "watching" if running.watching else "not watching"
        self.app_state = ("", False)  # what the header says of the app process: (text, failed)
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0))
        if self.config.keys:
            self.set_keymap(self.config.keys)

    # Layout ----------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Input(placeholder="match a path: [METHOD] /path", id="match-bar", classes="filter")
                yield Input(placeholder="filter routes: pattern or file", id="route-filter", classes="filter")
                yield RouteTree(self.palette, id="routes")
            with Vertical(id="right"):
                yield Static(id="log-heading")
                yield Input(placeholder="filter requests: POST /users 5xx ...", id="log-filter", classes="filter")
                yield LogView(self.palette, id="log")
                with TabbedContent(id="details", initial="trace-tab"):
                    with TabPane("Trace", id="trace-tab"), VerticalScroll():
                        yield Static(Text("Select a request to see its trace.", style="dim"), id="trace")
                    with TabPane("Request", id="request-tab"), VerticalScroll():
                        yield Static(id="request")
                    with TabPane("Response", id="response-tab"), VerticalScroll():
                        yield Static(id="response")
                    with TabPane("Problems", id="problems-tab"), Vertical():
                        yield OptionList(id="problems")
                        with Horizontal(id="sources"):
                            yield VerticalScroll(Static(id="source-a"), id="source-a-scroll")
                            yield VerticalScroll(Static(id="source-b"), id="source-b-scroll")
                    with TabPane("Server log", id="server-tab"):
                        yield RichLog(id="server-log", max_lines=5000, wrap=True)
                    with TabPane("Match", id="match-tab"), VerticalScroll():
                        hint = Text("Press m and type a path to see which routes want it.", style="dim")
                        yield Static(hint, id="match")
        yield Footer()

    @property
    def main(self) -> Screen[None]:
        """The routes-and-log screen, whatever is on top of it (the composer, a dialog)."""
        return self.screen_stack[0]

    def on_mount(self) -> None:
        self.bridge.attach()
        self.table = self.running.table  # what the app process found while the console was being built
        self.begin_capture_print(self)  # Textual owns the terminal: prints from handlers land in a pane
        self.main.query_one(RouteTree).show(self.table)
        self._show_problems()
        rows = self.running.log.summaries()
        if rows:
            self.last_id = rows[-1].id
            self.main.query_one(LogView).add(rows)
        self._update_status()
        self._update_log_heading()
        self.main.query_one(RouteTree).focus()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.freeze_heap:
            # PERF: what is loaded by now (the routes, the tree's thousand nodes, Textual's own)
            # lives as long as the console; out of the collector's way, a full collection no
            # longer stalls a keystroke by 50 ms at 1,000 routes. `routeconsole APP` sets it; a
            # program that embeds the console decides for its own heap.
            self.call_after_refresh(gc.freeze)

    async def on_unmount(self) -> None:
        self.bridge.detach()
        await self.client.aclose()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,  # messages quote paths like /users/[id], which are not markup
    ) -> None:
        # Toasts quote paths, commands and errors from traffic and route code: one call site for all.
        message, title = visible(message, multiline=True), visible(title)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    MAIN_SCREEN_ACTIONS = frozenset({"composer", "problems", "match_bar", "tab", "focus", "zoom", "reveal_secrets"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The main screen's keys do nothing while the composer or a dialog is on top."""
        return action not in self.MAIN_SCREEN_ACTIONS or self.screen is self.main

    def action_tab(self, step: int) -> None:
        """Cycle the detail tabs: Trace, Request, Response, Problems, Server log, Match."""
        tabs = self.main.query_one(TabbedContent)
        ids = [pane.id for pane in tabs.query(TabPane) if pane.id]
        tabs.active = ids[(ids.index(tabs.active) + step) % len(ids)]

    def action_problems(self) -> None:
        self.main.query_one(TabbedContent).active = "problems-tab"
        self.main.query_one("#problems", OptionList).focus()

    # Zoom ----------------------------------------------------------------------------

    @property
    def zoomed(self) -> str | None:
        """The pane on the whole screen ("routes", "log" or "details"), or None."""
        return next((pane for pane in set(self.PANES.values()) if self.main.has_class(f"zoom-{pane}")), None)

    def action_zoom(self) -> None:
        """The focused pane takes the whole screen (the footer stays), or gives it back."""
        if self.zoomed is not None:
            self._zoom(None)
        else:
            self._zoom(self._pane_of(self.focused) or "details")

    def _zoom(self, pane: str | None) -> None:
        for name in set(self.PANES.values()):
            self.main.set_class(name == pane, f"zoom-{name}")
        focused = self.focused
        if focused is not None:
            self.call_after_refresh(focused.scroll_visible, animate=False)

    def _pane_of(self, widget: Widget | None) -> str | None:
        for node in widget.ancestors_with_self if widget is not None else ():
            if node.id in self.PANES and node.screen is self.main:
                return self.PANES[node.id]
        return None

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """While zoomed, focus moving to another pane (`t`, `l`, `p`, tab) zooms that pane instead."""
        zoomed = self.zoomed
        pane = self._pane_of(event.widget)
        if zoomed is not None and pane is not None and pane != zoomed:
            self._zoom(pane)

    # Engine events ---------------------------------------------------------------

    @property
    def drawing(self) -> bool:
        """False once the console closes: an engine message may still arrive, with nothing to draw on."""
        return self.is_running and not self._closing and bool(self.screen_stack) and self.main.is_running

    def on_requests_logged(self, message: RequestsLogged) -> None:
        if not self.drawing:
            return
        fresh = [r for r in message.rows if r.id > self.last_id]
        if not fresh:
            return
        self.last_id = fresh[-1].id
        self._arrived.extend(fresh)
        if self._arrival_timer is None:  # else the rows go with the update already due
            wait = self._shown_at + LIST_INTERVAL - time.monotonic()
            if wait <= 0:  # the first for a while: at once
                self._show_arrived()
            else:
                self._arrival_timer = self.set_timer(wait, self._show_arrived)

    def _show_arrived(self) -> None:
        """Add the rows that arrived since the last update to the list: at most one update per
        LIST_INTERVAL, however fast requests come, so a load test does not redraw the list
        more often than anyone can read it."""
        self._arrival_timer = None
        if not self.drawing or not self._arrived:
            return
        rows, self._arrived = self._arrived, []
        self._shown_at = time.monotonic()
        self.main.query_one(LogView).add(rows)
        self._update_log_heading()

    def on_routes_reloaded(self, message: RoutesReloaded) -> None:
        if not self.drawing:
            return
        event = message.event
        self.table = message.table
        self.main.query_one(RouteTree).show(self.table)
        self._show_problems()
        changed = ", ".join(event.changed) or "the app"
        self.reload_state = f"reloaded {changed} in {event.duration_ms:.0f} ms"
        self._update_status()
        detail = []
        routes = {r.file: r for r in self.table.routes}
        for file in event.changed:
            route = routes.get(file)
            if route is not None:
                detail.append(
                    f"{route.pattern}: {'load error' if route.error else ' '.join(route.methods) or 'no handlers'}"
                )
        if event.added:
            detail.append("new: " + ", ".join(event.added))
        if event.removed:
            detail.append("gone: " + ", ".join(event.removed))
        if event.new_problems:
            detail.append(f"{len(event.new_problems)} new problem(s): see Problems")
        severity: SeverityLevel = "error" if any(p.severity == "error" for p in event.new_problems) else "information"
        self.notify("\n".join(detail) or "no routes changed", title=f"Reloaded {changed}", severity=severity)

    def on_print(self, event: events.Print) -> None:
        """What the app's code prints (stdout or stderr) goes to the Server log pane."""
        text = event.text.rstrip("\n")
        if text.strip():
            stream = "stderr" if event.stderr else "stdout"
            line = Text(f"{stream}: {visible(text, multiline=True)}", style="dim" * event.stderr)
            self.main.query_one("#server-log", RichLog).write(line)

    def on_server_logged(self, message: ServerLogged) -> None:
        if not self.drawing:
            return
        level = message.record.levelname
        style = "bold red" if level in ("ERROR", "CRITICAL") else "yellow" if level == "WARNING" else ""
        self.main.query_one("#server-log", RichLog).write(Text(visible(message.text, multiline=True), style=style))

    # Status ----------------------------------------------------------------------

    def _update_status(self) -> None:
        table = self.table
        errors = sum(c.severity == "error" for c in table.conflicts)
        warnings = len(table.conflicts) - errors
        theme = self.palette.theme
        error_style = f"bold {theme.error}" if errors else "dim"
        warning_style = f"bold {theme.warning}" if warnings else "dim"
        # (text, rank): a narrow header drops the lowest rank first
        facts = [
            (Text(table.convention), 2),
            (Text(f"{len(table.routes)} route{'s' * (len(table.routes) != 1)}"), 3),
            (Text(f"{errors} error{'s' * (errors != 1)}", style=error_style), 5),
            (Text(f"{warnings} warning{'s' * (warnings != 1)}", style=warning_style), 4),
            (Text(visible(self.reload_state), style="dim"), 1),
        ]
        state, failed = self.app_state
        if state:  # the app process is down: this matters more than anything else in the header
            facts.insert(0, (Text(state, style=f"bold {theme.error}" if failed else "bold"), 6))
        if not self.running.persistent:
            facts.append((Text("log not kept", style="dim"), 0))
        if self.running.exporting:  # every request also goes to an OpenTelemetry collector
            facts.append((Text("otlp", style="dim"), 0))
        badge = Text(" routeconsole ", style=f"bold reverse {theme.primary}")
        app_dir, url = visible(str(self.running.app_dir)), self.running.url or "not serving"
        self.main.query_one("#status", Static).update(
            render.AtWidth(lambda width: status_line(badge, app_dir, url, facts, width))
        )

    def _update_log_heading(self) -> None:
        log = self.main.query_one(LogView)
        state = []
        if log.terms:
            state.append(f"filter: {' '.join(log.terms)} ({log.count} of {len(log.rows)})")
        state.append("following" if log.following else "f: follow")
        text = log.heading(" · ".join(state))
        if text.plain != self._heading:  # PERF: an update lays the screen out again
            self._heading = text.plain
            self.main.query_one("#log-heading", Static).update(text)

    # The selected request ----------------------------------------------------------

    @on(LogView.ColumnsChanged)
    def _log_columns_changed(self) -> None:
        self._update_log_heading()

    @on(LogView.Selected)
    def _request_selected(self, message: LogView.Selected) -> None:
        # PERF: holding a key down moves the cursor faster than the details can be drawn
        # (highlighting bodies and tracebacks); draw the latest selection at most every 50 ms.
        self._pending_entry = message.row.id
        if self._entry_timer is None:
            self._entry_timer = self.set_timer(0.05, self._show_pending)
        self._update_log_heading()

    def _show_pending(self) -> None:
        self._entry_timer = None
        if self._pending_entry is not None and not self._closing:
            self._show_entry(self._pending_entry)

    def _show_entry(self, entry_id: int) -> None:
        entry = self.running.log.get(entry_id)
        self.entry = entry
        if entry is None:
            return
        palette = self.palette
        # laid out for the pane's width, again whenever it changes (a resize, a zoom)
        trace = render.AtWidth(lambda width: render.waterfall(entry, palette, width=width))
        self.main.query_one("#trace", Static).update(trace)
        # Secrets (engine.redact: authorization, cookies, password fields, config's `redact`) are
        # masked on screen until `v`; the log keeps them, so replay sends the real ones.
        masked = engine.redact_entry(entry, headers=self.config.redact)
        shown = entry if self.reveal_secrets else masked
        state: render.SecretsState = "shown" if self.reveal_secrets else "masked"
        key = self._reveal_key()
        has_secret = masked["request"] != entry["request"] or masked["query"] != entry["query"]
        request = render.request_view(shown, palette, secrets=state if has_secret else None, reveal_key=key)
        has_secret = masked["response"] != entry["response"]
        response = render.response_view(shown, palette, secrets=state if has_secret else None, reveal_key=key)
        self.main.query_one("#request", Static).update(request)
        self.main.query_one("#response", Static).update(response)

    def _reveal_key(self) -> str:
        keys = self.config.keys.get("detail.reveal", "v").split(",")[0].strip()
        return self.get_key_display(Binding(keys, ""))

    def action_reveal_secrets(self) -> None:
        self.reveal_secrets = not self.reveal_secrets
        log_view = self.main.query_one(LogView)
        log_view.reveal = self.reveal_secrets  # the PATH column's query
        log_view.refresh()
        if self.entry is not None:
            self._show_entry(self.entry["id"])

    @on(LogView.Action)
    def _request_action(self, message: LogView.Action) -> None:
        shown = self.entry
        entry = shown if shown is not None and shown["id"] == message.row.id else self.running.log.get(message.row.id)
        if entry is None:
            self.notify(f"#{message.row.id} is no longer in the log", severity="error")
            return
        handlers = {
            "open": self._open_trace,
            "replay": self.replay,
            "edit": self.edit,
            "diff": self.diff,
            "export": self.export,
            "source": self._entry_source,
        }
        handlers[message.action](entry)

    def _open_trace(self, entry: dict[str, Any]) -> None:
        self.main.query_one(TabbedContent).active = "trace-tab"

    def replay(self, entry: dict[str, Any]) -> None:
        if entry["method"] in UNSAFE_METHODS:
            question = f"Replay {entry['method']} {entry['path']} (#{entry['id']})?"
            detail = "It runs the handler again and may change data."

            def answered(yes: bool | None) -> None:
                if yes:
                    self._replay(entry)

            self.push_screen(ConfirmScreen(question, detail), answered)
        else:
            self._replay(entry)

    @work(group="replay")
    async def _replay(self, entry: dict[str, Any]) -> None:
        request = engine.replay_request(entry, self.running.url or "")
        try:
            response = await self.client.send(request)
        except httpx.HTTPError as exc:
            self.notify(f"replaying #{entry['id']} failed: {exc!r}", severity="error")
            return
        same = response.status_code == entry["status"]
        self.notify(
            f"#{entry['id']} {entry['method']} {entry['path']}: {entry['status']} → {response.status_code}"
            + ("" if same else "  (status changed: d shows the diff)"),
            title="Replayed",
            severity="information" if same else "warning",
        )

    def edit(self, entry: dict[str, Any]) -> None:
        self._open_composer(draft_for_entry(entry), None)

    def diff(self, entry: dict[str, Any]) -> None:
        log = self.running.log
        original: dict[str, Any] | None = entry
        replay: dict[str, Any] | None = None
        if entry.get("replay_of"):
            original, replay = log.get(entry["replay_of"]), entry
        else:
            newest = log.replay_of(entry["id"])
            replay = log.get(newest) if newest else None
        if original is None or replay is None:
            self.notify(f"#{entry['id']} has not been replayed yet: r replays it", severity="warning")
            return
        old, new = engine.Answer.from_entry(original), engine.Answer.from_entry(replay)
        same = not engine.compare(old, new)  # on the real values
        title = f"#{original['id']} {original['method']} {original['path']}  →  replay #{replay['id']}:  " + (
            "same answer" if same else f"differs (status {original['status']} → {replay['status']})"
        )
        if not self.reveal_secrets:  # both sides masked (set-cookie, JSON tokens) until `v`
            old, new = old.masked(self.config.redact), new.masked(self.config.redact)
            if not same and not engine.compare(old, new):
                title += f"  (only in secret values, masked: {self._reveal_key()} reveals)"
        self.push_screen(ViewerScreen(title, render.side_by_side(old.lines(), new.lines(), self.palette)))

    def export(self, entry: dict[str, Any] | None) -> None:
        def chosen(choice: ExportChoice | None) -> None:
            if choice is None:
                return
            redact = self.config.redact
            if choice.kind == "curl" and entry is not None:
                command = engine.to_curl(entry, self.running.url, reveal=choice.reveal, redact=redact)
                self.copy_to_clipboard(command)
                title = "Copied as curl, with secrets" if choice.reveal else "Copied as curl (secrets masked)"
                self.notify(command, title=title, timeout=8)
            elif choice.kind == "http" and choice.path is not None:
                self._write_http(choice.path, choice.reveal)
            elif choice.path is not None:
                self._write_har(choice.path, choice.reveal)

        self.push_screen(ExportScreen(entry["id"] if entry else None, Path.cwd()), chosen)

    @work(thread=True, group="export")
    def _write_har(self, path: Path, reveal: bool = False) -> None:
        entries = self.running.log.entries()
        har = engine.to_har(entries, reveal=reveal, redact=self.config.redact)
        try:
            # Only the user may read it, like the log itself, masked or not.
            write_private(path, json_safe(json.dumps(har, indent=2, ensure_ascii=False)))
        except OSError as exc:
            self.call_from_thread(self.notify, f"could not write {path}: {exc.strerror}", severity="error")
            return
        what = "with secrets, readable only by you" if reveal else "secrets masked, readable only by you"
        self.call_from_thread(self.notify, f"{len(entries)} requests written to {path} ({what})", title="HAR exported")

    @work(thread=True, group="export")
    def _write_http(self, path: Path, reveal: bool = False) -> None:
        entries = self.running.log.entries()
        try:
            bodies = write_http(path, entries, reveal=reveal, redact=self.config.redact)
        except OSError as exc:
            self.call_from_thread(self.notify, f"could not write {path}: {exc.strerror}", severity="error")
            return
        what = "with secrets" if reveal else "secrets masked"
        also = f", {len(bodies)} binary bodies beside it" if bodies else ""
        self.call_from_thread(
            self.notify, f"{len(entries)} requests written to {path} ({what}{also})", title=".http exported"
        )

    def _entry_source(self, entry: dict[str, Any]) -> None:
        route = entry.get("route")
        if not route:
            self.notify("no route matched this request", severity="warning")
            return
        found = next((r for r in self.table.routes if r.file == route["file"]), None)
        self.show_source(route["file"], declared_lines(found) if found else ())

    # Routes ------------------------------------------------------------------------

    @on(RouteTree.Open)
    def _route_open(self, message: RouteTree.Open) -> None:
        self._open_composer(draft_for_route(message.route), message.route)

    @on(RouteTree.ShowSource)
    def _route_source(self, message: RouteTree.ShowSource) -> None:
        self.show_source(message.file, declared_lines(message.route))

    def show_source(self, file: str, lines: tuple[int, ...]) -> None:
        view = render.source_view(self.running.app_dir / file, lines, self.palette, file)
        self.push_screen(ViewerScreen(file, view, scroll_to=min(lines) if lines else None))

    def _open_composer(self, draft: Draft, route: engine.Route | None, what: str | None = None) -> None:
        if not self.running.url:
            self.notify("the server is not running", severity="error")
            return
        self.push_screen(
            ComposerScreen(
                draft, base_url=self.running.url, client=self.client, palette=self.palette, route=route, what=what
            )
        )

    def action_composer(self) -> None:
        tree = self.main.query_one(RouteTree)
        route = tree.selected_route if tree.has_focus else None
        self._open_composer(draft_for_route(route) if route else Draft(), route)

    def action_import_curl(self) -> None:
        self.push_screen(ImportCurlScreen(), self._imported)

    def action_open_http(self) -> None:
        self.push_screen(OpenHttpScreen(Path.cwd()), self._imported)

    def _imported(self, spec: RequestSpec | None) -> None:
        """A request from a curl command or a `.http` file: into the open composer, or a new one."""
        if spec is None:
            return
        try:
            draft = draft_for_spec(spec)
        except ComposeError as exc:
            self.notify(visible(f"Cannot compose it: {exc}"), severity="error", timeout=8)
            return
        what = f"a request from {spec.name}" if spec.name else "an imported request"
        if isinstance(self.screen, ComposerScreen):
            self.screen.fill(draft, what)
        else:
            self._open_composer(draft, None, what)

    # Problems ----------------------------------------------------------------------

    def _show_problems(self) -> None:
        problems = self.main.query_one("#problems", OptionList)
        problems.clear_options()
        theme = self.palette.theme
        for n, conflict in enumerate(self.table.conflicts):
            prompt = Text()
            colour = theme.error if conflict.severity == "error" else theme.warning
            prompt.append(f"{conflict.severity:<8}", style=f"bold {colour}")
            prompt.append(f"{conflict.kind:<22}", style="bold")
            prompt.append(visible(conflict.message))
            problems.add_option(Option(prompt, id=str(n)))
            for k, (path, file) in enumerate(conflict.examples):
                example = Text("        e.g. ", style="dim")
                example.append(visible(path), style=f"bold {theme.accent}")
                example.append(f" → {visible(file)}", style="dim")
                example.append("   enter: match it and send it", style="dim italic")
                problems.add_option(Option(example, id=f"{n}:{k}"))
        if not self.table.conflicts:
            problems.add_option(Option(Text("No problems: every route is reachable.", style="dim"), disabled=True))
        tab = self.main.query_one(TabbedContent).get_tab("problems-tab")
        count = len(self.table.conflicts)
        tab.label = f"Problems ({count})" if count else "Problems"
        self._show_conflict(0 if count else None)

    @on(OptionList.OptionHighlighted, "#problems")
    def _problem_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None:
            self._show_conflict(int(event.option.id.split(":")[0]))

    @on(OptionList.OptionSelected, "#problems")
    def _problem_selected(self, event: OptionList.OptionSelected) -> None:
        """`enter` on a clash's example: the path goes into the match bar and through the
        composer, so the trace shows which file the clash lets answer."""
        if event.option.id is None or ":" not in event.option.id:
            return
        n, k = (int(i) for i in event.option.id.split(":"))
        path, _ = self.table.conflicts[n].examples[k]
        self.action_match_bar(path)
        found = self._explain(path)
        if found is not None and found[2].match.route is not None:
            self._open_match_composer(found[0], found[1], found[2], send=True)

    def _show_conflict(self, index: int | None) -> None:
        a, b = self.main.query_one("#source-a", Static), self.main.query_one("#source-b", Static)
        if index is None or index >= len(self.table.conflicts):
            a.update("")
            b.update("")
            self.main.query_one(RouteTree).mark(())
            return
        conflict = self.table.conflicts[index]
        self.main.query_one(RouteTree).mark(conflict.files)
        views: list[RenderableType] = []
        for file in conflict.files[:2]:
            lines = _clashing_lines(self.table, file, conflict.message)
            views.append(render.source_view(self.running.app_dir / file, lines, self.palette, file))
            scroll = self.main.query_one(f"#source-{'ab'[len(views) - 1]}-scroll", VerticalScroll)
            if lines:
                self.call_after_refresh(scroll.scroll_to, 0, max(0, min(lines) - 3), animate=False)
        a.update(views[0] if views else "")
        b.update(views[1] if len(views) > 1 else Text(""))

    # The match bar ---------------------------------------------------------------------

    def action_match_bar(self, text: str | None = None) -> None:
        """Open the match bar (with `text` in it): as a path is typed, the tree lights the
        nodes it walks through and the route that answers; the Match tab explains."""
        bar = self.main.query_one("#match-bar", Input)
        if text is not None:
            bar.value = text
        self.main.query_one(TabbedContent).active = "match-tab"
        self._open_filter("#match-bar")
        self._show_match(bar.value)

    def _explain(self, text: str) -> tuple[str, str, Explanation] | None:
        """(method, path, explanation) of what the match bar holds: `[METHOD] /path[?query]`."""
        words = text.strip().split(None, 1)
        if not words:
            return None
        method = "GET"
        if len(words) == 2 and words[0].upper() in METHODS:
            method, path = words[0].upper(), words[1].strip()
        else:
            path = text.strip()
        path = "/" + path.split("?", 1)[0].lstrip("/")
        return method, path, explain(self.table, method, path)

    def _show_match(self, text: str) -> None:
        found = self._explain(text)
        tree = self.main.query_one(RouteTree)
        panel = self.main.query_one("#match", Static)
        if found is None:
            tree.light((), None)
            panel.update(Text("Type a path, e.g. /users/7 or POST /users.", style="dim"))
            self._match_fits = False
            return
        method, path, explanation = found
        chosen = explanation.candidates[0] if explanation.candidates else None
        if chosen is not None:
            parts = [p for p in chosen.pattern.split("/") if p]
            # The root is on every path: lighting it would redraw every line of the tree.
            walked = ["/" + "/".join(parts[: n + 1]) for n in range(len(parts))]
            tree.light(walked, chosen.pattern)
        else:
            tree.light((), None)
        # PERF: a layout pass (the whole screen, ~30 ms at 1,000 routes) only when the panel may
        # outgrow its minimum height (console.tcss): most keystrokes leave its height alone.
        lines = 3 + 2 * len(explanation.candidates) + (2 + 2 * len(explanation.near) if explanation.near else 0)
        fits = lines <= MATCH_PANEL_FITS
        view = render.explanation_view(explanation, method, path, self.palette)
        panel.update(view, layout=not (fits and self._match_fits))
        self._match_fits = fits

    def _compose_match(self, text: str) -> None:
        """`enter` in the match bar: the composer on the route that answers, its params filled."""
        found = self._explain(text)
        if found is None:
            return
        method, path, explanation = found
        route = explanation.match.route
        if route is None or not explanation.candidates:
            self.notify(f"no route answers {method} {path}", severity="warning")
            return
        self._open_match_composer(method, path, explanation, send=False)

    def _open_match_composer(self, method: str, path: str, explanation: Explanation, *, send: bool) -> None:
        route = explanation.match.route
        params = {k: v if isinstance(v, str) else "/".join(v) for k, v in explanation.match.params.items()}
        if not self.running.url:
            self.notify("the server is not running", severity="error")
            return
        draft = Draft(method=method if method in METHODS else "GET", path=path)
        self.push_screen(
            ComposerScreen(
                draft,
                base_url=self.running.url,
                client=self.client,
                palette=self.palette,
                route=route,
                params=params,
                send=send,
            )
        )

    # Filters -----------------------------------------------------------------------

    @on(RouteTree.FilterAsked)
    def _route_filter_asked(self) -> None:
        self._open_filter("#route-filter")

    @on(LogView.FilterAsked)
    def _log_filter_asked(self) -> None:
        self._open_filter("#log-filter")

    def _open_filter(self, selector: str) -> None:
        box = self.main.query_one(selector, Input)
        box.add_class("open")
        box.focus()

    @on(Input.Changed, ".filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.input.id == "match-bar":
            self._show_match(event.value)
        elif event.input.id == "route-filter":
            self.main.query_one(RouteTree).set_filter(event.value)
        else:
            self.main.query_one(LogView).set_filter(event.value)
            self._update_log_heading()

    @on(Input.Submitted, ".filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        if event.input.id == "match-bar":
            self._compose_match(event.value)
        else:
            self._close_filter(event.input)

    def on_key(self, event: events.Key) -> None:
        focused = self.focused
        if event.key == "escape" and isinstance(focused, Input) and focused.has_class("filter"):
            focused.value = ""
            self._close_filter(focused)
            event.stop()

    def _close_filter(self, box: Input) -> None:
        """Back to the list; an empty filter box hides, a filled one stays to show what is applied."""
        if box.id == "match-bar":
            self.main.query_one(RouteTree).light((), None)
        if not box.value:
            box.remove_class("open")
        target = self.main.query_one(RouteTree) if box.id == "route-filter" else self.main.query_one(LogView)
        target.focus()

    # Themes, help, palette actions -------------------------------------------------

    def _theme_changed(self, theme: Theme) -> None:
        palette = self.palettes.get(theme.name)
        if palette is None:
            return
        self.palette = palette
        self.main.query_one(RouteTree).set_palette(palette)
        self.main.query_one(LogView).set_palette(palette)
        self._update_status()
        self._show_problems()
        if self.entry is not None:
            self._show_entry(self.entry["id"])

    def use_theme(self, wanted: str) -> None:
        self.theme = find_palette(self.palettes, wanted).name

    def action_help(self) -> None:
        path = str(self.config.path or config_dir() / "config.toml")
        self.push_screen(HelpScreen(self.binding_rows(), path))

    def binding_rows(self) -> list[BindingRow]:
        """Every binding the console has, with the keys it answers to now (after the keymap)."""
        groups: list[tuple[str, Any]] = [
            ("everywhere", ConsoleApp),
            ("routes", RouteTree),
            ("log", LogView),
            ("composer", ComposerScreen),
            ("confirm", ConfirmScreen),
            ("export", ExportScreen),
            ("import curl", ImportCurlScreen),
            ("open .http", OpenHttpScreen),
            ("viewer", ViewerScreen),
            ("help", HelpScreen),
        ]
        keymap = self.config.keys
        rows = [BindingRow("everywhere", "ctrl+p", "app.command_palette", "Command palette")]
        for group, owner in groups:
            for binding in owner.BINDINGS:
                if not isinstance(binding, Binding) or binding.id is None:
                    continue
                keys = keymap.get(binding.id, binding.key)
                shown = ", ".join(self.get_key_display(Binding(k.strip(), "")) for k in keys.split(","))
                rows.append(BindingRow(group, shown, binding.id, binding.tooltip or binding.description))
        return rows

    def action_replay_selected(self) -> None:
        self.main.query_one(LogView).action_replay()

    def action_export_selected(self) -> None:
        self.export(self.entry)

    def action_follow(self) -> None:
        self.main.query_one(LogView).action_follow()

    def action_clear_log(self) -> None:
        log = self.main.query_one(LogView)
        count = len(log.rows)
        log.clear()
        self.entry = None
        for selector in ("#trace", "#request", "#response"):
            self.main.query_one(selector, Static).update("")
        self._update_log_heading()
        kept = "the log file keeps them" if self.running.persistent else "this run keeps no log file"
        self.notify(f"cleared {count} requests from the view; {kept}")

    def action_reload_routes(self) -> None:
        self._reload()

    def on_app_state_changed(self, message: AppStateChanged) -> None:
        self.app_state = (message.text, message.failed)
        if self.drawing:  # the app process may end as the console closes
            self._update_status()

    def action_restart_app(self) -> None:
        self.notify("restarting the app", title="Restart")
        self._restart()

    @work(thread=True, group="reload", exclusive=True)
    def _restart(self) -> None:
        try:
            self.running.restart()  # the new process announces itself (ServerStarted, RoutesReloaded)
        except Exception as exc:
            self.call_from_thread(self.notify, f"restart failed: {exc}", severity="error")

    @work(thread=True, group="reload", exclusive=True)
    def _reload(self) -> None:
        try:
            self.running.reload()  # publishes RoutesReloaded, which updates the screen
        except Exception as exc:
            self.call_from_thread(self.notify, f"reload failed: {exc}", severity="error")


def status_line(badge: Text, app_dir: str, url: str, facts: list[tuple[Text, int]], width: int) -> Text:
    """The header for `width` cells: the badge, the app's folder, its URL, then `facts`.

    The URL always shows. When the line is too wide the folder is shortened from the left first,
    down to its last name (`…/long/path/app`, then `…/app`); then the facts go, lowest rank
    first, then the badge; at last the folder is cut to what is left, or dropped.
    """
    kept = list(facts)
    show_badge = True
    last = max(app_dir.rfind("/"), app_dir.rfind("\\"))
    floor = "…" + app_dir[last:] if last > 0 else app_dir  # the shortest the folder gets before facts go
    while True:
        facts_width = sum(text.cell_len + len(" · ") for text, _ in kept)
        room = width - badge.cell_len * show_badge - len("  · ") - cell_len(url) - facts_width
        if cell_len(floor) <= room:
            break
        if kept:
            kept.remove(min(kept, key=lambda fact: fact[1]))
        elif show_badge:
            show_badge = False
        else:
            break
    folder = shorten_path(app_dir, room)
    line = Text(no_wrap=True, overflow="ellipsis")
    if show_badge:
        line.append_text(badge)
    if folder:
        line.append(f" {folder} ", style="bold")
        line.append("· ")
    else:
        line.append(" ")
    line.append(url)
    for text, _ in kept:
        line.append(" · ")
        line.append_text(text)
    return line


def shorten_path(path: str, room: int) -> str:
    """`path` in at most `room` cells: whole, else its tail after `…` from a `/` (`…/b/app`), else
    the last name cut from the left, else nothing.

    >>> shorten_path("/home/ada/projects/shop/app", 14)
    '…/shop/app'
    """
    if cell_len(path) <= room:
        return path
    for n, char in enumerate(path):
        if char in "/\\" and n and cell_len(path[n:]) + 1 <= room:
            return "…" + path[n:]
    if room < 2:
        return ""
    return "…" + path[-(room - 1) :]


def _clashing_lines(table: engine.RouteTable, file: str, message: str) -> tuple[int, ...]:
    """The lines of `file` a problem is about: a line its message names, else the route's exports."""
    named = [int(n) for n in re.findall(r"\bline (\d+)", message)]
    if named:
        return tuple(named)
    route = next((r for r in table.routes if r.file == file), None)
    return declared_lines(route) if route is not None else ()


def declared_lines(route: engine.Route) -> tuple[int, ...]:
    """Where a route file declares what routing reads: its handlers, middleware and config."""
    wanted = {*route.methods, "middleware", "revalidate", "dynamic", "Route", "server"}
    lines = tuple(line for name, line in route.lines.items() if name in wanted)
    return lines or tuple(route.lines.values())

"""Small screens over the main one: confirm, export, a file's source, a replay's diff, help,
and the composer's imports (a curl command, a `.http` file).

Titles and questions quote paths and file names: they are drawn as plain text (not markup)
through `visible()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from engine.curl import CurlError, parse_curl
from engine.httpfile import HttpFileError, RequestSpec, parse_http
from engine.visible import visible

MAX_HTTP_FILE = 16 * 1024 * 1024  # bytes of a .http file the composer reads


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(visible(self.question)), classes="dialog-title")
            if self.detail:
                yield Label(Text(visible(self.detail)), classes="dialog-detail")
            yield Label("[b]y[/b] yes   [b]n[/b] no", classes="dialog-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


@dataclass(frozen=True)
class ExportChoice:
    kind: str  # "curl", "har" or "http"
    path: Path | None = None
    reveal: bool = False  # keep secrets (authorization, cookies, password fields) instead of masking them


class ExportScreen(ModalScreen[ExportChoice | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="export.cancel")]

    def __init__(self, entry_id: int | None, cwd: Path) -> None:
        super().__init__()
        self.entry_id = entry_id
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        self.default_har = cwd / f"routeconsole-{stamp}.har"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export", classes="dialog-title")
            # Masked first: a secret leaves only when asked for by name.
            options = []
            if self.entry_id is not None:
                options.append(
                    Option(f"curl: copy request #{self.entry_id} as a curl command, secrets masked", id="curl")
                )
            options.append(Option("HAR: write the whole log to the file below, secrets masked", id="har"))
            if self.entry_id is not None:
                options.append(Option(f"curl with secrets: request #{self.entry_id} as sent", id="curl-secrets"))
            options.append(Option("HAR with secrets: the whole log as sent (only you can read it)", id="har-secrets"))
            options.append(Option(".http: the whole log, secrets masked (REST Client, JetBrains)", id="http"))
            options.append(Option(".http with secrets: the whole log as sent", id="http-secrets"))
            yield OptionList(*options, id="export-options")
            yield Input(str(self.default_har), id="har-path")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        kind, _, secrets = (event.option.id or "").partition("-")
        if kind == "curl":
            self.dismiss(ExportChoice("curl", reveal=bool(secrets)))
            return
        path = Path(self.query_one("#har-path", Input).value).expanduser()
        if kind == "http" and path.suffix == ".har":
            path = path.with_suffix(".http")
        self.dismiss(ExportChoice(kind, path, reveal=bool(secrets)))

    @on(Input.Submitted, "#har-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(ExportChoice("har", Path(event.value).expanduser()))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ViewerScreen(ModalScreen[None]):
    """A scrollable renderable: a source file, a diff. `scroll_to` puts that line in view."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="viewer.close")]

    def __init__(self, title: str, body: RenderableType, *, scroll_to: int | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.scroll_line = scroll_to

    def compose(self) -> ComposeResult:
        with Vertical(classes="viewer"):
            yield Label(Text(visible(self.title_text)), classes="dialog-title")
            with VerticalScroll(id="viewer-scroll"):
                yield Static(self.body, id="viewer-body")
        yield Footer()

    def on_mount(self) -> None:
        scroll = self.query_one("#viewer-scroll", VerticalScroll)
        scroll.focus()
        if self.scroll_line:
            line = max(0, self.scroll_line - 4)
            self.call_after_refresh(scroll.scroll_to, 0, line, animate=False)

    def action_close(self) -> None:
        self.dismiss()


@dataclass(frozen=True)
class BindingRow:
    group: str
    keys: str
    binding_id: str
    description: str


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close", id="help.close")]

    def __init__(self, rows: list[BindingRow], config_path: str) -> None:
        super().__init__()
        self.rows = rows
        self.config_path = config_path

    def compose(self) -> ComposeResult:
        grid = Table(box=None, header_style="bold", pad_edge=False)
        grid.add_column("WHERE", no_wrap=True, style="dim")
        grid.add_column("KEYS", no_wrap=True, style="bold")
        grid.add_column("ID", no_wrap=True, style="dim")
        grid.add_column("DOES")
        for row in self.rows:
            grid.add_row(row.group, row.keys, row.binding_id, row.description)
        note = Text.assemble(
            ("Remap any binding by its id in ", "dim"),
            (visible(self.config_path), "bold"),
            ("  [keys]\n", "dim"),
            ('"log.replay" = "R"', "bold"),
        )
        with Vertical(classes="viewer"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll(id="help-scroll"):
                yield Static(Group(grid, Text(""), note), id="help-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()

    def action_close(self) -> None:
        self.dismiss()


class ImportCurlScreen(ModalScreen[RequestSpec | None]):
    """Paste a curl command ("Copy as cURL" from a browser, a line from API docs) to compose it."""

    BINDINGS = [
        Binding("ctrl+j", "import", "Import", priority=True, id="import_curl.import"),
        Binding("escape", "cancel", "Cancel", id="import_curl.cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("Import a curl command", classes="dialog-title")
            yield TextArea(id="curl-text", soft_wrap=True)
            yield Static("", id="import-problem", classes="dialog-problem")
            yield Label("[b]ctrl+j[/b] import   [b]escape[/b] cancel", classes="dialog-keys")

    def action_import(self) -> None:
        try:
            spec = parse_curl(self.query_one("#curl-text", TextArea).text)
        except CurlError as exc:
            self.query_one("#import-problem", Static).update(Text(visible(f"Cannot import: {exc}"), style="bold red"))
            return
        self.dismiss(spec)

    def action_cancel(self) -> None:
        self.dismiss(None)


class OpenHttpScreen(ModalScreen[RequestSpec | None]):
    """Open a `.http` file (VS Code REST Client, JetBrains HTTP client) and pick one of its requests."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="open_http.cancel")]

    def __init__(self, cwd: Path) -> None:
        super().__init__()
        self.cwd = cwd
        self.requests: list[RequestSpec] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("Open a .http file", classes="dialog-title")
            yield Input(str(self.cwd) + "/", placeholder="path/to/requests.http", id="http-path")
            yield Static("", id="import-problem", classes="dialog-problem")
            yield OptionList(id="http-requests")

    def on_mount(self) -> None:
        self.query_one("#http-requests", OptionList).display = False

    @on(Input.Submitted, "#http-path")
    def _read(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        problem = self.query_one("#import-problem", Static)
        try:
            with path.open("rb") as f:
                data = f.read(MAX_HTTP_FILE + 1)
            if len(data) > MAX_HTTP_FILE:
                raise HttpFileError(f"the file is larger than {MAX_HTTP_FILE:,} bytes")
            problems: list[HttpFileError] = []
            self.requests = parse_http(data.decode("utf-8", "replace"), base=path.parent, problems=problems)
        except OSError as exc:
            problem.update(Text(visible(f"Cannot read {path}: {exc.strerror}"), style="bold red"))
            return
        except HttpFileError as exc:
            problem.update(Text(visible(f"Cannot read {path}: {exc}"), style="bold red"))
            return
        unread = Text(visible("".join(f"\nSkipped: {p}" for p in problems)), style="bold red")
        if not self.requests:
            problem.update(Text.assemble((visible(f"{path} holds no request it can read"), "bold red"), unread))
            return
        if len(self.requests) == 1 and not problems:
            self.dismiss(self.requests[0])
            return
        problem.update(Text.assemble((f"{len(self.requests)} requests: pick one", "dim"), unread))
        options = self.query_one("#http-requests", OptionList)
        options.set_options(
            Option(Text(visible(r.name or f"{r.method} {r.url}")), id=str(i)) for i, r in enumerate(self.requests)
        )
        options.display = True
        options.focus()

    @on(OptionList.OptionSelected, "#http-requests")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.requests[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)

"""The request composer: method, path parameters, query, headers and body; the response beside them."""

from __future__ import annotations

import base64
import dataclasses
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx
from rich.console import Group
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static, TextArea

import engine
from engine.curl import CurlError, parse_curl
from engine.visible import UNSAFE, visible

from .. import render
from ..compose import BODY_KINDS, METHODS, ComposeError, Draft, draft_for_spec, fill_pattern, pattern_params
from ..theming import Palette

# In a JSON body, a control character can only be inside a string (or the JSON is broken
# anyway), where the JSON escape `\u009b` means the very same character.
_JSON_UNSAFE = re.compile("[" + "".join(re.escape(c) for c in sorted(UNSAFE - {"\n", "\t", "\r"})) + "]")


class PathInput(Input):
    """The composer's path field: a pasted curl command fills the whole composer instead."""

    class CurlPasted(Message):
        def __init__(self, command: str) -> None:
            super().__init__()
            self.command = command

    def _on_paste(self, event: events.Paste) -> None:
        # Textual calls each class's handler down the MRO: Input's inserts the text unless
        # this one prevents it.
        if event.text.lstrip().startswith("curl "):
            event.prevent_default()
            event.stop()
            self.post_message(self.CurlPasted(event.text))


class ComposerScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+j", "send", "Send", priority=True, tooltip="Send the request", id="composer.send"),
        Binding("alt+enter", "send", "Send", show=False, priority=True, id="composer.send_alt"),
        Binding("escape", "close", "Back", tooltip="Back to the routes and the log", id="composer.close"),
    ]

    def __init__(
        self,
        draft: Draft,
        *,
        base_url: str,
        client: httpx.AsyncClient,
        palette: Palette,
        route: engine.Route | None = None,
        params: Mapping[str, str] | None = None,
        send: bool = False,
        what: str | None = None,
    ) -> None:
        super().__init__()
        # The fields show what a logged request or a file name held: control characters in it
        # become visible stand-ins there (and are sent as shown; `r` replays the exact bytes).
        self.draft = shown_draft(draft)
        self.draft_changed = self.draft != draft
        self.base_url = base_url
        self.client = client
        self.palette = palette
        self.route = route
        self.params = pattern_params(route.pattern) if route is not None else []
        self.values = dict(params or {})  # the path parameters' fields, filled (from the match bar)
        self.send_at_once = send  # send as soon as it opens (a clash's example, from Problems)
        self.what = what  # what the title says it composes, when not a route or a replay
        self.last: httpx.Response | None = None

    def compose(self) -> ComposeResult:
        draft = self.draft
        yield Static(self._title(), id="composer-title")
        with Horizontal(id="composer-line"):
            # A logged request's method may be one the list lacks (PROPFIND, or one with control
            # characters from an embedding app): offer it too, made visible like the other fields.
            methods = METHODS if draft.method in METHODS else (*METHODS, draft.method)
            yield Select([(m, m) for m in methods], value=draft.method, allow_blank=False, id="method", compact=True)
            yield PathInput(draft.path, placeholder="/path, or paste a curl command", id="path", compact=True)
            yield Button("Send ^j", id="send", variant="primary", compact=True)
        with Horizontal(id="composer-panes"):
            with VerticalScroll(id="composer-request"):
                if self.params:
                    yield Label("Path parameters", classes="field-label")
                    for name, kind in self.params:
                        hint = {"catchall": " (one or more segments: a/b)", "optional": " (optional: a/b)"}
                        hint_text = visible(f"{name}{hint.get(kind, '')}")
                        value = visible(self.values.get(name, ""))
                        yield Input(value, placeholder=hint_text, id=f"param-{name}", classes="param")
                yield Label("Query  (key=value, one per line)", classes="field-label")
                yield TextArea(draft.query, id="query", classes="pairs", soft_wrap=False)
                yield Label("Headers  (Name: value, one per line)", classes="field-label")
                yield TextArea(draft.headers, id="headers", classes="pairs", soft_wrap=False)
                with Horizontal(id="body-line"):
                    yield Label("Body", classes="field-label")
                    kinds = [(k, k) for k in BODY_KINDS]
                    yield Select(kinds, value=draft.body_kind, allow_blank=False, id="body-kind", compact=True)
                yield TextArea(draft.body, id="body", soft_wrap=True)
            with VerticalScroll(id="composer-response"):
                waiting = Text("Send the request (ctrl+j) to see the response here.", style="dim")
                if self.draft_changed:
                    waiting.append(
                        "\nControl characters in this request are shown as stand-ins (␛, \\x9b) and are sent"
                        " as shown; r in the log replays the original bytes.",
                        style="bold yellow",
                    )
                yield Static(waiting, id="response")
        yield Footer()

    def on_mount(self) -> None:
        first = self.query(".param").first(Input) if self.params else self.query_one("#path", Input)
        first.focus()
        if self.send_at_once:
            self.action_send()

    @on(Input.Changed, ".param")
    def _param_changed(self) -> None:
        if self.route is None:
            return
        values = {name: self.query_one(f"#param-{name}", Input).value for name, _ in self.params}
        self.query_one("#path", Input).value = visible(fill_pattern(self.route.pattern, values))

    @on(PathInput.CurlPasted)
    def _curl_pasted(self, event: PathInput.CurlPasted) -> None:
        try:
            draft = draft_for_spec(parse_curl(event.command))
        except (CurlError, ComposeError) as exc:
            self.notify(visible(f"Cannot import this curl command: {exc}"), severity="error", timeout=8)
            return
        self.fill(draft, "a pasted curl command")
        self.notify("Filled from the pasted curl command", timeout=3)

    def _title(self) -> Text:
        what = f"{self.route.pattern}  ({self.route.file})" if self.route else (self.what or "a request")
        if self.draft.replay_of is not None:
            what = f"an edited replay of #{self.draft.replay_of}"
        return Text.assemble(("Composer", "bold"), f" · {visible(what)}")

    def fill(self, draft: Draft, what: str) -> None:
        """Put `draft` into the fields (an imported curl command or `.http` request)."""
        shown = shown_draft(draft)
        self.draft, self.what = shown, what
        method = self.query_one("#method", Select)
        if shown.method in METHODS:
            method.value = shown.method
        self.route = None
        self.query_one("#path", Input).value = shown.path
        self.query_one("#query", TextArea).load_text(shown.query)
        self.query_one("#headers", TextArea).load_text(shown.headers)
        self.query_one("#body-kind", Select).value = shown.body_kind
        self.query_one("#body", TextArea).load_text(shown.body)
        for field in self.query(".param"):
            field.display = False  # the path is the imported one now, not the route's pattern
        self.query_one("#composer-title", Static).update(self._title())

    @on(Button.Pressed, "#send")
    def _send_pressed(self) -> None:
        self.action_send()

    def current_draft(self) -> Draft:
        return Draft(
            method=str(self.query_one("#method", Select).value),
            path=self.query_one("#path", Input).value.strip(),
            query=self.query_one("#query", TextArea).text,
            headers=self.query_one("#headers", TextArea).text,
            body=self.query_one("#body", TextArea).text,
            body_kind=str(self.query_one("#body-kind", Select).value),
            replay_of=self.draft.replay_of,
        )

    def action_send(self) -> None:
        try:
            request = self.current_draft().request(self.base_url)
        except ComposeError as exc:
            self._show(Text(visible(f"Not sent: {exc}"), style="bold red"))
            return
        self._show(Text(visible(f"Sending {request.method} {request.url} ..."), style="dim"))
        self._send(request)

    @work(exclusive=True, group="composer-send")
    async def _send(self, request: httpx.Request) -> None:
        started = time.perf_counter()
        try:
            response = await self.client.send(request)
        except httpx.HTTPError as exc:
            self._show(Text(visible(f"{request.method} {request.url} failed: {exc!r}"), style="bold red"))
            return
        elapsed = (time.perf_counter() - started) * 1000
        self.last = response
        self._show(self._response_view(response, elapsed))

    def _response_view(self, response: httpx.Response, elapsed_ms: float) -> Group:
        line = Text()
        reason = response.reason_phrase or httpx.codes.get_reason_phrase(response.status_code)
        line.append(visible(f"{response.status_code} {reason}"), style=self.palette.status(response.status_code))
        line.append(f"   {elapsed_ms:.1f} ms · {len(response.content):,} bytes", style="dim")
        mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
        content = response.content
        message: dict[str, Any] = {"size": len(content), "truncated": False}
        try:
            message.update(body=content.decode("utf-8"), body_encoding="utf-8")
        except UnicodeDecodeError:
            message.update(body=base64.b64encode(content).decode("ascii"), body_encoding="base64")
        return Group(
            line,
            Text(""),
            render.headers_table(list(response.headers.multi_items())),
            Text(""),
            render.body_view(message, mime, self.palette),
        )

    def _show(self, renderable: Text | Group) -> None:
        self.query_one("#response", Static).update(renderable)

    def action_close(self) -> None:
        self.dismiss()


def shown_draft(draft: Draft) -> Draft:
    """The draft with each control character in its text fields made visible: a stand-in
    (`␛`, `\\x9b`), or in a JSON body the JSON escape for it (`\\u001b`), which sends the same data."""
    if draft.body_kind == "json":
        body = _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", draft.body)
    else:
        body = visible(draft.body, multiline=True)
    return dataclasses.replace(
        draft,
        method=visible(draft.method),
        path=visible(draft.path),
        query=visible(draft.query, multiline=True),
        headers=visible(draft.headers, multiline=True),
        body=body,
    )

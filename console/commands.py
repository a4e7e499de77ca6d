"""The command palette (ctrl+p): every console action as "namespace: action"."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .app import ConsoleApp


class ConsoleCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        app: ConsoleApp = self.app  # type: ignore[assignment]
        yield "replay: selected request", "Send the selected request again", app.action_replay_selected
        yield "export: selected request as curl or the log as HAR", "Choose what to export", app.action_export_selected
        yield "composer: new request", "Open the composer", app.action_composer
        yield "composer: import curl", "Paste a curl command and compose it", app.action_import_curl
        yield (
            "composer: open .http file",
            "Compose a request from a REST Client / JetBrains .http file",
            app.action_open_http,
        )
        yield "log: clear view", "Empty the request list (the log file keeps them)", app.action_clear_log
        yield "log: follow newest", "Keep the newest request selected", app.action_follow
        yield "routes: reload all files", "Re-read every route file now", app.action_reload_routes
        for palette in app.palettes.values():
            name = palette.label
            yield f"theme: {name}", f"Switch to the {name} theme", lambda name=name: app.use_theme(name)  # type: ignore[misc]
        yield "help: keys", "Every key binding, and how to remap it", app.action_help
        yield (
            "app: restart server",
            "Stop the app (a handler stuck in a loop too) and start it again",
            app.action_restart_app,
        )
        yield "app: quit", "Stop the server and leave", app.exit

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)

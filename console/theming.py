"""Themes as data: `themes/*.toml` (and the user's own) loaded into Textual's theme system.

A theme file holds Textual's theme colours plus what the console draws itself: a Pygments
`syntax` style for bodies, sources and tracebacks, a colour per HTTP method and per kind of
dynamic URL segment. The console keeps one `Palette` per theme and asks the current one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from rich.style import Style
from textual.theme import Theme

DEFAULT_THEME = "routeconsole-dark"

_FALLBACK_METHOD = "#a0a0a0"


class ThemeError(ValueError):
    """A theme file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Palette:
    theme: Theme
    label: str
    syntax: str  # a Pygments style name
    methods: dict[str, str] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.theme.name

    def method(self, method: str) -> Style:
        return Style(color=self.methods.get(method, _FALLBACK_METHOD), bold=True)

    def segment(self, kind: str) -> Style:
        """`param`, `catchall` or `optional`."""
        return Style(color=self.segments.get(kind), bold=kind != "param")

    def status(self, status: int) -> Style:
        theme = self.theme
        if status == 0:
            color = theme.error
        elif status < 300:
            color = theme.success
        elif status < 400:
            color = theme.primary
        elif status < 500:
            color = theme.warning
        else:
            color = theme.error
        return Style(color=color, bold=True)


def parse_theme(text: str, where: str) -> Palette:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{where}: not valid TOML: {exc}") from exc
    colors = data.get("colors", {})
    if not isinstance(data.get("name"), str) or "primary" not in colors:
        raise ThemeError(f"{where}: a theme needs a `name` and a [colors] table with at least `primary`")
    allowed = {"primary", "secondary", "warning", "error", "success", "accent", "foreground", "background"}
    allowed |= {"surface", "panel", "boost"}
    unknown = set(colors) - allowed
    if unknown:
        raise ThemeError(f"{where}: unknown colours {', '.join(sorted(unknown))}; known: {', '.join(sorted(allowed))}")
    theme = Theme(name=data["name"], dark=bool(data.get("dark", True)), **colors)
    return Palette(
        theme=theme,
        label=str(data.get("label", data["name"])),
        syntax=str(data.get("syntax", "monokai" if theme.dark else "default")),
        methods=dict(data.get("methods", {})),
        segments=dict(data.get("segments", {})),
    )


def builtin_palettes() -> list[Palette]:
    files = sorted(
        (f for f in resources.files("themes").iterdir() if f.name.endswith(".toml")),
        key=lambda f: f.name,
    )
    return [parse_theme(f.read_text(encoding="utf-8"), f"themes/{f.name}") for f in files]


def load_palettes(extra_dirs: Iterable[Path] = ()) -> dict[str, Palette]:
    """The built-in themes, then any `*.toml` in `extra_dirs` (a user theme may replace one)."""
    palettes = {p.name: p for p in builtin_palettes()}
    for folder in extra_dirs:
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                palette = parse_theme(path.read_text(encoding="utf-8"), str(path))
                palettes[palette.name] = palette
    return palettes


def find_palette(palettes: dict[str, Palette], wanted: str) -> Palette:
    """By full name (`routeconsole-light`) or label (`light`)."""
    for palette in palettes.values():
        if wanted in (palette.name, palette.label):
            return palette
    names = ", ".join(sorted(p.label for p in palettes.values()))
    raise ThemeError(f"no theme {wanted!r}; choose one of {names}")

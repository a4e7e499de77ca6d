"""The user's console settings: `$XDG_CONFIG_HOME/routeconsole/config.toml` (or `--config`).

    theme = "light"                 # a theme's label or name
    redact = ["x-session"]          # more headers whose values exports mask
    [keys]                          # binding id = keys, comma-separated (see `?` in the console)
    "log.replay" = "R"
    "composer.send" = "ctrl+s,ctrl+j"

Themes of your own go in `$XDG_CONFIG_HOME/routeconsole/themes/*.toml`, in the format of
the files in the package's `themes/` folder.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    pass


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "routeconsole"


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    redact: tuple[str, ...] = ()  # header names masked in exports beyond engine.redact.SECRET_HEADERS

    @property
    def theme_dirs(self) -> list[Path]:
        return [config_dir() / "themes"]


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing default file is an empty config, a broken one an error."""
    explicit = path is not None
    path = path if path is not None else config_dir() / "config.toml"
    if not path.exists():
        if explicit:
            raise ConfigError(f"{path}: no such config file")
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    keys = data.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise ConfigError(f'{path}: [keys] maps binding ids to keys, like "log.replay" = "R"')
    theme = data.get("theme")
    if theme is not None and not isinstance(theme, str):
        raise ConfigError(f'{path}: theme is a theme\'s name, like theme = "light"')
    redact = data.get("redact", [])
    if not isinstance(redact, list) or not all(isinstance(h, str) and h.strip() for h in redact):
        raise ConfigError(
            f'{path}: redact is a list of header names whose values exports mask, like redact = ["x-session"]'
            " (at the top of the file, before any [table])"
        )
    return Config(path=path, theme=theme, keys=dict(keys), redact=tuple(h.strip().lower() for h in redact))

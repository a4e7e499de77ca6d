"""`routeconsole APP` refuses bad options with a clear message and exit 2, before taking the terminal."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_app

ROUTECONSOLE = str(Path(sys.executable).parent / "routeconsole")


def run(*args: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1", "XDG_CONFIG_HOME": str(home)}
    return subprocess.run([ROUTECONSOLE, *map(str, args)], capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app", ["route.py"])


def test_an_unknown_theme_names_the_ones_there_are(app: Path, tmp_path: Path) -> None:
    out = run(app, "--theme", "neon", "--port", "0", home=tmp_path)
    assert out.returncode == 2
    assert "no theme 'neon'; choose one of dark, high-contrast, light" in out.stderr


def test_a_broken_config_file_is_named(app: Path, tmp_path: Path) -> None:
    (tmp_path / "routeconsole").mkdir()
    (tmp_path / "routeconsole" / "config.toml").write_text("theme = [\n")
    out = run(app, "--port", "0", home=tmp_path)
    assert out.returncode == 2 and "config.toml" in out.stderr


def test_a_busy_port_says_how_to_get_a_free_one(app: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run(app, "--port", str(port), home=tmp_path)
    assert out.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--port 0" in out.stderr


def test_a_missing_app_folder_is_an_error(tmp_path: Path) -> None:
    out = run(tmp_path / "nowhere", "--port", "0", home=tmp_path)
    assert out.returncode == 2 and "nowhere" in out.stderr


def test_watch_names_a_missing_app_folder(tmp_path: Path) -> None:
    out = run("watch", tmp_path / "nowhere", "--url", "http://127.0.0.1:9", home=tmp_path)
    assert out.returncode == 2 and "nowhere" in out.stderr


def test_watch_names_a_log_that_is_not_there(app: Path, tmp_path: Path) -> None:
    out = run("watch", app, "--log", tmp_path / "typo.sqlite3", home=tmp_path)
    assert out.returncode == 2 and "typo.sqlite3" in out.stderr and not (tmp_path / "typo.sqlite3").exists()

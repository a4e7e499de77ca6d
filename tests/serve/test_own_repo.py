"""Serving a folder that contains routeconsole itself must not reload the engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHECK = f"""
import engine
before = engine.RequestFinished
engine.create_app({str(REPO)!r}, convention="next").close()   # the repository itself as APP
import engine as again
assert again.RequestFinished is before, "the engine was re-imported"
print("ok")
"""


def test_app_dir_holding_the_engine_keeps_the_engine_loaded() -> None:
    # In a subprocess: using the repository as APP forgets its other modules (tests/ too).
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, cwd="/")
    assert result.stdout.strip() == "ok", result.stderr

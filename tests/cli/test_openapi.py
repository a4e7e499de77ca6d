"""`routeconsole openapi APP [--out FILE]` through a subprocess: the document on stdout or in a file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from tests.conftest import GET_HANDLER, ROUTECONSOLE, write_app

DEMO = Path(__file__).resolve().parents[2] / "demo_app"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    # The environment is passed on (PYTHONPATH included), so a work tree's code is what runs.
    return subprocess.run(
        [ROUTECONSOLE, *map(str, args)], capture_output=True, text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"}
    )


def test_openapi_prints_a_valid_document_for_demo_app() -> None:
    result = run("openapi", DEMO)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    validate(doc)
    assert doc["info"]["title"] == "demo_app"
    assert doc["paths"]["/files/{path}"]["get"]["operationId"] == "get_files_path"
    assert result.stderr == ""


def test_openapi_out_writes_the_file_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    result = run("openapi", DEMO, "--out", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert f"to {out}" in result.stderr and "13 paths, 17 operations" in result.stderr
    written = json.loads(out.read_text())
    validate(written)
    assert written == json.loads(run("openapi", DEMO).stdout)


def test_openapi_honours_convention(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"users.$id.py": GET_HANDLER})
    doc = json.loads(run("openapi", app, "--convention", "tanstack").stdout)
    assert list(doc["paths"]) == ["/users/{id}"]
    assert doc["x-routeconsole"]["convention"] == "tanstack"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing",), "no such directory"),
        ((str(DEMO), "--convention", "rails"), "unknown convention"),
        ((str(DEMO), "--out", "/nonexistent-dir/openapi.json"), "cannot write"),
    ],
    ids=["missing-app", "unknown-convention", "unwritable-out"],
)
def test_openapi_unusable_input_exits_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run("openapi", *(str(tmp_path / a) if a == "missing" else a for a in args))
    assert result.returncode == 2
    assert message in result.stderr and result.stdout == ""

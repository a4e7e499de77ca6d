"""`routeconsole list / check / match` through a subprocess: JSON shapes and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import GET_HANDLER, write_app

ROUTECONSOLE = str(Path(sys.executable).parent / "routeconsole")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROUTECONSOLE, *map(str, args)], capture_output=True, text=True, timeout=60, env={"NO_COLOR": "1"}
    )


@pytest.fixture
def clean_app(tmp_path: Path) -> Path:
    return write_app(
        tmp_path / "app",
        {
            "users/route.py": GET_HANDLER + "def POST(request): ...\n",
            "users/[id]/route.py": GET_HANDLER,
            "docs/[[...slug]]/page.py": "def page(request, params):\n    return '<h1>Docs</h1>'\n",
        },
    )


@pytest.fixture
def broken_app(tmp_path: Path) -> Path:
    return write_app(
        tmp_path / "broken",
        {
            "blog/[id]/route.py": GET_HANDLER,
            "blog/[slug]/route.py": GET_HANDLER,
            "x/route.py": "def get(request): ...\n",
        },
    )


def test_list_json_shape(clean_app: Path) -> None:
    result = run("list", clean_app, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"app", "convention", "routes", "conflicts"}
    assert data["convention"] == "next"
    assert data["conflicts"] == []
    assert data["routes"] == [
        {"pattern": "/docs/[[...slug]]", "file": "docs/[[...slug]]/page.py", "methods": ["GET"],
         "params": ["slug"], "kind": "page", "error": None},
        {"pattern": "/users", "file": "users/route.py", "methods": ["GET", "POST"], "params": [],
         "kind": "route", "error": None},
        {"pattern": "/users/[id]", "file": "users/[id]/route.py", "methods": ["GET"], "params": ["id"],
         "kind": "route", "error": None},
    ]


def test_list_human_table(clean_app: Path) -> None:
    result = run("list", clean_app)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert "PATTERN" in lines[1] and "METHODS" in lines[1] and "FILE" in lines[1]
    row = next(line for line in lines if line.startswith("/users/[id]"))
    assert row.split() == ["/users/[id]", "GET", "users/[id]/route.py"]


def test_list_reports_conflicts(broken_app: Path) -> None:
    data = json.loads(run("list", broken_app, "--json").stdout)
    assert [(c["kind"], c["severity"]) for c in data["conflicts"]] == [
        ("ambiguous-params", "error"),
        ("lowercase-method", "warning"),
    ]
    conflict = data["conflicts"][0]
    assert set(conflict) == {"kind", "severity", "pattern", "files", "message", "examples"}
    assert conflict["files"] == ["blog/[id]/route.py", "blog/[slug]/route.py"]
    assert conflict["examples"] == [{"path": "/blog/example", "file": "blog/[id]/route.py"}]
    assert data["conflicts"][1]["examples"] == []  # a lowercase method is not about URLs
    human = run("list", broken_app).stdout
    assert "1 error, 1 warning" in human
    assert "ambiguous-params" in human


def test_check_exit_codes(clean_app: Path, broken_app: Path, tmp_path: Path) -> None:
    assert run("check", clean_app).returncode == 0
    assert run("check", broken_app).returncode == 1
    warn_only = write_app(tmp_path / "warn", {"x/route.py": "def get(request): ...\n"})
    assert run("check", warn_only).returncode == 0
    assert run("check", warn_only, "--strict").returncode == 1


def test_check_json_is_the_conflicts_list(broken_app: Path) -> None:
    result = run("check", broken_app, "--json")
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    assert [c["kind"] for c in data] == ["ambiguous-params", "lowercase-method"]


@pytest.mark.parametrize("command", ["list", "check"])
def test_unusable_input_exits_2_with_one_line(command: str, tmp_path: Path) -> None:
    missing = run(command, tmp_path / "missing")
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "no such directory" in missing.stderr
    unknown = run(command, tmp_path, "--convention", "remix")
    assert unknown.returncode == 2
    assert "unknown convention 'remix'" in unknown.stderr


def test_match_json_shape(clean_app: Path) -> None:
    data = json.loads(run("match", clean_app, "/users/42", "--json").stdout)
    assert data == {
        "path": "/users/42", "method": "GET", "status": 200, "pattern": "/users/[id]",
        "file": "users/[id]/route.py", "params": {"id": "42"}, "allow": ["GET", "HEAD", "OPTIONS"],
    }


@pytest.mark.parametrize(
    ("args", "status", "pattern"),
    [
        (["/users/42", "--method", "DELETE"], 405, "/users/[id]"),
        (["/users", "--method", "post"], 200, "/users"),
        (["/nope"], 404, None),
        (["/docs/a/b"], 200, "/docs/[[...slug]]"),
        (["/users/"], 308, None),
        (["/users", "--method", "BREW"], 501, None),
    ],
)
def test_match_statuses(clean_app: Path, args: list[str], status: int, pattern: str | None) -> None:
    data = json.loads(run("match", clean_app, *args, "--json").stdout)
    assert (data["status"], data["pattern"]) == (status, pattern)


def test_match_human_output(clean_app: Path) -> None:
    out = run("match", clean_app, "/users/42", "-X", "PUT").stdout
    assert "PUT /users/42 → 405" in out
    assert "Allow: GET, HEAD, OPTIONS" in out


DEMO = Path(__file__).resolve().parents[2] / "demo_app"


def test_match_explain_json_on_the_demos_clash() -> None:
    data = json.loads(run("match", DEMO, "/files/latest", "--explain", "--json").stdout)
    assert set(data) == {"path", "method", "status", "pattern", "file", "params", "allow", "candidates", "near"}
    assert data["candidates"] == [
        {
            "pattern": "/files/latest",
            "file": "files/latest/route.py",
            "chosen": True,
            "reason": "answers 200: the most specific pattern that matches",
        },
        {
            "pattern": "/files/[...path]",
            "file": "files/[...path]/route.py",
            "chosen": False,
            "reason": "segment 2: static `latest` is preferred to `[...path]`",
        },
    ]
    assert 0 < len(data["near"]) <= 5
    assert all(set(n) == {"pattern", "file", "reason"} for n in data["near"])


def test_match_explain_reads_as_lines() -> None:
    out = run("match", DEMO, "/files/latest", "--explain").stdout
    assert "GET /files/latest → 200" in out
    assert "✔ /files/latest" in out and "✖ /files/[...path]" in out
    assert "segment 2: static `latest` is preferred to `[...path]`" in out
    assert "near misses" in out


def test_the_demos_clash_is_a_warning_with_an_example() -> None:
    assert run("check", DEMO).returncode == 0
    assert run("check", DEMO, "--strict").returncode == 1
    [clash] = json.loads(run("check", DEMO, "--json").stdout)
    assert clash["kind"] == "shadowed-catch-all"
    assert clash["examples"] == [{"path": "/files/latest", "file": "files/latest/route.py"}]
    assert "e.g. /files/latest → files/latest/route.py" in run("check", DEMO).stdout


def test_convention_flag(tmp_path: Path) -> None:
    app = write_app(tmp_path / "t", ["users/route.py"])
    data = json.loads(run("list", app, "--json", "--convention", "tanstack").stdout)
    assert data["convention"] == "tanstack"
    assert [r["pattern"] for r in data["routes"]] == ["/users"]

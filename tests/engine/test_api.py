"""The engine's public surface (brief section 5), pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from tests.conftest import write_app


def test_public_names_are_pinned() -> None:
    assert sorted(engine.__all__) == sorted(
        [
            "CONVENTIONS",
            "IMPORT_GRACE",
            "MASK",
            "REPLAY_OF_HEADER",
            "SOURCE_HEADER",
            "Answer",
            "AppExited",
            "AppNotFound",
            "AppRestarting",
            "Conflict",
            "Engine",
            "EngineError",
            "EventSink",
            "FormData",
            "Headers",
            "ImmutableRequestError",
            "LogSummary",
            "Match",
            "QueryParams",
            "ReplayResult",
            "Request",
            "RequestFinished",
            "RequestLog",
            "Response",
            "Route",
            "RouteApp",
            "RouteTable",
            "RoutesReloaded",
            "ServerStarted",
            "ServerStopped",
            "SupervisedEngine",
            "Span",
            "Trace",
            "UnknownConvention",
            "UploadFile",
            "WatchedEngine",
            "compare",
            "create_app",
            "create_file_route",
            "is_secret_header",
            "load_routes",
            "redact_entry",
            "redact_headers",
            "replay_request",
            "to_curl",
            "to_har",
            "use",
        ]
    )
    for name in engine.__all__:
        assert hasattr(engine, name)


def test_engine_does_not_import_textual() -> None:
    import subprocess
    import sys

    code = "import sys, engine; engine.load_routes('.'); print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_routes_returns_a_route_table(tmp_path: Path) -> None:
    table = engine.load_routes(write_app(tmp_path, ["users/[id]/route.py"]))
    assert isinstance(table, engine.RouteTable)
    assert table.convention == "next"
    (route,) = table.routes
    assert isinstance(route, engine.Route)
    match = table.match("GET", "/users/1")
    assert isinstance(match, engine.Match)
    assert (match.status, match.pattern, match.file, match.params, match.allow) == (
        200,
        "/users/[id]",
        "users/[id]/route.py",
        {"id": "1"},
        ("GET", "HEAD", "OPTIONS"),
    )


def test_load_routes_accepts_str_paths(tmp_path: Path) -> None:
    assert engine.load_routes(str(write_app(tmp_path, ["a+api.py"]))).convention == "expo"


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(engine.AppNotFound, match="no such directory"):
        engine.load_routes(tmp_path / "nope")


def test_unknown_convention_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(engine.UnknownConvention, match="choose one of expo, next, tanstack"):
        engine.load_routes(tmp_path, convention="remix")


def test_route_files_are_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write_app(tmp_path / "app", {"a/route.py": f"open({str(marker)!r}, 'w')\ndef GET(request): ...\n"})
    engine.load_routes(tmp_path / "app")
    assert not marker.exists()

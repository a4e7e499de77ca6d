"""demo_app/ is the newcomer's first sight: clean, and showing each convention."""

from __future__ import annotations

from pathlib import Path

import engine

DEMO = Path(__file__).resolve().parents[2] / "demo_app"


def test_demo_app_is_a_next_app_with_one_deliberate_warning() -> None:
    table = engine.load_routes(DEMO)
    assert table.convention == "next"
    assert table.global_middleware == "middleware.py"
    # files/latest carves /files/latest out of files/[...path]: something to explore, not an error
    [clash] = table.conflicts
    assert (clash.kind, clash.severity) == ("shadowed-catch-all", "warning")
    assert clash.files == ("files/[...path]/route.py", "files/latest/route.py")
    assert clash.examples == (("/files/latest", "files/latest/route.py"),)
    assert table.match("GET", "/files/latest").file == "files/latest/route.py"


def test_demo_app_shows_each_convention() -> None:
    table = engine.load_routes(DEMO)
    by_pattern = {r.pattern: r for r in table.routes}
    assert {"/users/[id]", "/posts/[postId]/comments", "/files/[...path]", "/docs/[[...slug]]"} <= set(by_pattern)
    assert by_pattern["/about"].kind == "page" and by_pattern["/about"].file.startswith("(marketing)/")
    assert by_pattern["/users/[id]"].has_middleware
    assert by_pattern["/posts"].revalidate == 30
    assert by_pattern["/status"].dynamic == "force-static"
    assert not any(r.file.startswith("_lib/") for r in table.routes)
    assert table.match("GET", "/files/reports/2026/q3.csv").params == {"path": ["reports", "2026", "q3.csv"]}

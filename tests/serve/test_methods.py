"""Method semantics and failures, the same in every dialect except the trailing slash."""

from __future__ import annotations

import pytest

from tests.serve.conftest import ServeApp

pytestmark = pytest.mark.anyio

HANDLERS = """
def GET(params):
    return {"id": params.get("id")}

def POST():
    return "posted"
"""
BOOM = "def GET():\n    raise ValueError('kaboom')\n"

# convention -> (a route file with GET+POST at /items/[id], a raising route at /boom, a broken one at /broken)
LAYOUTS = {
    "next": ("items/[id]/route.py", "boom/route.py", "broken/route.py"),
    "tanstack": ("items.$id.py", "boom.py", "broken.py"),
    "expo": ("items/[id]+api.py", "boom+api.py", "broken+api.py"),
}
DIALECTS = pytest.mark.parametrize("convention", sorted(LAYOUTS))


def layout(convention: str, broken_source: str = "def GET(:\n") -> dict[str, str]:
    items, boom, broken = LAYOUTS[convention]
    return {items: HANDLERS, boom: BOOM, broken: broken_source}


@DIALECTS
async def test_get_post_and_head(serve: ServeApp, convention: str) -> None:
    async with serve(layout(convention)) as s:
        assert (await s.request("GET", "/items/1")).json() == {"id": "1"}
        assert (await s.request("POST", "/items/1")).text == "posted"
        head = await s.request("HEAD", "/items/1")
        assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", "10")


@DIALECTS
async def test_options_405_501_404(serve: ServeApp, convention: str) -> None:
    async with serve(layout(convention)) as s:
        options = await s.request("OPTIONS", "/items/1")
        assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, OPTIONS, POST")
        put = await s.request("PUT", "/items/1")
        assert (put.status_code, put.headers["allow"]) == (405, "GET, HEAD, OPTIONS, POST")
        assert (await s.request("BREW", "/items/1")).status_code == 501
        assert (await s.request("GET", "/nothing")).status_code == 404


@DIALECTS
async def test_body_over_the_limit_is_413_before_the_handler(serve: ServeApp, convention: str) -> None:
    items, _, _ = LAYOUTS[convention]
    source = (
        "import pathlib\ndef POST(request):\n    pathlib.Path(__file__).with_name('ran').touch()\n    return 'ran'\n"
    )
    async with serve({items: source}, body_limit=1000) as s:
        r = await s.request("POST", "/items/1", content=b"x" * 1001)
        assert r.status_code == 413
        assert "1000 bytes" in r.text

        async def chunked() -> object:  # no Content-Length: counted as it arrives
            for _ in range(3):
                yield b"x" * 400

        assert (await s.request("POST", "/items/1", content=chunked())).status_code == 413
        assert not (s.app.app_dir / items).with_name("ran").exists()
        assert (await s.request("POST", "/items/1", content=b"x" * 1000)).text == "ran"


async def test_default_body_limit_is_10_mib(serve: ServeApp) -> None:
    async with serve({"a/route.py": "async def POST(request):\n    return len(await request.body()).__str__()\n"}) as s:
        assert (await s.request("POST", "/a", content=b"x" * (10 * 1024 * 1024))).text == str(10 * 1024 * 1024)
        assert (await s.request("POST", "/a", content=b"x" * (10 * 1024 * 1024 + 1))).status_code == 413


async def test_malformed_content_length_is_400(serve: ServeApp) -> None:
    async with serve({"a/route.py": HANDLERS}) as s:
        r = await s.request("POST", "/a", headers={"content-length": "ten"}, content=b"")
        assert r.status_code == 400


async def test_next_redirects_trailing_slash_keeping_the_query(serve: ServeApp) -> None:
    async with serve(layout("next")) as s:
        r = await s.request("GET", "/items/1/?x=1")
        assert (r.status_code, r.headers["location"]) == (308, "/items/1?x=1")


@pytest.mark.parametrize("convention", ["tanstack", "expo"])
async def test_trailing_slash_tolerated_elsewhere(serve: ServeApp, convention: str) -> None:
    async with serve(layout(convention)) as s:
        assert (await s.request("GET", "/items/1/")).json() == {"id": "1"}


@DIALECTS
async def test_raising_handler_is_500_naming_the_file(serve: ServeApp, convention: str) -> None:
    _, boom, _ = LAYOUTS[convention]
    async with serve(layout(convention)) as s:
        r = await s.request("GET", "/boom")
        trace = s.last_trace()
        assert r.status_code == 500
        assert boom in r.text and "ValueError: kaboom" in r.text
        assert "Traceback" not in r.text  # only with debug
        assert "Traceback" in trace["spans"][-1]["error"] and trace["spans"][-1]["outcome"] == "raise"
        assert (await s.request("GET", "/items/2")).status_code == 200  # the app keeps serving


async def test_debug_sends_the_traceback(serve: ServeApp) -> None:
    async with serve(layout("next"), debug=True) as s:
        r = await s.request("GET", "/boom")
        assert r.status_code == 500 and "Traceback" in r.text and "kaboom" in r.text


@DIALECTS
@pytest.mark.parametrize(
    ("source", "reason"),
    [
        pytest.param("def GET(:\n", "SyntaxError", id="syntax-error"),
        pytest.param(
            "import no_such_module_here\ndef GET():\n    return 1\n", "ModuleNotFoundError", id="import-error"
        ),
        pytest.param("raise RuntimeError('at import')\n", "RuntimeError: at import", id="raises-on-import"),
        pytest.param("import sys\nsys.exit(3)\ndef GET():\n    return 1\n", "SystemExit", id="exits-on-import"),
    ],
)
async def test_module_that_fails_to_load_is_500_naming_the_file(
    serve: ServeApp, convention: str, source: str, reason: str
) -> None:
    _, _, broken = LAYOUTS[convention]
    async with serve(layout(convention, source)) as s:
        r = await s.request("GET", "/broken")
        assert r.status_code == 500
        assert broken in r.text and reason in r.text
        assert (await s.request("GET", "/items/1")).status_code == 200
        problems = [c for c in s.app.table.conflicts if c.kind == "load-error"]
        assert [c.files for c in problems] == [(broken,)]


async def test_blocking_sync_handler_runs_off_the_event_loop(serve: ServeApp) -> None:
    import asyncio
    import threading

    gate = threading.Event()
    source = "import threading\nGATE = None\ndef GET():\n    GATE.wait(5)\n    return 'released'\n"
    async with serve({"slow/route.py": source, "fast/route.py": "def GET():\n    return 'fast'\n"}) as s:
        # A copy: getattr on a lazy module (schemathesis.checks) imports, and so changes sys.modules.
        module = next(m for m in list(__import__("sys").modules.values()) if getattr(m, "GATE", 0) is None)
        module.GATE = gate
        slow = asyncio.create_task(s.request("GET", "/slow"))
        await asyncio.sleep(0.05)
        assert (await s.request("GET", "/fast")).text == "fast"  # served while /slow blocks a thread
        assert not slow.done()
        gate.set()
        assert (await slow).text == "released"


async def test_lifespan_is_answered() -> None:
    import engine

    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    import tempfile
    from pathlib import Path

    from tests.conftest import write_app

    with tempfile.TemporaryDirectory() as tmp:
        app = engine.create_app(write_app(Path(tmp), ["a/route.py"]))
        await app({"type": "lifespan"}, receive, send)
        app.close()
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

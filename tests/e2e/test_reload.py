"""Live reload against the real server: add, change, break, fix, delete, helper modules."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import engine
from engine.reload import Reloader
from engine.server import Server
from tests.conftest import write_app


class Live:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.events: list[engine.events.RoutesReloaded] = []
        sink = engine.EventSink()
        sink.subscribe(lambda e: self.events.append(e) if isinstance(e, engine.events.RoutesReloaded) else None)
        self.app = engine.create_app(root, events=sink)
        self.server = Server(self.app, port=0)
        self.url = self.server.start()
        self.reloader = Reloader(self.app)
        self.reloader.start()

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def until(self, path: str, ok: Callable[[httpx.Response], bool], limit: float = 10.0) -> httpx.Response:
        deadline = time.monotonic() + limit
        while True:
            response = self.get(path)
            if ok(response) or time.monotonic() > deadline:
                return response
            time.sleep(0.02)

    def close(self) -> None:
        self.reloader.stop()
        self.server.stop()
        self.app.events.flush()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    root = write_app(
        tmp_path / "app",
        {
            "lib/__init__.py": "",
            "lib/greeting.py": "WORD = 'hello'\n",
            "greet/route.py": "from lib.greeting import WORD\ndef GET():\n    return WORD\n",
            "stable/route.py": "def GET():\n    return 'stable'\n",
        },
    )
    served = Live(root)
    yield served
    served.close()


def test_add_change_break_fix_delete(live: Live) -> None:
    live.write("new/route.py", "def GET():\n    return 'one'\n")
    assert live.until("/new", lambda r: r.text == "one").text == "one"

    live.write("new/route.py", "def GET():\n    return 'two'\n")
    assert live.until("/new", lambda r: r.text == "two").text == "two"

    live.write("new/route.py", "def GET(:\n")
    broken = live.until("/new", lambda r: r.status_code == 500)
    assert broken.status_code == 500 and "new/route.py" in broken.text and "SyntaxError" in broken.text
    assert live.get("/stable").text == "stable"  # everything else keeps serving

    live.write("new/route.py", "def GET():\n    return 'fixed'\n")
    assert live.until("/new", lambda r: r.text == "fixed").text == "fixed"

    (live.root / "new/route.py").unlink()
    assert live.until("/new", lambda r: r.status_code == 404).status_code == 404


def test_helper_module_change_reloads_the_routes_that_import_it(live: Live) -> None:
    assert live.get("/greet").text == "hello"
    live.write("lib/greeting.py", "WORD = 'bonjour'\n")
    assert live.until("/greet", lambda r: r.text == "bonjour").text == "bonjour"


def test_reload_event_says_what_changed(live: Live) -> None:
    live.write("extra/route.py", "def GET():\n    return 'x'\n")
    live.until("/extra", lambda r: r.status_code == 200)
    live.write("extra/route.py", "def GET(:\n")
    live.until("/extra", lambda r: r.status_code == 500)
    live.app.events.flush()
    added = next(e for e in live.events if "/extra" in e.added)
    assert added.changed == ("extra/route.py",)
    broke = live.events[-1]
    assert [(c.kind, c.files) for c in broke.new_problems] == [("load-error", ("extra/route.py",))]


def test_ignored_files_do_not_reload(live: Live) -> None:
    live.app.events.flush()
    before = len(live.events)
    live.write(".routeconsole/notes.py", "x = 1\n")
    live.write("greet/.route.py.swp", "junk")
    live.write("greet/route.py~", "junk")
    live.write("notes.txt", "text")
    # A real change afterwards proves the watcher was running and saw only it.
    live.write("stable/route.py", "def GET():\n    return 'changed'\n")
    live.until("/stable", lambda r: r.text == "changed")
    live.app.events.flush()
    assert [e.changed for e in live.events[before:]] == [("stable/route.py",)]


def test_requests_in_flight_finish_on_the_code_they_started_with(live: Live) -> None:
    import threading

    live.write("slow/route.py", "import time\ndef GET():\n    time.sleep(0.5)\n    return 'old'\n")
    live.until("/slow", lambda r: r.status_code == 200)
    result: dict[str, str] = {}
    thread = threading.Thread(target=lambda: result.update(text=live.get("/slow").text))
    thread.start()
    time.sleep(0.1)
    live.write("slow/route.py", "def GET():\n    return 'new'\n")
    assert live.until("/slow", lambda r: r.text == "new").text == "new"
    thread.join()
    assert result["text"] == "old"


def test_a_new_method_in_a_saved_file_is_routed(live: Live) -> None:
    # Same file, new export: the route table itself changes (not only the module).
    assert httpx.post(live.url + "/stable", timeout=5).status_code == 405
    live.write("stable/route.py", "def GET():\n    return 'stable'\ndef POST():\n    return 'posted'\n")
    deadline = time.monotonic() + 10
    while httpx.post(live.url + "/stable", timeout=5).status_code == 405 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert httpx.post(live.url + "/stable", timeout=5).text == "posted"
    assert [r.methods for r in live.app.table.routes if r.pattern == "/stable"] == [("GET", "POST")]

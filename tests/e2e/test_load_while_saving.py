"""Load while files change: 16 clients keep the real server busy while a route file is saved
a dozen times, once broken and then fixed. Nothing is refused, nothing but 200 (and 500 on
the broken route while it is broken) is answered, and the log has one row per answer."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx

import engine
from engine.store import RequestLog
from tests.conftest import write_app

CLIENTS = 16
SAVES = 12
BROKEN_SAVE = 6  # this save has a syntax error; the next one fixes it
SAVE_EVERY = 0.3  # seconds: the whole run is about 4 s
REQUEST_CAP = 20_000  # a bound on the load, whatever the machine's speed


def version(n: int) -> str:
    if n == BROKEN_SAVE:
        return "def GET(:\n    return 'broken'\n"
    return f"def GET():\n    return 'v{n}'\n"


def test_load_while_a_route_file_is_saved(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app",
        {"edited/route.py": version(0), "stable/[id]/route.py": "def GET(params):\n    return params['id']\n"},
    )
    log_path = tmp_path / "log.sqlite3"
    running = engine.Engine(app_dir, port=0, log=log_path)
    url = running.start()
    stop = threading.Event()
    lock = threading.Lock()
    answers: Counter[tuple[str, int]] = Counter()
    bodies: set[str] = set()
    errors: list[str] = []
    sent = [0]

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            i = 0
            while not stop.is_set():
                with lock:
                    if sent[0] >= REQUEST_CAP:
                        return
                    sent[0] += 1
                path = "/edited" if i % 2 else f"/stable/{n}"
                i += 1
                try:
                    r = http.get(path)
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(f"{path}: {exc!r}")
                    continue
                with lock:
                    answers[(path.split("/")[1], r.status_code)] += 1
                    if path == "/edited":
                        bodies.add(r.text if r.status_code == 200 else r.text.split("\n")[0])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        for n in range(1, SAVES + 1):
            time.sleep(SAVE_EVERY)
            (app_dir / "edited/route.py").write_text(version(n))
        time.sleep(SAVE_EVERY * 2)  # the last save is served before the load stops
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        running.stop()

    answered = sum(answers.values())
    print(f"\n{answered} requests answered by {CLIENTS} clients, {len(errors)} errors; {dict(answers)}")
    assert errors == []
    assert set(answers) <= {("stable", 200), ("edited", 200), ("edited", 500)}, answers
    assert answers[("edited", 500)] > 0, "the broken save was never served: the test saw no reload"
    assert answers[("stable", 200)] > 0
    broken = {b for b in bodies if b.startswith("Internal Server Error")}
    assert broken and all("edited/route.py" in b for b in broken), broken
    assert f"v{SAVES}" in bodies  # the last save was served
    with httpx.Client(timeout=5) as http:  # and the server stopped: nothing listens on its port now
        try:
            http.get(url + "/stable/1")
            raise AssertionError("the server still answers after stop()")
        except httpx.ConnectError:
            pass
    log = RequestLog(log_path)
    try:
        rows = log.summaries()
    finally:
        log.close()
    print(f"{len(rows)} log rows")
    assert len(rows) == answered
    assert Counter((r.path.split("/")[1], r.status) for r in rows) == answers

"""`serve` logs every request; `log`, `--har`, `--curl` and `replay` read it back."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from haralyzer import HarEntry, HarParser

from engine.httpfile import parse_http
from tests.conftest import write_app

ROUTECONSOLE = str(Path(sys.executable).parent / "routeconsole")
TOKEN = {"authorization": "Bearer t0ken"}

APP = {
    "items/[id]/route.py": (
        "from engine import Response\n"
        "def GET(params, request):\n"
        "    return {'id': params['id'], 'tags': request.query.getlist('tag'), 'z': 1, 'a': 2}\n"
        "async def PUT(request, params):\n"
        "    return Response.json(await request.json(), status=202)\n"
    ),
    "echo/route.py": "async def POST(request):\n    return await request.body()\n",
}


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ROUTECONSOLE, *map(str, args)], capture_output=True, text=True, timeout=60)


@contextmanager
def serving(app: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with subprocess.Popen(
        [ROUTECONSOLE, "serve", str(app), "--port", "0", "--no-reload", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            url = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
            assert url
            yield proc, url.group(0)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)


@pytest.fixture
def logged_app(tmp_path: Path) -> Path:
    """An app whose log holds: GET with a query, PUT with JSON, POST of binary, a 404."""
    app = write_app(tmp_path / "app", APP)
    with serving(app) as (_, url):
        httpx.get(f"{url}/items/7?tag=a&tag=b%20c", headers=TOKEN)
        httpx.put(f"{url}/items/7", json={"name": "it's \"quoted\""}, headers={"x-note": "a b"})
        httpx.post(f"{url}/echo", content=bytes(range(256)))
        httpx.get(f"{url}/missing")
    return app


def test_every_served_request_is_logged_with_its_trace(logged_app: Path) -> None:
    entries = json.loads(run("log", logged_app, "--json").stdout)
    assert [(e["id"], e["method"], e["path"], e["status"]) for e in entries] == [
        (1, "GET", "/items/7", 200), (2, "PUT", "/items/7", 202), (3, "POST", "/echo", 200), (4, "GET", "/missing", 404),
    ]
    first = entries[0]
    assert (first["source"], first["replay_of"], first["query"]) == ("external", None, "tag=a&tag=b%20c")
    assert first["route"] == {"pattern": "/items/[id]", "file": "items/[id]/route.py", "params": {"id": "7"}}
    assert first["spans"][0]["name"] == "GET" and first["spans"][0]["outcome"] == "respond"
    assert entries[2]["request"]["body_encoding"] == "base64"
    assert [e["id"] for e in json.loads(run("log", logged_app, "--json", "--limit", "2").stdout)] == [3, 4]


def test_log_table(logged_app: Path) -> None:
    out = run("log", logged_app).stdout
    assert re.search(r"2\s+\S+\s+PUT\s+/items/7\s+202", out)
    assert "/items/[id]" in out


def test_log_survives_a_restart(logged_app: Path) -> None:
    with serving(logged_app) as (_, url):
        httpx.get(f"{url}/items/8")
    entries = json.loads(run("log", logged_app, "--json").stdout)
    assert [e["id"] for e in entries] == [1, 2, 3, 4, 5]


def test_killed_server_log_still_opens(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", APP)
    with serving(app) as (proc, url):
        for n in range(20):
            httpx.get(f"{url}/items/{n}")
        time.sleep(0.5)  # the writer flushes every ~100 ms: earlier batches are on disk
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    result = run("log", app, "--json")
    assert result.returncode == 0
    assert [e["path"] for e in json.loads(result.stdout)] == [f"/items/{n}" for n in range(20)]


def test_har_export_reads_back_in_a_har_reader(logged_app: Path, tmp_path: Path) -> None:
    har_file = tmp_path / "log.har"
    assert run("log", logged_app, "--har", har_file).returncode == 0
    har = json.loads(har_file.read_text())
    assert har["log"]["version"] == "1.2"
    parsed = HarParser(har)
    entries = [HarEntry(e) for e in parsed.har_data["entries"]]
    assert [(e.request.method, e.response.status) for e in entries] == [
        ("GET", 200), ("PUT", 202), ("POST", 200), ("GET", 404),
    ]
    assert entries[0].request.url.endswith("/items/7?tag=a&tag=b%20c")
    assert har["log"]["entries"][0]["request"]["queryString"] == [
        {"name": "tag", "value": "a"}, {"name": "tag", "value": "b c"},
    ]
    assert har["log"]["entries"][1]["request"]["postData"]["text"] == '{"name":"it\'s \\"quoted\\""}'
    assert har["log"]["entries"][2]["request"]["postData"]["encoding"] == "base64"
    assert har["log"]["entries"][0]["_routeconsole"]["route"]["pattern"] == "/items/[id]"


def test_curl_command_quotes_correctly_and_skips_needless_x(logged_app: Path) -> None:
    get = run("log", logged_app, "--curl", "1", "--reveal").stdout.strip()
    argv = shlex.split(get)
    assert argv[0] == "curl" and "-X" not in argv
    assert argv[1].endswith("/items/7?tag=a&tag=b%20c")
    assert argv[argv.index("authorization: Bearer t0ken") - 1 :][:2] == ["-H", "authorization: Bearer t0ken"]
    assert "authorization: [redacted]" in shlex.split(run("log", logged_app, "--curl", "1").stdout)
    put = shlex.split(run("log", logged_app, "--curl", "2").stdout)
    assert put[put.index("-X") + 1] == "PUT"
    assert put[put.index("--data-raw") + 1] == '{"name":"it\'s \\"quoted\\""}'
    assert put[put.index("x-note: a b") - 1 :][:2] == ["-H", "x-note: a b"]
    assert run("log", logged_app, "--curl", "99").returncode == 2


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl program")
def test_curl_command_reproduces_the_request(logged_app: Path) -> None:
    with serving(logged_app) as (_, url):
        command = run("log", logged_app, "--curl", "2").stdout.strip()
        command = re.sub(r"http://127\.0\.0\.1:\d+", url, command)
        result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=30)
    assert json.loads(result.stdout) == {"name": "it's \"quoted\""}


def test_replay_same_then_different(logged_app: Path) -> None:
    same = run("replay", logged_app, "1", "2", "--json")
    assert same.returncode == 0, same.stdout + same.stderr
    results = json.loads(same.stdout)
    assert [(r["id"], r["status"], r["same"], r["diff"]) for r in results] == [
        (1, [200, 200], True, ""), (2, [202, 202], True, ""),
    ]
    assert all(isinstance(r["replay_id"], int) for r in results)
    # A replay is a new entry linked to its original, never an overwrite.
    entries = {e["id"]: e for e in json.loads(run("log", logged_app, "--json").stdout)}
    replayed = entries[results[0]["replay_id"]]
    assert (replayed["source"], replayed["replay_of"]) == ("replay", 1)
    assert entries[1]["source"] == "external"

    # Change the code: key order alone is no difference, a changed value is.
    route = logged_app / "items/[id]/route.py"
    route.write_text(route.read_text().replace("'z': 1, 'a': 2", "'a': 2, 'z': 1"))
    assert run("replay", logged_app, "1").returncode == 0
    route.write_text(route.read_text().replace("'a': 2", "'a': 3"))
    differs = run("replay", logged_app, "1", "--json")
    assert differs.returncode == 1
    (result,) = json.loads(differs.stdout)
    assert result["same"] is False
    assert '-  "a": 2,' in result["diff"] and '+  "a": 3,' in result["diff"]
    human = run("replay", logged_app, "1").stdout
    assert "differs" in human and "1 request replayed, 1 differs" in human


def test_replay_all_skips_replays_and_reports_status_changes(logged_app: Path) -> None:
    (logged_app / "echo/route.py").unlink()
    result = run("replay", logged_app, "--all", "--json")
    assert result.returncode == 1
    by_id = {r["id"]: r for r in json.loads(result.stdout)}
    assert sorted(by_id) == [1, 2, 3, 4]
    assert by_id[3]["status"] == [200, 404] and not by_id[3]["same"]
    assert by_id[4]["same"]
    again = json.loads(run("replay", logged_app, "--all", "--json").stdout)
    assert sorted(r["id"] for r in again) == [1, 2, 3, 4]  # the replays themselves are not replayed


def test_replay_against_a_running_server(logged_app: Path) -> None:
    with serving(logged_app) as (_, url):
        result = run("replay", logged_app, "1", "--url", url, "--json")
    (entry,) = json.loads(result.stdout)
    assert entry["same"] and entry["replay_id"] is not None


def test_replay_needs_ids_or_all(logged_app: Path) -> None:
    assert run("replay", logged_app).returncode == 2
    assert run("replay", logged_app, "42").returncode == 2


def test_no_log_writes_nothing(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", APP)
    with serving(app, "--no-log") as (_, url):
        httpx.get(f"{url}/items/1")
    assert not (app / ".routeconsole").exists()


def test_log_elsewhere(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", APP)
    log = tmp_path / "elsewhere.sqlite3"
    with serving(app, "--log", str(log)) as (_, url):
        httpx.get(f"{url}/items/1")
    assert [e["path"] for e in json.loads(run("log", app, "--log", log, "--json").stdout)] == ["/items/1"]


# The log in the formats other tools read ------------------------------------------------


def test_log_http_writes_every_request_masked_with_binary_bodies_beside_it(logged_app: Path, tmp_path: Path) -> None:
    out = tmp_path / "requests.http"
    done = run("log", logged_app, "--http", out)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"wrote 4 requests to {out} (and 1 body in {tmp_path / 'requests.bodies'}/)"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    assert "t0ken" not in text and "authorization: [redacted]" in text.lower()
    requests = parse_http(text, tmp_path)
    assert [(r.method, r.url.split(":", 2)[2].split("/", 1)[1]) for r in requests] == [
        ("GET", "items/7?tag=a&tag=b%20c"), ("PUT", "items/7"), ("POST", "echo"), ("GET", "missing"),
    ]  # fmt: skip
    assert requests[1].body == b'{"name":"it\'s \\"quoted\\""}'
    assert ("x-note", "a b") in requests[1].headers
    assert requests[2].body == bytes(range(256))  # from requests.bodies/3.bin
    assert stat.S_IMODE((tmp_path / "requests.bodies" / "3.bin").stat().st_mode) == 0o600

    revealed = tmp_path / "revealed.http"
    assert run("log", logged_app, "--http", revealed, "--reveal").returncode == 0
    assert ("authorization", TOKEN["authorization"]) in parse_http(revealed.read_text(), tmp_path)[0].headers


def test_replay_junit_reports_each_entry_and_each_difference(logged_app: Path, tmp_path: Path) -> None:
    route = logged_app / "items/[id]/route.py"
    route.write_text(route.read_text().replace("'z': 1", "'z': 2"))  # GET /items/7 now answers differently
    report = tmp_path / "replay.xml"
    done = run("replay", logged_app, "--all", "--junit", report)
    assert done.returncode == 1, done.stderr  # an answer differs
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "1", "0")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["GET /items/7 #1", "PUT /items/7 #2", "POST /echo #3", "GET /missing #4"]
    failure = cases["GET /items/7 #1"].find("failure")
    assert failure is not None and failure.get("message") == "the 200 response differs"
    assert '-  "z": 1' in (failure.text or "") and '+  "z": 2' in (failure.text or "")
    assert all(cases[name].find("failure") is None for name in list(cases)[1:])
    assert all(float(c.get("time") or -1) >= 0 for c in cases.values())


def test_junit_and_http_exports_are_private_and_an_unwritable_path_is_a_clear_error(
    logged_app: Path, tmp_path: Path
) -> None:
    report = tmp_path / "replay.xml"
    assert run("replay", logged_app, "--all", "--junit", report).returncode in (0, 1)
    assert stat.S_IMODE(report.stat().st_mode) == 0o600  # with --reveal its diffs hold secrets
    for args in (("replay", logged_app, "--all", "--junit", tmp_path / "no/such/dir/r.xml"),
                 ("log", logged_app, "--http", tmp_path / "no/such/dir/r.http")):  # fmt: skip
        done = run(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr
        assert "cannot write" in done.stderr and "no/such/dir" in done.stderr


def test_an_app_folder_named_like_an_option_still_gets_its_log(tmp_path: Path) -> None:
    app = write_app(tmp_path / "-api", {"x/route.py": "def GET():\n    return 'ok'\n"})
    # With export on, the writer is told the service's name: "-api" must stay a value.
    with serving(app, "--otlp", "http://127.0.0.1:9") as (_, url):
        assert httpx.get(f"{url}/x").text == "ok"
    assert [e["path"] for e in json.loads(run("log", app, "--json").stdout)] == ["/x"]

"""`log --har`, `--curl` and `--json` mask secrets unless `--reveal`; the log itself keeps them for replay."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from haralyzer import HarEntry, HarParser

from engine import MASK, RequestLog
from engine.store import default_log_path
from tests.cli.test_log_replay import ROUTECONSOLE, serving
from tests.conftest import write_app

APP = {
    "echo/route.py": (
        "from engine import Response\n"
        "def GET(request):\n"
        "    response = Response.json({'ok': True})\n"
        "    response.set_cookie('sid', 'setcookie-secret')\n"
        "    return response\n"
        "async def POST(request):\n"
        "    return Response(await request.body(), headers={'content-type': request.headers['content-type']})\n"
    ),
    "whoami/route.py": "def GET(request):\n    return {'auth': request.headers.get('authorization')}\n",
}

HEADERS = {
    "authorization": "Bearer hdr-secret",
    "Proxy-Authorization": "Basic proxy-secret",
    "cookie": "sid=cookie-secret",
    "X-API-Key": "key-secret",
    "x-auth-token": "auth-secret",
    "x-session": "custom-secret",  # secret only when config.toml's redact list names it
    "x-trace": "visible-value",
}
JSON_BODY = {"user": {"Password": "pw-secret", "name": "ada"}, "items": [{"api_key": "k-secret", "id": 1}]}
SECRETS = [
    "hdr-secret",
    "proxy-secret",
    "cookie-secret",
    "key-secret",
    "auth-secret",
    "setcookie-secret",
    "qs-secret",
    "pw-secret",
    "k-secret",
    "form-secret",
    "mp-secret",
]
VISIBLE = ["visible-value", "page=2", "ada", "lovelace", "file-content", "x-session", "custom-secret"]


def run(*args: object, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ROUTECONSOLE, *map(str, args)], capture_output=True, text=True, timeout=60, env={**env})


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No config.toml unless a test writes one: the user's own settings stay out of the tests."""
    home = tmp_path_factory.mktemp("config-home")
    return {"PATH": os.environ.get("PATH", ""), "XDG_CONFIG_HOME": str(home)}


@pytest.fixture(scope="module")
def secret_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log of: GET with secret headers and query (1), JSON (2), urlencoded (3) and multipart (4) POSTs."""
    app = write_app(tmp_path_factory.mktemp("redact") / "app", APP)
    with serving(app) as (_, url):
        httpx.get(f"{url}/echo?q=1&access_token=qs-secret&page=2", headers=HEADERS)
        httpx.post(f"{url}/echo", json=JSON_BODY)
        httpx.post(f"{url}/echo", data={"username": "lovelace", "client_secret": "form-secret"})
        httpx.post(f"{url}/echo", data={"password": "mp-secret"}, files={"token": ("t.txt", b"file-content")})
    return app


def _har(app: Path, tmp_path: Path, *args: str, env: Mapping[str, str]) -> str:
    har_file = tmp_path / "out.har"
    result = run("log", app, "--har", har_file, *args, env=env)
    assert result.returncode == 0, result.stderr
    return har_file.read_text()


def test_har_masks_secret_headers_fields_and_query_everywhere(
    secret_app: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    text = _har(secret_app, tmp_path, env=env)
    assert [s for s in SECRETS if s in text] == []
    assert [v for v in VISIBLE if v not in text] == []  # without a config, x-session is an ordinary header
    har = json.loads(text)
    get, post_json, post_form, post_multipart = har["log"]["entries"]
    request_headers = {h["name"]: h["value"] for h in get["request"]["headers"]}
    for name in ("authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"):
        assert request_headers[name] == MASK
    assert request_headers["x-trace"] == "visible-value"
    assert {h["name"]: h["value"] for h in get["response"]["headers"]}["set-cookie"] == MASK
    assert {"name": "access_token", "value": MASK} in get["request"]["queryString"]
    assert {"name": "page", "value": "2"} in get["request"]["queryString"]
    masked_json = {"user": {"Password": MASK, "name": "ada"}, "items": [{"api_key": MASK, "id": 1}]}
    assert json.loads(post_json["request"]["postData"]["text"]) == masked_json
    assert json.loads(post_json["response"]["content"]["text"]) == masked_json
    assert "client_secret=%5Bredacted%5D" in post_form["request"]["postData"]["text"]
    assert "username=lovelace" in post_form["request"]["postData"]["text"]
    assert MASK in post_multipart["request"]["postData"]["text"]
    # The trace kept in `_routeconsole` is the masked one too.
    assert ["authorization", MASK] in get["_routeconsole"]["request"]["headers"]
    assert json.loads(post_json["_routeconsole"]["request"]["body"]) == masked_json
    # An independent HAR reader still reads it.
    entries = [HarEntry(e) for e in HarParser(har).har_data["entries"]]
    assert [(e.request.method, e.response.status) for e in entries] == [
        ("GET", 200),
        ("POST", 200),
        ("POST", 200),
        ("POST", 200),
    ]


def test_har_reveal_keeps_everything(secret_app: Path, tmp_path: Path, env: dict[str, str]) -> None:
    text = _har(secret_app, tmp_path, "--reveal", env=env)
    assert [s for s in SECRETS if s not in text] == []
    assert MASK not in text


def test_curl_masks_unless_revealed(secret_app: Path, env: dict[str, str]) -> None:
    get = shlex.split(run("log", secret_app, "--curl", "1", env=env).stdout)
    assert "authorization: [redacted]" in get and "cookie: [redacted]" in get and "x-trace: visible-value" in get
    assert "access_token=%5Bredacted%5D" in get[1] and "page=2" in get[1]
    post = run("log", secret_app, "--curl", "2", env=env).stdout
    assert "pw-secret" not in post and "k-secret" not in post and "ada" in post
    masked = " ".join(run("log", secret_app, "--curl", str(n), env=env).stdout for n in (1, 2, 3, 4))
    assert [s for s in SECRETS if s in masked and s != "setcookie-secret"] == []
    revealed = " ".join(run("log", secret_app, "--curl", str(n), "--reveal", env=env).stdout for n in (1, 2, 3, 4))
    assert [s for s in SECRETS if s not in revealed and s != "setcookie-secret"] == []  # set-cookie: a response's


def test_json_masks_unless_revealed(secret_app: Path, env: dict[str, str]) -> None:
    masked = run("log", secret_app, "--json", env=env).stdout
    assert [s for s in SECRETS if s in masked] == []
    revealed = run("log", secret_app, "--json", "--reveal", env=env).stdout
    assert [s for s in SECRETS if s not in revealed] == []


def test_config_redact_list_masks_more_headers(secret_app: Path, tmp_path: Path, env: dict[str, str]) -> None:
    config = tmp_path / "home" / "routeconsole" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('redact = ["X-Session"]\n[keys]\n"log.replay" = "R"\n')
    with_default = {**env, "XDG_CONFIG_HOME": str(tmp_path / "home")}
    text = _har(secret_app, tmp_path, env=with_default)
    assert "custom-secret" not in text and "x-session" in text
    assert "custom-secret" not in run("log", secret_app, "--curl", "1", env=with_default).stdout
    # --config PATH names another file; --reveal still keeps everything.
    assert "custom-secret" not in run("log", secret_app, "--curl", "1", "--config", config, env=env).stdout
    assert "custom-secret" in run("log", secret_app, "--curl", "1", "--reveal", env=with_default).stdout


def test_a_broken_redact_list_is_a_clear_error(secret_app: Path, tmp_path: Path, env: dict[str, str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('redact = "x-session"\n')
    result = run("log", secret_app, "--curl", "1", "--config", config, env=env)
    assert result.returncode == 2
    assert "redact is a list of header names" in result.stderr and 'redact = ["x-session"]' in result.stderr


def test_the_log_keeps_real_values_and_replay_sends_the_real_token(tmp_path: Path, env: dict[str, str]) -> None:
    app = write_app(tmp_path / "app", APP)
    with serving(app) as (_, url):
        httpx.get(f"{url}/whoami", headers={"authorization": "Bearer hdr-secret"})
    replay = run("replay", app, "1", "--json", env=env)
    (result,) = json.loads(replay.stdout)
    assert result["same"], result["diff"]  # the route echoes the token: a masked one would differ
    log_path = default_log_path(app)
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
    log = RequestLog(log_path)
    try:
        replayed = log.get(result["replay_id"])
    finally:
        log.close()
    assert replayed is not None and replayed["replay_of"] == 1
    assert ["authorization", "Bearer hdr-secret"] in replayed["request"]["headers"]
    assert json.loads(replayed["response"]["body"]) == {"auth": "Bearer hdr-secret"}
    # ... while what is exported from the same log is masked.
    exported = run("log", app, "--curl", str(result["replay_id"]), env=env).stdout
    assert "hdr-secret" not in exported and "authorization: [redacted]" in exported

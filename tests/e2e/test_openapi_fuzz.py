"""Fuzz the served demo_app from its own OpenAPI document with schemathesis: no request answers 5xx.

`routeconsole serve` runs a copy of demo_app on 127.0.0.1; schemathesis generates requests for every
operation of the document `to_openapi` wrote, and each goes to the real server. Beyond what the
document says, most path parameters are ids the demo really has (so handlers run past their
404s), requests carry the demo's token (so the routes that change data run too), and methods that
take a body get one: JSON, a form, broken JSON, a multipart body without its boundary, or bytes.
Bounded (15 examples per operation, about 250 requests, no shrinking) and derandomized: every run
sends the same requests.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import engine
from engine.openapi import to_openapi
from tests.conftest import ROUTECONSOLE

DEMO = Path(__file__).resolve().parents[2] / "demo_app"
EXAMPLES_PER_OPERATION = 15
KNOWN = {  # what demo_app/_lib/store.py holds, by parameter
    "id": ["1", "2", "3"],
    "postId": ["10", "11", "12"],
    "path": ["readme.txt", "reports/2026/q3.csv"],
    "slug": ["routing", "routing/middleware"],
}
TOKEN = {"authorization": "Bearer demo-token"}

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["name", "email", "text"]), inner),
    max_leaves=6,
)
BODIES = st.one_of(
    st.none(),
    _json.map(lambda v: ("application/json", json.dumps(v).encode())),
    st.binary(max_size=16).map(lambda b: ("application/json", b)),  # not JSON, maybe not UTF-8
    st.sampled_from([b"text=hi", b"text=", b"other=1", b"%zz"]).map(lambda b: ("application/x-www-form-urlencoded", b)),
    st.binary(max_size=16).map(lambda b: ("multipart/form-data", b)),  # no boundary
    st.binary(max_size=16).map(lambda b: ("multipart/form-data; boundary=x", b)),
    st.binary(max_size=16).map(lambda b: ("text/plain", b)),
)


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`routeconsole serve` on a copy of demo_app; its log (a traceback per 500) goes to a file, since
    a pipe nobody reads until the end would fill and stall the server."""
    app = tmp_path / "demo_app"
    shutil.copytree(DEMO, app, ignore=shutil.ignore_patterns(".routeconsole", "__pycache__"))
    command = [ROUTECONSOLE, "serve", str(app), "--port", "0", "--no-log", "--no-reload"]
    with (
        (tmp_path / "server.log").open("w") as log,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True) as proc,
    ):
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            assert found, line
            yield found.group(0), app
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)


def test_schemathesis_finds_no_server_error_in_demo_app(demo_url: tuple[str, Path]) -> None:
    url, app = demo_url
    schema = schemathesis.openapi.from_dict(to_openapi(engine.load_routes(app)))
    # DELETE last: the others then still find the demo's users.
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=lambda op: op.method.upper() == "DELETE")
    assert len(operations) == 17
    with requests.Session() as session:
        for operation in operations:
            fuzz(operation, url, session)


def fuzz(operation: schemathesis.APIOperation, url: str, session: requests.Session) -> None:
    """Send EXAMPLES_PER_OPERATION requests for `operation`; fail on the first 5xx."""
    takes_body = operation.method.upper() in ("POST", "PUT", "PATCH", "DELETE")

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        phases=[Phase.generate],  # no shrinking: a failure is reported as found, over the network
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), data=st.data())
    def send(case: schemathesis.Case, data: st.DataObject) -> None:
        # sampled_from(KNOWN) first: hypothesis starts from the first branch, and leans to it.
        for name in case.path_parameters or {}:
            known = data.draw(st.one_of(st.sampled_from(KNOWN[name]), st.none()), label=name)
            if known is not None:
                case.path_parameters[name] = known
        headers = dict(TOKEN) if data.draw(st.sampled_from([True, False]), label="token") else {}
        extra = {}
        body = data.draw(BODIES, label="body") if takes_body else None
        if body is not None:
            headers["content-type"], extra["data"] = body
        response = case.call(base_url=url, session=session, headers=headers, timeout=10, **extra)
        assert response.status_code < 500, (
            f"{case.method} {response.request.url} → {response.status_code}: {response.text}"
        )

    send()

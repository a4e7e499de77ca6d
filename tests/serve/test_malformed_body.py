"""A body that `json()` or `form()` cannot read is the client's mistake: 400, not 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serve.conftest import ServeApp

pytestmark = pytest.mark.anyio

READERS = {
    "json/route.py": "async def POST(request):\n    return {'got': await request.json()}\n",
    "form/route.py": "async def POST(request):\n    return {'got': dict((await request.form()).items())}\n",
    # Code that catches the error answers in its own way, as before: it is a ValueError
    # (and, from json(), a json.JSONDecodeError).
    "own/route.py": (
        "import json\n"
        "from engine import Response\n"
        "async def POST(request):\n"
        "    try:\n"
        "        return await request.json()\n"
        "    except json.JSONDecodeError as exc:\n"
        "        return Response(f'mine: {exc.msg} at {exc.pos}', status=422)\n"
    ),
    "bug/route.py": "async def POST(request):\n    return (await request.json())['x']\n",
}


@pytest.mark.parametrize(
    ("path", "content_type", "body", "status", "text"),
    [
        ("/json", "application/json", b"{bad", 400, "Bad Request: the body is not JSON: Expecting property name"),
        ("/json", "application/json", b"\xff\xfe\xfa", 400, "Bad Request: the body is not JSON"),
        ("/json", "application/json", b"", 200, '{"got":null}'),
        ("/form", "multipart/form-data", b"a=1", 400, "not a form: multipart/form-data without a boundary"),
        ("/form", "application/x-www-form-urlencoded", b"a=1", 200, '{"got":{"a":"1"}}'),
        ("/own", "application/json", b"{bad", 422, "mine: Expecting property name enclosed in double quotes at 1"),
        ("/bug", "application/json", b"[]", 500, "TypeError"),  # the app's own mistake stays a 500
    ],
    ids=["bad-json", "not-utf", "empty-json", "multipart-no-boundary", "urlencoded", "caught", "app-bug"],
)
async def test_unreadable_body_answers_400(
    serve: ServeApp, path: str, content_type: str, body: bytes, status: int, text: str
) -> None:
    async with serve(READERS) as s:
        r = await s.request("POST", path, content=body, headers={"content-type": content_type})
        assert r.status_code == status
        assert text in r.text
        if status == 400:  # the trace still shows which handler tried to read it
            assert s.spans()[-1][3] == "raise"


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=64), multipart=st.booleans())
async def test_no_body_makes_a_reader_answer_500(serve: ServeApp, body: bytes, multipart: bool) -> None:
    content_type = "multipart/form-data; boundary=b" if multipart else "application/json"
    async with serve(READERS) as s:
        path = "/form" if multipart else "/json"
        r = await s.request("POST", path, content=body, headers={"content-type": content_type})
        assert r.status_code in (200, 400), r.text
        if r.status_code == 200 and not multipart:
            assert r.json() == {"got": json.loads(body or b"null")}

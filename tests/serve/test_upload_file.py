"""`UploadFile` from `await request.form()`, read the way Starlette and the Fetch API read files."""

from __future__ import annotations

import pytest

from tests.serve.conftest import ServeApp

pytestmark = pytest.mark.anyio

UPLOAD = """
async def POST(request):
    form = await request.form()
    f = form["upload"]
    data = (await f.read()).decode()
    again = await f.read()
    await f.seek(2)
    parts = [await f.read(3), await f.read(100)]
    return {
        "name": f.name, "filename": f.filename, "size": f.size, "type": f.content_type, "data": data,
        "again": again.decode(), "parts": [p.decode() for p in parts], "content": f.content.decode(),
        "title": form["title"],
    }
"""


async def test_upload_file_reads_like_starlette_and_fetch(serve: ServeApp) -> None:
    async with serve({"upload/route.py": UPLOAD}) as s:
        r = await s.request(
            "POST", "/upload", data={"title": "q3"}, files={"upload": ("q3.csv", "a,b\n1,é\n".encode(), "text/csv")}
        )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "name": "q3.csv",
        "filename": "q3.csv",
        "size": len("a,b\n1,é\n".encode()),
        "type": "text/csv",
        "data": "a,b\n1,é\n",
        "again": "",  # a second read() is at the end, as with a file
        "parts": ["b\n1", ",é\n"],
        "content": "a,b\n1,é\n",
        "title": "q3",
    }


async def test_empty_upload(serve: ServeApp) -> None:
    source = "async def POST(request):\n    f = (await request.form())['f']\n    return [f.size, (await f.read()).decode(), f.name]\n"
    async with serve({"upload/route.py": source}) as s:
        r = await s.request("POST", "/upload", files={"f": ("empty.txt", b"", "text/plain")})
    assert r.json() == [0, "", "empty.txt"]

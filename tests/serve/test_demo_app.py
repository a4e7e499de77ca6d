"""demo_app/ served: each feature it shows works as its files say."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import engine

pytestmark = pytest.mark.anyio

DEMO = Path(__file__).resolve().parents[2] / "demo_app"
TOKEN = {"authorization": "Bearer demo-token"}


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = engine.create_app(shutil.copytree(DEMO, tmp_path / "demo_app"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        yield client
    app.close()


async def test_users_with_route_and_handler_middleware(demo: httpx.AsyncClient) -> None:
    assert (await demo.get("/users/1")).json()["name"] == "Ada Lovelace"
    assert (await demo.get("/users/99")).status_code == 404
    assert [u["id"] for u in (await demo.get("/users", params={"q": "grace"})).json()] == ["2"]
    assert (await demo.post("/users", json={"name": "Edsger"})).status_code == 401
    created = await demo.post("/users", json={"name": "Edsger"}, headers=TOKEN)
    assert created.status_code == 201 and created.headers["x-audit"] == "POST /users"
    assert (await demo.get(created.headers["location"])).json()["name"] == "Edsger"


async def test_nested_comments_take_a_form(demo: httpx.AsyncClient) -> None:
    posted = await demo.post("/posts/10/comments", data={"text": "Nice"}, headers=TOKEN)
    assert posted.status_code == 201
    assert (await demo.get("/posts/10/comments")).json()[-1]["text"] == "Nice"


async def test_catch_all_download_and_optional_catch_all_docs(demo: httpx.AsyncClient) -> None:
    csv = await demo.get("/files/reports/2026/q3.csv")
    assert csv.headers["content-type"] == "text/csv" and csv.text.startswith("month,requests")
    assert "Welcome" in (await demo.get("/docs")).text
    assert "Global middleware runs first" in (await demo.get("/docs/routing/middleware")).text
    assert (await demo.get("/about")).headers["content-type"].startswith("text/html")


async def test_global_middleware_and_cache(demo: httpx.AsyncClient) -> None:
    assert (await demo.get("/", headers={"x-api-version": "2"})).status_code == 400
    first = (await demo.get("/posts")).json()["generated_at"]
    assert (await demo.get("/posts")).json()["generated_at"] == first

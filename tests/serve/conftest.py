from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import engine
from tests.conftest import MakeApp


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Served:
    """An app under test: an httpx client on its ASGI interface, and its traces."""

    def __init__(self, app: engine.RouteApp, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.traces: list[dict[str, Any]] = []
        app.events.subscribe(self._record)

    def _record(self, event: object) -> None:
        if isinstance(event, engine.RequestFinished):
            self.traces.append(event.trace.to_json())

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, url, **kwargs)

    def last_trace(self) -> dict[str, Any]:
        assert self.app.events.flush()
        return self.traces[-1]

    def spans(self) -> list[tuple[str, str, str, str | None]]:
        """(kind, layer, name, outcome) of the last request's spans."""
        return [(s["kind"], s["layer"], s["name"], s["outcome"]) for s in self.last_trace()["spans"]]


ServeApp = Callable[..., Any]


@pytest.fixture
def serve(make_app: MakeApp) -> ServeApp:
    @asynccontextmanager
    async def open_app(files: Mapping[str, str] | Iterable[str], **options: Any) -> AsyncIterator[Served]:
        app = engine.create_app(make_app(files), **options)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Served(app, client)
        app.close()

    return open_app

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest

GET_HANDLER = "async def GET(request):\n    return {'ok': True}\n"

MakeApp = Callable[[Mapping[str, str] | Iterable[str]], Path]


def write_app(root: Path, files: Mapping[str, str] | Iterable[str]) -> Path:
    """Write an app: a mapping of relative path -> source, or paths that get a GET handler."""
    items = files.items() if isinstance(files, Mapping) else ((f, GET_HANDLER) for f in files)
    root.mkdir(parents=True, exist_ok=True)
    for rel, source in items:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


@pytest.fixture
def make_app(tmp_path: Path) -> MakeApp:
    counter = iter(range(1_000_000))

    def make(files: Mapping[str, str] | Iterable[str]) -> Path:
        return write_app(tmp_path / f"app{next(counter)}", files)

    return make

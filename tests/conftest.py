from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests (tests/engine/test_properties.py). 200 examples a property keeps them to a
# few seconds. No deadline: on a shared 2-core machine an example's duration says nothing,
# and a timing failure would be flaky. In CI (`CI` set, as GitHub Actions and most others do)
# the examples are derandomized: a red build is then reproducible from the commit alone (CI
# keeps no example database to replay from) and never flips on a re-run; local runs stay
# random, so each run explores new inputs, and `.hypothesis/` replays what failed.
# HYPOTHESIS_PROFILE=thorough (or `pytest --hypothesis-profile thorough`) searches harder.
settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("ci", settings.get_profile("default"), derandomize=True, database=None)
settings.register_profile("thorough", settings.get_profile("default"), max_examples=20_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))

ROUTECONSOLE = str(Path(sys.executable).parent / "routeconsole")  # the installed command, for CLI tests
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


# A login that answers a fresh session each call: a replay differs from its original in secrets only.
SESSION_APP = {
    "login/route.py": (
        "import uuid\n"
        "from engine import Response\n"
        "def GET():\n"
        "    response = Response.json({'token': 'tok-' + uuid.uuid4().hex, 'user': 'ada'})\n"
        "    response.set_cookie('sid', 'sid-' + uuid.uuid4().hex)\n"
        "    return response\n"
    ),
}

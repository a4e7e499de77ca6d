"""The optional C twins (setup.py) are built wherever they can be.

setup.py marks them optional, so a failed build only warns and the Python code serves: the
same answers, slower. Where a compiler and Python's headers are present, a missing module
is a broken build, and this fails rather than let it pass as a quiet slowdown.
"""

from __future__ import annotations

import importlib
import shutil
import sysconfig
from pathlib import Path

import pytest


@pytest.mark.parametrize("module", ["engine._fastmatch", "engine._fastwire"])
def test_each_c_twin_was_built_where_it_can_be(module: str) -> None:
    headers = Path(sysconfig.get_paths()["include"], "Python.h").exists()
    if not (headers and (shutil.which("cc") or shutil.which("gcc"))):
        pytest.skip("no C compiler or Python headers here: the Python code serves")
    try:
        importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{module} did not build ({exc}): run `pip install -v -e .` to see why")

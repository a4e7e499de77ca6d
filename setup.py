"""The one thing pyproject.toml cannot say: C extensions that are optional.

engine._fastmatch (route lookups) and engine._fastwire (the request log's frames) each repeat
in C what a Python module defines. Where no C compiler (or no Python headers) is found, the
build goes on without them and the Python code serves: the same answers, slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("engine._fastmatch", ["engine/_fastmatch.c"], optional=True),
        Extension("engine._fastwire", ["engine/_fastwire.c"], optional=True),
    ]
)

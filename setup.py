"""The one thing pyproject.toml cannot say: engine._fastmatch, a C extension that is optional.

Where no C compiler (or no Python headers) is found, the build goes on without it and
engine/matcher.py matches in Python: the same answers, slower (see engine/_fastmatch.c).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("engine._fastmatch", ["engine/_fastmatch.c"], optional=True)])

"""An in-memory store, so the demo runs with nothing to set up."""

from __future__ import annotations

import itertools

USERS: dict[str, dict[str, object]] = {
    "1": {"id": "1", "name": "Ada Lovelace", "email": "ada@example.com"},
    "2": {"id": "2", "name": "Grace Hopper", "email": "grace@example.com"},
    "3": {"id": "3", "name": "Alan Turing", "email": "alan@example.com"},
}

POSTS: dict[str, dict[str, object]] = {
    "10": {"id": "10", "author": "1", "title": "Notes on the Analytical Engine", "body": "It weaves algebra."},
    "11": {"id": "11", "author": "2", "title": "A moth in the relay", "body": "First actual bug found."},
    "12": {"id": "12", "author": "3", "title": "Computing machinery", "body": "Can machines think?"},
}

COMMENTS: dict[str, list[dict[str, object]]] = {
    "10": [{"id": "100", "author": "2", "text": "Lovely tables."}],
    "11": [],
    "12": [{"id": "101", "author": "1", "text": "Only if we teach them."}],
}

FILES: dict[str, str] = {
    "readme.txt": "routeconsole demo files\n",
    "reports/2026/q3.csv": "month,requests\njul,1200\naug,1350\nsep,1420\n",
    "reports/2026/q4.csv": "month,requests\noct,1510\n",
}

DOCS: dict[str, str] = {
    "": "Welcome to the demo docs. Try /docs/routing or /docs/routing/middleware.",
    "routing": "Files under app/ become URLs; [id] folders are parameters.",
    "routing/middleware": "Global middleware runs first, then route middleware, then the handler.",
}

_ids = itertools.count(1000)


def next_id() -> str:
    return str(next(_ids))

"""Docs pages: /docs, /docs/routing, /docs/routing/middleware (an optional catch-all)."""

import html

from _lib.store import DOCS

from engine import Response


def page(request, params):
    slug = "/".join(params.get("slug", []))
    text = DOCS.get(slug)
    if text is None:
        return Response(f"<h1>Not found</h1><p>No docs page {html.escape(slug)}</p>", status=404,
                        headers={"content-type": "text/html; charset=utf-8"})
    return f"<h1>Docs: {html.escape(slug or 'home')}</h1><p>{html.escape(text)}</p>"

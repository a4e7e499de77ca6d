"""Global middleware: runs before routing, for every request, 404s included."""

from __future__ import annotations

from engine import Response

SUPPORTED_VERSIONS = {"1"}


def middleware(request):
    version = request.headers.get("x-api-version")
    if version is not None and version not in SUPPORTED_VERSIONS:
        return Response.json({"error": f"API version {version} is not supported; use 1"}, status=400)
    return None

"""Route middleware shared by the routes that change data."""

from __future__ import annotations

from engine import Response

TOKENS = {"Bearer demo-token": "ada"}


async def require_user(request, next):
    """Answer 401 unless the request carries a known bearer token; pass the user on."""
    user = TOKENS.get(request.headers.get("authorization", ""))
    if user is None:
        return Response.json(
            {"error": "send 'Authorization: Bearer demo-token'"},
            status=401,
            headers={"www-authenticate": "Bearer"},
        )
    return await next(context={"user": user})


async def audit(request, next):
    """Stamp the response with who changed what."""
    response = await next()
    response.headers["x-audit"] = f"{request.method} {request.path}"
    return response

"""GET, PATCH, DELETE /users/[id]. Route middleware loads the user; changes need a token."""

from _lib.auth import audit, require_user
from _lib.store import USERS

from engine import Response, use


async def load_user(request, next, params):
    """Route middleware: 404 early for unknown ids, hand the user to the handlers."""
    user = USERS.get(params["id"])
    if user is None:
        return Response.json({"error": f"no user {params['id']}"}, status=404)
    return await next(context={"found": user})


middleware = [load_user]


def GET(context):
    """One user, by id (404 for an unknown one)."""
    return context["found"]


@use(require_user, audit)
async def PATCH(request, context):
    """Change a user's name or email (signed in)."""
    changes = await request.json()
    if not isinstance(changes, dict):
        return Response.json({"error": "send a JSON object of the fields to change"}, status=422)
    context["found"].update({k: v for k, v in changes.items() if k in ("name", "email")})
    return context["found"]


@use(require_user, audit)
async def DELETE(params):
    """Delete a user (signed in)."""
    USERS.pop(params["id"], None)
    return None

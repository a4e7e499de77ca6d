"""GET /users (with ?q= search), POST /users (signed in)."""

from _lib.auth import audit, require_user
from _lib.store import USERS, next_id

from engine import Response, use


def GET(request):
    """List the users.

    `?q=` keeps those whose name contains it (any case). (`routeconsole openapi demo_app` turns
    this docstring into the operation's summary and description.)
    """
    q = request.query.get("q", "").lower()
    return [u for u in USERS.values() if q in str(u["name"]).lower()]


@use(require_user, audit)
async def POST(request, context):
    """Create a user.

    Send `{"name": ..., "email": ...}` with `Authorization: Bearer demo-token`; answers 201 with
    the user and its `location`, or 422 without a name.
    """
    data = await request.json()
    if not isinstance(data, dict) or not data.get("name"):
        return Response.json({"error": "a user needs a name"}, status=422)
    user = {"id": next_id(), "name": data["name"], "email": data.get("email"), "created_by": context["user"]}
    USERS[str(user["id"])] = user
    return Response.json(user, status=201, headers={"location": f"/users/{user['id']}"})

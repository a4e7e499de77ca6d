"""GET and POST /posts/[postId]/comments: comments nested under a post.

POST takes a form (urlencoded or multipart) with a `text` field.
"""

from _lib.auth import require_user
from _lib.store import COMMENTS, next_id

from engine import Response, use


def GET(params):
    return COMMENTS.get(params["postId"], [])


@use(require_user)
async def POST(request, params, context):
    if params["postId"] not in COMMENTS:
        return Response.json({"error": "no such post"}, status=404)
    text = (await request.form()).get("text")
    if not text:
        return Response.json({"error": "send a form with a 'text' field"}, status=422)
    comment = {"id": next_id(), "author": context["user"], "text": text}
    COMMENTS[params["postId"]].append(comment)
    return Response.json(comment, status=201)

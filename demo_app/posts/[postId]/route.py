"""GET /posts/[postId]."""

from _lib.store import POSTS

from engine import Response


def GET(params):
    post = POSTS.get(params["postId"])
    return post if post else Response.json({"error": "no such post"}, status=404)

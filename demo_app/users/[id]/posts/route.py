"""GET /users/[id]/posts: the posts one user wrote."""

from _lib.store import POSTS


def GET(params):
    return [p for p in POSTS.values() if p["author"] == params["id"]]

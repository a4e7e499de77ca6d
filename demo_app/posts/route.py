"""GET /posts: every post, cached for 30 s (`revalidate`)."""

import time

from _lib.store import POSTS

revalidate = 30


def GET(request):
    return {"generated_at": time.time(), "posts": list(POSTS.values())}

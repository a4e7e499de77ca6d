"""GET /status: built once and cached until the file is reloaded."""

import platform
import time

dynamic = "force-static"

STARTED = time.time()


def GET():
    return {"python": platform.python_version(), "started_at": STARTED}

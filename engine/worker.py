"""The app a hypercorn worker process loads for `routeconsole serve --workers N`."""

from __future__ import annotations

import os

from .app import create_app

app = create_app(
    os.environ["ROUTECONSOLE_WORKER_APP"],
    convention=os.environ.get("ROUTECONSOLE_WORKER_CONVENTION") or None,
    debug=os.environ.get("ROUTECONSOLE_WORKER_DEBUG") == "True",
)

"""The app a hypercorn worker process loads for `routeconsole serve --workers N`.

Each worker loads the app, follows file changes and sends its traces to the one request
log writer (`engine.feed`), over a connection of its own.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

from .app import create_app
from .child import die_with_parent
from .feed import LogFeed
from .loader import IMPORT_GRACE
from .reload import Reloader
from .visible import VisibleFormatter

# Route code's exceptions reach the worker's stderr (a terminal) through these records: show
# their control characters as stand-ins, as `serve` does with one process.
_logger = logging.getLogger("routeconsole")
if not _logger.handlers:
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(VisibleFormatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    _logger.addHandler(_handler)
    _logger.setLevel(logging.INFO)


def _env(name: str) -> str:
    return os.environ.get(f"ROUTECONSOLE_WORKER_{name}", "")


die_with_parent(watch_stdin=False)  # a worker never outlives the process that started it
app = create_app(
    _env("APP"),
    convention=_env("CONVENTION") or None,
    debug=_env("DEBUG") == "True",
    import_grace=float(_env("IMPORT_GRACE") or IMPORT_GRACE),
    otlp=_env("OTLP") or None,  # and with OTEL_EXPORTER_OTLP_ENDPOINT, inherited, the worker exports its requests
    export=_env("EXPORT") != "False",  # unless the log's writer exports them
)

if _env("FEED"):
    _feed = LogFeed.connect(_env("FEED"))
    _feed.attach(app.events)
    _feed.send_before_exit()

    @atexit.register
    def _close_feed() -> None:
        app.events.flush()
        _feed.close()


if _env("RELOAD") == "True":
    Reloader(app).start()

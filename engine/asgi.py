"""An ASGI application factory, for running an app under any ASGI server with several workers.

    ROUTECONSOLE_APP=./app hypercorn 'engine.asgi:create()' --workers 4
    ROUTECONSOLE_APP=./app uvicorn engine.asgi:create --factory --workers 4
    ROUTECONSOLE_APP=./app granian --interface asgi --factory engine.asgi:create --workers 4

Each worker process calls `create()` and gets its own `engine.create_app(...)`. Variables:

- `ROUTECONSOLE_APP`: the route folder (required).
- `ROUTECONSOLE_CONVENTION`: next, tanstack or expo (detected when unset).
- `ROUTECONSOLE_LOG`: a request log to append every request to. Each worker writes its own
  requests to the one file (SQLite in WAL mode takes several writers, each waiting its turn),
  and `routeconsole log`, `replay` and `watch` read it while they write. Unset: no log.
- `ROUTECONSOLE_DEBUG=1`: tracebacks in 500 responses (never in production).
- `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`): each worker exports its requests
  to that OpenTelemetry collector (`engine.otel`; the `otel` extra).
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path

from .app import RouteApp, create_app
from .errors import EngineError
from .store import RequestLog


def create() -> RouteApp:
    """The app `ROUTECONSOLE_APP` names, logging to `ROUTECONSOLE_LOG` when it is set."""
    app_dir = os.environ.get("ROUTECONSOLE_APP")
    if not app_dir:
        raise EngineError("engine.asgi:create needs ROUTECONSOLE_APP, the folder of the route files")
    app = create_app(
        app_dir,
        convention=os.environ.get("ROUTECONSOLE_CONVENTION") or None,
        debug=os.environ.get("ROUTECONSOLE_DEBUG") == "1",
    )
    log_path = os.environ.get("ROUTECONSOLE_LOG")
    if log_path:
        request_log = RequestLog(Path(log_path))
        request_log.attach(app.events)

        @atexit.register  # an ASGI server need not send lifespan events: the last batch is written at exit
        def _close_log() -> None:
            app.events.flush()
            request_log.close()

    return app

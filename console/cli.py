"""The `routeconsole` command.

    routeconsole [APP]                              the console (APP defaults to .)
    routeconsole list APP [--json]                  routes and problems
    routeconsole check APP [--json] [--strict]      exit 0 clean, 1 errors, 2 unusable input
    routeconsole openapi APP [--out FILE]           an OpenAPI 3.1 document of the routes
    routeconsole match APP PATH [--method M] [--json]
    routeconsole serve APP [--host H] [--port P] [--workers N] [--debug] [--no-reload] [--otlp URL]
    routeconsole log APP [--json] [--limit N] [--har FILE] [--curl ID] [--reveal]   secrets masked
    routeconsole replay APP [ID ...|--all] [--url URL] [--json] [--reveal]   exit 1 when any answer differs

Every subcommand calls the engine's public functions and prints a table for people or
JSON in the shapes of the brief (section 5), which tests and tools parse. Tables for people
show paths, file names, headers and errors through `visible()`: a control character from
traffic or from a file name never reaches the terminal raw. JSON goes through `json_safe()`:
`json.dumps` escapes C0 controls but leaves DEL, C1 controls (`\\x9b`), bidi controls and
line separators raw, so those become `\\uXXXX` escapes (the same JSON data, safe to print).
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

import engine
from engine.app import DEFAULT_BODY_LIMIT, check_export, otlp_wanted
from engine.explain import Explanation, explain
from engine.export import to_curl, to_har, write_private
from engine.httpfile import write_http
from engine.junit import to_junit
from engine.redact import redact_urlencoded
from engine.replay import ReplayResult, replay_entries
from engine.server import DEFAULT_HOST, DEFAULT_PORT, is_loopback
from engine.store import RequestLog, default_log_path, open_log
from engine.visible import VisibleFormatter, json_safe, visible

from .config import Config, ConfigError, load_config
from .render import contest_view

if TYPE_CHECKING:
    from .bridge import Running

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

METHOD_STYLES = {
    "GET": "green",
    "HEAD": "green",
    "POST": "yellow",
    "PUT": "blue",
    "PATCH": "cyan",
    "DELETE": "red",
    "OPTIONS": "magenta",
}
SEVERITY_STYLES = {"error": "bold red", "warning": "yellow"}


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--convention", metavar="NAME", help="force a dialect: next, tanstack or expo")
    parser.add_argument(
        "--log", metavar="PATH", type=Path, help="request log file (default APP/.routeconsole/log.sqlite3)"
    )
    parser.add_argument("--no-log", action="store_true", help="keep no request log")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="routeconsole",
        description="A developer console for file-based HTTP routes in Python.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="print the routes and their problems")
    p.add_argument("app", metavar="APP")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_common(p)

    p = sub.add_parser("check", help="report conflicts; exit 1 on errors")
    p.add_argument("app", metavar="APP")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    _add_common(p)

    p = sub.add_parser("serve", help="serve the app with hypercorn")
    p.add_argument("app", metavar="APP")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    p.add_argument("--debug", action="store_true", help="send tracebacks to the client in 500 responses")
    p.add_argument("--body-limit", type=int, default=DEFAULT_BODY_LIMIT, metavar="BYTES", help="413 above this")
    p.add_argument("--no-reload", action="store_true", help="do not follow changes to the route files")
    _add_import_grace(p)
    _add_otlp(p)
    _add_common(p)

    p = sub.add_parser("log", help="show logged requests")
    p.add_argument("app", metavar="APP")
    p.add_argument("--json", action="store_true", help="print the traces as JSON, newest last")
    p.add_argument("--limit", type=int, metavar="N", help="only the newest N")
    p.add_argument("--har", metavar="FILE", type=Path, help="write the log as HAR 1.2 to FILE")
    p.add_argument("--curl", metavar="ID", type=int, help="print entry ID as a curl command")
    p.add_argument(
        "--http", metavar="FILE", type=Path, help="write the log as a .http file (VS Code REST Client, JetBrains)"
    )
    p.add_argument(
        "--reveal", action="store_true", help="keep secrets (authorization, cookies, passwords...) instead of masking"
    )
    p.add_argument(
        "--config", metavar="PATH", type=Path, help="settings file whose redact list names more secret headers"
    )
    _add_common(p)

    p = sub.add_parser("replay", help="re-send logged requests to the current code and diff the answers")
    p.add_argument("app", metavar="APP")
    p.add_argument("ids", metavar="ID", type=int, nargs="*", help="log entries to replay")
    p.add_argument("--all", action="store_true", help="replay every logged request (replays excluded)")
    p.add_argument("--url", help="send to a running server instead of loading APP in-process")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--reveal", action="store_true", help="show secrets (set-cookie, tokens...) in the diffs instead of masking"
    )
    p.add_argument("--junit", metavar="FILE", type=Path, help="also write a JUnit XML report (one test per request)")
    _add_common(p)

    p = sub.add_parser("watch", help="the console over an app served elsewhere, following its request log")
    p.add_argument("app", metavar="APP", help="the app's route files (for the tree and its problems)")
    p.add_argument(
        "--url", default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}", help="where the app answers (composer, replay)"
    )
    p.add_argument("--log", metavar="PATH", type=Path, help="its request log (default APP/.routeconsole/log.sqlite3)")
    p.add_argument("--convention", metavar="NAME", help="force a dialect: next, tanstack or expo")
    p.add_argument("--theme", metavar="NAME", help="dark, light or high-contrast (or a theme of your own)")
    p.add_argument("--config", metavar="PATH", type=Path, help="settings file")

    p = sub.add_parser("match", help="show which route a request reaches, without running it")
    p.add_argument("app", metavar="APP")
    p.add_argument("path", metavar="PATH", help="the request path, e.g. /users/42")
    p.add_argument("--method", "-X", default="GET", help="HTTP method (default GET)")
    p.add_argument(
        "--explain", action="store_true", help="also every route that matches, why each lost, and near misses"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_common(p)

    p = sub.add_parser("openapi", help="print an OpenAPI 3.1 document of the routes, read from the files")
    p.add_argument("app", metavar="APP")
    p.add_argument("--out", metavar="FILE", type=Path, help="write the document to FILE instead of printing it")
    _add_common(p)
    return parser


def _console_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="routeconsole",
        description="Open the console on APP: routes, live requests and their traces, a composer.",
        epilog="Other commands: list, check, match, serve, log, replay (routeconsole --help).",
    )
    parser.add_argument("app", metavar="APP", nargs="?", default=".")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"interface to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks one)")
    parser.add_argument("--theme", metavar="NAME", help="dark, light or high-contrast (or a theme of your own)")
    parser.add_argument(
        "--config", metavar="PATH", type=Path, help="settings file (default ~/.config/routeconsole/config.toml)"
    )
    parser.add_argument("--debug", action="store_true", help="send tracebacks to the client in 500 responses")
    parser.add_argument("--no-reload", action="store_true", help="do not follow changes to the route files")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    _add_import_grace(parser)
    _add_otlp(parser)
    _add_common(parser)
    return parser


def _add_import_grace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--import-grace",
        type=float,
        default=engine.IMPORT_GRACE,
        metavar="SECONDS",
        help=f"a route file still importing after this answers 503 until it is done (default {engine.IMPORT_GRACE:g})",
    )


def _add_otlp(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--otlp",
        metavar="URL",
        help="export every request as OpenTelemetry spans to this collector's OTLP/HTTP base URL (traces go to "
        "URL/v1/traces; OTEL_EXPORTER_OTLP_ENDPOINT does the same; needs pip install 'routeconsole[otel]')",
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "list": cmd_list,
        "check": cmd_check,
        "match": cmd_match,
        "serve": cmd_serve,
        "log": cmd_log,
        "replay": cmd_replay,
        "watch": cmd_watch,
        "openapi": cmd_openapi,
    }
    if args_list and args_list[0] in commands:
        args = _parser().parse_args(args_list)
        command = commands[args.command]
    elif args_list and args_list[0] in ("-h", "--help"):
        _parser().print_help()
        return EXIT_OK
    else:
        args = _console_parser().parse_args(args_list)
        command = cmd_console
    try:
        return command(args)
    except engine.EngineError as exc:
        print(f"routeconsole: {visible(str(exc), multiline=True)}", file=sys.stderr)
        return EXIT_USAGE


def _load(args: argparse.Namespace) -> engine.RouteTable:
    return engine.load_routes(args.app, convention=args.convention)


def _out() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        # Piped output is read by tools and people alike: don't crop rows at 80 columns.
        console = Console(highlight=False, width=max(console.width, 160))
    return console


def _print_json(data: object) -> None:
    sys.stdout.write(json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")


def cmd_list(args: argparse.Namespace) -> int:
    table = _load(args)
    if args.json:
        _print_json(table.to_json())
        return EXIT_OK
    _print_routes(_out(), table)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    table = _load(args)
    failing = table.errors or (args.strict and table.warnings)
    if args.json:
        _print_json([c.to_json() for c in table.conflicts])
    else:
        out = _out()
        _print_conflicts(out, table.conflicts)
        if not table.conflicts:
            out.print(f"{len(table.routes)} routes, no problems ({table.convention} convention)")
    return EXIT_PROBLEMS if failing else EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    table = _load(args)
    method = args.method.upper()
    path = args.path.split("?", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    if args.explain:
        return _print_explanation(explain(table, method, path), method, path, as_json=args.json)
    match = table.match(method, path)
    if args.json:
        _print_json(match.to_json(method, path))
        return EXIT_OK
    _print_match(_out(), match, method, path)
    return EXIT_OK


def _print_explanation(explanation: Explanation, method: str, path: str, *, as_json: bool) -> int:
    if as_json:
        _print_json(explanation.to_json(method, path))
        return EXIT_OK
    out = _out()
    _print_match(out, explanation.match, method, path)
    out.print()
    out.print(contest_view(explanation, "bold green", "bold red"))
    return EXIT_OK


def _print_match(out: Console, match: engine.Match, method: str, path: str) -> None:
    line = Text()
    line.append(f"{visible(method)} ", style=METHOD_STYLES.get(method, "bold"))
    line.append(f"{visible(path)} → ")
    line.append(str(match.status), style=_status_style(match.status))
    if match.pattern:
        line.append(f"  {visible(match.pattern)}", style="bold")
        line.append(f"  ({visible(str(match.file))})", style="dim")
    elif match.location:
        line.append(f"  redirect to {visible(match.location)}")
    out.print(line)
    for name, value in match.params.items():
        out.print(Text(visible(f"  {name} = {json.dumps(value)}")))
    if match.status == 405:
        out.print(Text(f"  Allow: {', '.join(match.allow)}"))
    if match.route is not None and match.route.error:
        out.print(Text(visible(f"  {match.route.error}", multiline=True), style="red"))


def cmd_openapi(args: argparse.Namespace) -> int:
    from engine.openapi import to_openapi

    document = to_openapi(_load(args))
    if args.out is None:
        _print_json(document)
        return EXIT_OK
    try:
        args.out.write_text(json_safe(json.dumps(document, indent=2, ensure_ascii=False)) + "\n", encoding="utf-8")
    except OSError as exc:
        raise engine.EngineError(f"cannot write {args.out}: {exc.strerror or exc}") from exc
    operations = sum(1 for item in document["paths"].values() for key in item if key in _OPENAPI_METHODS)
    print(
        visible(f"wrote {_plural(len(document['paths']), 'path')}, {_plural(operations, 'operation')} to {args.out}"),
        file=sys.stderr,
    )
    return EXIT_OK


_OPENAPI_METHODS = frozenset(m.lower() for m in METHOD_STYLES)


def cmd_serve(args: argparse.Namespace) -> int:
    from engine.feed import WriterProcess
    from engine.server import bind_socket, serve_logged, serve_workers, url_of

    _log_to_stderr(logging.INFO, "%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.workers < 1:
        raise engine.EngineError(f"--workers takes a number of processes (1 or more), got {args.workers}")
    if not is_loopback(args.host):
        print(
            f"routeconsole: warning: listening on {args.host} exposes the app beyond this machine",
            file=sys.stderr,
        )
    # OpenTelemetry spans are made by the log's writer process from the traces it is sent
    # anyway: the serving process never loads the SDK (engine.feed.WriterProcess).
    export = otlp_wanted(args.otlp)
    if export:
        check_export(args.otlp)
    app = engine.create_app(
        args.app,
        convention=args.convention,
        debug=args.debug,
        body_limit=args.body_limit,
        import_grace=args.import_grace,
        export=False,
    )
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        raise engine.EngineError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    table = app.table

    def announce() -> None:
        problems = f", {_plural(len(table.errors), 'error')}" if table.errors else ""
        routes = _plural(len(table.routes), "route")
        print(
            visible(f"routeconsole: serving {args.app} ({table.convention}, {routes}{problems}) on {url_of(sock)}"),
            flush=True,
        )
        for conflict in table.errors:
            print(visible(f"  {conflict.kind}: {conflict.message}"), file=sys.stderr, flush=True)

    log_path = _log_path(args)
    # The log is written by a process of its own, fed by the server(s): serving pays only for
    # sending each trace (engine.feed).
    writer = None
    if log_path or export:
        service = app.app_dir.resolve().name
        writer = WriterProcess.start(log_path, export=export, otlp=args.otlp, service=service)
    try:
        if args.workers > 1:
            app.close()
            announce()
            options = {
                "convention": args.convention,
                "debug": args.debug,
                "import_grace": args.import_grace,
                "feed": writer.address if writer else None,
                "reload": not args.no_reload,
                "export": False,
            }
            return serve_workers(app.app_dir, sock, args.workers, options)
        feed = writer.feed() if writer else None
        serve_logged(app, sock, announce, log=feed, reload=not args.no_reload)
    finally:
        if writer is not None:
            writer.stop()
    return EXIT_OK


def _log_to_stderr(level: int, fmt: str) -> None:
    """Log records to stderr with their control characters as stand-ins: route code's exception
    messages and tracebacks are in them, and must not move the terminal."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(VisibleFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])


def _log_path(args: argparse.Namespace) -> Path | None:
    if args.no_log:
        return None
    return args.log if args.log is not None else default_log_path(Path(args.app))


def _read_log(args: argparse.Namespace) -> list[dict[str, Any]]:
    if not Path(args.app).is_dir():
        raise engine.AppNotFound(f"{args.app}: no such directory; pass the folder that holds your route files")
    path = _log_path(args)
    if path is None:
        raise engine.EngineError("--no-log leaves no log to read; drop it, or name one with --log PATH")
    return list(open_log(path)) if path.exists() else []


def _redact_list(config: Path | None) -> tuple[str, ...]:
    """The secret headers config.toml's `redact` list names, beyond the built-in ones."""
    try:
        return tuple(load_config(config).redact)
    except ConfigError as exc:
        raise engine.EngineError(str(exc)) from exc


def cmd_log(args: argparse.Namespace) -> int:
    entries = _read_log(args)
    redact = _redact_list(args.config)  # more secret headers; the log itself keeps real values
    if args.curl is not None:
        entry = next((e for e in entries if e["id"] == args.curl), None)
        if entry is None:
            raise engine.EngineError(f"no log entry {args.curl}; `routeconsole log {args.app}` lists them")
        # Quoted for a shell, not for a terminal: a control character in it is shown as a stand-in.
        print(visible(to_curl(entry, reveal=args.reveal, redact=redact)))
        return EXIT_OK
    if args.limit is not None:
        entries = entries[-args.limit :] if args.limit > 0 else []
    if args.har is not None:
        har = to_har(entries, reveal=args.reveal, redact=redact)
        write_private(args.har, json_safe(json.dumps(har, indent=2, ensure_ascii=False)))
        print(f"wrote {_plural(len(entries), 'request')} to {args.har}", file=sys.stderr)
        return EXIT_OK
    if args.http is not None:
        try:
            _write_http(args.http, entries, reveal=args.reveal, redact=redact)
        except OSError as exc:
            raise engine.EngineError(f"cannot write {args.http}: {exc.strerror}") from exc
        return EXIT_OK
    if args.json:
        _print_json(entries if args.reveal else [engine.redact_entry(e, headers=redact) for e in entries])
        return EXIT_OK
    out = _out()
    if not entries:
        out.print("no requests logged yet")
        return EXIT_OK
    grid = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("ID", "TIME", "METHOD", "PATH", "STATUS", "MS", "ROUTE", "SOURCE"):
        grid.add_column(name, no_wrap=True, justify="right" if name in ("ID", "MS") else "left")
    for e in entries:
        # The query's secret fields (`?access_token=...`) are masked as in --json, unless --reveal.
        query = f"?{e['query'] if args.reveal else redact_urlencoded(e['query'])}" if e["query"] else ""
        source = f"replay of #{e['replay_of']}" if e["replay_of"] else e["source"]
        grid.add_row(
            str(e["id"]),
            e["time"][11:23],
            Text(visible(e["method"]), style=METHOD_STYLES.get(e["method"], "")),
            Text(visible(e["path"] + query)),
            Text(str(e["status"]), style=_status_style(e["status"])),
            f"{e['duration_ms']:.1f}",
            Text(visible((e["route"] or {}).get("pattern") or "—")),
            Text(visible(source)),
        )
    out.print(grid)
    return EXIT_OK


def _write_http(path: Path, entries: list[dict[str, Any]], *, reveal: bool, redact: Sequence[str]) -> None:
    """The entries as a .http file; bodies it cannot hold as text go to files beside it."""
    bodies = write_http(path, entries, reveal=reveal, redact=redact)
    count = len(bodies)
    also = f" (and {count} {'body' if count == 1 else 'bodies'} in {bodies[0].parent}/)" if bodies else ""
    print(f"wrote {_plural(len(entries), 'request')} to {path}{also}", file=sys.stderr)


def cmd_replay(args: argparse.Namespace) -> int:
    entries = _read_log(args)
    if args.all:
        chosen = [e for e in entries if e["source"] != "replay"]
    elif args.ids:
        by_id = {e["id"]: e for e in entries}
        missing = [i for i in args.ids if i not in by_id]
        if missing:
            raise engine.EngineError(f"no log entry {', '.join(map(str, missing))}; `routeconsole log` lists them")
        chosen = [by_id[i] for i in args.ids]
    else:
        raise engine.EngineError("name the entries to replay (IDs from `routeconsole log`) or pass --all")
    results = _replay(args, chosen, _redact_list(None))
    if args.junit is not None:
        report = to_junit(results, name=f"routeconsole replay {Path(args.app).resolve().name}")
        try:  # 0600, like every export: with --reveal its diffs hold secrets
            write_private(args.junit, report)
        except OSError as exc:
            raise engine.EngineError(f"cannot write {args.junit}: {exc.strerror}") from exc
        print(f"wrote a JUnit report of {_plural(len(results), 'request')} to {args.junit}", file=sys.stderr)
    if args.json:
        _print_json([r.to_json() for r in results])
    else:
        out = _out()
        for r in results:
            line = Text(f"#{r.id} ")
            line.append(visible(r.method), style=METHOD_STYLES.get(r.method, ""))
            line.append(f" {visible(r.path)}  {r.status[0]} → {r.status[1]}  ")
            line.append("same" if r.same else "differs", style="green" if r.same else "bold red")
            if r.replay_id:
                line.append(f"  (logged as #{r.replay_id})", style="dim")
            out.print(line)
            for diff_line in r.diff.splitlines():
                style = "red" if diff_line.startswith("-") else "green" if diff_line.startswith("+") else "dim"
                out.print(Text("    " + visible(diff_line), style=style))
        differ = sum(not r.same for r in results)
        out.print(f"{_plural(len(results), 'request')} replayed, {differ} differ{'s' * (differ == 1)}")
    return EXIT_PROBLEMS if any(not r.same for r in results) else EXIT_OK


def _replay(args: argparse.Namespace, chosen: list[dict[str, Any]], redact: Sequence[str]) -> list[ReplayResult]:
    """Replay and diff; the diffs mask secrets unless --reveal (whether answers differ is
    decided on the real values)."""
    log_path = _log_path(args)
    if args.url:
        # The server at --url logs the replays itself; find them in the log it shares with us.
        reader = RequestLog(log_path) if log_path and log_path.exists() else None
        try:
            with httpx.Client(timeout=30) as client:
                find = (lambda original: reader.wait_for_replay(original)) if reader else None
                return replay_entries(
                    chosen, client=client, base=args.url, find_replay=find, reveal=args.reveal, redact=redact
                )
        finally:
            if reader is not None:
                reader.close()
    from engine.server import Server

    _log_to_stderr(logging.WARNING, logging.BASIC_FORMAT)
    # A replay is a check, not traffic: it never goes to a collector, whatever the variables say.
    app = engine.create_app(args.app, convention=args.convention, export=False)
    request_log = RequestLog(log_path) if log_path else None
    if request_log is not None:
        request_log.attach(app.events)
    server = Server(app, port=0)
    url = server.start()

    def find_replay(original: int) -> int | None:
        if request_log is None:
            return None
        return request_log.wait_for_replay(original, before=lambda: app.events.flush() and request_log.flush())

    try:
        with httpx.Client(timeout=30) as client:
            return replay_entries(
                chosen, client=client, base=url, find_replay=find_replay, reveal=args.reveal, redact=redact
            )
    finally:
        server.stop()
        if request_log is not None:
            app.events.flush()
            request_log.close()


def cmd_watch(args: argparse.Namespace) -> int:
    config = _console_config(args)
    log = args.log if args.log is not None else default_log_path(Path(args.app))
    if Path(args.app).is_dir() and not log.exists():  # a mistyped path would follow an empty log forever
        raise engine.EngineError(f"{log}: no request log there; start the server first, or name its log with --log")
    running = engine.WatchedEngine(args.app, url=args.url, log=log, convention=args.convention)
    return _run_console(running, config, args.theme, lambda: running.start())


def _console_config(args: argparse.Namespace) -> Config:
    try:
        return load_config(args.config)
    except ConfigError as exc:
        raise engine.EngineError(str(exc)) from exc


def _run_console(running: Running, config: Config, theme: str | None, start: Callable[[], object]) -> int:
    """Open the console on `running`: `start()` it once the console is built, stop it after."""
    from .app import ConsoleApp
    from .theming import ThemeError

    try:
        app = ConsoleApp(running, config=config, theme=theme, freeze_heap=True)
    except ThemeError as exc:
        running.stop()
        raise engine.EngineError(str(exc)) from exc
    start()
    try:
        app.run()
    finally:
        stuck = running.stop()
    if stuck:
        # A handler still spins; its thread would hold the interpreter open forever.
        print(f"routeconsole: {len(stuck)} handler(s) still running at exit; leaving without them", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(app.return_code or EXIT_OK)
    return app.return_code or EXIT_OK


def cmd_console(args: argparse.Namespace) -> int:
    config = _console_config(args)
    if not is_loopback(args.host):
        print(f"routeconsole: warning: listening on {args.host} exposes the app beyond this machine", file=sys.stderr)
    log: Path | bool | None = None if args.no_log else (args.log or True)
    running = engine.SupervisedEngine(  # the app in a process of its own: it cannot slow or stop the UI
        args.app,
        host=args.host,
        port=args.port,
        convention=args.convention,
        log=log,
        reload=not args.no_reload,
        debug=args.debug,
        import_grace=args.import_grace,
        workers=args.workers,
        otlp=args.otlp,
    )

    def start() -> None:
        try:
            running.start()
        except OSError as exc:
            running.stop()
            hint = "; pass --port 0 to pick a free one" if exc.errno == errno.EADDRINUSE else ""
            raise engine.EngineError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}{hint}") from exc

    return _run_console(running, config, args.theme, start)


def _status_style(status: int) -> str:
    if status < 300:
        return "bold green"
    if status < 400:
        return "bold cyan"
    if status < 500:
        return "bold yellow"
    return "bold red"


def _print_routes(out: Console, table: engine.RouteTable) -> None:
    heading = Text(visible(f"{table.app_dir} · {table.convention} · {_plural(len(table.routes), 'route')}"))
    out.print(heading, style="bold", soft_wrap=True)
    out.print(_routes_table(table))
    _print_conflicts(out, table.conflicts)


def _routes_table(table: engine.RouteTable) -> Table:
    grid = Table(
        box=None,
        pad_edge=False,
        header_style="bold",
    )
    grid.add_column("PATTERN", no_wrap=True)
    grid.add_column("METHODS", no_wrap=True)
    grid.add_column("FILE", no_wrap=True, style="dim")
    for route in table.routes:
        methods = Text()
        for i, m in enumerate(route.methods):
            if i:
                methods.append(" ")
            methods.append(m, style=METHOD_STYLES.get(m, ""))
        if route.kind == "page":
            methods.append(" (page)", style="dim")
        if route.error:
            methods = Text("error", style="bold red")
        elif not route.methods:
            methods = Text("—", style="dim")
        grid.add_row(_pattern_text(route.pattern), methods, Text(visible(route.file)))
    return grid


def _pattern_text(pattern: str) -> Text:
    text = Text()
    for part in visible(pattern).split("/")[1:]:
        text.append("/")
        if part.startswith("[["):
            text.append(part, style="magenta")
        elif part.startswith("[..."):
            text.append(part, style="yellow")
        elif part.startswith("["):
            text.append(part, style="cyan")
        else:
            text.append(part)
    if pattern == "/":
        text = Text("/")
    return text


def _print_conflicts(out: Console, conflicts: Sequence[engine.Conflict]) -> None:
    if not conflicts:
        return
    errors = sum(1 for c in conflicts if c.severity == "error")
    warnings = len(conflicts) - errors
    out.print()
    out.print(Text(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}", style="bold"))
    grid = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1, 0, 0))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(ratio=1)
    for conflict in conflicts:
        grid.add_row(
            Text(conflict.severity, style=SEVERITY_STYLES[conflict.severity]),
            Text(conflict.kind),
            Text(visible(conflict.message)),
        )
        for example, file in conflict.examples:
            grid.add_row(Text(""), Text(""), Text(visible(f"e.g. {example} → {file}"), style="dim"))
    out.print(grid)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"

"""The `routeconsole` command.

    routeconsole [APP]                              the console (APP defaults to .)
    routeconsole list APP [--json]                  routes and problems
    routeconsole check APP [--json] [--strict]      exit 0 clean, 1 errors, 2 unusable input
    routeconsole match APP PATH [--method M] [--json]
    routeconsole serve APP [--host H] [--port P] [--workers N] [--debug]

Every subcommand calls the engine's public functions and prints a table for people or
JSON in the shapes of the brief (section 5), which tests and tools parse.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

import engine
from engine.app import DEFAULT_BODY_LIMIT
from engine.server import DEFAULT_HOST, DEFAULT_PORT

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
    _add_common(p)

    p = sub.add_parser("match", help="show which route a request reaches, without running it")
    p.add_argument("app", metavar="APP")
    p.add_argument("path", metavar="PATH", help="the request path, e.g. /users/42")
    p.add_argument("--method", "-X", default="GET", help="HTTP method (default GET)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_common(p)
    return parser


def _console_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="routeconsole", description="Open the console on APP.")
    parser.add_argument("app", metavar="APP", nargs="?", default=".")
    _add_common(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "list": cmd_list,
        "check": cmd_check,
        "match": cmd_match,
        "serve": cmd_serve,
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
        print(f"routeconsole: {exc}", file=sys.stderr)
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
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


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
    match = table.match(method, path)
    if args.json:
        _print_json(match.to_json(method, path))
        return EXIT_OK
    out = _out()
    line = Text()
    line.append(f"{method} ", style=METHOD_STYLES.get(method, "bold"))
    line.append(f"{path} → ")
    line.append(str(match.status), style=_status_style(match.status))
    if match.pattern:
        line.append(f"  {match.pattern}", style="bold")
        line.append(f"  ({match.file})", style="dim")
    elif match.location:
        line.append(f"  redirect to {match.location}")
    out.print(line)
    for name, value in match.params.items():
        out.print(f"  {name} = {json.dumps(value)}")
    if match.status == 405:
        out.print(f"  Allow: {', '.join(match.allow)}")
    if match.route is not None and match.route.error:
        out.print(Text(f"  {match.route.error}", style="red"))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from engine.server import bind_socket, is_loopback, serve_forever, serve_workers, url_of

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.workers < 1:
        raise engine.EngineError(f"--workers takes a number of processes (1 or more), got {args.workers}")
    if not is_loopback(args.host):
        print(
            f"routeconsole: warning: listening on {args.host} exposes the app beyond this machine",
            file=sys.stderr,
        )
    app = engine.create_app(args.app, convention=args.convention, debug=args.debug, body_limit=args.body_limit)
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        raise engine.EngineError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    table = app.table

    def announce() -> None:
        problems = f", {_plural(len(table.errors), 'error')}" if table.errors else ""
        routes = _plural(len(table.routes), "route")
        print(
            f"routeconsole: serving {args.app} ({table.convention}, {routes}{problems}) on {url_of(sock)}", flush=True
        )
        for conflict in table.errors:
            print(f"  {conflict.kind}: {conflict.message}", file=sys.stderr, flush=True)

    if args.workers > 1:
        app.close()
        announce()
        options = {"convention": args.convention, "debug": args.debug}
        return serve_workers(app.app_dir, sock, args.workers, options)
    serve_forever(app, sock, announce)
    return EXIT_OK


def cmd_console(args: argparse.Namespace) -> int:
    # The Textual console is not built yet: until it is, show what it would open on.
    _print_routes(_out(), _load(args))
    return EXIT_OK


def _status_style(status: int) -> str:
    if status < 300:
        return "bold green"
    if status < 400:
        return "bold cyan"
    if status < 500:
        return "bold yellow"
    return "bold red"


def _print_routes(out: Console, table: engine.RouteTable) -> None:
    heading = Text(f"{table.app_dir} · {table.convention} · {_plural(len(table.routes), 'route')}")
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
        grid.add_row(_pattern_text(route.pattern), methods, Text(route.file))
    return grid


def _pattern_text(pattern: str) -> Text:
    text = Text()
    for part in pattern.split("/")[1:]:
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
            Text(conflict.message),
        )
    out.print(grid)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"

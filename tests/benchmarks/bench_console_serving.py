"""What the console costs what it serves: `routeconsole APP` against `routeconsole serve APP`.

Run by hand (pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_console_serving.py [--seconds 5] [--rounds 3]

Both serve the same one-route app (an async handler on `/users/[id]`) with the request log
on, on 127.0.0.1, under the same load (wrk -t1 -c64 when installed, else bench_serve's
asyncio client), in alternating runs so that the machine's drift falls on both:

- serve: `routeconsole serve APP --port P --log L --no-reload`, a process of its own;
- console: the console with its UI live following the list, over the app in its supervised
  process, as `routeconsole APP` runs it: in a real terminal (a detached tmux session,
  160x45) when tmux is installed, else headless (Textual draws every frame to no terminal,
  which costs less than a terminal);
- embedded: the same console over `engine.Engine`, the app in the console's own process
  (how `routeconsole APP` ran before the supervisor), for comparison.

It prints each run's requests/s, the medians, and the ratio console/serve (the bar of
issue 11: >= 0.9x), and for the consoles the most updates of the request list in any one
second of the load (the bar: <= 20; the console writes the time of each to a file). The ratio is a report, not a test. `--pin` puts what serves on CPU 0
(serve's process; the app process of the supervised console; the whole in-process console)
and the load, with the supervised console's UI, on CPU 1, as issue 11 measured it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_serve import Load, asyncio_load, choose_client, wrk_load

ROUTE = "async def GET(request, params):\n    return 'Hello, world!'\n"
ROUTECONSOLE = str(Path(sys.executable).parent / "routeconsole")

CONSOLE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import engine
    from console.app import ConsoleApp

    class Counted(ConsoleApp):
        CSS_PATH = str(Path(sys.modules[ConsoleApp.__module__].__file__).with_name("console.tcss"))
        # writes the time of each update of the request list to a file, as it happens

        def _show_arrived(self):
            if self._arrived and self.drawing:
                with open(sys.argv[6], "a") as out:
                    out.write(f"{time.monotonic()}\\n")
            super()._show_arrived()

    kind = engine.Engine if sys.argv[4] == "embedded" else engine.SupervisedEngine
    running = kind(sys.argv[1], port=int(sys.argv[2]), log=Path(sys.argv[3]), reload=False)
    running.start()
    try:
        Counted(running).run(headless=sys.argv[5] == "headless", size=(160, 45))
    finally:
        running.stop()
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /users/1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench_console_serving: nothing answered on 127.0.0.1:{port}")


def processes() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, command line) of every process (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except (OSError, IndexError, ValueError):
                continue
            found[int(entry.name)] = (parent, command)
    return found


def pin(pid: int, cpu: int) -> None:
    """Every thread of `pid` on `cpu` (threads it starts later follow the one that starts them)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(task.name), {cpu})


def pin_servers(kind: str, port: int, serve_pid: int) -> None:
    """What serves on CPU 0; what writes the log on CPU 1: serve's writer process, and the
    console's UI process (where its log writer runs, when the app has a process of its own)."""
    if kind == "serve":
        pin(serve_pid, 0)
        for pid, (parent, cmd) in processes().items():
            if parent == serve_pid and "engine.logwriter" in cmd:
                pin(pid, 1)
        return
    table = processes()
    ui = next(pid for pid, (_, cmd) in table.items() if "-c" in cmd and str(port) in cmd and kind in cmd)
    if kind == "embedded":
        pin(ui, 0)
        return
    child = next(pid for pid, (parent, cmd) in table.items() if parent == ui and "engine.child" in cmd)
    pin(child, 0)
    pin(ui, 1)


def run_one(kind: str, app: Path, log: Path, load: object, seconds: int, pinned: bool) -> tuple[Load, float | None]:
    """The load run's figures, and for a console the most list updates in any one second of it."""
    port = free_port()
    updates = log.with_suffix(".updates")
    if kind == "serve":
        command = [ROUTECONSOLE, "serve", str(app), "--port", str(port), "--log", str(log), "--no-reload"]
    else:
        terminal = "tmux" if shutil.which("tmux") else "headless"
        command = [sys.executable, "-c", CONSOLE, str(app), str(port), str(log), kind, terminal, str(updates)]
        if terminal == "tmux":  # Textual draws on the session's terminal, as it would on yours
            shell = " ".join(shlex.quote(part) for part in command)
            command = ["tmux", "-L", f"bench{port}", "new-session", "-d", "-x", "160", "-y", "45", shell]
            command = ["env", "-u", "COLUMNS", "-u", "LINES", "-u", "TMUX", *command]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port)
        if pinned:
            pin_servers(kind, port, process.pid)
        load(f"http://127.0.0.1:{port}/users/42", 1)  # type: ignore[operator]
        start = time.monotonic()
        result: Load = load(f"http://127.0.0.1:{port}/users/42", seconds)  # type: ignore[operator]
        end = time.monotonic()
        if kind == "serve":
            return result, None
        time.sleep(0.5)  # the last rows reach the list
        times = [float(t) for t in updates.read_text().split()] if updates.exists() else []
        during = [t for t in times if start <= t <= end + 0.5]
        busiest = max((sum(1 for u in during if t <= u < t + 1.0) for t in during), default=0)
        return result, float(busiest)
    finally:
        if kind != "serve" and shutil.which("tmux"):
            subprocess.run(["tmux", "-L", f"bench{port}", "kill-server"], check=False, capture_output=True)
            time.sleep(1.5)  # the console stops its app process
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", choices=("auto", "wrk", "asyncio"), default="auto")
    parser.add_argument(
        "--pin", action="store_true", help="what serves on CPU 0; the load (and a supervised console's UI) on CPU 1"
    )
    args = parser.parse_args()
    if args.pin:
        os.sched_setaffinity(0, {1})  # this script and the load it starts
    client = choose_client(args.client)
    load = wrk_load(1, 64) if client == "wrk" else asyncio_load(32)
    runs: dict[str, list[float]] = {"serve": [], "console": [], "embedded": []}
    redraws: dict[str, list[float]] = {"console": [], "embedded": []}
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app"
        (app / "users" / "[id]").mkdir(parents=True)
        (app / "users" / "[id]" / "route.py").write_text(ROUTE)
        for n in range(args.rounds):
            for kind in runs:
                result, busiest = run_one(kind, app, Path(tmp) / f"{kind}{n}.sqlite3", load, args.seconds, args.pin)
                runs[kind].append(result.rps)
                if busiest is not None:
                    redraws[kind].append(busiest)
                print(
                    f"round {n + 1}  {kind:<8} {result.rps:>9,.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
                    f"errors {result.errors}  non-2xx {result.non_2xx}"
                    + ("" if busiest is None else f"  list updates: at most {busiest:.0f} in a second"),
                    flush=True,
                )
    serve, console = statistics.median(runs["serve"]), statistics.median(runs["console"])
    pinned = "; pinned: servers on CPU 0, load on CPU 1" if args.pin else ""
    print(f"\nclient: {client}; {args.rounds} rounds of {args.seconds} s; cpus: {os.cpu_count()}{pinned}")
    print(f"serve    median {serve:,.0f} req/s  runs {', '.join(f'{r:,.0f}' for r in runs['serve'])}")
    print(f"console  median {console:,.0f} req/s  runs {', '.join(f'{r:,.0f}' for r in runs['console'])}")
    embedded = statistics.median(runs["embedded"])
    print(f"embedded median {embedded:,.0f} req/s  runs {', '.join(f'{r:,.0f}' for r in runs['embedded'])}")
    print(f"embedded / serve: {embedded / serve:.2f}x (the console before the supervisor)")
    print(f"console / serve: {console / serve:.2f}x (bar: >= 0.9x)  {'PASS' if console / serve >= 0.9 else 'FAIL'}")
    most = max(redraws["console"], default=0)
    print(
        f"console list updates under load: at most {most:.0f} in any second (bar: <= 20)  {'PASS' if most <= 20 else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

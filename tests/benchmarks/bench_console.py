"""Console benchmark: first screen with 1,000 routes, and a log of 100,000 requests.

Run by hand (pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_console.py            # 1,000 routes, 100,000 requests
    .venv/bin/python tests/benchmarks/bench_console.py --requests 20000 --routes 200

What it measures, in one process, headless (Textual's `run_test`, a 160x45 screen):

1. First screen, 1,000 routes: from nothing to the console drawn with every route in the
   tree: `engine.Engine(app)` (read and import 1,000 route files), `start()` (hypercorn on
   its thread, the watcher, the log), `ConsoleApp(...)`, mounted and refreshed once.
   Best and median of 3 runs, each on a fresh app directory. Bar: < 1.5 s.
   Then 100 requests sent one by one from an httpx client: how long after the client has its
   answer the row is in the console's list (event sink, log writer, bridge, widget). Bar: < 100 ms.
2. The log with 100,000 requests: a log file written beforehand (`RequestLog.append_many`),
   then the console opened on it. Reported: time to first screen, the process's resident
   memory (VmRSS) before and after, and the cost of moving through the list: 200 page-downs,
   200 single steps and a jump to each end, each key press through the Pilot (a full
   refresh of the screen per key), as CPU ms per key (mean and worst). Bar: memory < 300 MB; scrolling has no
   bar in seconds (the machine is shared and noisy), but the peer below shows the shape.
3. Peer: Textual's own `DataTable` given the same 100,000 rows (the columns the log shows),
   in the same process after the console has exited: time to load, memory added, and the
   same key presses. The console draws only the visible rows from compact tuples
   (`LogSummary`); a DataTable keeps a row object per entry.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import DataTable

import engine
from console.app import ConsoleApp
from console.widgets.log_view import LogView
from console.widgets.route_tree import RouteTree

SIZE = (160, 45)
HANDLER = "async def GET(request, params):\n    return {'ok': True}\n"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def write_routes(root: Path, count: int) -> Path:
    for n in range(count):
        folder = root / f"section{n % 50}" / f"item{n}" / "[id]"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "route.py").write_text(HANDLER)
    return root


def fill_log(path: Path, count: int) -> None:
    log = engine.RequestLog(path)
    batch: list[engine.Trace] = []
    base = time.time() - count
    for n in range(count):
        trace = engine.Trace(f"bench{n:08d}", base + n, "GET" if n % 5 else "POST", f"/section{n % 50}/item{n}/7", "")
        trace.status = 200 if n % 17 else 500
        trace.duration_ms = 1.0 + (n % 13) / 10
        trace.route = {"pattern": f"/section{n % 50}/item{n}/[id]", "file": "x", "params": {"id": "7"}}
        trace.response.keep(b'{"ok":true}')
        batch.append(trace)
        if len(batch) == 5000:
            log.append_many(batch)
            batch = []
    log.append_many(batch)
    log.close()


async def first_screen(app_dir: Path, log_path: Path | None) -> tuple[float, ConsoleApp, Any]:
    start = time.perf_counter()
    running = engine.Engine(app_dir, port=0, log=log_path if log_path else None)
    running.start()
    app = ConsoleApp(running)
    context = app.run_test(size=SIZE)
    pilot = await context.__aenter__()
    await pilot.pause()
    return time.perf_counter() - start, app, (context, pilot, running)


async def close(handle: Any) -> None:
    context, _, running = handle
    await context.__aexit__(None, None, None)
    running.stop(timeout=0.5)


async def presses(pilot: Any, keys: list[str]) -> list[float]:
    """CPU milliseconds the process spent per key, screen update included.

    CPU time, not wall time: the Pilot waits for the screen to settle after each key,
    and that idle wait (mostly Textual's frame timer) would swamp the work itself.
    """
    times = []
    for key in keys:
        t = time.process_time()
        await pilot.press(key)
        times.append((time.process_time() - t) * 1000)
    return times


def describe(label: str, times: list[float]) -> str:
    return f"{label:<22} mean {statistics.mean(times):6.1f} ms   worst {max(times):6.1f} ms   ({len(times)} keys)"


async def bench_first_screen(routes: int) -> list[float]:
    runs = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            app_dir = write_routes(Path(tmp) / "app", routes)
            gc.collect()
            seconds, app, handle = await first_screen(app_dir, None)
            shown = len(app.query_one(RouteTree).table.routes)  # type: ignore[union-attr]
            assert shown == routes, f"the tree shows {shown} routes, not {routes}"
            await close(handle)
            runs.append(seconds)
    return runs


KEYS_SCROLL = ["pagedown"] * 200
KEYS_STEP = ["up"] * 200
KEYS_EDGES = ["home", "end"] * 5


async def bench_log(requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        app_dir = write_routes(Path(tmp) / "app", 10)
        log_path = Path(tmp) / "log.sqlite3"
        t = time.perf_counter()
        fill_log(log_path, requests)
        filled = time.perf_counter() - t
        gc.collect()
        before = rss_mb()
        seconds, app, handle = await first_screen(app_dir, log_path)
        log = app.query_one(LogView)
        assert log.count == requests, f"the log shows {log.count} of {requests}"
        after = rss_mb()
        pilot = handle[1]
        log.focus()
        await pilot.press("home")
        results = {
            "filled": filled,
            "first": seconds,
            "before": before,
            "after": after,
            "scroll": await presses(pilot, KEYS_SCROLL),
            "step": await presses(pilot, KEYS_STEP),
            "edges": await presses(pilot, KEYS_EDGES),
            "peak": rss_mb(),
        }
        await close(handle)
        return results


async def bench_latency(count: int = 100) -> list[float]:
    """Milliseconds from a client having a response to its row being in the console's list."""
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        app_dir = write_routes(Path(tmp) / "app", 10)
        _, app, handle = await first_screen(app_dir, None)
        log = app.query_one(LogView)
        latencies = []
        async with httpx.AsyncClient() as client:
            for n in range(count):
                await client.get(f"{app.running.url}/section0/item0/7")
                answered = time.perf_counter()
                while log.count <= n:
                    await asyncio.sleep(0.0005)
                latencies.append((time.perf_counter() - answered) * 1000)
        await close(handle)
        return latencies


class TablePeer(App[None]):
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "TIME", "METHOD", "STATUS", "MS", "PATH", "ROUTE")
        table.add_rows(self.rows)
        table.focus()


async def bench_peer(requests: int) -> dict[str, Any]:
    rows = []
    base = time.time() - requests
    for n in range(requests):
        when = datetime.fromtimestamp(base + n, UTC).strftime("%H:%M:%S.%f")[:12]
        rows.append((n + 1, when, "GET", 200, f"{1.0 + (n % 13) / 10:.1f}", f"/section{n % 50}/item{n}/7", f"/item{n}"))
    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    app = TablePeer(rows)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        loaded = time.perf_counter() - start
        after = rss_mb()
        await pilot.press("home")
        scroll = await presses(pilot, KEYS_SCROLL)
        step = await presses(pilot, KEYS_STEP)
        edges = await presses(pilot, KEYS_EDGES)
    return {"first": loaded, "before": before, "after": after, "scroll": scroll, "step": step, "edges": edges}


async def main(args: argparse.Namespace) -> int:
    print(f"routeconsole console benchmark · Python {sys.version.split()[0]} · screen {SIZE[0]}x{SIZE[1]}")
    runs = await bench_first_screen(args.routes)
    best = min(runs)
    verdict = "PASS" if best < 1.5 else "FAIL"
    print(
        f"\n1. first screen, {args.routes:,} routes: best {best:.2f} s, median {statistics.median(runs):.2f} s"
        f"  (runs {', '.join(f'{r:.2f}' for r in runs)})   bar < 1.5 s: {verdict}"
    )

    latencies = sorted(await bench_latency())
    p90 = latencies[int(len(latencies) * 0.9)]
    verdict = "PASS" if p90 < 100 else "FAIL"
    print(
        f"   a request from outside reaches the list {statistics.median(latencies):.1f} ms after its answer"
        f" (median; p90 {p90:.1f}, worst {latencies[-1]:.1f}; {len(latencies)} requests)   bar < 100 ms: {verdict}"
    )

    ours = await bench_log(args.requests)
    peer = await bench_peer(args.requests)
    print(f"\n2. {args.requests:,} logged requests (log written in {ours['filled']:.1f} s beforehand)")
    print(f"{'':<22} {'console LogView':>18} {'DataTable (peer)':>18} {'console/peer':>13}")
    rows: list[tuple[str, float, float, Callable[[float], str]]] = [
        ("first screen", ours["first"], peer["first"], lambda v: f"{v:.2f} s"),
        ("memory added", ours["after"] - ours["before"], peer["after"] - peer["before"], lambda v: f"{v:.0f} MB"),
        ("page-down (mean)", statistics.mean(ours["scroll"]), statistics.mean(peer["scroll"]), lambda v: f"{v:.1f} ms"),
        ("page-down (worst)", max(ours["scroll"]), max(peer["scroll"]), lambda v: f"{v:.1f} ms"),
        ("step up (mean)", statistics.mean(ours["step"]), statistics.mean(peer["step"]), lambda v: f"{v:.1f} ms"),
        ("home/end (mean)", statistics.mean(ours["edges"]), statistics.mean(peer["edges"]), lambda v: f"{v:.1f} ms"),
    ]
    for label, a, b, fmt in rows:
        ratio = f"{a / b:.2f}x" if b else "-"
        print(f"{label:<22} {fmt(a):>18} {fmt(b):>18} {ratio:>13}")
    verdict = "PASS" if ours["peak"] < 300 else "FAIL"
    print(
        f"console process memory: {ours['after']:.0f} MB after loading, {ours['peak']:.0f} MB after scrolling"
        f"   bar < 300 MB: {verdict}"
    )
    return 0


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--routes", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100_000)
    return parser.parse_args()


def run(coro: Callable[[argparse.Namespace], Awaitable[int]]) -> int:
    return asyncio.run(coro(_parse()))  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(run(main))

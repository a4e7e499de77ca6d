"""How soon a request from outside shows in the console's list, the server idle otherwise.

Run by hand (pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_console_latency.py [--requests 50]

The console runs headless in this process over its supervised app process, as
`routeconsole APP` runs it. Each request is sent from a thread (curl-like, one connection
each) once the previous one is in the list, and timed from just before it is sent until
its row is in the list: the response, the log write in the app process, the channel, the
bridge and the list. Issue 11's bar: a median within 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import engine
from console.app import ConsoleApp
from console.widgets.log_view import LogView


async def measure(app_dir: Path, log: Path, requests: int) -> list[float]:
    running = engine.SupervisedEngine(app_dir, port=0, log=log, reload=False)
    running.start()
    latencies: list[float] = []
    try:
        console = ConsoleApp(running)
        async with console.run_test(size=(160, 45)) as pilot:
            rows = console.main.query_one(LogView)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: httpx.get(f"{running.url}/users/0", timeout=30))  # warm
            while rows.count < 1:
                await pilot.pause(0.01)
            for n in range(requests):
                before = rows.count
                await asyncio.sleep(0.05)  # idle between requests
                start = time.perf_counter()
                url = f"{running.url}/users/{n}"
                sending = loop.run_in_executor(None, functools.partial(httpx.get, url, timeout=10))
                while rows.count == before:
                    await asyncio.sleep(0.001)
                latencies.append((time.perf_counter() - start) * 1000)
                await sending
    finally:
        running.stop()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "app"
        (app / "users" / "[id]").mkdir(parents=True)
        (app / "users" / "[id]" / "route.py").write_text("async def GET(params):\n    return params\n")
        latencies = asyncio.run(measure(app, Path(tmp) / "log.sqlite3", args.requests))
    ordered = sorted(latencies)
    median = statistics.median(ordered)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    print(f"{len(ordered)} requests, idle in between: request sent -> row in the console's list")
    print(f"median {median:.1f} ms  p90 {p90:.1f} ms  min {ordered[0]:.1f} ms  max {ordered[-1]:.1f} ms")
    print(f"bar: median <= 100 ms  {'PASS' if median <= 100 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

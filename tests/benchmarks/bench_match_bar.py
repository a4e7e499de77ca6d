"""The match bar at 1,000 routes: how long one keystroke takes, explanation and redraw included.

Run by hand (pytest does not collect it):

    .venv/bin/python tests/benchmarks/bench_match_bar.py [--routes 1000]

What it measures, in one process, headless (Textual's `run_test`, a 160x45 screen), on the
app `bench_console.py` writes (`/section{n % 50}/item{n}/[id]`, N routes):

1. `explain(table, "GET", path)` alone: every route tested against the path, the contest
   sorted, the near misses found. Best of 5 over 200 paths, per path.
2. Typing into the match bar: `m`, then a path typed a character at a time through the
   Pilot (`/section7/item57/42`, then a miss `/section7/itemx`); each keystroke's CPU time
   (the bar's explanation, the tree's lights, the panel, and the screen's refresh). CPU
   time, not wall time, as bench_console.py does: the Pilot idles after each key. The
   console runs as `routeconsole APP` runs it (`freeze_heap=True`: its startup heap out of
   the garbage collector's way; without it, a full collection lands on some keystroke and
   costs it ~60 ms). Bar (issue 12): under 50 ms a keystroke.
3. For scale: `RouteTable.match` (what serving uses, which pays nothing for explaining).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import engine
from console.app import ConsoleApp
from engine.explain import explain
from tests.benchmarks.bench_console import SIZE, presses, write_routes

BAR_MS = 50.0


def per_call_us(call: object, args: list[tuple[str, str]], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for method, path in args:
            call(method, path)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best / len(args) * 1e6


async def main(routes: int) -> int:
    print(f"match bar benchmark · {routes:,} routes · Python {sys.version.split()[0]} · screen {SIZE[0]}x{SIZE[1]}")
    with tempfile.TemporaryDirectory() as tmp:
        app_dir = write_routes(Path(tmp) / "app", routes)
        running = engine.Engine(app_dir, port=0, log=None)
        running.start()
        try:
            table = running.table
            paths = [("GET", f"/section{n % 50}/item{n}/{n}") for n in range(0, routes, max(1, routes // 200))]
            explained = per_call_us(lambda m, p: explain(table, m, p), paths)
            matched = per_call_us(table.match, paths)
            print(f"\n1. explain(): {explained / 1000:.2f} ms a path (best of 5 over {len(paths)} paths)")
            print(f"3. RouteTable.match: {matched:.2f} us a path, for scale")
            console = ConsoleApp(running, freeze_heap=True)  # as `routeconsole APP` runs it
            async with console.run_test(size=SIZE) as pilot:
                await pilot.press("m")
                typed = list("/section7/item57/42")
                times = await presses(pilot, typed)
                await pilot.press(*["backspace"] * 3)
                missed = await presses(pilot, list("x"))
                every = times + missed
                print("   each key, ms CPU:", " ".join(f"{t:.0f}" for t in every))
                worst, mean = max(every), statistics.mean(every)
                verdict = "PASS" if worst < BAR_MS else "FAIL"
                print(
                    f"2. a keystroke in the match bar: mean {mean:.1f} ms, worst {worst:.1f} ms CPU"
                    f" ({len(every)} keys)   bar < {BAR_MS:.0f} ms: {verdict}"
                )
        finally:
            running.stop(timeout=0.5)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--routes", type=int, default=1000)
    sys.exit(asyncio.run(main(parser.parse_args().routes)))

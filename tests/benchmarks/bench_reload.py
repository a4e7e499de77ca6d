"""Live-reload latency: from saving a route file to the new code answering.

Run by hand:  .venv/bin/python tests/benchmarks/bench_reload.py [--routes N] [--rounds R]

An app of N routes (Next.js dialect, default 200) is served by the real server on
127.0.0.1 with the watcher on. Each round saves one route file with a new answer, then
polls that URL until it answers the new text. Two figures per round:

* applied: the time `RouteApp.reload` took once the watcher reported the change
  (the `RoutesReloaded.duration_ms` of that reload);  bar < 50 ms
* saved-to-served: from the write to the first response with the new text, as a client
  sees it (includes the watcher's debounce step and one polling interval);  bar < 300 ms
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

import engine
from engine.events import RoutesReloaded
from engine.reload import Reloader
from engine.server import Server


def make_app(root: Path, routes: int) -> None:
    for n in range(routes):
        folder = root / f"r{n}" / "[id]"
        folder.mkdir(parents=True)
        (folder / "route.py").write_text(f"def GET(params):\n    return 'r{n} v0'\n")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "app"
        make_app(root, args.routes)
        sink = engine.EventSink()
        reloads: list[RoutesReloaded] = []
        sink.subscribe(lambda e: reloads.append(e) if isinstance(e, RoutesReloaded) else None)
        app = engine.create_app(root, events=sink)
        server = Server(app, port=0)
        url = server.start()
        reloader = Reloader(app)
        reloader.start()
        applied: list[float] = []
        served: list[float] = []
        try:
            with httpx.Client(base_url=url, timeout=5) as client:
                for round_ in range(1, args.rounds + 1):
                    n = round_ % args.routes
                    file = root / f"r{n}" / "[id]" / "route.py"
                    want = f"r{n} v{round_}"
                    seen = len(reloads)
                    start = time.perf_counter()
                    file.write_text(f"def GET(params):\n    return {want!r}\n")
                    while client.get(f"/r{n}/1").text != want:
                        if time.perf_counter() - start > 5:
                            raise SystemExit(f"round {round_}: the change was not served within 5 s")
                        time.sleep(0.002)
                    served.append((time.perf_counter() - start) * 1000)
                    sink.flush()
                    applied.extend(e.duration_ms for e in reloads[seen:])
                    time.sleep(0.05)
        finally:
            reloader.stop()
            server.stop()

    print(f"{args.routes} routes, {args.rounds} saves of one route file, served on {url}")
    print(f"{'':>16} {'median':>9} {'p90':>9} {'max':>9}   bar")
    for name, values, bar in (("applied", applied, 50.0), ("saved-to-served", served, 300.0)):
        p90 = percentile(values, 0.9)
        verdict = "PASS" if p90 < bar else "FAIL"
        print(
            f"{name:>16} {statistics.median(values):8.1f}ms {p90:8.1f}ms {max(values):8.1f}ms"
            f"   p90 < {bar:.0f} ms: {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

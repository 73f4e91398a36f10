"""Benchmark: one tick (loopback scrape + parse + every figure) against prometheus_client's parser.

    python bench/tick.py [--ticks 40] [--scaling] [--check]

Pages come from the simulated backend (StudyBuddy's routes, plus synthetic ones for larger
pages), served by separate processes. Before each tick, outside the timed part, every server is
asked for its next page (a second of traffic later), so counters move as they do live and the
server's work is not charged to sbtop. Every measure runs in a fresh child process (its first
tick is a true cold start: nothing of sbtop's cached), which reports:

- the first observation (every series new), CPU and wall time;
- the steady tick: median and 90th percentile wall time, and median CPU time (process time);
- the floor: what a tick would cost if it only fetched the pages (httpx), split them into lines
  and added up the numbers of the wanted lines, CPU;
- the parsers on the same bytes: prometheus_client's, sbtop's, CPU;
- the child's peak RSS, taken before the reference parser runs.

`--scaling` adds the table of cost against page size, instance count and route count;
`--check` the `sbtop check --window 1` row (CPU of the whole command, a large page against a
1-route page). Figures, not pass/fail: the reference runs in the same run, on the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import textwrap
import time
from typing import Any

SERVER = textwrap.dedent("""
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from sbtop.demo.backend import SimulatedBackend
    from sbtop.demo.traffic import ROUTES, synthetic_routes
    extra = int(sys.argv[1])
    routes = ROUTES[:1] if extra < 0 else synthetic_routes(extra)
    backend = SimulatedBackend(port=0, routes=routes, background=False)
    backend.set(rps=4000)
    backend.advance(float(sys.argv[2]))
    # GET /next makes the next page (a second of traffic later) and answers when it is ready;
    # the scrape that follows is then answered at once: the server's work is not sbtop's.
    page = [backend.metrics_page()]
    class H(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        disable_nagle_algorithm = True
        def log_message(self, *a): pass
        def do_GET(self):
            if self.path == '/next':
                backend.advance(1.0)
                page[0] = backend.metrics_page()
                body = b'ok'
            elif self.path == '/metrics':
                body = page[0]
            else:
                body = b'{"status":"ok"}'
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain; version=0.0.4')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    s = ThreadingHTTPServer(('127.0.0.1', 0), H)
    print(s.server_address[1], flush=True)
    s.serve_forever()
""")

# Extra synthetic routes for a page of about this many samples (StudyBuddy's own routes make
# about 900; each extra route about 64). -1: a single route.
PAGES = {"1k": 0, "3k": 28, "10k": 140, "22k": 320, "50k": 770}


class Servers:
    """Simulated backends in child processes, one per instance."""

    def __init__(self, extra: int, count: int = 1, warm_s: float = 60.0) -> None:
        self.procs = [subprocess.Popen([sys.executable, "-c", SERVER, str(extra), str(warm_s)],
                                       stdout=subprocess.PIPE, text=True)
                      for _ in range(count)]
        self.urls = []
        for p in self.procs:
            assert p.stdout is not None
            self.urls.append(f"http://127.0.0.1:{int(p.stdout.readline())}")

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            p.terminate()
            p.wait()


def floor(text: str, prefixes: tuple[str, ...]) -> float:
    """The least a tick could do: split the page, add up the numbers of the wanted lines."""
    total = 0.0
    for line in text.split("\n"):
        if line.startswith(prefixes):
            total += float(line.rpartition(" ")[2])
    return total


def cpu_median(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        c = time.process_time()
        fn()
        times.append(time.process_time() - c)
    return statistics.median(times)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def worker(urls: list[str], ticks: int, reference: bool) -> dict[str, Any]:
    """One configuration, measured in this (fresh) process."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from sbtop import config
    from sbtop.collector import Collector
    from sbtop.engine.engine import Engine
    from sbtop.engine.exposition import scan
    from sbtop.engine.names import wanted_samples

    if len(urls) == 1:
        target = config.resolve(config.Config(), url=urls[0])
    else:
        tc = config.TargetConfig(base_url=urls[0], metrics_urls=[u + "/metrics" for u in urls])
        target = config.resolve(config.Config(targets={"fleet": tc}))
    engine = Engine(target.engine)
    out: dict[str, Any] = {}
    helper = httpx.AsyncClient(timeout=60)

    async def next_pages() -> None:
        await asyncio.gather(*(helper.get(u + "/next") for u in urls))

    # The first request of a process imports and sets up parts of httpx, httpcore and anyio:
    # paid once at start-up whatever the page, so paid here, on the health path, by another
    # client, before the first tick is timed.
    await helper.get(urls[0] + "/api/health")
    async with Collector(target.collector) as collector:
        w, c = time.perf_counter(), time.process_time()
        engine.observe(await collector.observe())
        out["cold_cpu"] = time.process_time() - c
        out["cold_wall"] = time.perf_counter() - w
        for _ in range(3):  # warm: the connection, the caches
            await next_pages()
            engine.observe(await collector.observe())
        walls, cpus = [], []
        for _ in range(ticks):
            await next_pages()
            w, c = time.perf_counter(), time.process_time()
            engine.observe(await collector.observe())
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
    out.update(wall_p50=statistics.median(walls), wall_p90=pct(walls, 0.9),
               cpu_p50=statistics.median(cpus))
    # Peak RSS of sbtop's own work: taken before the reference parser runs in this process.
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wanted = wanted_samples(target.engine.names)
    prefixes = tuple(sorted(wanted))
    async with httpx.AsyncClient() as client:
        texts = [(await client.get(u + "/metrics")).text for u in urls]
        floors = []
        for _ in range(max(5, ticks // 2)):
            await next_pages()
            c = time.process_time()
            for u in urls:
                floor((await client.get(u + "/metrics")).content.decode(), prefixes)
            floors.append(time.process_time() - c)
    await helper.aclose()
    out["floor_cpu"] = statistics.median(floors)
    text = texts[0]
    out["bytes"] = len(text.encode())
    out["samples"] = sum(1 for line in text.split("\n") if line and line[0] != "#")
    out["sbtop_parse_cpu"] = cpu_median(lambda: scan(text, wanted), 9)
    if reference:
        out["ref_parse_cpu"] = cpu_median(
            lambda: sum(len(f.samples) for f in text_string_to_metric_families(text)), 3)
    return out


def measure(extra: int, instances: int, ticks: int, reference: bool = True) -> dict[str, Any]:
    with Servers(extra, instances) as servers:
        args = [sys.executable, __file__, "--worker", "--ticks", str(ticks), *servers.urls]
        if not reference:
            args.append("--no-reference")
        got = subprocess.run(args, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(got.stdout)
    return result


def check_cpu(extra: int, runs: int = 3) -> float:
    """CPU (user + system) of `sbtop check --window 1` as a child process, median of `runs`."""
    times = []
    with Servers(extra) as servers:
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-m", "sbtop", "check", "--window", "1", "--url",
                            servers.urls[0]], capture_output=True, check=False)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def ms(s: float) -> str:
    return f"{s * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=40)
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-reference", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    from sbtop.demo.traffic import ROUTES
    if args.worker:
        print(json.dumps(asyncio.run(worker(args.urls, args.ticks, not args.no_reference))))
        return
    print("| page | samples | bytes | prometheus_client parse | sbtop parse | speedup | floor "
          "| tick CPU | tick p50 | tick p90 | first tick CPU | first tick wall |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, extra in (("StudyBuddy-size", 28), ("large", 320)):
        r = measure(extra, 1, args.ticks)
        print(f"| {label} | {r['samples']:,} | {r['bytes'] // 1000:,} KB "
              f"| {ms(r['ref_parse_cpu'])} | {ms(r['sbtop_parse_cpu'])} "
              f"| {r['ref_parse_cpu'] / r['sbtop_parse_cpu']:.0f}x | {ms(r['floor_cpu'])} "
              f"| {ms(r['cpu_p50'])} | {ms(r['wall_p50'])} | {ms(r['wall_p90'])} "
              f"| {ms(r['cold_cpu'])} | {ms(r['cold_wall'])} |", flush=True)
    print("(CPU is process time; floor = fetch the page with the same client, split it, add "
          "up the wanted lines' numbers; tick = loopback scrape of /metrics (and /api/health "
          "when due) + parse + every figure and alert.)")
    if args.check:
        big, one = check_cpu(320), check_cpu(-1)
        print(f"\nsbtop check --window 1, CPU: large page {ms(big)}, 1-route page {ms(one)}, "
              f"difference {ms(big - one)}")
    if args.scaling:
        print("\n| routes | instances | samples a page | tick CPU | tick p50 wall | floor "
              "| first tick CPU | peak RSS | prometheus_client parse, all pages |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        rows = [(p, 1) for p in PAGES] + [("3k", 3), ("3k", 8)]
        for page, instances in rows:
            r = measure(PAGES[page], instances, max(10, args.ticks // 2))
            routes = len(ROUTES) + PAGES[page]
            print(f"| {routes} | {instances} | {r['samples']:,} | {ms(r['cpu_p50'])} "
                  f"| {ms(r['wall_p50'])} | {ms(r['floor_cpu'])} | {ms(r['cold_cpu'])} "
                  f"| {r['maxrss_mb']:.0f} MB | {ms(r['ref_parse_cpu'] * instances)} |",
                  flush=True)


if __name__ == "__main__":
    main()

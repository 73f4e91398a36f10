"""Benchmark: one tick (loopback scrape + parse + every figure) against prometheus_client's parser.

    python bench/tick.py [--ticks 40]

Pages come from the simulated backend (StudyBuddy's routes, plus synthetic ones for the large
page) and are served by a separate process, alternating two snapshots so counters move between
ticks as they do live. Times are the median and 90th percentile over the ticks; the reference
parse runs in the same process on the same bytes, so the ratio survives a noisy machine.
Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from sbtop import config
from sbtop.collector import Collector
from sbtop.demo.backend import SimulatedBackend
from sbtop.demo.traffic import synthetic_routes
from sbtop.engine.engine import Engine
from sbtop.engine.exposition import scan
from sbtop.engine.names import wanted_samples

SERVER = textwrap.dedent("""
    import sys, itertools
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    bodies = itertools.cycle([open(p, 'rb').read() for p in sys.argv[1:]])
    class H(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        disable_nagle_algorithm = True
        def log_message(self, *a): pass
        def do_GET(self):
            body = next(bodies) if self.path == '/metrics' else b'{"status":"ok"}'
            self.send_response(200)
            self.send_header('Content-Type', 'text/plain; version=0.0.4')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    s = ThreadingHTTPServer(('127.0.0.1', 0), H)
    print(s.server_address[1], flush=True)
    s.serve_forever()
""")


def make_pages(extra_routes: int, seconds: float) -> tuple[bytes, bytes]:
    backend = SimulatedBackend(port=0, routes=synthetic_routes(extra_routes), background=False)
    try:
        backend.set(rps=4000)
        backend.advance(seconds)
        first = backend.metrics_page()
        backend.advance(1.0)
        return first, backend.metrics_page()
    finally:
        backend.stop()


def reference_parse_s(text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _family in text_string_to_metric_families(text):
            pass
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def sbtop_parse_s(text: str, repeat: int) -> float:
    wanted = wanted_samples(config.resolve(config.Config(), url="http://x").engine.names)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        scan(text, wanted)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


async def ticks(url: str, n: int) -> tuple[list[float], list[float]]:
    target = config.resolve(config.Config(), url=url)
    engine = Engine(target.engine)
    walls, cpus = [], []
    async with Collector(target.collector) as collector:
        for _ in range(3):  # warm the connection, caches and series table
            engine.observe(await collector.observe())
        for _ in range(n):
            w, c = time.perf_counter(), time.process_time()
            engine.observe(await collector.observe())
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
    return walls, cpus


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=40)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra, seconds in (("StudyBuddy-size", 28, 30.0), ("large", 320, 60.0)):
            a, b = make_pages(extra, seconds)
            pa, pb = Path(tmp, f"{label}-a.prom"), Path(tmp, f"{label}-b.prom")
            pa.write_bytes(a)
            pb.write_bytes(b)
            text = b.decode()
            samples = sum(len(f.samples) for f in text_string_to_metric_families(text))
            ref = reference_parse_s(text, 3)
            ours = sbtop_parse_s(text, 15)
            server = subprocess.Popen([sys.executable, "-c", SERVER, str(pa), str(pb)],
                                      stdout=subprocess.PIPE, text=True)
            try:
                assert server.stdout is not None
                port = int(server.stdout.readline())
                walls, cpus = asyncio.run(ticks(f"http://127.0.0.1:{port}", args.ticks))
            finally:
                server.terminate()
                server.wait()
            rows.append((label, samples, len(b), ref, ours, walls, cpus))
    print(f"{'page':<16}{'samples':>9}{'bytes':>11}{'prom_client parse':>19}"
          f"{'sbtop parse':>13}{'speedup':>9}{'tick p50':>10}{'tick p90':>10}{'tick CPU':>10}")
    for label, samples, size, ref, ours, walls, cpus in rows:
        print(f"{label:<16}{samples:>9,}{size:>11,}{ref * 1000:>16.1f} ms{ours * 1000:>10.1f} ms"
              f"{ref / ours:>8.1f}x{statistics.median(walls) * 1000:>7.1f} ms"
              f"{pct(walls, 0.9) * 1000:>7.1f} ms{statistics.median(cpus) * 1000:>7.1f} ms")
    print("tick = loopback HTTP scrape of /metrics and /api/health + parse + every figure and "
          "alert; the page is served by another process.")


if __name__ == "__main__":
    main()

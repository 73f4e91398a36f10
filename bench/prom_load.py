"""Benchmark: what sbtop's Prometheus mode costs the team's Prometheus, this version beside an
earlier one (the reference: before the round became one query), in the same run.

    python bench/prom_load.py [--seconds 60] [--consoles 1] [--instances 3] [--ref 1aa119c]

A real Prometheus (/usr/bin/prometheus) scrapes simulated StudyBuddy backends every second.
Each variant runs as a child process (its own sbtop on PYTHONPATH: the reference is
`git archive REF sbtop`) holding `--consoles` Prometheus sources that each observe once a
second, as consoles at 1 Hz do, for `--seconds`. Around each variant, and around the same
time with no console at all (the floor: Prometheus scraping and evaluating its rules), the
bench reads Prometheus's own metrics: HTTP requests by handler, the time its handlers spent
(prometheus_http_request_duration_seconds), its query engine's time
(prometheus_engine_query_duration_seconds, every slice: queue, prepare, evaluation, sort) and
its process CPU (process_cpu_seconds_total). Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sbtop.demo.backend import SimulatedBackend  # noqa: E402
from tests.promserver import PromServer  # noqa: E402

SELECTOR = 'job="studybuddy"'

# The console's side: `consoles` sources, each observing once a second on the grid.
DRIVER = textwrap.dedent("""
    import asyncio, json, sys, time
    from sbtop.engine.settings import EngineSettings
    from sbtop.sources.prometheus import PrometheusSource, PromSettings

    url, selector = sys.argv[1], sys.argv[2]
    seconds, consoles = float(sys.argv[3]), int(sys.argv[4])

    async def console(out):
        async with PrometheusSource(PromSettings(url, selector), EngineSettings()) as source:
            start = time.monotonic()
            n = 0
            while n < seconds:
                snap = await source.observe()
                out["requests"] += snap.queries
                out["rounds"] += 1
                out["errors"] += snap.error is not None
                n += 1
                await asyncio.sleep(max(0.0, start + n - time.monotonic()))

    async def main():
        out = {"requests": 0, "rounds": 0, "errors": 0}
        await asyncio.gather(*(console(out) for _ in range(consoles)))
        print(json.dumps(out))

    asyncio.run(main())
""")

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def prom_metrics(url: str) -> dict[str, float]:
    """The counters the bench reads from Prometheus's own /metrics, summed as named."""
    text = httpx.get(url + "/metrics", timeout=10).text
    out: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m is None:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        handler = re.search(r'handler="([^"]*)"', labels)
        if name == "prometheus_http_requests_total" and handler:
            out["requests " + handler.group(1)] += value
        elif name == "prometheus_http_request_duration_seconds_sum" and handler:
            out["http_s " + handler.group(1)] += value
        elif name == "prometheus_engine_query_duration_seconds_sum":
            out["engine_s"] += value
        elif name == "prometheus_engine_query_duration_seconds_count" and 'inner_eval' in labels:
            out["engine_queries"] += value
        elif name == "process_cpu_seconds_total":
            out["cpu_s"] += value
    return dict(out)


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in set(before) | set(after)}


def run(prom: PromServer, root: Path | None, seconds: float, consoles: int) -> dict[str, float]:
    """One variant's load (root None: no console, the floor), Prometheus's cost over it."""
    before = prom_metrics(prom.url)
    start = time.monotonic()
    got: dict[str, float] = {}
    if root is None:
        time.sleep(seconds)
    else:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(DRIVER)
        p = subprocess.run([sys.executable, f.name, prom.url, SELECTOR, str(seconds),
                            str(consoles)], capture_output=True, text=True,
                           env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=True)
        got = json.loads(p.stdout)
    span = time.monotonic() - start
    d = delta(before, prom_metrics(prom.url))
    api = {k: v for k, v in d.items() if k.startswith("requests /api/")}
    return {"span": span, "rounds": got.get("rounds", 0), "errors": got.get("errors", 0),
            "sbtop_requests": got.get("requests", 0),
            "api_requests": sum(api.values()),
            "queries": d.get("requests /api/v1/query", 0.0),
            "http_s": sum(v for k, v in d.items() if k.startswith("http_s /api/")),
            "engine_s": d.get("engine_s", 0.0), "engine_queries": d.get("engine_queries", 0.0),
            "cpu_s": d.get("cpu_s", 0.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--consoles", type=int, default=1)
    ap.add_argument("--instances", type=int, default=3)
    ap.add_argument("--interval", default="15s", help="Prometheus's scrape interval")
    ap.add_argument("--repeat", type=int, default=2,
                    help="rounds of (floor, reference, now), interleaved, added up")
    ap.add_argument("--ref", default="1aa119c",
                    help="the reference commit (before the round became one query)")
    args = ap.parse_args()
    backends = [SimulatedBackend(port=0, seed=7 + i).start() for i in range(args.instances)]
    for b in backends:
        b.set(rps=150, error_rate=0.02)
    prom = PromServer([f"127.0.0.1:{b.port}" for b in backends], interval=args.interval)
    ready = time.monotonic()
    ref = Path(tempfile.mkdtemp(prefix="sbtop-ref-"))
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.ref, "sbtop"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(ref)], input=archive, check=True)
        # A full window (60 s, the console's default) of scrapes: every query at full size.
        prom.wait_for(f"up{{{SELECTOR}}}", timeout=60)
        time.sleep(max(0.0, ready + 70 - time.monotonic()))
        rows: dict[str, dict[str, float]] = {}
        for _ in range(args.repeat):
            for name, root in (("no console (the floor)", None), (f"sbtop {args.ref}", ref),
                               ("sbtop now", ROOT)):
                r = run(prom, root, args.seconds, args.consoles)
                rows[name] = {k: rows.get(name, {}).get(k, 0.0) + v for k, v in r.items()}
        floor = rows["no console (the floor)"]
        print(f"{args.instances} instances scraped every {args.interval}, {args.consoles} "
              f"console(s) at 1 Hz, {args.repeat} x {args.seconds:g} s each, interleaved; per "
              "second of the run, per console:\n")
        print("| load | requests/s | instant queries/s | Prometheus handler time | "
              "query engine time | Prometheus CPU above the floor |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, r in rows.items():
            per = r["span"] * (args.consoles if r["rounds"] else 1)
            cpu = (r["cpu_s"] - floor["cpu_s"] * r["span"] / floor["span"]) / per
            print(f"| {name} | {r['api_requests'] / per:.2f} | {r['queries'] / per:.2f} | "
                  f"{1000 * r['http_s'] / per:.2f} ms/s | {1000 * r['engine_s'] / per:.2f} ms/s"
                  f" | {100 * cpu:.2f} % |" if r["rounds"] else
                  f"| {name} | {r['api_requests'] / per:.2f} | {r['queries'] / per:.2f} | "
                  f"{1000 * r['http_s'] / per:.2f} ms/s | {1000 * r['engine_s'] / per:.2f} ms/s"
                  f" | ({100 * r['cpu_s'] / per:.2f} % in all) |")
            if r["errors"]:
                print(f"  ({name}: {r['errors']:g} rounds failed)")
        print("\n" + json.dumps(rows, indent=1))
    finally:
        prom.stop()
        for b in backends:
            b.stop()
        subprocess.run(["rm", "-rf", str(ref)], check=False)


if __name__ == "__main__":
    main()

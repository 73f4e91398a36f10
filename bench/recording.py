"""Benchmark: what recording costs per tick and takes per hour, beside the obvious way (every
tick's whole `check --json` object as a gzip-compressed JSON line), in the same run; then what
opening and seeking the hour costs a replay; then the peak memory of `sbtop timeline` and of a
replay's reading (open, 200 seeks, 600 ticks played) on a long recording.

    python bench/recording.py [--ticks 3600] [--hours 24] [--baseline DIR]

An hour of real Assessments at 1 s ticks is made first: the simulated StudyBuddy backend
(advanced a second at a time, traffic changing, an error spike and a restart) scraped over
loopback by the real collector and judged by the engine. Then both writers take the same
Assessments. The long recording is that hour written again and again by the same writer, its
times moved on each time. Memory is each command's peak RSS, measured as a child process;
`--baseline DIR` measures the sbtop in DIR too (`git archive COMMIT sbtop | tar -x -C DIR`).
Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gzip
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbtop import config
from sbtop.clock import ManualClock
from sbtop.collector import Collector
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.assessment import Assessment, to_dict
from sbtop.engine.engine import Engine
from sbtop.recording.meta import header
from sbtop.recording.reader import Recording
from sbtop.recording.writer import Recorder


def an_hour(ticks: int) -> list[Assessment]:
    backend = SimulatedBackend(port=0, background=False).start()
    backend.set(rps=40)
    clock = ManualClock()
    target = config.resolve(config.Config(), url=backend.url)
    out: list[Assessment] = []

    async def go() -> None:
        engine = Engine(target.engine, target.name)
        async with Collector(target.collector, clock) as collector:
            for i in range(ticks):
                if i == ticks // 3:
                    backend.set(error_rate=0.04, latency_scale=2.5)
                if i == ticks // 2:
                    backend.set(error_rate=0.002, latency_scale=1.0)
                    backend.restart()
                backend.advance(1.0)
                clock.advance(1.0)
                out.append(engine.observe(await collector.observe()))

    try:
        asyncio.run(go())
    finally:
        backend.stop()
    return out


def naive(path: Path, ticks: list[Assessment]) -> list[float]:
    costs = []
    with gzip.open(path, "wb", compresslevel=6) as f:
        for a in ticks:
            started = time.perf_counter()
            f.write(json.dumps(to_dict(a), separators=(",", ":")).encode() + b"\n")
            costs.append(time.perf_counter() - started)
    return costs


def ours(path: Path, ticks: list[Assessment]) -> list[float]:
    target = config.resolve(config.Config(), url="http://127.0.0.1:9")
    rec = Recorder(path, header(target.recording, 1.0, ticks[0].wall))
    costs = []
    for a in ticks:
        started = time.perf_counter()
        rec.tick(a, {"percent": 5, "step_started_wall": ticks[0].wall,
                     "baseline_p95_ms": 210.0, "read_error": None})
        costs.append(time.perf_counter() - started)
    rec.close()
    return costs


def long_recording(path: Path, ticks: list[Assessment], hours: int) -> None:
    """`hours` hours of 1 s ticks: the hour made, written again and again, moved on in time."""
    target = config.resolve(config.Config(), url="http://127.0.0.1:9")
    rec = Recorder(path, header(target.recording, 1.0, ticks[0].wall), max_bytes=1 << 40)
    span = float(len(ticks))  # the ticks made are 1 s apart
    n = 0
    while n < hours * 3600:
        shift = span * (n // len(ticks))
        a = ticks[n % len(ticks)]
        rec.tick(dataclasses.replace(a, t=a.t + shift, wall=a.wall + shift),
                 {"percent": 5, "step_started_wall": ticks[0].wall, "baseline_p95_ms": 210.0,
                  "read_error": None})
        n += 1
    rec.close()


# Run as a child: what a replay asks of the reader (open, seeks, playing forward).
REPLAYING = """
import random, sys
from pathlib import Path
from sbtop.recording.reader import Recording
rec = Recording(Path(sys.argv[1]))
rng = random.Random(1)
for _ in range(200):
    rec.assessment(rng.randrange(len(rec)))
for i in range(len(rec) - 600, len(rec)):
    rec.assessment(i)
"""


# Run as a parent of what is measured: its peak RSS (MB), CPU time (s: a busy machine
# stretches wall time, not this) and exit code.
PEAK = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(use.ru_maxrss / 1024, use.ru_utime + use.ru_stime, code)
"""


def peak(argv: list[str], sbtop: Path) -> tuple[float, float, int]:
    # Run in the tree measured: `python -m` and `-c` put the working directory first.
    env = {**os.environ, "PYTHONPATH": str(sbtop)}
    out = subprocess.run([sys.executable, "-c", PEAK, *argv], env=env, cwd=sbtop,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def long_figures(ticks: list[Assessment], hours: int, baseline: Path | None) -> None:
    ours = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"{hours}h.sbrec"
        print(f"\nwriting {hours} h of 1 s ticks…", file=sys.stderr)
        long_recording(path, ticks, hours)
        text = text_size(path)
        print(f"\n{hours} h of 1 s ticks ({hours * 3600:,} ticks): "
              f"{path.stat().st_size / 1e6:.1f} MB on disk, {text / 1e6:.0f} MB of text; "
              "peak RSS and CPU time of each:")
        runs = [("sbtop timeline", [sys.executable, "-m", "sbtop", "timeline", str(path)]),
                ("replay's reading (open, 200 seeks, 600 ticks)",
                 [sys.executable, "-c", REPLAYING, str(path)])]
        for label, tree in [("this sbtop", ours)] + ([("baseline", baseline)] if baseline else []):
            for name, argv in runs:
                rss, took, code = peak(argv, tree)
                failed = f" (exit {code})" if code else ""
                print(f"  {label:<11} {name:<48} {rss:>6.0f} MB {took:>6.1f} s CPU{failed}")


def text_size(path: Path) -> int:
    """The recording's size uncompressed, read a MiB at a time."""
    size = 0
    with gzip.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            size += len(chunk)
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=3600)
    parser.add_argument("--hours", type=int, default=0,
                        help="also a recording this long: peak memory of timeline and replay")
    parser.add_argument("--baseline", type=Path, help="another sbtop tree to measure too")
    args = parser.parse_args()
    print(f"making {args.ticks} ticks of the simulated backend…", file=sys.stderr)
    ticks = an_hour(args.ticks)
    hours = len(ticks) / 3600
    with tempfile.TemporaryDirectory() as d:
        a, b = Path(d) / "naive.jsonl.gz", Path(d) / "sbtop.sbrec"
        ref = naive(a, ticks)
        mine = ours(b, ticks)
        print(f"{len(ticks)} ticks at 1 s ({hours:.2f} h), same Assessments, same run\n")
        print(f"{'writer':<48} {'per tick p50':>13} {'p99':>9} {'size per hour':>14}")
        for name, costs, path in (
                ("whole check --json object a line, gzip", ref, a),
                ("sbtop record (changes, keyframes, gzip)", mine, b)):
            q = statistics.quantiles(costs, n=100)
            print(f"{name:<48} {statistics.median(costs) * 1e3:>10.3f} ms "
                  f"{q[98] * 1e3:>6.3f} ms {path.stat().st_size / hours / 1e6:>11.2f} MB")
        started = time.perf_counter()
        rec = Recording(b)
        opened = time.perf_counter() - started
        seeks = []
        rng = random.Random(1)
        for _ in range(200):
            i = rng.randrange(len(rec))
            rec._cache = None
            started = time.perf_counter()
            rec.assessment(i)
            seeks.append(time.perf_counter() - started)
        step = []
        for i in range(1, min(len(rec), 600)):
            started = time.perf_counter()
            rec.assessment(i)
            step.append(time.perf_counter() - started)
        print(f"\nreplay: open and index {opened * 1e3:.0f} ms; seek to a random tick "
              f"{statistics.median(seeks) * 1e3:.2f} ms (p50); next tick "
              f"{statistics.median(step) * 1e3:.2f} ms (p50)")
    if args.hours:
        long_figures(ticks, args.hours, args.baseline)


if __name__ == "__main__":
    main()

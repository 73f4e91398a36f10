"""Benchmark: an eight-hour shift of the live console at 1 s ticks on a manual clock: does memory
stay flat, the history bounded, and no file descriptor or thread leak?

    python bench/soak.py [--hours 8] [--refresh 1] [--paint-every 10] [--tracemalloc]

The real console (SbtopApp, headless through Textual's run_test at 120x40; every tick a full
one: /metrics and health scraped over loopback HTTP, the engine, every panel updated) watches
the real simulated StudyBuddy backend. The clock and the backend's traffic are moved by hand,
a tick at a time, so a shift takes minutes of wall time. Traffic changes over the shift: the
request rate wanders every 10 minutes, each hour has an error spike (5xx at 5 %) and a latency
spike (x4), each long enough for its alert to fire, and every two hours /metrics answers 503
for a minute and the service restarts (counters from zero), so levels and alerts change.

Every simulated hour: RSS (VmRSS), Python's allocated blocks, tracemalloc (when asked: it
slows ticks about five times), open fds, threads, the history rings' length against their
capacity, the levels and alerts seen, ticks per second of wall time. At the end: RSS growth per
hour after the first hour (warm-up), a least-squares slope over a sample every simulated 5
minutes, and the fd and thread deltas. Reference, same run: the process before the console was
built, and what the history rings preallocate. Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import statistics
import sys
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbtop.engine.alerts import AlertState
from sbtop.engine.levels import Level
from tests.console_harness import Harness

HOUR = 3600
SAMPLE_S = 300  # an RSS sample every simulated 5 minutes, for the slope


def status(field_name: str) -> int:
    """A figure of /proc/self/status (VmRSS in kB, Threads as a count)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise KeyError(field_name)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def knobs_at(s: int) -> dict[str, Any]:
    """The backend's knobs at second `s` of the shift."""
    even_hour, minute = (s // HOUR) % 2 == 0, (s % HOUR) // 60
    wander = 45 + 25 * math.sin(2 * math.pi * (s // 600) / 48)  # rps, a new value each 10 min
    return {
        "rps": round(wander),
        "error_rate": 0.05 if 15 <= minute < 23 else 0.002,
        "latency_scale": 4.0 if 35 <= minute < 43 else 1.0,
        "metrics_status": 503 if even_hour and minute == 55 else 200,
    }


def restarts_at(s: int) -> bool:
    """The service restarts at 1:50, 3:50, 5:50, ... into the shift."""
    return s % (2 * HOUR) == HOUR + 50 * 60


@dataclass
class Hour:
    levels: dict[str, int] = field(default_factory=dict)
    fired: int = 0
    restarts: int = 0


@dataclass
class Sample:
    s: float  # simulated seconds into the shift
    rss_kb: int
    blocks: int
    traced: int | None


def measure(s: float, traced: bool) -> Sample:
    gc.collect()  # cyclic garbage waiting for a collection is not a leak
    return Sample(s, status("VmRSS"), sys.getallocatedblocks(),
                  tracemalloc.get_traced_memory()[0] if traced else None)


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (simulated seconds, value) in value per hour."""
    if len(points) < 3:
        return None
    xs, ys = zip(*points, strict=True)
    return statistics.linear_regression(xs, ys).slope * HOUR


async def shift(args: argparse.Namespace) -> None:
    refresh: float = args.refresh
    ticks = round(args.hours * HOUR / refresh)
    warmup_s = HOUR if args.hours >= 2 else args.hours * HOUR / 4
    if args.tracemalloc:
        tracemalloc.start()
    gc.collect()
    before = {"rss": status("VmRSS"), "fds": open_fds(), "threads": threading.active_count(),
              "os_threads": status("Threads")}
    h = Harness(history_s=args.history_s)
    app, session = h.app, h.session
    if refresh != 1.0:  # the harness builds the console at 1 s: as `--refresh` would instead
        session.set_refresh(refresh)
        session.history.capacity = math.ceil(args.history_s / min(refresh, 1.0))  # lazily
    capacity = session.history.capacity
    print(f"{args.hours:g} simulated hours at {refresh:g} s ticks = {ticks} ticks; history "
          f"{args.history_s:g} s = {capacity} points a figure; the screen painted every "
          f"{args.paint_every} ticks (and by Textual's own refresh timer in between); "
          f"tracemalloc {'on' if args.tracemalloc else 'off'}")
    print(f"before the console: RSS {before['rss'] / 1024:.1f} MB, {before['fds']} fds, "
          f"{before['threads']} threads ({before['os_threads']} in the OS); the backend's "
          f"server and its loopback socket come with the console\n")
    cols = (f"{'hour':>4} {'RSS MB':>7} {'dRSS':>6} {'blocks':>8} {'traced':>7} {'fds':>4} "
            f"{'thr':>7} {'history':>11} {'rings':>5} {'notes':>5} {'tick/s':>6}  "
            f"levels (ticks), alerts fired, restarts")
    print(cols)
    samples: list[Sample] = []
    hourly: list[tuple[Sample, int, int, int]] = []
    hour = Hour()
    knobs: dict[str, Any] = {}
    firing: set[str] = set()
    max_len = 0
    started = time.perf_counter()
    hour_started = started
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        samples.append(measure(0.0, args.tracemalloc))
        for i in range(ticks):
            s = i * refresh
            second = int(s)
            if second != int(s - refresh) or i == 0:
                wanted = knobs_at(second)
                changed = {k: v for k, v in wanted.items() if knobs.get(k) != v}
                if changed:
                    h.backend.set(**changed)
                    knobs.update(changed)
                if restarts_at(second):
                    h.backend.restart()
                    hour.restarts += 1
            h.backend.advance(refresh)
            h.clock.advance(refresh)
            a = await session.tick()
            if (i + 1) % args.paint_every == 0:
                await pilot.pause()
            if a is not None:
                hour.levels[a.level.value] = hour.levels.get(a.level.value, 0) + 1
                now = {x.name for x in a.alerts if x.state is AlertState.FIRING}
                hour.fired += len(now - firing)
                firing = now
            rings = session.history.rings.values()
            max_len = max(max_len, max((len(r) for r in rings), default=0))
            done_s = (i + 1) * refresh
            if int(done_s) // SAMPLE_S != int(done_s - refresh) // SAMPLE_S:
                samples.append(measure(done_s, args.tracemalloc))
            if int(done_s) // HOUR != int(done_s - refresh) // HOUR or i == ticks - 1:
                sample = samples[-1] if samples[-1].s == done_s else measure(
                    done_s, args.tracemalloc)
                wall = time.perf_counter() - hour_started
                hour_ticks = sum(hour.levels.values()) or 1
                prev = hourly[-1][0].rss_kb if hourly else samples[0].rss_kb
                fds, thr, os_thr = open_fds(), threading.active_count(), status("Threads")
                hourly.append((sample, fds, thr, os_thr))
                levels = " ".join(f"{k} {v}" for k, v in sorted(hour.levels.items(),
                                                                 key=lambda kv: order(kv[0])))
                traced = (f"{sample.traced / 1e6:7.2f}" if sample.traced is not None
                          else f"{'-':>7}")
                print(f"{done_s / HOUR:>4.4g} {sample.rss_kb / 1024:>7.1f} "
                      f"{(sample.rss_kb - prev) / 1024:>+6.2f} {sample.blocks:>8} {traced} "
                      f"{fds:>4} {thr:>3}/{os_thr:<3} {max_len:>5}/{capacity:<5} "
                      f"{len(session.history.rings):>5} {len(app._notifications):>5} "
                      f"{hour_ticks / wall:>6.1f}  {levels}; {hour.fired} fired; "
                      f"{hour.restarts} restart{'s' if hour.restarts != 1 else ''}",
                      flush=True)
                hour = Hour()
                hour_started = time.perf_counter()
        elapsed = time.perf_counter() - started
        errors = list(session.internal_errors)
        rings_bytes = sum(r._t.itemsize * r.capacity * 2
                          for r in session.history.rings.values())
    h.close()
    gc.collect()
    after = {"fds": open_fds(), "threads": threading.active_count(),
             "os_threads": status("Threads")}

    print(f"\n{ticks} ticks in {elapsed:.0f} s of wall time ({ticks / elapsed:.1f} ticks/s); "
          f"internal errors: {len(errors)}{' ' + repr(errors[:3]) if errors else ''}")
    print(f"history: longest ring {max_len} of {capacity} (never more), "
          f"{len(session.history.rings)} rings preallocating {rings_bytes / 1e6:.2f} MB")
    steady = [x for x in samples if x.s >= warmup_s]
    rss = slope_per_hour([(x.s, x.rss_kb / 1024) for x in steady])
    blocks = slope_per_hour([(x.s, x.blocks) for x in steady])
    print(f"after the warm-up ({warmup_s / HOUR:g} h), least squares over {len(steady)} samples "
          f"5 simulated minutes apart:")
    if rss is None or blocks is None:
        print("  too few samples for a slope: run longer")
    else:
        print(f"  RSS growth       {rss:+.3f} MB per simulated hour "
              f"({rss * 1024 * 1024 / (HOUR / refresh):+.1f} B a tick)")
        print(f"  allocated blocks {blocks:+.0f} per simulated hour")
        if args.tracemalloc:
            mb = slope_per_hour([(x.s, (x.traced or 0) / 1e6) for x in steady]) or 0.0
            print(f"  tracemalloc      {mb:+.3f} MB per simulated hour")
        first, last = steady[0], steady[-1]
        print(f"  RSS from {first.s / HOUR:g} h to {last.s / HOUR:g} h: "
              f"{(last.rss_kb - first.rss_kb) / 1024:+.2f} MB")
    print(f"  for scale: a leak of 1 KB a tick would be "
          f"{1024 * HOUR / refresh / 1024 / 1024:.1f} MB per hour")
    (s1, fds1, thr1, os1), (_s8, fds8, thr8, os8) = hourly[0], hourly[-1]
    first_row = f"after {s1.s / HOUR:g} h"
    print(f"fds: {before['fds']} before, {fds1} {first_row}, {fds8} at the end "
          f"(delta {fds8 - fds1:+d}), {after['fds']} after exit "
          f"(delta {after['fds'] - before['fds']:+d})")
    print(f"threads: {before['threads']} before, {thr1} {first_row}, {thr8} at the end "
          f"(delta {thr8 - thr1:+d}), {after['threads']} after exit "
          f"(delta {after['threads'] - before['threads']:+d}); OS threads {before['os_threads']}"
          f" / {os1} / {os8} / {after['os_threads']}")


def order(level: str) -> int:
    return [x.value for x in Level].index(level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--refresh", type=float, default=1.0, help="seconds a tick")
    parser.add_argument("--history-s", type=float, default=3600.0,
                        help="the console's history (its default: an hour)")
    parser.add_argument("--paint-every", type=int, default=10,
                        help="wait for the screen to be painted every N ticks (1: every "
                             "tick, about 2.5 times slower)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="trace Python allocations too (ticks about 5 times slower)")
    args = parser.parse_args()
    asyncio.run(shift(args))


if __name__ == "__main__":
    main()

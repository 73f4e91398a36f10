"""`sbtop check`: one judged snapshot from two scrapes `window` seconds apart. No Textual."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from sbtop import format
from sbtop.clock import SYSTEM, Clock
from sbtop.collector import Collector
from sbtop.config import Target
from sbtop.engine.assessment import Assessment, iso, to_dict
from sbtop.engine.engine import Engine
from sbtop.engine.observations import ExternalAlert


async def run(target: Target, window_s: float, clock: Clock = SYSTEM) -> Assessment:
    """Scrape, wait until `window_s` after the first scrape began, scrape again, judge. With
    Prometheus, one round of queries over the last `window_s` (Prometheus holds the window)."""
    target = dataclasses.replace(target, engine=dataclasses.replace(target.engine,
                                                                    window_s=window_s))
    async with Collector(target, clock, health_every_s=0) as collector:
        started = clock.now()[0]
        first = await collector.observe()
        if target.prometheus is not None:
            return Engine(target.engine, target.name, target.production).observe(first)
        await asyncio.sleep(max(0.0, started + window_s - clock.now()[0]))
        second = await collector.observe()
    # A first scrape slower than the window (a big page, a slow target) still makes a window:
    # the one the two scrapes really span, which the output states.
    span = max(window_s, clock.now()[0] - started)
    engine = Engine(dataclasses.replace(target.engine, window_s=span), target.name,
                    target.production)
    engine.observe(first)
    return engine.observe(second)


def external_origin(x: ExternalAlert) -> str:
    """Where a Prometheus alert comes from, and whether it counts in the level."""
    if x.counted:
        return "Prometheus"
    return "Prometheus, without the target's labels: shown, not counted"


def as_json(a: Assessment) -> str:
    return json.dumps(to_dict(a), indent=2, sort_keys=False, allow_nan=False)


def as_text(a: Assessment, base_url: str = "") -> str:
    window = f"window {a.window_s:.1f} s" if a.window_s is not None else "no window"
    prod = "  PRODUCTION" if a.production else ""
    lines = [f"sbtop check: {a.target}{prod} {base_url}  {window}  -> {a.level.mark} "
             f"({a.level.value})".replace("  ", " ", 1)]
    width = max((len(k) for k in a.figures), default=10)
    for key, f in a.figures.items():
        threshold = f.threshold.describe() if f.threshold is not None else ""
        stale = f"  STALE {f.stale_s:.0f}s" if f.stale_s is not None else ""
        line = (f"  {key:<{width}}  {format.figure_value(f):>12}  {threshold:<26}  "
                f"{f.level.mark:<4}{stale}")
        if f.reason and f.value is None:
            line += f"  {f.reason}"
        elif f.detail.get("partial"):
            line += f"  PARTIAL: {f.detail['partial']}"
        elif key == "db_sessions":
            d = f.detail
            line += (f"  active {d.get('active', 0)}, idle {d.get('idle', 0)}, idle in txn "
                     f"{d.get('idle_in_transaction', 0)}, aborted "
                     f"{d.get('idle_in_transaction_aborted', 0)}, waiting "
                     f"{'-' if d.get('waiting') is None else d['waiting']}")
        lines.append(line.rstrip())
    for al in a.alerts:
        nodata = " (no data)" if al.no_data else ""
        lines.append(f"  alert {al.name}: {al.state.value} since {iso(al.since_wall)} "
                     f"[{al.rule.severity.value}]{nodata}")
    for x in a.external_alerts:
        lines.append(f"  alert {x.name}: {x.state} since {x.since} [{x.severity}] "
                     f"({external_origin(x)})")
    if not a.alerts and not a.external_alerts:
        lines.append("  alerts: none pending or firing")
    for i in a.instances:
        p95 = f" p95 {i.p95_ms:.0f} ms" if i.p95_ms is not None else ""
        lines.append(f"  instance {i.name}: {'up' if i.up else f'DOWN: {i.error}'}{p95}")
    r = a.routes
    if r.reason:
        lines.append(f"  routes: {r.reason}")
    else:
        if r.slowest:
            lines.append("  slowest: " + ", ".join(
                f"{s.name} p95 {s.p95_ms:.0f} ms" for s in r.slowest if s.p95_ms is not None))
        if r.failing:
            lines.append("  failing: " + ", ".join(
                f"{s.name} 5xx {s.error_5xx_pct:.1f}%" for s in r.failing
                if s.error_5xx_pct is not None))
    for name, s in a.sources.items():
        state = "up" if s.up else f"DOWN: {s.error}"
        took = f" ({s.elapsed_ms:.0f} ms)" if s.elapsed_ms and s.up else ""
        lines.append(f"  source {name}: {state}{took}")
    for note in a.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)

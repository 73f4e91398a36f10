"""`sbtop check`: one judged snapshot from two scrapes `window` seconds apart. No Textual."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import textwrap
from collections.abc import Mapping
from typing import Any

from sbtop import format
from sbtop.clock import SYSTEM, Clock
from sbtop.engine.advice import RUNBOOK_ADVICE, Advice, standing
from sbtop.engine.assessment import SHOWN, Assessment, figure_level, iso, to_dict
from sbtop.engine.cohorts import summary_lines
from sbtop.engine.engine import Engine
from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.observations import Observation
from sbtop.engine.statements import statement_lines
from sbtop.engine.status_pages import PageView, view, view_dict, view_line
from sbtop.session.live import LiveSession
from sbtop.sources.status_pages import StatusPoller
from sbtop.wiring import Wiring


class _SpanJudge:
    """Both scrapes judged together, once the second is in, over the window they really
    span: a first scrape slower than the window (a big page, a slow target) still makes one,
    which the output states."""

    def __init__(self, wiring: Wiring, window_s: float, clock: Clock) -> None:
        self.wiring, self.window_s, self.clock = wiring, window_s, clock
        self.first: tuple[Observation, float] | None = None

    def __call__(self, obs: Observation, began: float) -> Assessment | None:
        if self.first is None:
            self.first = (obs, began)
            return None
        first, started = self.first
        span = max(self.window_s, self.clock.now()[0] - started)
        w = self.wiring
        engine = Engine(dataclasses.replace(w.engine, window_s=span), w.name, w.production)
        engine.observe(first)
        return engine.observe(obs)


async def run(wiring: Wiring, window_s: float, clock: Clock = SYSTEM) -> Assessment:
    """A session of two ticks: scrape, then scrape again `window_s` after the first began (at
    once if the first took longer), judge. With Prometheus, one tick: one round of queries
    over the last `window_s` (Prometheus holds the window). Health is probed every tick."""
    wiring = wiring.with_engine(dataclasses.replace(wiring.engine, window_s=window_s))
    # Two polls, window_s apart: both read the statement statistics, whatever their cadence.
    wiring = dataclasses.replace(wiring, collector=dataclasses.replace(
        wiring.collector, db=dataclasses.replace(wiring.collector.db, statements_every_s=0.0)))
    prom = wiring.collector.prometheus is not None
    session = LiveSession(wiring, clock=clock, refresh_s=window_s, history_s=window_s,
                          read_only=True, health_every_s=0,
                          judge=None if prom else _SpanJudge(wiring, window_s, clock))
    async with session:
        await session.run(max_ticks=1 if prom else 2)
    if session.failure is not None:  # a bug of ours is raised, not taken for a verdict
        raise session.failure
    assert session.assessment is not None
    return session.assessment


def wide_bucket(f: Figure) -> bool:
    """A quantile interpolated in a bucket three times as wide as its lower bound (or more),
    or past the highest bound, is only known to lie somewhere in it: worth saying beside the
    number. The first bucket (from 0) is left alone: 'under 100 ms' needs no footnote."""
    bounds = f.detail.bucket_ms
    if not bounds or f.value is None:
        return False
    low, high = bounds
    return low > 0 and (high is None or high > 3 * low)


def read_from(a: Assessment) -> str:
    """Which of the metrics it knows the app's figures were read from, in words."""
    parts = []
    errors = a.figures.get(Fig.ERROR_RATE_5XX_PCT)
    requests = a.figures.get(Fig.REQUESTS_PER_S)
    if errors is not None and errors.detail.metric:
        label = errors.detail.status_label
        parts.append(f"requests {errors.detail.metric}" + (f" by {label}" if label else ""))
    elif requests is not None and requests.detail.metric:
        parts.append(f"requests {requests.detail.metric}")
    for key, what in ((Fig.SOCKET_CONNECTIONS, "sockets"), (Fig.SOCKET_MESSAGES_PER_S, "messages")):
        f = a.figures.get(key)
        if f is not None and f.detail.metric:
            parts.append(f"{what} {f.detail.metric}")
    return ", ".join(parts)


async def run_with_status_pages(wiring: Wiring, window_s: float, clock: Clock = SYSTEM
                                ) -> tuple[Assessment, tuple[PageView, ...]]:
    """The check, and the providers' status pages polled once meanwhile (each bounded by its
    own timeout: a hung page delays the answer by that at most, never more)."""
    poller = StatusPoller(wiring.status_pages, clock)
    async with poller:
        polled = asyncio.create_task(poller.poll_all())
        try:
            a = await run(wiring, window_s, clock)
            pages = await polled
        finally:
            polled.cancel()
    now = clock.now()[1]
    return a, tuple(view(p, now) for p in pages)


STATUS_PAGES_NOTE = ("status pages are context, not a verdict: a provider's incident does "
                     "not change the level or the exit code")


def as_json(a: Assessment, pages: tuple[PageView, ...] | None = None,
            advice: Mapping[str, Advice] | None = None,
            extra: Mapping[str, Any] | None = None) -> str:
    """The contract's object; `extra`: keys other parts add beside it (the deploy plan)."""
    d = {**to_dict(a), **(extra or {})}
    # What to do now: the breached figure's object says it as "action" (its words).
    for key, adv in standing(a.figures, RUNBOOK_ADVICE if advice is None else advice).items():
        d["figures"][key]["action"] = adv.words
    if pages is not None:
        d["status_pages"] = [view_dict(v) for v in pages]
        if pages:
            d["notes"] = [*d["notes"], STATUS_PAGES_NOTE]
    return json.dumps(d, indent=2, sort_keys=False, allow_nan=False)


def as_text(a: Assessment, base_url: str = "", pages: tuple[PageView, ...] = (),
            advice: Mapping[str, Advice] | None = None) -> str:
    now = standing(a.figures, RUNBOOK_ADVICE if advice is None else advice)
    window = f"window {a.window_s:.1f} s" if a.window_s is not None else "no window"
    prod = "  PRODUCTION" if a.production else ""
    head = (f"sbtop check: {a.target}{prod} {base_url}  {window}  -> {a.level.mark} "
            f"({a.level.value})".replace("  ", " ", 1))
    width = max((len(k) for k in a.figures), default=10)
    # A reason most figures share (a target down, a Prometheus that holds nothing to read) is
    # said once, in the headline, and the figures it leaves unknown are named on one line:
    # not ten identical rows of "-" and "UNKN".
    reasons = [f.reason for f in a.figures.values() if f.reason and f.value is None]
    shared = max(set(reasons), key=reasons.count) if reasons else None
    if shared is None or reasons.count(shared) < 3:
        shared = None
        lines = [head]
    else:
        together = [k for k, f in a.figures.items() if f.value is None and f.reason == shared]
        # Every figure but health unknown for it: it is why the verdict is unknown.
        everything = set(together) >= set(a.figures) - {Fig.HEALTH}
        lines = [f"{head}: {shared}" if everything and a.level is Level.UNKNOWN else
                 f"{head}; {len(together)} figures unknown: {shared}"]
        lines += textwrap.wrap("unknown: " + ", ".join(together), width=100,
                               initial_indent="  ", subsequent_indent="    ")
    for key, f in a.figures.items():
        if shared is not None and f.value is None and f.reason == shared:
            continue
        threshold = f.threshold.describe() if f.threshold is not None else ""
        if f.detail.page_at is not None:  # a burn rate: its pair pages when both are over
            threshold = f"pair pages > {f.detail.page_at:g}x"
        stale = f"  STALE {f.stale_s:.0f}s" if f.stale_s is not None else ""
        # A figure without a threshold is shown, not judged: "OK" beside it would be a verdict
        # nobody made (and it does not count in the overall level).
        line = (f"  {key:<{width}}  {format.figure_value(f):>12}  {threshold:<26}  "
                f"{SHOWN if figure_level(f) == SHOWN else f.level.mark:<5}"
                f"{stale}")
        if f.reason and f.value is None:
            line += f"  {f.reason}"
        elif f.detail.partial:
            line += f"  PARTIAL: {f.detail.partial}"
        elif wide_bucket(f) and f.detail.bucket_ms is not None:
            low, high = f.detail.bucket_ms
            line += (f"  somewhere in the {low:g}-{high:g} ms bucket" if high is not None else
                     f"  past the highest bucket: at least {low:g} ms")
        elif key == Fig.DB_SESSIONS:
            d = f.detail
            line += (f"  active {d.active or 0}, idle {d.idle or 0}, idle in txn "
                     f"{d.idle_in_transaction or 0}, aborted "
                     f"{d.idle_in_transaction_aborted or 0}, waiting "
                     f"{'-' if d.waiting is None else d.waiting}")
        if key in now:
            line += f"  now: {now[key].words}"
        lines.append(line.rstrip())
    read = read_from(a)
    if read:
        lines.append(f"  read from: {read}")
    if a.cohorts is not None:
        lines += [f"  {x}" for x in summary_lines(a.cohorts)]
    for al in a.alerts:
        nodata = " (no data)" if al.no_data else ""
        lines.append(f"  alert {al.name}: {al.state.value} since {iso(al.since_wall)} "
                     f"[{al.rule.severity.value}]{nodata}")
    for x in a.external_alerts:
        lines.append(f"  alert {x.name}: {x.state} since {x.since} [{x.severity}] "
                     f"({format.external_origin(x)})")
    if a.external_alerts_error:
        lines.append(f"  Prometheus alerts: unknown ({a.external_alerts_error})")
    elif not a.alerts and not a.external_alerts:
        lines.append("  alerts: none pending or firing")
    for i in a.instances:
        p95 = f" p95 {i.p95_ms:.0f} ms" if i.p95_ms is not None else ""
        lines.append(f"  instance {i.name}: {'up' if i.up else f'DOWN: {i.error}'}{p95}")
    r = a.routes
    if r.reason:
        lines.append(f"  routes: {'(see above)' if r.reason == shared else r.reason}")
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
    for v in pages:
        lines.append(f"  status page {view_line(v)}")
    if a.statements is not None:
        lines += [f"  {line}" for line in statement_lines(a.statements)]
    for note in a.notes:
        lines.append(f"  note: {note}")
    if pages:
        lines.append(f"  note: {STATUS_PAGES_NOTE}")
    return "\n".join(lines)

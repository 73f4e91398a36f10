"""The figures of one window: two rollups in, judged figures and route tables out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sbtop.engine.detail import Detail
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level, Threshold
from sbtop.engine.observations import HealthProbe
from sbtop.engine.quantile import INF, histogram_quantile, quantile_in_bucket
from sbtop.engine.rollup import BUCKET, COUNTER, HIST_COUNT, MESSAGES, Feed, Rollup, RouteKey
from sbtop.engine.settings import FIGURE_UNITS, EngineSettings

# The two counts of requests by status class: the request counter and the histogram's _count.
COUNTS = (COUNTER, HIST_COUNT)
QUANTILES = ((Fig.LATENCY_P50_MS, 0.5), (Fig.LATENCY_P95_MS, 0.95), (Fig.LATENCY_P99_MS, 0.99))


@dataclass(frozen=True, slots=True)
class Figure:
    """One judged number. `value` is None exactly when the figure is unknown; `reason` says why."""

    key: str
    value: float | None
    level: Level
    unit: str = ""
    threshold: Threshold | None = None
    reason: str | None = None
    detail: Detail = field(default_factory=Detail)
    # Only figures with a threshold (and health) decide the overall level; the rest inform.
    judged: bool = False
    # Seconds since the data behind a carried-over figure was read; None while fresh.
    stale_s: float | None = None


def judge(key: str, value: float | None, settings: EngineSettings, *, reason: str | None = None,
          detail: Detail | None = None) -> Figure:
    threshold = settings.thresholds.get(key)
    judged = threshold is not None and (
        threshold.warning is not None or threshold.critical is not None
    )
    if value is None or math.isnan(value):
        return Figure(key, None, Level.UNKNOWN, FIGURE_UNITS.get(key, ""), threshold,
                      reason or "no value", detail or Detail(), judged)
    level = threshold.judge(value) if threshold is not None else Level.OK
    return Figure(key, value, level, FIGURE_UNITS.get(key, ""), threshold, None,
                  detail or Detail(), judged)


def unknown(key: str, reason: str, settings: EngineSettings) -> Figure:
    return judge(key, None, settings, reason=reason)


@dataclass(frozen=True, slots=True)
class RouteStat:
    method: str
    route: str
    requests: float
    requests_per_s: float
    p95_ms: float | None  # None when the route had too few requests in the window
    error_5xx_pct: float | None
    error_4xx_pct: float | None

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}".strip()


@dataclass(frozen=True, slots=True)
class Routes:
    slowest: tuple[RouteStat, ...] = ()
    failing: tuple[RouteStat, ...] = ()
    every: tuple[RouteStat, ...] = ()
    reason: str | None = None  # why there is no route table


@dataclass(slots=True)
class Deltas:
    """What a window's figures are made from: how much every sum grew over the window, and the
    per-second rates of the counts shown as rates.

    From one source the rates are the increases over the window's span. Several instances each
    count over their own scrape times, so their rates are added, not their increases divided by
    one span (an instance answering late would otherwise stretch or shrink everyone's window);
    from Prometheus they are what rate() gave.
    """

    span: float
    buckets: dict[float, float] = field(default_factory=dict)
    route_buckets: dict[RouteKey, dict[float, float]] = field(default_factory=dict)
    counts: dict[Feed, dict[str, float]] = field(default_factory=dict)  # COUNTS -> class -> n
    route_counts: dict[Feed, dict[RouteKey, dict[str, float]]] = field(default_factory=dict)
    # Per second: each of the COUNTS' total and MESSAGES; and each route's requests.
    per_s: dict[Feed, float] = field(default_factory=dict)
    route_per_s: dict[RouteKey, float] = field(default_factory=dict)


def deltas(start: Rollup, end: Rollup, span: float | None = None) -> Deltas:
    """The increases from `start` to `end`, as rates over `span` (their time apart unless
    given: an instance that stopped answering is averaged over the window up to now)."""
    def inc(before: Mapping[Any, float], now: Mapping[Any, float]) -> dict[Any, float]:
        return {k: v - before.get(k, 0.0) for k, v in now.items()}

    def inc_by_route(before: Mapping[RouteKey, Mapping[Any, float]],
                     now: Mapping[RouteKey, Mapping[Any, float]]
                     ) -> dict[RouteKey, dict[Any, float]]:
        return {rk: inc(before.get(rk, {}), sums) for rk, sums in now.items()}

    a, b = start.sums, end.sums
    span = end.t - start.t if span is None else span
    d = Deltas(span, buckets=inc(a.buckets, b.buckets),
               route_buckets=inc_by_route(a.route_buckets, b.route_buckets))
    for feed in COUNTS:
        d.counts[feed] = inc(a.counts(feed), b.counts(feed))
        d.route_counts[feed] = inc_by_route(a.route_counts(feed), b.route_counts(feed))
    if span > 0:
        for feed in COUNTS:
            d.per_s[feed] = sum(d.counts[feed].values()) / span
        if end.message_counter is not None:
            d.per_s[MESSAGES] = inc(a.messages, b.messages).get(end.message_counter, 0.0) / span
        d.route_per_s = {rk: b.get(INF, 0.0) / span for rk, b in d.route_buckets.items()}
    return d


def add_deltas(parts: list[Deltas]) -> Deltas:
    """Several instances' windows as one: increases and rates added, the longest span kept."""
    out = Deltas(max(p.span for p in parts))

    def into(target: dict[Any, float], source: Mapping[Any, float]) -> None:
        for k, v in source.items():
            target[k] = target.get(k, 0.0) + v

    for p in parts:
        into(out.buckets, p.buckets)
        into(out.per_s, p.per_s)
        into(out.route_per_s, p.route_per_s)
        for rk, b in p.route_buckets.items():
            into(out.route_buckets.setdefault(rk, {}), b)
        for tag, classes in p.counts.items():
            into(out.counts.setdefault(tag, {}), classes)
        for tag, routes in p.route_counts.items():
            nested = out.route_counts.setdefault(tag, {})
            for rk, classes in routes.items():
                into(nested.setdefault(rk, {}), classes)
    return out


def waiting_figures(end: Rollup | None, health: HealthProbe | None, settings: EngineSettings,
                    reason: str = "waiting for a second scrape"
                    ) -> tuple[dict[str, Figure], Routes]:
    """Before a window exists: rates and quantiles unknown with `reason`, gauges as read."""
    figures: dict[str, Figure] = {}
    for key, _q in QUANTILES:
        figures[key] = unknown(key, reason, settings)
    for key in (Fig.REQUESTS_PER_S, Fig.ERROR_RATE_5XX_PCT, Fig.ERROR_RATE_4XX_PCT):
        figures[key] = unknown(key, reason, settings)
    if settings.names.message_counters:
        figures[Fig.SOCKET_MESSAGES_PER_S] = unknown(Fig.SOCKET_MESSAGES_PER_S, reason, settings)
    if end is not None:
        figures.update(gauge_figures(end, health, settings))
    return figures, Routes(reason=reason)


def window_figures(
    start: Rollup, end: Rollup, health: HealthProbe | None, settings: EngineSettings,
    waiting: str = "waiting for a second scrape",
) -> tuple[dict[str, Figure], Routes]:
    """Every metrics figure over the window from `start` to `end` (two successful scrapes)."""
    if start is end or end.t - start.t <= 0:
        return waiting_figures(end, health, settings, waiting)
    return figures_over(deltas(start, end), end, health, settings)


def figures_over(d: Deltas, end: Rollup, health: HealthProbe | None, settings: EngineSettings
                 ) -> tuple[dict[str, Figure], Routes]:
    """Every metrics figure from a window's increases; `end` says what the page held (the
    families present, their problems, the gauges as last read)."""
    names = settings.names
    figures: dict[str, Figure] = {}
    window = f"{d.span:.0f} s"
    figures.update(_latency(end, d, window, settings))
    figures.update(_traffic(end, d, window, settings))
    if names.message_counters:
        if end.message_counter is None:
            figures[Fig.SOCKET_MESSAGES_PER_S] = unknown(
                Fig.SOCKET_MESSAGES_PER_S,
                f"no message counter {end.found_in} "
                f"(looked for {', '.join(names.message_counters)})",
                settings,
            )
        elif MESSAGES in end.problems:
            figures[Fig.SOCKET_MESSAGES_PER_S] = unknown(Fig.SOCKET_MESSAGES_PER_S,
                                                       end.problems[MESSAGES], settings)
        else:
            figures[Fig.SOCKET_MESSAGES_PER_S] = judge(
                Fig.SOCKET_MESSAGES_PER_S, d.per_s.get(MESSAGES, 0.0), settings,
                detail=Detail(metric=end.message_counter),
            )
    figures.update(gauge_figures(end, health, settings))
    return figures, _routes(end, d, settings)


def _latency(end: Rollup, d: Deltas, window: str, settings: EngineSettings
              ) -> dict[str, Figure]:
    h = settings.names.latency_histogram
    reason: str | None = None
    total = d.buckets.get(INF)
    if not end.histogram_present:
        reason = f"histogram {h} is not {end.found_in}"
    elif end.latency_problem:
        reason = end.latency_problem
    elif BUCKET in end.problems:
        reason = end.problems[BUCKET]
    elif total is None:
        reason = f"histogram {h} has no le=\"+Inf\" bucket"
    elif total < settings.min_requests:
        reason = (f"too few requests: {total:.0f} in {window} "
                  f"(need {settings.min_requests})")
    out: dict[str, Figure] = {}
    for key, q in QUANTILES:
        if reason is not None:
            out[key] = unknown(key, reason, settings)
            continue
        seconds, low, high = quantile_in_bucket(q, d.buckets.items())
        bucket: tuple[float, float | None] | None = None
        if low is not None and high is not None:
            # Interpolated inside this bucket: the true quantile is somewhere in it. Past the
            # highest finite bound (None) it is only known to be at least that.
            bucket = (low * 1000.0, high * 1000.0 if math.isfinite(high) else None)
        detail = Detail(requests=total, bucket_ms=bucket)
        out[key] = judge(key, seconds * 1000.0, settings,
                         reason="histogram gives no quantile", detail=detail)
    return out


def _count_source(end: Rollup, settings: EngineSettings, *, need_status: bool
                  ) -> tuple[Feed, str] | None:
    """Which counts to use: the request counter when it serves, else the histogram's _count."""
    names = settings.names
    if end.counter_present and (end.counter_has_status or not need_status):
        return COUNTER, names.requests_counter
    if end.histogram_present and (end.hist_count_has_status or not need_status):
        return HIST_COUNT, names.latency_histogram + "_count"
    return None


def _traffic(end: Rollup, d: Deltas, window: str, settings: EngineSettings
             ) -> dict[str, Figure]:
    names = settings.names
    out: dict[str, Figure] = {}
    source = _count_source(end, settings, need_status=False)
    if source is None:
        out[Fig.REQUESTS_PER_S] = unknown(
            Fig.REQUESTS_PER_S,
            f"neither {names.requests_counter} nor {names.latency_histogram}_count is "
            f"{end.found_in}",
            settings,
        )
    elif source[0] in end.problems:
        out[Fig.REQUESTS_PER_S] = unknown(Fig.REQUESTS_PER_S, end.problems[source[0]], settings)
    else:
        total = sum(d.counts.get(source[0], {}).values())
        out[Fig.REQUESTS_PER_S] = judge(Fig.REQUESTS_PER_S, d.per_s.get(source[0], 0.0), settings,
                                      detail=Detail(metric=source[1], requests=total))
    source = _count_source(end, settings, need_status=True)
    reason: str | None = None
    classes: dict[str, float] = {}
    total = 0.0
    if source is None:
        reason = (f"no status label ({', '.join(names.status_labels)}) on "
                  f"{names.requests_counter} or {names.latency_histogram}_count")
    elif source[0] in end.problems:
        reason = end.problems[source[0]]
    else:
        classes = d.counts.get(source[0], {})
        total = sum(classes.values())
        if total < settings.min_requests:
            reason = (f"too few requests: {total:.0f} in {window} "
                      f"(need {settings.min_requests})")
    for key, cls in ((Fig.ERROR_RATE_5XX_PCT, "5xx"), (Fig.ERROR_RATE_4XX_PCT, "4xx")):
        if reason is not None:
            out[key] = unknown(key, reason, settings)
        else:
            errors = classes.get(cls, 0.0)
            out[key] = judge(key, 100.0 * errors / total, settings,
                             detail=Detail(errors=errors, requests=total,
                                           metric=source[1] if source else None,
                                           status_label=end.status_labels.get(source[0])
                                           if source else None))
    return out


def gauge_figures(end: Rollup, health: HealthProbe | None, settings: EngineSettings
                  ) -> dict[str, Figure]:
    """Figures read from the latest scrape alone: sockets, memory, event-loop lag."""
    names = settings.names
    out: dict[str, Figure] = {}
    if names.socket_gauges:
        sockets = end.gauges.get("sockets")
        out[Fig.SOCKET_CONNECTIONS] = judge(
            Fig.SOCKET_CONNECTIONS, sockets, settings,
            reason=end.problems.get("sockets") or
            f"no socket gauge {end.found_in} (looked for {', '.join(names.socket_gauges)})",
            detail=Detail(metric=end.socket_gauge),
        )
    out[Fig.MEMORY_PCT] = memory_figure(end.gauges.get("rss"), health, settings,
                                      end.problems.get("rss"), end.found_in)
    if names.event_loop_lag:
        lag = end.gauges.get("event_loop_lag")
        out[Fig.EVENT_LOOP_LAG_MS] = judge(
            Fig.EVENT_LOOP_LAG_MS, None if lag is None else lag * 1000.0, settings,
            reason=(end.problems.get("event_loop_lag")
                    or f"{names.event_loop_lag} is not {end.found_in}"),
        )
    return out


def memory_figure(rss: float | None, health: HealthProbe | None, settings: EngineSettings,
                  problem: str | None = None, found_in: str = "on the page") -> Figure:
    fields = settings.health_fields
    body = health.body if health is not None and health.status is not None else None
    rss_source = settings.names.memory_rss
    why_not = ""
    if rss is None:
        rss, why_not = _number_at(body, fields.rss)
        rss_source = f"health {fields.rss}"
    limit = settings.memory_limit_bytes
    limit_source = "config memory_limit_mb"
    limit_why = ""
    if limit is None:
        limit, limit_why = _number_at(body, fields.memory_limit)
        limit_source = f"health {fields.memory_limit}"
    if rss is None:
        return unknown(Fig.MEMORY_PCT, f"no resident memory: {problem}" if problem else
                       f"no resident memory: {settings.names.memory_rss} is not {found_in} "
                       f"and the health JSON's {fields.rss} {why_not}", settings)
    if rss < 0:  # no process holds less than nothing: a bug upstream, not a calm 0 %
        return unknown(Fig.MEMORY_PCT, f"resident memory from {rss_source} is {rss:g} bytes: "
                       "impossible", settings)
    if not limit or limit <= 0:
        said = f" (the health JSON's {fields.memory_limit} {limit_why})" if limit_why else ""
        return judge(Fig.MEMORY_PCT, None, settings,
                     reason=f"no memory limit: set memory_limit_mb on the target{said}",
                     detail=Detail(rss_bytes=rss))
    return judge(Fig.MEMORY_PCT, 100.0 * rss / limit, settings,
                 detail=Detail(rss_bytes=rss, limit_bytes=limit, rss_from=rss_source,
                               limit_from=limit_source))


def health_figure(probe: HealthProbe | None, settings: EngineSettings) -> Figure | None:
    """2xx is ok; another status or a timeout is critical; no answer at all is unknown."""
    if probe is None:
        return None
    detail = Detail(elapsed_ms=round(probe.elapsed_ms, 1))
    if probe.status is not None and 200 <= probe.status < 300:
        return Figure(Fig.HEALTH, float(probe.status), Level.OK, "", None, None, detail, True)
    if probe.status is not None:
        return Figure(Fig.HEALTH, float(probe.status), Level.CRITICAL, "", None,
                      probe.error or f"HTTP {probe.status}", detail, True)
    level = Level.CRITICAL if probe.answered_or_timed_out else Level.UNKNOWN
    return Figure(Fig.HEALTH, None, level, "", None, probe.error or "no answer", detail, True)


def _routes(end: Rollup, d: Deltas, settings: EngineSettings) -> Routes:
    for group in (BUCKET, COUNTER, HIST_COUNT):
        if group in end.problems:
            return Routes(reason=end.problems[group])
    if not d.route_buckets:
        names = settings.names
        if not end.histogram_present:
            return Routes(reason=f"histogram {names.latency_histogram} is not {end.found_in}")
        return Routes(reason=f"no route label ({', '.join(names.route_labels)}) on "
                             f"{names.latency_histogram}")
    source = _count_source(end, settings, need_status=True)
    route_counts = {}
    if source is not None:
        route_counts = d.route_counts.get(source[0], {})
    stats = []
    minimum = settings.min_route_requests
    for rk, buckets in d.route_buckets.items():
        total = buckets.get(INF, 0.0)
        if total <= 0:
            continue  # no traffic on this route in the window
        p95: float | None = None
        if total >= minimum and not end.latency_problem:
            q = histogram_quantile(0.95, buckets.items())
            p95 = None if math.isnan(q) else q * 1000.0
        e5 = e4 = None
        classes = route_counts.get(rk)
        if classes:
            n = sum(classes.values())
            if n >= minimum and n > 0:
                e5 = 100.0 * classes.get("5xx", 0.0) / n
                e4 = 100.0 * classes.get("4xx", 0.0) / n
        stats.append(RouteStat(rk[0], rk[1], total, d.route_per_s.get(rk, 0.0), p95, e5, e4))
    return ranked(stats, settings.top_routes)


def ranked(stats: list[RouteStat] | tuple[RouteStat, ...], top: int) -> Routes:
    """The route table: every route by name, and the `top` slowest and most failing."""
    slowest = sorted((s for s in stats if s.p95_ms is not None),
                     key=lambda s: (-(s.p95_ms or 0.0), s.name))[:top]
    failing = sorted((s for s in stats if s.error_5xx_pct),
                     key=lambda s: (-(s.error_5xx_pct or 0.0), -s.requests, s.name))[:top]
    every = tuple(sorted(stats, key=lambda s: s.name))
    return Routes(tuple(slowest), tuple(failing), every)


def _number_at(body: Any, path: str) -> tuple[float | None, str]:
    """The number at a dotted path in parsed JSON, or None and why not, in words."""
    if not path:
        return None, "is not configured"
    node = body
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None, "is missing"
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None, f"is not a number ({str(node)[:40]!r})"
    try:
        value = float(node)
    except OverflowError:
        return None, "is a number too large to be true"
    if not math.isfinite(value):
        return None, f"is {value}"
    return value, ""

"""The judged figure (`Figure`, `judge`) and the figures of one window: two rollups in, judged
figures and route tables out (the route table itself is sbtop.engine.routes')."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sbtop.engine.deltas import Deltas, deltas
from sbtop.engine.detail import Detail
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level, Threshold
from sbtop.engine.observations import HealthProbe
from sbtop.engine.quantile import INF, quantile_in_bucket
from sbtop.engine.rollup import BUCKET, MESSAGES, Rollup, count_source, status_counts
from sbtop.engine.routes import LazyRoutes, Routes, route_table
from sbtop.engine.settings import FIGURE_UNITS, EngineSettings

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
    # The route table is made when it is read (LazyRoutes): from the same two rollups, which
    # never change once made, so it is the table an eager tick would have made.
    return (metric_figures(deltas(start, end, routes=False), end, health, settings),
            LazyRoutes(lambda: route_table(end, deltas(start, end), settings)))


def figures_over(d: Deltas, end: Rollup, health: HealthProbe | None, settings: EngineSettings
                 ) -> tuple[dict[str, Figure], Routes]:
    """Every metrics figure from a window's increases, and its route table."""
    return metric_figures(d, end, health, settings), route_table(end, d, settings)


def metric_figures(d: Deltas, end: Rollup, health: HealthProbe | None,
                   settings: EngineSettings) -> dict[str, Figure]:
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
    return figures


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



def _traffic(end: Rollup, d: Deltas, window: str, settings: EngineSettings
             ) -> dict[str, Figure]:
    names = settings.names
    out: dict[str, Figure] = {}
    source = count_source(end, settings.names, need_status=False)
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
    counted = status_counts(end, settings.names)
    reason: str | None = None
    classes: dict[str, float] = {}
    total = 0.0
    if isinstance(counted, str):
        reason = counted
    else:
        classes = d.counts.get(counted[0], {})
        total = sum(classes.values())
        if total < settings.min_requests:
            reason = (f"too few requests: {total:.0f} in {window} "
                      f"(need {settings.min_requests})")
    for key, cls in ((Fig.ERROR_RATE_5XX_PCT, "5xx"), (Fig.ERROR_RATE_4XX_PCT, "4xx")):
        if reason is not None:
            out[key] = unknown(key, reason, settings)
        else:
            assert not isinstance(counted, str)  # else the reason says why
            errors = classes.get(cls, 0.0)
            out[key] = judge(key, 100.0 * errors / total, settings,
                             detail=Detail(errors=errors, requests=total, metric=counted[1],
                                           status_label=end.status_labels.get(counted[0])))
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

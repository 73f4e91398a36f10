"""What the engine is given from the config: the runbook's thresholds with the file's bounds on
top, the metric names (a target's overrides applied), the alert rules and the window."""

from __future__ import annotations

import msgspec

from sbtop.config.schema import Config, TargetConfig
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level, Threshold
from sbtop.engine.settings import (
    RUNBOOK_ALERTS,
    RUNBOOK_THRESHOLDS,
    AlertRule,
    CohortSettings,
    EngineSettings,
    HealthFields,
    MetricNames,
    TrendSettings,
)
from sbtop.engine.slo import SloSettings


def merged_thresholds(config: Config) -> dict[str, Threshold]:
    """The runbook's thresholds with the file's bounds on top: a table replaces only the
    bounds it names (`warning = 800` keeps the runbook's critical 1000)."""
    out = dict(RUNBOOK_THRESHOLDS)
    for key, th in config.thresholds.items():
        base = out.get(key, Threshold())
        same_way = base.above == (not th.below)
        out[key] = Threshold(
            th.warning if th.warning is not None else (base.warning if same_way else None),
            th.critical if th.critical is not None else (base.critical if same_way else None),
            above=not th.below,
        )
    return out


def engine_settings(config: Config, tc: TargetConfig | None = None) -> EngineSettings:
    m = msgspec.structs.replace(config.metrics, **(tc.metrics if tc else {}))
    names = MetricNames(
        latency_histogram=m.latency_histogram,
        requests_counter=m.requests_counter,
        status_labels=tuple(m.status_labels),
        route_labels=tuple(m.route_labels),
        method_labels=tuple(m.method_labels),
        socket_gauges=tuple(m.socket_gauges),
        message_counters=tuple(m.message_counters),
        memory_rss=m.memory_rss,
        event_loop_lag=m.event_loop_lag,
        process_start=m.process_start,
    )
    thresholds = merged_thresholds(config)
    alerts = RUNBOOK_ALERTS
    if config.alerts is not None:
        alerts = tuple(
            AlertRule(a.name, a.figure, a.op, a.value, float(a.for_s), Level(a.severity), a.summary)
            for a in config.alerts
        )
    e = config.engine
    slo = config.slo
    p95 = thresholds.get(Fig.LATENCY_P95_MS)
    slo_settings = SloSettings(
        availability_pct=slo.availability or None,
        latency_pct=slo.latency or None,
        # The runbook's p95 warning bound is the latency a request should beat.
        latency_threshold_ms=slo.latency_threshold_ms or (
            p95.warning if p95 is not None and p95.warning is not None else 500.0),
        period_s=float(slo.period))
    limit = tc.memory_limit_mb if tc else 0.0
    return EngineSettings(
        window_s=e.window_s,
        min_requests=e.min_requests,
        min_route_requests=e.min_route_requests,
        top_routes=e.top_routes,
        memory_limit_bytes=limit * 1024 * 1024 if limit else None,
        db_pool_size=config.db.pool_size or None,
        names=names,
        health_fields=HealthFields(config.health_fields.rss, config.health_fields.memory_limit),
        thresholds=thresholds,
        alerts=alerts,
        n_plus_one_calls_per_request=config.db.n_plus_one_calls_per_request,
        slo=slo_settings,
        cohorts=cohort_settings(config),
        trends=TrendSettings(window_s=float(config.trends.window),
                             min_span_s=float(config.trends.min_span),
                             after_restart_s=float(config.trends.after_restart)),
    )


def cohort_settings(config: Config) -> CohortSettings | None:
    """[canary.cohorts]: None (off) while no label is named."""
    c = config.canary.cohorts
    if not c.label:
        return None
    return CohortSettings(c.label, c.canary, c.stable, c.min_canary_requests, float(c.alpha),
                          float(c.max_p95_over_stable_pct), float(c.max_5xx_over_stable_pts))

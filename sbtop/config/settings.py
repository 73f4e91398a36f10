"""What the engine is given from the config: the runbook's thresholds with the file's bounds on
top, the metric names (a target's overrides applied), the alert rules and the window."""

from __future__ import annotations

import msgspec

from sbtop.config.schema import Config, TargetConfig
from sbtop.engine.levels import Level, Threshold
from sbtop.engine.settings import (
    RUNBOOK_ALERTS,
    RUNBOOK_THRESHOLDS,
    AlertRule,
    EngineSettings,
    HealthFields,
    MetricNames,
    TrendSettings,
)


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
        trends=TrendSettings(window_s=float(config.trends.window),
                             min_span_s=float(config.trends.min_span),
                             after_restart_s=float(config.trends.after_restart)),
    )

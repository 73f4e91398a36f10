"""PromQL for each figure, in the figure's own unit (ms, %, count): one place, used by
`sbtop rules` (alerting rules) and by the Prometheus source (instant queries)."""

from __future__ import annotations

from sbtop.engine.figures import Figure, judge, unknown
from sbtop.engine.observations import PromSnapshot
from sbtop.engine.settings import EngineSettings

RATE = "5m"
# The figures the Prometheus source reads, each an instant query over the window.
PROM_FIGURES = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "requests_per_s",
                "error_rate_5xx_pct", "error_rate_4xx_pct", "socket_connections",
                "memory_pct", "event_loop_lag_ms")


def figure_expr(figure: str, settings: EngineSettings, selector: str = "") -> str | None:
    """PromQL for one figure, in the figure's own unit (ms, %, count)."""
    n = settings.names
    sel = f"{{{selector}}}" if selector else ""
    h = n.latency_histogram
    quantiles = {"latency_p50_ms": 0.5, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
    if figure in quantiles:
        return (f"histogram_quantile({quantiles[figure]}, sum by (le) "
                f"(rate({h}_bucket{sel}[{RATE}]))) * 1000")
    counter, status = _requests(settings)
    if figure == "requests_per_s":
        return f"sum(rate({counter}{sel}[{RATE}]))"
    if figure in ("error_rate_5xx_pct", "error_rate_4xx_pct"):
        cls = "5" if figure == "error_rate_5xx_pct" else "4"
        inner = f"{selector}," if selector else ""
        return (f'sum(rate({counter}{{{inner}{status}=~"{cls}.."}}[{RATE}])) / '
                f"sum(rate({counter}{sel}[{RATE}])) * 100")
    if figure == "socket_connections" and n.socket_gauges:
        return f"sum({n.socket_gauges[0]}{sel})"
    if figure == "memory_pct" and n.memory_rss and settings.memory_limit_bytes:
        return f"max({n.memory_rss}{sel}) / {settings.memory_limit_bytes:.0f} * 100"
    if figure == "event_loop_lag_ms" and n.event_loop_lag:
        return f"max({n.event_loop_lag}{sel}) * 1000"
    if figure == "db_connections_pct":
        # postgres_exporter's names: client sessions over the server's limit.
        return ("sum(pg_stat_activity_count) / scalar(max(pg_settings_max_connections) - "
                "max(pg_settings_superuser_reserved_connections)) * 100")
    return None


def _requests(settings: EngineSettings) -> tuple[str, str]:
    n = settings.names
    if n.requests_counter:
        counter = n.requests_counter
        if not counter.endswith("_total"):
            counter += "_total"
        return counter, (n.status_labels[0] if n.status_labels else "status")
    # express-prom-bundle has no counter: the histogram's _count, with its status_code label.
    return n.latency_histogram + "_count", "status_code"




def prom_figures(snap: PromSnapshot, settings: EngineSettings) -> dict[str, Figure]:
    """Judged figures from one round of queries; too little traffic makes latency and errors
    unknown, as for a direct scrape."""
    if snap.error is not None:
        reason = f"Prometheus unavailable: {snap.error}"
        return {k: unknown(k, reason, settings) for k in PROM_FIGURES}
    few = snap.requests is not None and snap.requests < settings.min_requests
    out = {}
    for key in PROM_FIGURES:
        if few and (key.startswith("latency_") or key.startswith("error_rate")):
            out[key] = unknown(key, f"too few requests: {snap.requests:.0f} in "
                               f"{settings.window_s:.0f} s (need {settings.min_requests})",
                               settings)
            continue
        if key not in snap.values:
            continue  # not configured (no socket gauge, no memory limit)
        out[key] = judge(key, snap.values[key], settings,
                         reason=snap.reasons.get(key, "no value"),
                         detail={"source": "prometheus"})
    return out

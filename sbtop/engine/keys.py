"""The one home of the figure keys: every module names a figure by `Fig`, never by its text.

A StrEnum, so a key is still its text wherever text is the format: `check --json` and the
recordings write `"latency_p95_ms"`, the config's `[thresholds.latency_p95_ms]` and an alert
rule's `figure = "..."` are looked up in dicts keyed by `Fig` unchanged (a member hashes and
compares as its text), and `f"{key}"` prints the text.
"""

from __future__ import annotations

import enum


class Fig(enum.StrEnum):
    """Every figure sbtop can judge, in display order (FIGURE_UNITS keeps this order)."""

    LATENCY_P50_MS = "latency_p50_ms"
    LATENCY_P95_MS = "latency_p95_ms"
    LATENCY_P99_MS = "latency_p99_ms"
    # The latency SLO's error-budget burn rates (sbtop.engine.slo): the share of requests
    # slower than its bound over each window, in multiples of the budget; beside latency.
    LATENCY_BURN_RATE_5M = "latency_burn_rate_5m"
    LATENCY_BURN_RATE_30M = "latency_burn_rate_30m"
    LATENCY_BURN_RATE_1H = "latency_burn_rate_1h"
    LATENCY_BURN_RATE_6H = "latency_burn_rate_6h"
    REQUESTS_PER_S = "requests_per_s"
    ERROR_RATE_5XX_PCT = "error_rate_5xx_pct"
    ERROR_RATE_4XX_PCT = "error_rate_4xx_pct"
    # The availability SLO's burn rates (the 5xx share's), beside the error rates.
    BURN_RATE_5M = "burn_rate_5m"
    BURN_RATE_30M = "burn_rate_30m"
    BURN_RATE_1H = "burn_rate_1h"
    BURN_RATE_6H = "burn_rate_6h"
    SOCKET_CONNECTIONS = "socket_connections"
    SOCKET_MESSAGES_PER_S = "socket_messages_per_s"
    MEMORY_PCT = "memory_pct"
    EVENT_LOOP_LAG_MS = "event_loop_lag_ms"
    DB_CONNECTIONS_PCT = "db_connections_pct"
    DB_POOL_PCT = "db_pool_pct"
    DB_SESSIONS = "db_sessions"
    HEALTH = "health"
    # The canary cohort against the stable one (only when a cohort label is configured).
    CANARY_P95_VS_STABLE_PCT = "canary_p95_vs_stable_pct"
    CANARY_5XX_VS_STABLE_PTS = "canary_5xx_vs_stable_pts"
    # Trends (sbtop.engine.trends): how fast memory and the socket count grow.
    MEMORY_GROWTH_MB_PER_H = "memory_growth_mb_per_h"
    SOCKET_GROWTH_PER_H = "socket_growth_per_h"

    def __repr__(self) -> str:
        # As its text: messages quote keys with !r ("did you mean 'latency_p95_ms'?") and
        # must read as they did when the keys were plain strings.
        return str.__repr__(self.value)

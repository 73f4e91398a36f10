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
    REQUESTS_PER_S = "requests_per_s"
    ERROR_RATE_5XX_PCT = "error_rate_5xx_pct"
    ERROR_RATE_4XX_PCT = "error_rate_4xx_pct"
    SOCKET_CONNECTIONS = "socket_connections"
    SOCKET_MESSAGES_PER_S = "socket_messages_per_s"
    MEMORY_PCT = "memory_pct"
    EVENT_LOOP_LAG_MS = "event_loop_lag_ms"
    DB_CONNECTIONS_PCT = "db_connections_pct"
    DB_POOL_PCT = "db_pool_pct"
    DB_SESSIONS = "db_sessions"
    HEALTH = "health"
    # Trends (sbtop.engine.trends): how fast memory and the socket count grow.
    MEMORY_GROWTH_MB_PER_H = "memory_growth_mb_per_h"
    SOCKET_GROWTH_PER_H = "socket_growth_per_h"

    def __repr__(self) -> str:
        # As its text: messages quote keys with !r ("did you mean 'latency_p95_ms'?") and
        # must read as they did when the keys were plain strings.
        return str.__repr__(self.value)

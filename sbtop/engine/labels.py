"""The short names figures are said by ("p95", "5xx", "db conns"): one table, for the engine's
own sentences (the canary gate, the deploy window's criteria) and every face (the alerts
panel, check's text, the timeline), so a figure reads the same wherever it is named."""

from __future__ import annotations

from sbtop.engine.keys import Fig

LABELS: dict[str, str] = {
    Fig.LATENCY_P50_MS: "p50",
    Fig.LATENCY_P95_MS: "p95",
    Fig.LATENCY_P99_MS: "p99",
    Fig.REQUESTS_PER_S: "req/s",
    Fig.ERROR_RATE_5XX_PCT: "5xx",
    Fig.ERROR_RATE_4XX_PCT: "4xx",
    Fig.SOCKET_CONNECTIONS: "sockets",
    Fig.SOCKET_MESSAGES_PER_S: "msgs",
    Fig.MEMORY_PCT: "memory",
    Fig.EVENT_LOOP_LAG_MS: "loop lag",
    Fig.DB_CONNECTIONS_PCT: "db conns",
    Fig.DB_SESSIONS: "db sessions",
    Fig.HEALTH: "health",
    # A burn-rate pair's alert names its long window; its value is the slower of the two.
    Fig.BURN_RATE_1H: "burn 1h+5m",
    Fig.BURN_RATE_6H: "burn 6h+30m",
    Fig.LATENCY_BURN_RATE_1H: "slow burn 1h+5m",
    Fig.LATENCY_BURN_RATE_6H: "slow burn 6h+30m",
    Fig.MEMORY_GROWTH_MB_PER_H: "memory growth",
    Fig.SOCKET_GROWTH_PER_H: "socket growth",
}


def label(key: str) -> str:
    """A figure's short name; its key where it has none."""
    return LABELS.get(key, key)


def said(name: str) -> str:
    """A name that starts with a figure's key ("error_rate_5xx_pct < 1 (during)", a plan
    criterion's), with the short name instead ("5xx < 1 (during)")."""
    key, sep, rest = name.partition(" ")
    return label(key) + sep + rest

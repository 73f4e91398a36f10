"""How figures read as text, shared by `check` and the console."""

from __future__ import annotations

from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig
from sbtop.engine.observations import ExternalAlert
from sbtop.engine.words import duration, number

# `number` and `duration` are the engine's (it writes them into its own sentences, and may not
# import this module): one implementation, so a panel and a gate criterion say a figure alike.
__all__ = ["LABELS", "duration", "external_origin", "figure_value", "number", "size"]

# Short names for figures where space is tight (the alerts panel).
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


def figure_value(f: Figure) -> str:
    if f.key == Fig.HEALTH:
        return "-" if f.value is None else f"HTTP {f.value:.0f}"
    return number(f.value, f.unit)


def size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if abs(n) < 10 and unit != "B" else f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} GB"


def external_origin(x: ExternalAlert) -> str:
    """Where a Prometheus alert comes from, and whether it counts in the level."""
    if x.counted:
        return "Prometheus"
    if x.scope == "unchosen":
        return "Prometheus, no target chosen: shown, not counted"
    return "Prometheus, without the target's labels: shown, not counted"

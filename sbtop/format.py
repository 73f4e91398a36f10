"""How figures read as text, shared by `check` and the console."""

from __future__ import annotations

import math

from sbtop.engine.figures import Figure
from sbtop.engine.observations import ExternalAlert


def number(value: float | None, unit: str) -> str:
    """A figure's value in its unit: '218 ms', '0.21%', '40.2/s', '1,300'."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e12:  # a figure that large is a bug upstream: not 300 digits of it
        return f"{value:.3g}" + ("%" if unit == "%" else f" {unit}" if unit else "")
    # Precision where it matters (0.95% against a 1% threshold), no more: digits that flicker
    # on every tick are noise to read and bytes to send.
    if unit == "%":
        return f"{value:.2f}%" if abs(value) < 10 else f"{value:.1f}%"
    if unit == "ms":
        return f"{value:.0f} ms" if abs(value) >= 10 else f"{value:.1f} ms"
    if unit == "/s":
        return f"{value:.0f}/s" if abs(value) >= 100 else f"{value:.1f}/s"
    return f"{value:,.0f}"


# Short names for figures where space is tight (the alerts panel).
LABELS: dict[str, str] = {
    "latency_p50_ms": "p50",
    "latency_p95_ms": "p95",
    "latency_p99_ms": "p99",
    "requests_per_s": "req/s",
    "error_rate_5xx_pct": "5xx",
    "error_rate_4xx_pct": "4xx",
    "socket_connections": "sockets",
    "socket_messages_per_s": "msgs",
    "memory_pct": "memory",
    "event_loop_lag_ms": "loop lag",
    "db_connections_pct": "db conns",
    "db_sessions": "db sessions",
    "health": "health",
}


def figure_value(f: Figure) -> str:
    if f.key == "health":
        return "-" if f.value is None else f"HTTP {f.value:.0f}"
    return number(f.value, f.unit)


def duration(seconds: float) -> str:
    """Compact and coarse where precision does not help: '42s', '3m12s', '2h05m'."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


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

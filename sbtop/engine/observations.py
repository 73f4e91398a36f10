"""What the sources hand the engine each tick: results with their times, or why they failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sbtop.engine.exposition import Page


@dataclass(frozen=True, slots=True)
class MetricsScrape:
    """One scrape of /metrics. `t` is monotonic seconds (for rates), `wall` is epoch seconds."""

    t: float
    wall: float
    page: Page | None
    error: str | None = None
    elapsed_ms: float = 0.0
    size_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.page is not None


@dataclass(frozen=True, slots=True)
class HealthProbe:
    """One GET of the health path."""

    t: float
    wall: float
    status: int | None  # HTTP status, None when no answer came
    body: Any = None  # parsed JSON, or the first part of a non-JSON body as text
    error: str | None = None
    # A timeout or an HTTP error status is the backend's fault (critical); a refused connection
    # or a DNS failure may be ours, so sbtop cannot say (unknown).
    answered_or_timed_out: bool = True
    elapsed_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Observation:
    t: float
    wall: float
    metrics: MetricsScrape | None = None
    health: HealthProbe | None = None

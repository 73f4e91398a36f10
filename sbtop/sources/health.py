"""GET the health path (default /api/health) and keep its JSON for display."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sbtop import untrusted
from sbtop.clock import SYSTEM, Clock
from sbtop.engine.observations import HealthProbe
from sbtop.sources.http import FetchError, HttpSettings, fetch, status_reason

if TYPE_CHECKING:
    import httpx

# The health JSON is shown, not stored: keep what a person can read.
MAX_HEALTH_BYTES = 256 * 1024


async def probe(client: httpx.AsyncClient, url: str, settings: HttpSettings,
                now: tuple[float, float], clock: Clock = SYSTEM) -> HealthProbe:
    small = HttpSettings(
        connect_timeout_s=settings.connect_timeout_s, timeout_s=settings.timeout_s,
        verify_tls=settings.verify_tls, ca_bundle=settings.ca_bundle,
        max_bytes=min(settings.max_bytes, MAX_HEALTH_BYTES), gzip=settings.gzip,
    )
    try:
        got = await fetch(client, url, small, accept="application/json", any_status=True,
                          clock=clock)
    except FetchError as e:
        return HealthProbe(now[0], now[1], e.status, None, e.reason, e.answered_or_timed_out)
    error = None if 200 <= got.status < 300 else status_reason(got.status)
    return HealthProbe(got.t, got.wall, got.status, _body(got.body), error, True,
                       got.elapsed_ms)


def _body(raw: bytes) -> Any:
    """The answer as JSON made safe to show (every string, bounded in depth and size), or
    the start of its text."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return untrusted.json_value(json.loads(text))
    except RecursionError:  # nested deeper than the parser goes: not worth showing whole
        return untrusted.line(text, 200)
    except ValueError:
        return untrusted.line(text, 500)

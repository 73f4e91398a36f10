"""Send the checklist's HTTP probes, all at once, each with its own overall deadline; read at
most MAX_BODY of each answer. Redirects are not followed: a login page where the app should
answer is a failure to see, not to hide."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sbtop import bounded, untrusted
from sbtop.engine.verify import MAX_BODY, Probe, ProbeAnswer
from sbtop.sources.http import HttpSettings, error_reason, make_client

if TYPE_CHECKING:
    import httpx


async def run_all(probes: Sequence[Probe], settings: HttpSettings) -> list[ProbeAnswer | None]:
    """One answer per probe, in order; None for a probe that is not sent (it lacks a secret)."""
    async with make_client(settings, hosts=max(1, len(probes))) as client:
        return list(await asyncio.gather(*(_one(client, p, settings) for p in probes)))


async def _one(client: httpx.AsyncClient, probe: Probe, settings: HttpSettings
               ) -> ProbeAnswer | None:
    import httpx

    if probe.missing:
        return None
    started = time.monotonic()
    try:
        # The answer's body is read for its JSON checks: past MAX_BODY it is cut, and said so.
        got = await bounded.request(client, probe.method, probe.url, content=probe.body,
                                    headers=dict(probe.headers), deadline_s=probe.timeout_s,
                                    max_bytes=MAX_BODY, cut=True)
    except bounded.Unanswered as e:
        return ProbeAnswer(None, elapsed_ms=_ms(started), error=f"timeout: {e}")
    except httpx.HTTPError as e:
        return ProbeAnswer(None, elapsed_ms=_ms(started), error=error_reason(e, settings))
    location = got.headers.get("Location") if got.is_redirect else None
    if location is not None:
        location = untrusted.line(location, 200)  # the server's text, shown
    return ProbeAnswer(got.status, got.body, _ms(started), None, location, got.cut)


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0

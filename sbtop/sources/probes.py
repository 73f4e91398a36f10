"""Send the checklist's HTTP probes, all at once, each with its own overall deadline; read at
most MAX_BODY of each answer. Redirects are not followed: a login page where the app should
answer is a failure to see, not to hide."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx

from sbtop import untrusted
from sbtop.engine.verify import MAX_BODY, Probe, ProbeAnswer
from sbtop.sources.http import HttpSettings, error_reason, make_client


async def run_all(probes: Sequence[Probe], settings: HttpSettings) -> list[ProbeAnswer | None]:
    """One answer per probe, in order; None for a probe that is not sent (it lacks a secret)."""
    async with make_client(settings, hosts=max(1, len(probes))) as client:
        return list(await asyncio.gather(*(_one(client, p, settings) for p in probes)))


async def _one(client: httpx.AsyncClient, probe: Probe, settings: HttpSettings
               ) -> ProbeAnswer | None:
    if probe.missing:
        return None
    started = time.monotonic()
    try:
        return await asyncio.wait_for(_send(client, probe, started), probe.timeout_s)
    except TimeoutError:
        return ProbeAnswer(None, elapsed_ms=_ms(started),
                           error=f"timeout: no complete answer within {probe.timeout_s:g} s")
    except httpx.HTTPError as e:
        return ProbeAnswer(None, elapsed_ms=_ms(started), error=error_reason(e, settings))


async def _send(client: httpx.AsyncClient, probe: Probe, started: float) -> ProbeAnswer:
    async with client.stream(probe.method, probe.url, content=probe.body,
                             headers=dict(probe.headers)) as r:
        chunks: list[bytes] = []
        size = 0
        truncated = False
        async for chunk in r.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY:
                truncated = True
                break
        location = r.headers.get("Location") if r.is_redirect else None
        if location is not None:
            location = untrusted.line(location, 200)  # the server's text, shown
        return ProbeAnswer(r.status_code, b"".join(chunks)[:MAX_BODY], _ms(started), None,
                           location, truncated)


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000.0

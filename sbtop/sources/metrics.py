"""Scrape /metrics: fetch, decode, parse the wanted families. Failures become reasons."""

from __future__ import annotations

import asyncio

import httpx

from sbtop.clock import SYSTEM, Clock
from sbtop.engine.exposition import ParseError, scan
from sbtop.engine.observations import MetricsScrape
from sbtop.sources.http import FetchError, HttpSettings, fetch

# Pages up to this size parse in about a millisecond: not worth a thread.
INLINE_BYTES = 256 * 1024

# Ask for the classic format first: it is what prom-client serves and the cheaper to parse.
ACCEPT = ("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5,"
          "*/*;q=0.1")


async def scrape(client: httpx.AsyncClient, url: str, settings: HttpSettings,
                 wanted: frozenset[str], now: tuple[float, float], clock: Clock = SYSTEM
                 ) -> MetricsScrape:
    """One scrape. `now` is (monotonic, wall) at the start, used when no answer came."""
    try:
        got = await fetch(client, url, settings, accept=ACCEPT, clock=clock)
    except FetchError as e:
        return MetricsScrape(now[0], now[1], None, e.reason)
    ctype = got.content_type.lower()
    failed = _refuse(ctype, got.body)
    if failed is None:
        try:
            text = got.body.decode("utf-8")
        except UnicodeDecodeError as e:
            failed = f"not UTF-8 (byte {e.start})"
        else:
            try:
                # A large page is parsed off the event loop, so a console keeps answering
                # keys while it is read; a small one costs less than the hand-over.
                om = "openmetrics" in ctype
                if len(text) > INLINE_BYTES:
                    page = await asyncio.to_thread(scan, text, wanted, openmetrics=om)
                else:
                    page = scan(text, wanted, openmetrics=om)
            except ParseError as e:
                failed = f"unparsable page: {e}"
            else:
                return MetricsScrape(got.t, got.wall, page, None, got.elapsed_ms, len(got.body))
    return MetricsScrape(got.t, got.wall, None, failed, got.elapsed_ms, len(got.body))


def _refuse(ctype: str, body: bytes) -> str | None:
    """Recognise answers that are plainly not a metrics page (a login form, a JSON error)."""
    head = body[:200].lstrip()
    if "text/html" in ctype or head[:1] == b"<":
        return "not a metrics page: got HTML (a login page or a proxy error?)"
    if "application/json" in ctype or head[:1] in (b"{", b"["):
        return "not a metrics page: got JSON"
    if b"\x00" in body[:4096]:
        return "not a metrics page: binary data"
    return None

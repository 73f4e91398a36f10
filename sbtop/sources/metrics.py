"""Scrape /metrics: fetch, decode, parse the wanted families. Failures become reasons."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from sbtop.clock import SYSTEM, Clock
from sbtop.engine.exposition import Page, ParseError, scan
from sbtop.engine.observations import MetricsScrape
from sbtop.sources.http import FetchError, HttpSettings, fetch

if TYPE_CHECKING:
    import httpx

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
                failed = _too_many(page, settings.max_samples) or _not_metrics(page, text)
            if failed is None:
                return MetricsScrape(got.t, got.wall, page, None, got.elapsed_ms, len(got.body))
    return MetricsScrape(got.t, got.wall, None, failed, got.elapsed_ms, len(got.body))


# What a sample line starts with: a metric name, then labels or a space.
_SAMPLE_START = re.compile(
    r"[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?[ \t]+[-+]?(\d|\.\d|Inf|inf|NaN|nan)")


def _not_metrics(page: Page, text: str) -> str | None:
    """A page with none of the families sbtop reads and no TYPE line may be any text at all
    (the parser passes over unwanted lines unread): look at its first line to tell an
    exporter with other metrics from something that is no metrics page."""
    if page.samples or page.types:
        return None
    for raw in text.split("\n", 50)[:50]:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _SAMPLE_START.match(line):
            return None
        return f"not a metrics page: its first line is {line[:60]!r}"
    return None


def _too_many(page: Page, limit: int) -> str | None:
    kept = {name: len(rows) for name, rows in page.samples.items()}
    total = sum(kept.values())
    if total <= limit:
        return None
    worst = max(kept, key=lambda n: kept[n])
    return (f"label explosion: {total:,} samples in the families sbtop reads, over the limit of "
            f"{limit:,} ({worst} alone has {kept[worst]:,}; raise max_samples to allow it)")


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

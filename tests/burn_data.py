"""One deploy's counters, minute by minute, for the burn-rate tests: 1,000 requests a minute;
no 5xx for the first hour, then 200 of them a minute; 2 % of requests slower than 0.5 s
throughout. The engine is fed these as pages, promtool as input series: the same samples."""

from __future__ import annotations

from tests.pagegen import PageText

INF = float("inf")
BOUNDS = {0.1: 900, 0.5: 980, 1.0: 995, INF: 1000}  # requests a minute at or under each


def ok(m: int) -> int:
    return 1000 * m if m <= 60 else 60_000 + 800 * (m - 60)


def bad(m: int) -> int:
    return 0 if m <= 60 else 200 * (m - 60)


def page(m: int) -> PageText:
    return (PageText()
            .sample("http_requests_total", {"status": "200"}, ok(m))
            .sample("http_requests_total", {"status": "500"}, bad(m))
            .histogram({}, {le: n * m for le, n in BOUNDS.items()}))


def series_values(f: object, minutes: int) -> str:
    """promtool's values for minutes 0..`minutes` of `f` (every value written out)."""
    assert callable(f)
    return " ".join(str(f(m)) for m in range(minutes + 1))

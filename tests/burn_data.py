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


# A restart inside the windows: 1,000 requests a minute, 50 of them 5xx (5 %) until the app
# restarts after minute 29's scrape, 100 (10 %) after it; every counter then starts again
# from zero (at minute 30 it holds that one minute), and the process start time moves.
RESTART_AFTER = 29


def since_restart(m: int) -> int:
    """Minutes counted by the counters the page shows at minute `m`."""
    return m if m <= RESTART_AFTER else m - RESTART_AFTER


def restarted_bad(m: int) -> int:
    return 50 * m if m <= RESTART_AFTER else 100 * since_restart(m)


def restarted_ok(m: int) -> int:
    return 1000 * since_restart(m) - restarted_bad(m)


def restarted_page(m: int) -> PageText:
    k = since_restart(m)
    return (PageText()
            .sample("http_requests_total", {"status": "200"}, restarted_ok(m))
            .sample("http_requests_total", {"status": "500"}, restarted_bad(m))
            .sample("process_start_time_seconds", {},
                    1_800_000_000 if m <= RESTART_AFTER else 1_800_001_770)
            .histogram({}, {le: n * k for le, n in BOUNDS.items()}))

"""The running sums as of one scrape (`Rollup`, `Sums`), what feeds them (`Feed`), which of its
counts serves (`count_source`), and the sliding window of rollups a figure's increases are
measured over.

The sums only grow (the tracker in sbtop.engine.series makes up for counter resets), so the
increase of any sum over a window is the difference of two rollups, whatever resets happened in
between. A rollup is small: it holds sums, not series.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from sbtop.engine.settings import MetricNames

RouteKey = tuple[str, str]  # (method, route)


class Feed(enum.StrEnum):
    """What a counted input feeds: one group of running sums. A problem with the input is filed
    under it in `Rollup.problems`, beside the gauges' (by their keys: "sockets", "rss", ...)."""

    BUCKET = "b"  # the histogram's buckets, by le
    COUNTER = "c"  # the request counter, by status class
    HIST_COUNT = "h"  # the histogram's _count, by status class
    MESSAGES = "m"  # the message counter, by its name


BUCKET, COUNTER, HIST_COUNT, MESSAGES = Feed.BUCKET, Feed.COUNTER, Feed.HIST_COUNT, Feed.MESSAGES
# The feeds whose sums are also kept per route.
ROUTED = (BUCKET, COUNTER, HIST_COUNT)


@dataclass(frozen=True, slots=True)
class Sums:
    """The running sums as of one scrape: each only grows (resets are made up for)."""

    buckets: dict[float, float] = field(default_factory=dict)  # le -> requests
    counter: dict[str, float] = field(default_factory=dict)  # status class -> requests
    hist_count: dict[str, float] = field(default_factory=dict)  # status class -> requests
    messages: dict[str, float] = field(default_factory=dict)  # counter name -> messages
    # The same per route, nested by route so a route's buckets are read without regrouping.
    route_buckets: dict[RouteKey, dict[float, float]] = field(default_factory=dict)
    route_counter: dict[RouteKey, dict[str, float]] = field(default_factory=dict)
    route_hist_count: dict[RouteKey, dict[str, float]] = field(default_factory=dict)

    def counts(self, feed: Feed) -> dict[str, float]:
        """The requests by status class as one of the counts (COUNTER or HIST_COUNT) has them."""
        return self.counter if feed is COUNTER else self.hist_count

    def route_counts(self, feed: Feed) -> dict[RouteKey, dict[str, float]]:
        return self.route_counter if feed is COUNTER else self.route_hist_count


SKEW_NOTED_S = 300.0


@dataclass(frozen=True, slots=True)
class Rollup:
    """The running sums and the gauges as of one successful scrape."""

    t: float
    wall: float
    sums: Sums
    scrape: int  # sequence number among successful scrapes
    reset: bool = False  # counters restarted at this scrape
    histogram_present: bool = False
    counter_present: bool = False
    # Whether any series of the counter / the histogram's _count carries a status label.
    counter_has_status: bool = False
    hist_count_has_status: bool = False
    # The label the status was found under, by count (COUNTER, HIST_COUNT).
    status_labels: Mapping[Feed, str] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)
    # Which of the candidate gauges / counters the page had.
    socket_gauge: str | None = None
    message_counter: str | None = None
    ignored: int = 0  # samples ignored as non-finite, duplicated or unusable
    # Why the latency quantiles cannot be computed from these sums although the histogram is
    # there (several instances whose bucket bounds differ); None when they can.
    latency_problem: str | None = None
    # Inputs this page gave that no figure may be computed from, by what they feed (BUCKET,
    # COUNTER, HIST_COUNT, MESSAGES, or a gauge's key): a NaN or infinite value, a negative
    # counter, the same series twice with different values. The figures fed by them are unknown
    # at this scrape, with the reason; skipped values are made up at the next good scrape.
    problems: dict[str, str] = field(default_factory=dict)
    # How far the page's own sample timestamps are from this machine's clock (seconds, + ahead),
    # when they are off by more than SKEW_NOTED_S. They are never used: rates are taken over
    # the scrape times, as Prometheus does for pages it scrapes.
    page_clock_skew_s: float | None = None
    # Where the families were looked for, in words for the reasons ("on the page").
    found_in: str = "on the page"


def count_source(end: Rollup, names: MetricNames, *, need_status: bool
                 ) -> tuple[Feed, str] | None:
    """Which counts to use: the request counter when it serves, else the histogram's _count."""
    if end.counter_present and (end.counter_has_status or not need_status):
        return COUNTER, names.requests_counter
    if end.histogram_present and (end.hist_count_has_status or not need_status):
        return HIST_COUNT, names.latency_histogram + "_count"
    return None


def status_counts(end: Rollup, names: MetricNames) -> tuple[Feed, str] | str:
    """The counts by status (see count_source) to read at `end`, or why there are none: the
    error rates and the burn rates say the same."""
    source = count_source(end, names, need_status=True)
    if source is None:
        return (f"no status label ({', '.join(names.status_labels)}) on "
                f"{names.requests_counter} or {names.latency_histogram}_count")
    return end.problems.get(source[0], source)


def slide(window: collections.deque[Rollup], rollup: Rollup, window_s: float) -> None:
    """Append `rollup` and drop what fell out of the window, keeping the newest rollup at or
    before its start. Back after a gap (sbtop stalled, or the target was unreachable) the only
    older rollup may lie far outside the window: rates over the whole gap would pass off old
    traffic as current, so the window starts again."""
    window.append(rollup)
    trim(window, rollup.t, window_s)
    if len(window) >= 2 and window[0].t < rollup.t - 1.5 * window_s:
        while len(window) > 1:
            window.popleft()


def trim(window: collections.deque[Rollup], now: float, window_s: float) -> None:
    """Drop what fell out of the window ending at `now`, keeping the newest rollup at or before
    its start (the baseline its increases are measured from)."""
    horizon = now - window_s
    while len(window) >= 2 and window[1].t <= horizon:
        window.popleft()

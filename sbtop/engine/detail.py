"""What a figure says beside its value: where it was read from and what it was made of.

One flat record for every figure: each figure sets the fields that apply to it and leaves the
rest None, so a reader asks `f.detail.bucket_ms` whatever the figure, and mypy checks the name
and the type. `check --json` writes the fields set, in the order below, after the figure's own
keys; a recording writes them by name (the codec leaves out what is None: it reads back as
None, exactly as a missing key always did).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Detail:
    # The error ratios: the errors and requests counted in the window, read from `metric`
    # with the status under `status_label`. Latency and requests_per_s say `requests` too.
    errors: float | None = None
    requests: float | None = None
    # Which metric on the page the figure was read from (requests, sockets, messages).
    metric: str | None = None
    status_label: str | None = None
    # A quantile interpolated inside this bucket (ms); the upper bound is None past the highest
    # finite bound, where the quantile is only known to be at least the lower.
    bucket_ms: tuple[float, float | None] | None = None
    # memory_pct: the resident memory over the limit, and where each was read.
    rss_bytes: float | None = None
    limit_bytes: float | None = None
    rss_from: str | None = None
    limit_from: str | None = None
    # health: how long the probe took.
    elapsed_ms: float | None = None
    # db_sessions: the sessions by state (PostgreSQL's names, spaces as underscores), those
    # waiting on a lock (None where it cannot be known), in another state, and hidden from
    # this role.
    active: int | None = None
    idle: int | None = None
    idle_in_transaction: int | None = None
    idle_in_transaction_aborted: int | None = None
    waiting: int | None = None
    other: int | None = None
    hidden: int | None = None
    # db_connections_pct and db_pool_pct: the sessions counted against the capacity (and where
    # the capacity came from) or against the configured pool.
    sessions: int | None = None
    capacity: int | None = None
    capacity_from: str | None = None
    pool_size: int | None = None
    # Burn rates: the SLO's objective (%), the span the ratio really covers (s), the bucket
    # bound read for the latency SLO (ms), and how old Prometheus's evaluation is (s).
    objective_pct: float | None = None
    span_s: float | None = None
    bound_ms: float | None = None
    age_s: float | None = None
    # ...and the burn its window's pair pages at (both windows over it: 14.4x for 1h and 5m).
    page_at: float | None = None
    # "prometheus" when the figure came from PromQL rather than a scrape.
    source: str | None = None
    # Set when the figure covers only some of the instances ("1 of 2 instances").
    partial: str | None = None
    # The canary-vs-stable figures: the stable cohort's requests (`requests` holds the
    # canary's), the verdict (pass, fail, waiting, unknown, no cohort label), the one-sided
    # test's name, and the verdict in words with its p-value ("cohorts" has it unrounded).
    stable_requests: float | None = None
    verdict: str | None = None
    test: str | None = None
    said: str | None = None
    # The trend figures: the time left to the warning and critical limits at their slope
    # (None: flat, falling, no limit, or beyond a week; 0: already past), and the restart
    # (wall time) the fit starts after; `span_s` (above) is the span of readings fitted.
    to_warning_s: float | None = None
    to_critical_s: float | None = None
    restart_at: float | None = None
    # socket_growth_per_h, after a restart: the reconnect surge (lowest to highest count) and
    # the time from the restart to its peak.
    surge: float | None = None
    surge_s: float | None = None

    def items(self) -> Iterator[tuple[str, Any]]:
        """The fields set, in the order `check --json` has always written them."""
        order = _ERROR_ORDER if self.errors is not None else _ORDER
        for name in order:
            value = getattr(self, name)
            if value is not None:
                yield name, value


_FIELDS = tuple(f.name for f in dataclasses.fields(Detail))
# requests_per_s has always said its metric before its requests, the error ratios after their
# counts: one order cannot hold both, so the error ratios (the only figures with `errors`) keep
# the fields' order and every other figure says its metric first.
_ERROR_ORDER = _FIELDS
_ORDER = ("metric", *(n for n in _FIELDS if n != "metric"))

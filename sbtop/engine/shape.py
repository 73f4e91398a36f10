"""What the application exports: which of the candidate metric names and labels it really has.

The candidates come from the configuration (`MetricNames`: prom-client's, express-prom-bundle's
and the runbook's names by default); the shape says which of them the app uses, found on its
page or in Prometheus, so figures and generated rules read the app as it is, with no
hand-tuning: a request counter labelled `status` or `status_code` (or `code`), no request
counter at all (express-prom-bundle: the histogram's `_count` by `status_code`), the socket
gauge under either of its usual names.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sbtop.engine.exposition import Page, ParseError, labels_key
from sbtop.engine.names import counter_names
from sbtop.engine.settings import MetricNames


@dataclass(frozen=True, slots=True)
class Shape:
    # The sample name requests are counted from (the counter as the app spells it, or the
    # histogram's _count) and the label on it carrying the HTTP status; None when neither is
    # exported.
    requests: str | None
    status_label: str | None
    histogram: bool
    socket_gauge: str | None
    message_counter: str | None
    memory_rss: bool = True
    event_loop_lag: bool = True
    # The latency histogram's finite bucket bounds (seconds), when read from a page or asked
    # of Prometheus (for `sbtop rules`); None when not looked at (the configured names).
    bounds: tuple[float, ...] | None = None

    def describe(self) -> str:
        """How requests and their statuses are read, in words."""
        if self.requests is None:
            return "no request counter and no latency histogram"
        if self.status_label is None:
            return f"{self.requests} (no status label)"
        return f"{self.requests} by {self.status_label}"


def configured(names: MetricNames) -> Shape:
    """The shape the configuration names, when nothing could be looked at."""
    if names.requests_counter:
        requests = names.requests_counter
        if not requests.endswith("_total"):
            requests += "_total"
        status = names.status_labels[0] if names.status_labels else None
    else:
        # express-prom-bundle has no counter: the histogram's _count, with its status_code.
        requests = names.latency_histogram + "_count"
        status = "status_code" if "status_code" in names.status_labels else (
            names.status_labels[0] if names.status_labels else None)
    return Shape(requests, status, bool(names.latency_histogram),
                 names.socket_gauges[0] if names.socket_gauges else None,
                 names.message_counters[0] if names.message_counters else None,
                 bool(names.memory_rss), bool(names.event_loop_lag))


def choose(names: MetricNames, present: Iterable[str], labels: Mapping[str, Iterable[str]]
           ) -> Shape:
    """The shape from what was found: `present` metric (sample) names, and for the counter
    spellings and the histogram's _count, the label names their series carry.

    Requests are counted as the direct scrape counts them: the counter when it has a status
    label, else the histogram's _count when it has one, else whichever exists."""
    have = set(present)
    h = names.latency_histogram
    counter = next((n for n in counter_names(names.requests_counter) if n in have), None)
    count = h + "_count" if h and h + "_count" in have else None

    def status_of(name: str | None) -> str | None:
        if name is None:
            return None
        on = set(labels.get(name, ()))
        return next((s for s in names.status_labels if s in on), None)

    requests, status = counter, status_of(counter)
    if status is None and status_of(count) is not None:
        requests, status = count, status_of(count)
    elif requests is None:
        requests = count
    message = None
    for candidate in names.message_counters:
        message = next((n for n in counter_names(candidate) if n in have), None)
        if message:
            break
    return Shape(requests, status, bool(h) and h + "_bucket" in have,
                 next((g for g in names.socket_gauges if g in have), None), message,
                 bool(names.memory_rss) and names.memory_rss in have,
                 bool(names.event_loop_lag) and names.event_loop_lag in have)


def from_page(page: Page, names: MetricNames) -> Shape:
    """The shape of one scraped page. A family declared by a TYPE line with no sample yet (a
    labelled prom-client counter before its first inc()) is there."""
    present = set(page.samples) | {n for n, kind in page.types.items() if kind == "counter"}
    labels: dict[str, set[str]] = {}
    bucket = names.latency_histogram + "_bucket"
    bounds: set[float] = set()
    for name, rows in page.samples.items():
        seen = labels.setdefault(name, set())
        for text, _v, _ts in rows:
            try:
                pairs = labels_key(text)
            except ParseError:
                continue
            seen.update(k for k, _ in pairs)
            if name == bucket:
                bounds.update(_bound(v) for k, v in pairs if k == "le")
    shape = choose(names, present, labels)
    finite = tuple(sorted(b for b in bounds if math.isfinite(b)))
    return dataclasses.replace(shape, bounds=finite) if shape.histogram else shape


def _bound(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.inf  # not a bound: left out with +Inf

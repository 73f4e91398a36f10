"""A window's increases: how much every running sum grew between two rollups (`deltas`), and
several instances' windows added into one (`add_deltas`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sbtop.engine.quantile import INF
from sbtop.engine.rollup import COUNTER, HIST_COUNT, MESSAGES, Feed, Rollup, RouteKey

# The two counts of requests by status class: the request counter and the histogram's _count.
COUNTS = (COUNTER, HIST_COUNT)


@dataclass(slots=True)
class Deltas:
    """What a window's figures are made from: how much every sum grew over the window, and the
    per-second rates of the counts shown as rates.

    From one source the rates are the increases over the window's span. Several instances each
    count over their own scrape times, so their rates are added, not their increases divided by
    one span (an instance answering late would otherwise stretch or shrink everyone's window);
    from Prometheus they are what rate() gave.
    """

    span: float
    buckets: dict[float, float] = field(default_factory=dict)
    route_buckets: dict[RouteKey, dict[float, float]] = field(default_factory=dict)
    counts: dict[Feed, dict[str, float]] = field(default_factory=dict)  # COUNTS -> class -> n
    route_counts: dict[Feed, dict[RouteKey, dict[str, float]]] = field(default_factory=dict)
    # Per second: each of the COUNTS' total and MESSAGES; and each route's requests.
    per_s: dict[Feed, float] = field(default_factory=dict)
    route_per_s: dict[RouteKey, float] = field(default_factory=dict)


def deltas(start: Rollup, end: Rollup, span: float | None = None, *, routes: bool = True
           ) -> Deltas:
    """The increases from `start` to `end`, as rates over `span` (their time apart unless
    given: an instance that stopped answering is averaged over the window up to now).
    Without `routes`, the per-route increases are left empty: the figures need none of them,
    and on a page with hundreds of routes they are most of the work (the route table makes
    them when it is read)."""
    def inc(before: Mapping[Any, float], now: Mapping[Any, float]) -> dict[Any, float]:
        return {k: v - before.get(k, 0.0) for k, v in now.items()}

    def inc_by_route(before: Mapping[RouteKey, Mapping[Any, float]],
                     now: Mapping[RouteKey, Mapping[Any, float]]
                     ) -> dict[RouteKey, dict[Any, float]]:
        return {rk: inc(before.get(rk, {}), sums) for rk, sums in now.items()}

    a, b = start.sums, end.sums
    span = end.t - start.t if span is None else span
    d = Deltas(span, buckets=inc(a.buckets, b.buckets))
    if routes:
        d.route_buckets = inc_by_route(a.route_buckets, b.route_buckets)
    for feed in COUNTS:
        d.counts[feed] = inc(a.counts(feed), b.counts(feed))
        if routes:
            d.route_counts[feed] = inc_by_route(a.route_counts(feed), b.route_counts(feed))
    if span > 0:
        for feed in COUNTS:
            d.per_s[feed] = sum(d.counts[feed].values()) / span
        if end.message_counter is not None:
            d.per_s[MESSAGES] = inc(a.messages, b.messages).get(end.message_counter, 0.0) / span
        d.route_per_s = {rk: b.get(INF, 0.0) / span for rk, b in d.route_buckets.items()}
    return d


def add_deltas(parts: list[Deltas]) -> Deltas:
    """Several instances' windows as one: increases and rates added, the longest span kept."""
    out = Deltas(max(p.span for p in parts))

    def into(target: dict[Any, float], source: Mapping[Any, float]) -> None:
        for k, v in source.items():
            target[k] = target.get(k, 0.0) + v

    for p in parts:
        into(out.buckets, p.buckets)
        into(out.per_s, p.per_s)
        into(out.route_per_s, p.route_per_s)
        for rk, b in p.route_buckets.items():
            into(out.route_buckets.setdefault(rk, {}), b)
        for tag, classes in p.counts.items():
            into(out.counts.setdefault(tag, {}), classes)
        for tag, routes in p.route_counts.items():
            nested = out.route_counts.setdefault(tag, {})
            for rk, classes in routes.items():
                into(nested.setdefault(rk, {}), classes)
    return out

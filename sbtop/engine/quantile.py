"""histogram_quantile exactly as Prometheus computes it (promql/quantile.go, bucketQuantile)."""

from __future__ import annotations

import math
from collections.abc import Iterable

INF = math.inf
# Relative differences this small between neighbouring buckets are float noise, not decreases.
_PRECISION_TOLERANCE = 1e-12


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """The q-quantile of cumulative buckets given as (upper bound, count) pairs.

    The special cases follow Prometheus: NaN for q NaN, fewer than two buckets, no +Inf bucket
    or no observations; -Inf for q < 0 and +Inf for q > 1; the highest finite bound when the
    rank falls in the +Inf bucket; linear interpolation elsewhere, from 0 in the first bucket.
    """
    return quantile_in_bucket(q, buckets)[0]


def quantile_in_bucket(q: float, buckets: Iterable[tuple[float, float]]
                       ) -> tuple[float, float | None, float | None]:
    """histogram_quantile, with the bounds of the bucket the rank fell in (None, None when
    there is no such bucket): a quantile interpolated in a wide bucket is only known to lie
    somewhere inside it, which is worth saying beside the number."""
    nothing = (None, None)
    if math.isnan(q):
        return (math.nan, *nothing)
    if q < 0:
        return (-INF, *nothing)
    if q > 1:
        return (INF, *nothing)
    items = list(buckets)
    bounds = [b for b, _c in items]
    counts = [c for _b, c in items]
    # Buckets nearly always arrive in order with distinct bounds; sort and merge only if not.
    if any(bounds[i] >= bounds[i + 1] for i in range(len(bounds) - 1)):
        bounds, counts = _coalesce(sorted(items, key=lambda b: b[0]))
    if not bounds or bounds[-1] != INF:
        return (math.nan, *nothing)
    _correct_precision(counts)
    _make_monotonic(counts)
    if len(bounds) < 2:
        return (math.nan, *nothing)
    observations = counts[-1]
    if observations == 0:
        return (math.nan, *nothing)
    rank = q * observations
    b = len(bounds) - 1
    for i in range(len(bounds) - 1):
        if counts[i] >= rank:
            b = i
            break
    if b == len(bounds) - 1:
        return bounds[-2], bounds[-2], INF
    if b == 0 and bounds[0] <= 0:
        return bounds[0], None, bounds[0]
    start = 0.0
    end = bounds[b]
    count = counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count), start, end


def _coalesce(ordered: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    bounds: list[float] = []
    counts: list[float] = []
    for bound, count in ordered:
        if bounds and bounds[-1] == bound:
            counts[-1] += count
        else:
            bounds.append(bound)
            counts.append(count)
    return bounds, counts


def _correct_precision(counts: list[float]) -> None:
    prev = counts[0]
    for i in range(1, len(counts)):
        curr = counts[i]
        delta = abs(curr - prev)
        if delta == 0:
            continue
        if curr != 0 and delta / curr <= _PRECISION_TOLERANCE:
            counts[i] = prev
        else:
            prev = curr


def _make_monotonic(counts: list[float]) -> None:
    # A decrease from one bucket to the next is impossible in a consistent histogram; Prometheus
    # clamps it to the running maximum so the binary search stays meaningful.
    highest = counts[0]
    for i in range(1, len(counts)):
        if counts[i] > highest:
            highest = counts[i]
        elif counts[i] < highest:
            counts[i] = highest


def histogram_quantiles(qs: tuple[float, ...], buckets: Iterable[tuple[float, float]]
                        ) -> list[float]:
    """histogram_quantile at each of `qs` (each between 0 and 1), the buckets made ready once:
    a route's p50, p95 and p99 for the price of one clean-up, not three. Same answers."""
    items = list(buckets)
    bounds = [b for b, _c in items]
    counts = [c for _b, c in items]
    if any(bounds[i] >= bounds[i + 1] for i in range(len(bounds) - 1)):
        bounds, counts = _coalesce(sorted(items, key=lambda b: b[0]))
    if len(bounds) < 2 or bounds[-1] != INF:
        return [math.nan for _q in qs]
    _correct_precision(counts)
    _make_monotonic(counts)
    observations = counts[-1]
    if observations == 0:
        return [math.nan for _q in qs]
    out = []
    last = len(bounds) - 1
    for q in qs:
        rank = q * observations
        b = last
        for i in range(last):  # not a binary search: a NaN count compares false both ways
            if counts[i] >= rank:
                b = i
                break
        if b == last:
            out.append(bounds[-2])
        elif b == 0 and bounds[0] <= 0:
            out.append(bounds[0])
        else:
            start = bounds[b - 1] if b > 0 else 0.0
            below = counts[b - 1] if b > 0 else 0.0
            out.append(start + (bounds[b] - start) * ((rank - below) / (counts[b] - below)))
    return out

"""histogram_quantile, checked against examples worked by hand from promql/quantile.go."""

from __future__ import annotations

import math

import pytest

from sbtop.engine.quantile import INF, histogram_quantile

# Cumulative counts: 10 observations <= 0.1, 60 <= 0.5, 90 <= 1, 100 in all.
BUCKETS = [(0.1, 10.0), (0.5, 60.0), (1.0, 90.0), (INF, 100.0)]


def test_interpolates_linearly_inside_the_bucket_holding_the_rank() -> None:
    # rank 50 falls in (0.1, 0.5]: 0.1 + 0.4 * (50 - 10) / (60 - 10) = 0.42
    assert histogram_quantile(0.5, BUCKETS) == pytest.approx(0.42)


def test_first_bucket_interpolates_from_zero() -> None:
    # rank 5 in (0, 0.1]: 0.1 * 5 / 10 = 0.05
    assert histogram_quantile(0.05, BUCKETS) == pytest.approx(0.05)


def test_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    # rank 95 > 90: it lies above 1 s, and Prometheus answers the last finite bound.
    assert histogram_quantile(0.95, BUCKETS) == 1.0
    assert histogram_quantile(1.0, BUCKETS) == 1.0


def test_rank_exactly_on_a_bucket_boundary_takes_that_bucket() -> None:
    # rank 90 == count of the le=1 bucket: the search stops there, 0.5 + 0.5 * 30/30.
    assert histogram_quantile(0.9, BUCKETS) == pytest.approx(1.0)
    assert histogram_quantile(0.6, BUCKETS) == pytest.approx(0.5)


def test_empty_window_gives_nan() -> None:
    assert math.isnan(histogram_quantile(0.95, [(0.1, 0.0), (1.0, 0.0), (INF, 0.0)]))


def test_a_single_bucket_gives_nan() -> None:
    assert math.isnan(histogram_quantile(0.5, [(INF, 10.0)]))
    assert math.isnan(histogram_quantile(0.5, []))


def test_without_an_inf_bucket_the_answer_is_nan() -> None:
    assert math.isnan(histogram_quantile(0.5, [(0.1, 1.0), (1.0, 5.0)]))


def test_non_monotonic_buckets_are_clamped_to_the_running_maximum() -> None:
    # 0.5's count 8 < 0.1's 10 is impossible; it is read as 10.
    buckets = [(0.1, 10.0), (0.5, 8.0), (1.0, 20.0), (INF, 20.0)]
    # rank 10 is reached by the first bucket: 0.1 * 10 / 10
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    # rank 15: (0.5, 1] holds 20 - 10 = 10: 0.5 + 0.5 * 5 / 10 = 0.75
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.75)


def test_float_noise_between_buckets_is_not_a_decrease() -> None:
    buckets = [(0.1, 10.0), (0.5, 10.0 + 1e-14), (1.0, 20.0), (INF, 20.0)]
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.75)


def test_buckets_with_the_same_bound_are_merged_and_order_does_not_matter() -> None:
    split = [(INF, 50.0), (1.0, 45.0), (0.5, 30.0), (INF, 50.0), (0.5, 30.0), (1.0, 45.0)]
    assert histogram_quantile(0.5, split) == histogram_quantile(0.5, [(0.5, 60.0), (1.0, 90.0),
                                                                      (INF, 100.0)])


def test_first_bucket_with_a_bound_at_or_below_zero_returns_that_bound() -> None:
    assert histogram_quantile(0.25, [(0.0, 10.0), (1.0, 20.0), (INF, 20.0)]) == 0.0


def test_out_of_range_quantiles_follow_prometheus() -> None:
    assert histogram_quantile(-0.1, BUCKETS) == -INF
    assert histogram_quantile(1.1, BUCKETS) == INF
    assert math.isnan(histogram_quantile(math.nan, BUCKETS))

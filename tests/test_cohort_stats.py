"""The cohort gate's statistical tests, worked by hand: Mann-Whitney U on histogram buckets
(ranks with ties, the tie-corrected variance, one-sided), Fisher's exact test and the
two-proportion z-test. Every expected number below is derived in the comment beside it; the
normal approximation's also agree with scipy.stats.mannwhitneyu(alternative="greater",
method="asymptotic") and Fisher's with scipy.stats.fisher_exact(alternative="greater")
(checked outside the suite: scipy is no dependency)."""

from __future__ import annotations

import math

import pytest

from sbtop.engine.cohort_stats import (
    bucket_counts,
    fisher_greater,
    mann_whitney_greater,
    proportions_greater,
    upper_tail,
)

INF = math.inf


def test_upper_tail_is_the_standard_normal_tail() -> None:
    assert upper_tail(0.0) == pytest.approx(0.5)
    assert upper_tail(1.959964) == pytest.approx(0.025, abs=1e-6)
    assert upper_tail(-1.959964) == pytest.approx(0.975, abs=1e-6)


def test_cumulative_buckets_become_counts_per_bucket_and_a_dip_counts_as_empty() -> None:
    assert bucket_counts([(0.5, 5.0), (0.1, 2.0), (INF, 6.0)]) == [
        (0.1, 2.0), (0.5, 3.0), (INF, 1.0)]
    # Prometheus's rates can dip a hair between neighbouring buckets: empty, not negative.
    assert bucket_counts([(0.1, 2.0), (0.5, 1.9999), (INF, 3.0)]) == [
        (0.1, 2.0), (0.5, 0.0), (INF, 1.0)]


def test_mann_whitney_with_ties_worked_by_hand() -> None:
    # Canary: one request in (0, 0.1], one in (0.1, 0.5]. Stable: both in (0, 0.1].
    # Bucket 1 holds 3 requests sharing ranks 1-3: mid-rank 2; bucket 2 holds 1: rank 4.
    # R1 = 1x2 + 1x4 = 6, U1 = 6 - 2x3/2 = 3 (by pairs: the tied canary counts 1/2 against
    # each stable request, the slower one 1 against each: 1 + 2 = 3).
    # Mean n1 n2 / 2 = 2; ties: (27 - 3) + (1 - 1) = 24; variance 4/12 x (5 - 24/12) = 1.
    # z = (3 - 2 - 0.5) / 1 = 0.5, p = P(Z >= 0.5) = 0.308538.
    canary, stable = [(0.1, 1), (0.5, 2), (INF, 2)], [(0.1, 2), (0.5, 2), (INF, 2)]
    r = mann_whitney_greater(canary, stable, exact=False)
    assert r.statistic == 3.0
    assert r.z == pytest.approx(0.5)
    assert r.p == pytest.approx(0.308538, abs=1e-6)
    assert r.method == "mann-whitney"
    # Exactly: the canary's 2 requests are any 2 of the 4, C(4, 2) = 6 ways alike. U1 = 3
    # whenever one of them is the request of bucket 2 (3 ways of 6), else U1 = 1 (both tied
    # with the stable ones): P(U1 >= 3) = 1/2.
    r = mann_whitney_greater(canary, stable)
    assert r.method == "mann-whitney exact" and r.statistic == 3.0
    assert r.p == pytest.approx(0.5)


def test_mann_whitney_every_canary_request_slower() -> None:
    # Three canary requests in the upper bucket, three stable in the lower: U1 = 3 x 3 = 9.
    # Mean 4.5; ties 2 x (27 - 3) = 48; variance 9/12 x (7 - 48/30) = 0.75 x 5.4 = 4.05.
    # z = (9 - 4.5 - 0.5) / sqrt(4.05) = 1.987616, p = 0.023428.
    canary, stable = [(0.1, 0), (0.5, 3), (INF, 3)], [(0.1, 3), (0.5, 3), (INF, 3)]
    r = mann_whitney_greater(canary, stable, exact=False)
    assert r.statistic == 9.0
    assert r.z == pytest.approx(4 / math.sqrt(4.05))
    assert r.p == pytest.approx(0.023428, abs=1e-6)
    # Exactly: only 1 of the C(6, 3) = 20 ways puts all three canary requests in bucket 2.
    assert mann_whitney_greater(canary, stable).p == pytest.approx(0.05)


def test_mann_whitney_is_one_sided_a_faster_canary_is_not_slower() -> None:
    # The same cohorts swapped: U1 = 0, z = (0 - 4.5 - 0.5) / sqrt(4.05) = -2.4845.
    r = mann_whitney_greater([(0.1, 3), (0.5, 3), (INF, 3)], [(0.1, 0), (0.5, 3), (INF, 3)])
    assert r.statistic == 0.0
    assert r.p is not None and r.p > 0.99


def test_mann_whitney_counts_the_inf_bucket_as_the_slowest_category() -> None:
    # Canary: both requests past the highest finite bound (only in +Inf); stable: both in
    # (0, 0.1]. U1 = 4; ties 2 x (8 - 2) = 12; variance 4/12 x (5 - 12/12) = 4/3;
    # z = (4 - 2 - 0.5) / sqrt(4/3) = 1.299038.
    r = mann_whitney_greater([(0.1, 0), (INF, 2)], [(0.1, 2), (INF, 2)])
    assert r.statistic == 4.0
    assert r.z == pytest.approx(1.5 / math.sqrt(4 / 3))


def test_mann_whitney_all_in_one_bucket_sees_no_difference() -> None:
    r = mann_whitney_greater([(0.1, 50), (INF, 50)], [(0.1, 900), (INF, 900)])
    assert r.p == 1.0 and r.z is None
    assert r.why is not None and "same bucket" in r.why


def test_mann_whitney_without_requests_cannot_be_made() -> None:
    r = mann_whitney_greater([(0.1, 0), (INF, 0)], [(0.1, 5), (INF, 9)])
    assert r.p is None and r.method == "none"
    assert mann_whitney_greater([], []).p is None


def test_mann_whitney_same_distribution_is_not_significant() -> None:
    # Identical shapes, 20x the traffic on stable: U1 is exactly its mean, z = -0.5/sd < 0.
    canary = [(0.05, 10), (0.1, 40), (0.5, 90), (INF, 100)]
    stable = [(le, c * 20) for le, c in canary]
    r = mann_whitney_greater(canary, stable)
    assert r.statistic == pytest.approx(100 * 2000 / 2)
    assert r.p is not None and r.p > 0.5


def test_fisher_exact_worked_by_hand() -> None:
    # 3 errors among 6 requests, all 3 on the canary's 3: C(3,3) C(3,0) / C(6,3) = 1/20.
    assert fisher_greater(3, 3, 0, 3) == pytest.approx(0.05)
    # 1 error among 4 requests, on the canary's 2: P(X >= 1) = C(2,1) C(2,0) / C(4,1) = 1/2.
    assert fisher_greater(1, 2, 0, 2) == pytest.approx(0.5)
    # The canary has none: P(X >= 0) = 1.
    assert fisher_greater(0, 10, 4, 10) == pytest.approx(1.0)


def test_small_counts_take_fishers_exact_test() -> None:
    r = proportions_greater(3, 3, 0, 3)
    assert r.method == "fisher" and r.p == pytest.approx(0.05)


def test_two_proportion_z_test_worked_by_hand() -> None:
    # 30/100 against 20/100: pooled 0.25, se = sqrt(0.25 x 0.75 x 0.02) = 0.0612372,
    # z = 0.1 / 0.0612372 = 1.632993, p = 0.051235. Expected cells >= 25: the z-test.
    r = proportions_greater(30, 100, 20, 100, exact_up_to=0)
    assert r.method == "z-test"
    assert r.z == pytest.approx(1.632993, abs=1e-6)
    assert r.p == pytest.approx(0.051235, abs=1e-6)


def test_no_errors_anywhere_is_no_difference_and_no_requests_no_test() -> None:
    assert proportions_greater(0, 500, 0, 9000).p == 1.0
    assert proportions_greater(0, 0, 3, 100).p is None


def test_counts_from_rates_are_rounded_before_the_exact_test() -> None:
    # Prometheus's counts are rates x the window: 2.9999 errors of 3.0001 requests are 3 of 3.
    assert proportions_greater(2.9999, 3.0001, 0.0, 3.0).p == pytest.approx(0.05)


def test_mann_whitney_compares_two_bucket_layouts_on_the_bounds_both_have() -> None:
    # Canary bounds 0.1, 0.3, +Inf; stable 0.2, 0.3, +Inf. A canary request in (0, 0.1] and a
    # stable one in (0, 0.2] cannot be ordered, so only 0.3 and +Inf are compared: canary one
    # request <= 0.3 and one above, stable both <= 0.3: the first worked example again,
    # U1 = 3, z = 0.5, p = 0.308538. (Ordered by upper bound, the canary's (0, 0.1] request
    # would rank below both stable ones: U1 = 2, a different answer from the same requests.)
    r = mann_whitney_greater([(0.1, 1), (0.3, 1), (INF, 2)], [(0.2, 2), (0.3, 2), (INF, 2)],
                             exact=False)
    assert r.statistic == 3.0
    assert r.z == pytest.approx(0.5)
    assert r.p == pytest.approx(0.308538, abs=1e-6)


def test_two_layouts_with_no_bound_in_common_cannot_be_compared() -> None:
    r = mann_whitney_greater([(0.1, 1), (0.5, 2)], [(0.2, 2), (0.6, 2)])
    assert r.p is None and r.why == "the cohorts' histograms have no bucket bound in common"


def test_a_few_requests_in_a_sparse_bucket_get_the_exact_p_value_not_the_normal_one() -> None:
    # Stable: 1,980 requests under 0.5 s and 20 over. Canary: 9 under, 1 over. The 2U of a
    # canary request over 0.5 s is 2 x 1,980 + 20, under it 1,980: U only counts how many of
    # the canary's 10 are over, X. Every way of picking the canary's 10 from the 2,010 alike,
    # X is hypergeometric (21 over of 2,010, 10 drawn), and P(X >= 1) = 1 - C(1,989, 10) /
    # C(2,010, 10) = 0.0999. The normal approximation says 0.0026: significant at 0.01, on
    # one slow request.
    canary, stable = [(0.5, 9), (INF, 10)], [(0.5, 1980), (INF, 2000)]
    want = 1 - math.comb(1989, 10) / math.comb(2010, 10)
    assert want == pytest.approx(0.0999, abs=1e-4)
    r = mann_whitney_greater(canary, stable)
    assert r.method == "mann-whitney exact"
    assert r.p == pytest.approx(want, rel=1e-9)
    assert mann_whitney_greater(canary, stable, exact=False).p == pytest.approx(0.0026, abs=1e-4)


def test_the_exact_p_value_of_two_sparse_buckets_is_the_sum_over_the_canarys_placements(
        ) -> None:
    # Three buckets: stable 1,900 / 60 / 40, canary 95 / 3 / 2 (2,100 requests, 100 canary);
    # totals 1,995 / 63 / 42. Every placement of the canary's 100 among the 2,100 keeps the
    # totals, so each bucket's mid-rank: a canary request adds 2 x (all below) + t_j to 2W
    # (W its rank sum; U = W - n1 (n1 + 1) / 2): 1,995 in bucket 1, 2 x 1,995 + 63 = 4,053 in
    # bucket 2, 2 x 2,058 + 42 = 4,158 in bucket 3. Observed: 95 x 1,995 + 3 x 4,053 + 2 x
    # 4,158 = 210,000. With x2 and x3 the canary's requests in buckets 2 and 3, 2W = 199,500 +
    # 2,058 x2 + 2,163 x3, so U >= the observed exactly when 2,058 x2 + 2,163 x3 >= 10,500:
    # the multivariate hypergeometric sum below, over the (x2, x3) that reach it.
    canary = [(0.1, 95), (0.5, 98), (INF, 100)]
    stable = [(0.1, 1900), (0.5, 1960), (INF, 2000)]
    total = math.comb(2100, 100)
    want = sum(math.comb(1995, 100 - x2 - x3) * math.comb(63, x2) * math.comb(42, x3)
               for x2 in range(0, 64) for x3 in range(0, 43)
               if x2 + x3 <= 100 and 2058 * x2 + 2163 * x3 >= 10500) / total
    r = mann_whitney_greater(canary, stable)
    assert r.method == "mann-whitney exact"
    assert r.p == pytest.approx(want, rel=1e-6)


def _u_by_pairs(canary: list[int], stable: list[int]) -> float:
    """U from its definition: every (canary, stable) pair, slower 1, tied 1/2."""
    return sum(ci * sj * (1.0 if i > j else 0.5 if i == j else 0.0)
               for i, ci in enumerate(canary) for j, sj in enumerate(stable))


@pytest.mark.parametrize("seed", range(40))
def test_the_exact_p_value_is_the_share_of_all_relabellings_reaching_the_observed_u(
        seed: int) -> None:
    # The permutation distribution summed outright: every way the canary's n1 requests can
    # fall in the buckets (c_j of bucket j's t_j, C(t_j, c_j) ways each), U counted by pairs
    # for each. The engine scored placements by the stable counts observed, not the buckets'
    # totals: 96 of 305 small tables were off (up to 0.15), and canary [4, 122, 6] against
    # stable [1, 2523, 1] passed at p 0.035 where the exact p is 0.003.
    import itertools
    import random

    rng = random.Random(seed)
    k = rng.randint(2, 4)
    totals = [rng.randint(0, 25) for _ in range(k)]
    totals[rng.randrange(k)] += 40  # a fullest bucket, as real latency has
    n1 = rng.randint(2, 14)
    pool = [j for j, t in enumerate(totals) for _ in range(t)]
    a = [0] * k
    for j in rng.sample(pool, n1):
        a[j] += 1
    b = [t - x for t, x in zip(totals, a, strict=True)]
    u = _u_by_pairs(a, b)
    reach = every = 0
    for c in itertools.product(*(range(t + 1) for t in totals)):
        if sum(c) != n1:
            continue
        ways = math.prod(math.comb(t, x) for t, x in zip(totals, c, strict=True))
        every += ways
        if _u_by_pairs(list(c), [t - x for t, x in zip(totals, c, strict=True)]) >= u - 1e-9:
            reach += ways
    bounds = [0.1 * (j + 1) for j in range(k - 1)] + [INF]
    r = mann_whitney_greater(
        list(zip(bounds, itertools.accumulate(a), strict=True)),
        list(zip(bounds, itertools.accumulate(b), strict=True)))
    assert r.method == "mann-whitney exact"
    assert r.p == pytest.approx(reach / every, abs=1e-9), (a, b)


def test_a_slow_tail_in_the_canary_fails_at_its_exact_p_value() -> None:
    # The review's case: 6 of 132 canary requests in the slow bucket against 1 of 2,525.
    # Enumerated over the slow bucket's 7 requests (the canary's share of each bucket is
    # hypergeometric given the totals), P(U >= observed) is 0.0029: a FAIL at alpha 1 %.
    canary = [(0.1, 4), (0.5, 126), (INF, 132)]
    stable = [(0.1, 1), (0.5, 2524), (INF, 2525)]
    r = mann_whitney_greater(canary, stable)
    assert r.method == "mann-whitney exact"
    assert r.p == pytest.approx(0.0029, abs=2e-4)


def test_many_well_filled_buckets_keep_the_normal_approximation() -> None:
    # 100 canary and 1,900 stable requests of one shape over five buckets: outside the fullest
    # (1,200), 600, 120, 40 and 40 requests, 101 x 101 x 41 x 41 ways to place the canary's
    # there, far over EXACT_MAX_WAYS; with that many requests in several buckets the normal
    # approximation is close (README: 0.0050 against 0.0052 by relabelling).
    canary = [(0.05, 60), (0.1, 90), (0.25, 96), (0.5, 98), (INF, 100)]
    r = mann_whitney_greater(canary, [(le, c * 19) for le, c in canary])
    assert r.method == "mann-whitney"


def test_a_few_expected_errors_take_fishers_exact_test_not_the_z_test() -> None:
    # 10 canary 5xx of 100 against 90 of 1,900: 100 errors of 2,000, 5 expected on the
    # canary (the rule of five would allow the z-test). Pooled 0.05, se = sqrt(0.05 x 0.95 x
    # (1/100 + 1/1,900)) = 0.022361, z = (0.1 - 0.047368) / 0.022361 = 2.3537, p = 0.0093:
    # significant at 0.01. Exactly, the canary's 100 requests drawn from the 2,000 hold X of
    # the 100 errors: P(X >= 10) = sum C(100, x) C(1,900, 100 - x) / C(2,000, 100) = 0.025.
    want = sum(math.comb(100, x) * math.comb(1900, 100 - x) for x in range(10, 101)
               ) / math.comb(2000, 100)
    assert want == pytest.approx(0.025, abs=5e-4)
    r = proportions_greater(10, 100, 90, 1900)
    assert r.method == "fisher"
    assert r.p == pytest.approx(want, rel=1e-9)
    z = proportions_greater(10, 100, 90, 1900, exact_up_to=0)
    assert z.z == pytest.approx(2.3537, abs=1e-4) and z.p == pytest.approx(0.0093, abs=1e-4)


def test_fishers_sum_stops_past_the_mode_without_losing_digits() -> None:
    # 40 canary 5xx of 100 against 60 of 1,900: far in the tail. The sum to the end, term by
    # term, against the one that stops once a term is under 1e-12 of the total.
    want = sum(math.comb(100, x) * math.comb(1900, 100 - x) for x in range(40, 101)
               ) / math.comb(2000, 100)
    assert fisher_greater(40, 100, 60, 1900) == pytest.approx(want, rel=1e-10)


def test_a_canary_slower_than_every_likely_way_gets_a_tiny_p_never_zero() -> None:
    # 30 of 100 canary requests over 0.1 s against 10 of 2,000 stable: about 2 expected, the
    # exact sum's likely ways stop far short of 30. The p-value is the approximation's, tiny
    # but not 0 (a p of 0 would claim a certainty no test gives).
    r = mann_whitney_greater([(0.1, 70), (0.5, 100), (INF, 100)],
                             [(0.1, 1990), (0.5, 2000), (INF, 2000)])
    assert r.p is not None and 0.0 < r.p < 1e-12

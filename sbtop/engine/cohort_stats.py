"""The statistical tests of the cohort gate, computed from the counts the histograms give.

Latency: the Mann-Whitney U test, one-sided ("the canary is slower"), on the two cohorts'
histogram bucket counts in the window. A histogram does not keep each request's duration, only
which bucket it fell in, so the buckets are ordered categories: every request in a bucket shares
the bucket's mid-rank (ties), and the normal approximation uses the tie-corrected variance
(Lehmann, "Nonparametrics", 1975, ch. 1). With thousands of requests and a dozen buckets
nearly every request is tied with others, which is exactly what the correction is for. The
normal approximation is close to the exact (permutation) distribution at the gate's minimum
count while the requests are spread over the buckets, and too bold when a difference sits in a
few requests of a sparse bucket (one slow canary request of 10: p 0.003 for 0.10): there, where
the sum is short, the exact p-value is used (measured in README, "The gate that compares").

Errors: the 5xx share of each cohort, one-sided ("the canary fails more"): Fisher's exact test
(the hypergeometric tail) up to thousands of errors in the window, the pooled two-proportion
z-test beyond. Pure arithmetic, no I/O, no third-party library: every result is checked by hand in
tests/test_cohort_stats.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Fisher's exact test is summed term by term: up to this many errors in the window it is the
# 5xx test; with more the z-test is (then accurate, and the sum would be long). The z-test
# with only a few errors expected is too bold even past the usual rule of five (10 canary 5xx
# of 100 against 90 of 1,900: p 0.009 for an exact 0.025).
FISHER_MAX_ERRORS = 5000
# The exact Mann-Whitney p-value is summed over the likely ways the canary's requests can fall
# in the buckets outside the fullest one: while there are at most this many it is (a few ms).
# More means several buckets each expecting many canary requests, where the normal
# approximation is close; it is too bold where a bucket expects only a few.
EXACT_MAX_WAYS = 20_000
# Ways less likely than this are left out of the exact sum: a few million at the very most
# (EXACT_MAX_WAYS states, each with a range of counts in each bucket), so a p-value moves by
# under 1e-8, and leaving them out cuts the work tenfold where one bucket holds nearly every
# request.
NEGLIGIBLE = 1e-15


@dataclass(frozen=True, slots=True)
class Significance:
    """A one-sided test's outcome: `p` is None when the test cannot be made (no requests)."""

    p: float | None
    statistic: float | None  # U of the canary, or the z of the two proportions
    z: float | None  # the standard score (None for Fisher's exact test, or no variance)
    method: str  # "mann-whitney" (normal), "mann-whitney exact", "z-test", "fisher", or "none"
    why: str | None = None


def upper_tail(z: float) -> float:
    """P(Z >= z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def bucket_counts(cumulative: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Cumulative histogram buckets (upper bound, count up to it) as the count in each bucket,
    in order of the bound. A bucket that seems to hold fewer than the one below (float noise of
    Prometheus's rates, or a scrape caught mid-update) counts as empty rather than negative."""
    out = []
    below = 0.0
    for le, c in sorted(cumulative):
        out.append((le, max(0.0, c - below)))
        below = max(below, c)
    return out


def shared_bounds(canary: Sequence[tuple[float, float]], stable: Sequence[tuple[float, float]]
                  ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Both cohorts' cumulative buckets at the bounds both have. With one layout (one
    histogram, the flag drawn per request) that is all of them. With two (instances running
    different code), a bucket of one layout overlaps two of the other: ordering them by their
    upper bound would rank a canary request in (0.5, 1] above a stable one in (0.2, 0.6] that
    took as long. A cumulative count at a shared bound is exact for each cohort, so the
    coarser common layout compares like with like."""
    both = {le for le, _c in canary} & {le for le, _c in stable}
    return ([(le, c) for le, c in canary if le in both],
            [(le, c) for le, c in stable if le in both])


def mann_whitney_greater(canary: Sequence[tuple[float, float]],
                         stable: Sequence[tuple[float, float]], exact: bool = True
                         ) -> Significance:
    """One-sided Mann-Whitney U: is a canary request's duration stochastically larger than a
    stable one's? Both cohorts as cumulative buckets (upper bound, count); where their bounds
    differ, on the bounds both have (`shared_bounds`).

    U counts the (canary, stable) pairs in which the canary request was slower, a tie counting
    half. Under "no difference" its mean is n1 n2 / 2 and its variance
    n1 n2 / 12 x ((N + 1) - sum(t^3 - t) / (N (N - 1))), t the requests of each bucket. The
    z-score takes a continuity correction of 1/2. The p-value is the exact one
    (`_exact_greater`) where that sum is small enough, else the normal approximation's;
    `exact=False`: always the approximation's."""
    if canary and stable:
        canary, stable = shared_bounds(canary, stable)
        if not canary:
            return Significance(None, None, None, "none",
                                "the cohorts' histograms have no bucket bound in common")
    a = dict(bucket_counts(canary))
    b = dict(bucket_counts(stable))
    bounds = sorted(set(a) | set(b))
    n1 = sum(a.values())
    n2 = sum(b.values())
    if n1 <= 0 or n2 <= 0:
        return Significance(None, None, None, "none", "no requests in one of the cohorts")
    n = n1 + n2
    rank_sum = 0.0
    ties = 0.0
    before = 0.0
    for le in bounds:
        c, s = a.get(le, 0.0), b.get(le, 0.0)
        t = c + s
        if t <= 0:
            continue
        mid = before + (t + 1.0) / 2.0  # the mid-rank shared by every request in the bucket
        rank_sum += c * mid
        ties += t ** 3 - t
        before += t
    u = rank_sum - n1 * (n1 + 1.0) / 2.0
    mean = n1 * n2 / 2.0
    var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0))) if n > 1 else 0.0
    if var <= 0:
        # Every request in one bucket: the histogram cannot tell the cohorts apart.
        return Significance(1.0, u, None, "mann-whitney",
                          "every request in the same bucket: no difference can be seen")
    z = (u - mean - 0.5) / math.sqrt(var)
    p = _exact_greater([a.get(le, 0.0) for le in bounds],
                       [b.get(le, 0.0) for le in bounds]) if exact else None
    if p is not None:
        return Significance(p, u, z, "mann-whitney exact")
    return Significance(upper_tail(z), u, z, "mann-whitney")


def _log_comb(a: int, b: int) -> float:
    if b < 0 or b > a:
        return -math.inf
    return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)


def _likely_range(tj: int, r: int, n: int) -> tuple[int, int]:
    """The counts of canary requests worth summing over in a bucket of `tj` requests, `r`
    canary requests among the `n` left: its whole range, or the mean (r tj / n) +- 8 standard
    deviations (Poisson's, wider than the hypergeometric's) and 8 more. Further out a count is
    less likely than NEGLIGIBLE."""
    mean = r * tj / n if n else 0.0
    spread = 8.0 * math.sqrt(mean) + 8.0
    return max(0, math.floor(mean - spread)), min(tj, r, math.ceil(mean + spread))


def _exact_greater(canary: Sequence[float], stable: Sequence[float]) -> float | None:
    """P(U >= the canary's U) when the canary's requests are any n1 of all the requests in
    the buckets, every choice alike (the permutation distribution, ties kept): exact where
    the normal approximation is not, a few requests in a sparse bucket deciding the answer.
    Counts per bucket in order of the bound (rounded: Prometheus's are rates x the window).
    None when there are more than EXACT_MAX_WAYS ways to sum over.

    The statistic summed is the canary's rank sum W (U is W - n1 (n1 + 1) / 2, a constant
    apart): a request in bucket j has the bucket's mid-rank, T_below + (t_j + 1) / 2, so it
    adds 2 T_below + t_j to 2W (and 1, the same for every placement: left out). The scores
    come from the buckets' totals, which every placement shares; scored by the stable counts
    observed (2 x stable below + b_j, U's form), a placement that moves the stable requests
    was scored as if they had stayed, and the p-value was off by up to 0.15. The buckets are taken
    one by one, the fullest last (its count is whatever is left); how many canary requests
    fall in bucket j, given r left to place among the R requests not yet taken, is
    hypergeometric: C(t_j, c) C(R - t_j, r - c) / C(R, r)."""
    a = [round(x) for x in canary]
    b = [round(x) for x in stable]
    t = [x + y for x, y in zip(a, b, strict=True)]
    n1 = sum(a)
    scores = []
    below = 0
    for tj in t:
        scores.append(2 * below + tj)
        below += tj
    fullest = max(range(len(t)), key=lambda j: t[j])
    order = [j for j in range(len(t)) if j != fullest and t[j] > 0] + [fullest]
    ways = 1
    for j in order[:-1]:
        low, high = _likely_range(t[j], n1, sum(t))
        ways *= high - low + 1
    if ways > EXACT_MAX_WAYS:
        return None
    observed = sum(x * sj for x, sj in zip(a, scores, strict=True))
    # (canary requests placed, 2U so far) -> probability
    states: dict[tuple[int, int], float] = {(0, 0): 1.0}
    left = sum(t)
    for j in order[:-1]:
        nxt: dict[tuple[int, int], float] = {}
        pmfs: dict[int, list[tuple[int, int, float]]] = {}  # by requests left to place
        for (placed, score), prob in states.items():
            r = n1 - placed
            pmf = pmfs.get(r)
            if pmf is None:
                whole = _log_comb(left, r)
                low, high = _likely_range(t[j], r, left)
                pmf = pmfs[r] = [
                    (c, c * scores[j], math.exp(w)) for c in range(low, high + 1)
                    if (w := _log_comb(t[j], c) + _log_comb(left - t[j], r - c) - whole)
                    > -math.inf]
            for c, add, pc in pmf:
                q = prob * pc
                if q < NEGLIGIBLE:
                    continue
                key = (placed + c, score + add)
                nxt[key] = nxt.get(key, 0.0) + q
        states = nxt
        if len(states) > EXACT_MAX_WAYS:
            return None  # more ways than foreseen: the approximation, within the budget
        left -= t[j]
    last = scores[fullest]
    total = sum(prob for (placed, score), prob in states.items()
                if score + (n1 - placed) * last >= observed)
    if total <= 0.0:
        # The canary's U lies past every likely way (p far under 1e-12): not 0, the
        # approximation's tiny p says how far.
        return None
    return min(1.0, total)


def fisher_greater(x1: int, n1: int, x2: int, n2: int) -> float:
    """Fisher's exact test, one-sided: P(the canary has x1 or more of the x1 + x2 errors) when
    the errors fall on the n1 + n2 requests at random (the hypergeometric upper tail)."""
    k = x1 + x2
    n = n1 + n2

    def log_comb(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    denominator = log_comb(n, k)
    top = min(k, n1)
    mode = (n1 + 1) * (k + 1) // (n + 2)
    total = 0.0
    for x in range(x1, top + 1):
        if k - x > n2:
            continue
        term = math.exp(log_comb(n1, x) + log_comb(n2, k - x) - denominator)
        total += term
        if x > mode and term < total * 1e-12:
            break  # past the mode the terms only get smaller: the rest no longer counts
    return min(1.0, total)


def proportions_greater(x1: float, n1: float, x2: float, n2: float,
                        exact_up_to: int = FISHER_MAX_ERRORS) -> Significance:
    """One-sided: is the canary's error share x1/n1 larger than the stable's x2/n2? Fisher's
    exact test up to `exact_up_to` errors in all, the pooled two-proportion z-test beyond.
    Counts from Prometheus are rates times the window, so not whole: they are rounded first."""
    x1i, n1i, x2i, n2i = (round(v) for v in (x1, n1, x2, n2))
    if n1i <= 0 or n2i <= 0:
        return Significance(None, None, None, "none", "no requests in one of the cohorts")
    x1i, x2i = min(x1i, n1i), min(x2i, n2i)
    k = x1i + x2i
    if k == 0:
        return Significance(1.0, 0.0, None, "z-test", "no 5xx in either cohort")
    if k <= exact_up_to:
        return Significance(fisher_greater(x1i, n1i, x2i, n2i), float(x1i), None, "fisher")
    pooled = k / (n1i + n2i)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1i + 1 / n2i))
    if se <= 0:
        return Significance(1.0, 0.0, None, "z-test", "every request failed in both cohorts")
    z = (x1i / n1i - x2i / n2i) / se
    return Significance(upper_tail(z), z, z, "z-test")

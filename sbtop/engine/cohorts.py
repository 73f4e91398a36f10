"""The canary cohort against the stable cohort, in the same window, on the same traffic.

When the app labels its latency histogram and request counter with the cohort a request took
(the runbook's flag decided per request: `variant="optimized"` or `"baseline"`), the window's
increases are split by that label exactly as they are split by route: the same trackers, the
same reset rule, the same Prometheus answers, read with the cohort label in the place of the
route (`cohort_settings`). Each cohort gets its p95, p99, 5xx share and rate with the requests
behind them; the two are compared with the tests of sbtop.engine.cohort_stats and an effect
size tolerance, and the verdicts become two figures the canary gate reads
(`canary_p95_vs_stable_pct`, `canary_5xx_vs_stable_pts`).

Too few canary requests is "waiting", never a pass; no cohort label in the window means the
comparison cannot be made, and the gate falls back to the baseline taken before the first step.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sbtop import untrusted
from sbtop.engine.cohort_stats import (
    Significance,
    mann_whitney_greater,
    proportions_greater,
    shared_bounds,
)
from sbtop.engine.deltas import Deltas
from sbtop.engine.detail import Detail
from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.quantile import INF, histogram_quantile
from sbtop.engine.rollup import COUNTER, HIST_COUNT, RouteKey
from sbtop.engine.settings import FIGURE_UNITS, CohortSettings, EngineSettings

# The verdicts of a comparison, as the gate reads them.
PASS, FAIL, WAITING, UNKNOWN, NO_LABEL = "pass", "fail", "waiting", "unknown", "no cohort label"
COHORT_FIGURES = (Fig.CANARY_P95_VS_STABLE_PCT, Fig.CANARY_5XX_VS_STABLE_PTS)


@dataclass(frozen=True, slots=True)
class CohortFigures:
    """One cohort's figures over the window; a figure that cannot be computed is None."""

    value: str  # the cohort label's value ("optimized")
    requests: float  # requests in the window (the counter's, else the histogram's)
    latency_requests: float  # requests in the histogram (behind the quantiles)
    requests_per_s: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate_5xx_pct: float | None
    errors_5xx: float | None
    reason: str | None = None  # why a figure is unknown


@dataclass(frozen=True, slots=True)
class Verdict:
    """One comparison (latency or 5xx): its state (PASS, FAIL, WAITING, UNKNOWN), the
    difference, the test's p-value and the words the gate shows."""

    state: str
    difference: float | None  # p95: per cent over stable; 5xx: percentage points
    p: float | None
    test: str
    said: str


@dataclass(frozen=True, slots=True)
class Comparison:
    p95_diff_pct: float | None
    p99_diff_pct: float | None
    error_diff_pts: float | None
    latency: Verdict
    errors: Verdict


@dataclass(frozen=True, slots=True)
class Cohorts:
    """What `check --json` shows as "cohorts" and the Canary panel draws."""

    label: str
    canary: CohortFigures | None = None
    stable: CohortFigures | None = None
    comparison: Comparison | None = None
    reason: str | None = None  # why there is no comparison (no label seen, no window yet)
    window_s: float | None = None
    # The window had requests and none carried the label: the gate uses the baseline (the
    # Canary panel says it in fewer words than the reason).
    no_label: bool = False
    # The label's other values in the window (in neither cohort, so in neither comparison):
    # said, not left out in silence (outside text, made safe).
    others: tuple[str, ...] = ()


def cohort_settings(settings: EngineSettings) -> EngineSettings:
    """The engine's settings with the cohort label read where the route is: the sums "by
    route" of the trackers (and of Prometheus's answers) are then sums by cohort."""
    c = settings.cohorts
    assert c is not None
    names = dataclasses.replace(settings.names, route_labels=(c.label,), method_labels=())
    return dataclasses.replace(settings, names=names)


OTHERS_SHOWN = 5  # of the label's other values, in check's words and --json


def _key(value: str) -> RouteKey:
    return ("", value)


def cohorts_over(d: Deltas | None, settings: EngineSettings, waiting: str) -> Cohorts:
    """Both cohorts and their comparison from a window split by the cohort label."""
    c = settings.cohorts
    assert c is not None
    if d is None or d.span <= 0:
        return Cohorts(c.label, reason=waiting)
    seen = set(d.route_buckets) | {rk for f in (COUNTER, HIST_COUNT)
                                   for rk in d.route_counts.get(f, {})}
    if not seen:
        return Cohorts(c.label, reason=(
            f"no {c.label} label on {settings.names.latency_histogram} in the window: the "
            "canary is compared with the baseline taken before the first step"), window_s=d.span,
            no_label=True)
    canary = _figures(d, c.canary, settings)
    stable = _figures(d, c.stable, settings)
    others = sorted({rk[1] for rk in seen} - {c.canary, c.stable})
    unlabelled = None
    if not d.route_buckets:
        # The counter carries the label, the histogram does not: the latency can never be
        # compared, which no amount of waiting changes.
        unlabelled = (f"no {c.label} label on {settings.names.latency_histogram}: the "
                      "latency cannot be compared by cohort")
    return Cohorts(c.label, canary, stable, compare(d, canary, stable, c, others, unlabelled),
                   window_s=d.span,
                   others=tuple(untrusted.line(v, 40) for v in others[:OTHERS_SHOWN]))


def _figures(d: Deltas, value: str, settings: EngineSettings) -> CohortFigures:
    rk = _key(value)
    buckets = d.route_buckets.get(rk, {})
    latency_requests = buckets.get(INF, 0.0)
    feed = next((f for f in (COUNTER, HIST_COUNT) if rk in d.route_counts.get(f, {})), None)
    classes = d.route_counts[feed][rk] if feed is not None else {}
    requests = sum(classes.values()) if feed is not None else latency_requests
    reasons = []
    p95 = p99 = None
    label = settings.cohorts.label if settings.cohorts is not None else "cohort"
    if requests <= 0 and latency_requests <= 0:
        # Not one request with this value in the window (the canary before its first step):
        # said as such, not as a counter without a status label.
        return CohortFigures(value, 0.0, 0.0, 0.0 if d.span > 0 else None, None, None, None,
                             None, f"no requests labelled {label}="
                             f"{untrusted.line(value, 40)} in the window")
    if latency_requests >= settings.min_requests:
        p95 = _ms(histogram_quantile(0.95, buckets.items()))
        p99 = _ms(histogram_quantile(0.99, buckets.items()))
    else:
        reasons.append(f"{latency_requests:,.0f} requests in the window, fewer than "
                       f"{settings.min_requests} for a quantile")
    errors = rate = None
    if feed is None or set(classes) <= {"?"}:
        reasons.append(f"no request count labelled {label} with a status")
    elif requests >= settings.min_requests:
        errors = classes.get("5xx", 0.0)
        rate = errors / requests * 100.0
    per_s = requests / d.span if d.span > 0 else None
    return CohortFigures(value, requests, latency_requests, per_s, p95, p99, rate, errors,
                         "; ".join(reasons) or None)


def _ms(seconds: float) -> float | None:
    return seconds * 1000.0 if math.isfinite(seconds) else None


def _diff_pct(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return (a - b) / b * 100.0


def compare(d: Deltas, canary: CohortFigures, stable: CohortFigures, c: CohortSettings,
            others: Sequence[str] = (), unlabelled: str | None = None) -> Comparison:
    """`others`: the label's values seen in the window that are neither cohort;
    `unlabelled`: why the histogram has no cohorts (the latency is then unknown)."""
    p95_diff = _diff_pct(canary.p95_ms, stable.p95_ms)
    p99_diff = _diff_pct(canary.p99_ms, stable.p99_ms)
    cb = d.route_buckets.get(_key(c.canary), {})
    sb = d.route_buckets.get(_key(c.stable), {})
    layouts = ""
    if cb and sb and set(cb) != set(sb):
        # Two bucket layouts: each quantile's resolution is its own layout's, so their
        # difference is read (like the test) on the bounds both have, and said so.
        ca, sa = shared_bounds(tuple(cb.items()), tuple(sb.items()))
        p95_diff = _diff_pct(_ms(histogram_quantile(0.95, ca)),
                             _ms(histogram_quantile(0.95, sa))) if ca else None
        p99_diff = _diff_pct(_ms(histogram_quantile(0.99, ca)),
                             _ms(histogram_quantile(0.99, sa))) if ca else None
        layouts = f" on {len(ca)} shared bucket bounds"
    err_diff = (None if canary.error_rate_5xx_pct is None or stable.error_rate_5xx_pct is None
                else canary.error_rate_5xx_pct - stable.error_rate_5xx_pct)
    volume = (f"{canary.latency_requests:,.0f} vs {stable.latency_requests:,.0f} requests"
              f"{layouts}")
    waiting = _waiting(canary.latency_requests, stable.latency_requests, c, others)
    if unlabelled is not None:
        latency = Verdict(UNKNOWN, None, None, "mann-whitney", unlabelled)
    elif waiting is not None:
        latency = Verdict(WAITING, p95_diff, None, "mann-whitney", waiting)
    else:
        test = mann_whitney_greater(tuple(cb.items()), tuple(sb.items()))
        latency = _judge("p95", p95_diff, "%", c.max_p95_over_stable_pct, test, c, volume)
    volume = f"{canary.requests:,.0f} vs {stable.requests:,.0f} requests"
    waiting = _waiting(canary.requests, stable.requests, c, others)
    if waiting is not None:
        errors = Verdict(WAITING, err_diff, None, "two proportions", waiting)
    elif canary.errors_5xx is None or stable.errors_5xx is None:
        errors = Verdict(UNKNOWN, None, None, "two proportions",
                         f"canary 5xx vs stable: unknown ({canary.reason or stable.reason})")
    else:
        test = proportions_greater(canary.errors_5xx, canary.requests, stable.errors_5xx,
                                   stable.requests)
        errors = _judge("5xx", err_diff, " pts", c.max_5xx_over_stable_pts, test, c, volume)
    return Comparison(p95_diff, p99_diff, err_diff, latency, errors)


def _waiting(canary_n: float, stable_n: float, c: CohortSettings, others: Sequence[str] = ()
             ) -> str | None:
    """Why it is too early to judge: too few canary (or stable) requests. Never a pass.
    None at all of one cohort while the label has other values is no wait: the configured
    value is not the app's (a typo waits forever), and the values seen are said."""
    for side, value, n in (("canary", c.canary, canary_n), ("stable", c.stable, stable_n)):
        if n <= 0 and others:
            seen = ", ".join(untrusted.line(v, 24) for v in others[:2])
            extra = f" +{len(others) - 2}" if len(others) > 2 else ""
            return (f"no {side} {c.label}={untrusted.line(value, 24)}: the app writes "
                    f"{seen}{extra}")
    # Through Prometheus the counts are increase()s, not whole: 99.7 is shown as 99 (rounded,
    # it read "waiting for 1 more canary requests (100 of 100)").
    if canary_n < c.min_canary_requests:
        more = math.ceil(c.min_canary_requests - canary_n)
        return (f"waiting for {more:,} more canary requests ({math.floor(canary_n):,} of "
                f"{c.min_canary_requests:,})")
    if stable_n < c.min_canary_requests:
        more = math.ceil(c.min_canary_requests - stable_n)
        return f"waiting for {more:,} more stable requests ({math.floor(stable_n):,})"
    return None


def _judge(what: str, diff: float | None, unit: str, tolerance: float, test: Significance,
           c: CohortSettings, volume: str) -> Verdict:
    if test.p is None:
        return Verdict(UNKNOWN, diff, None, test.method,
                       f"canary {what} vs stable: unknown ({test.why})")
    if diff is None:
        return Verdict(UNKNOWN, None, test.p, test.method,
                       f"canary {what} vs stable: unknown (a cohort's {what} is not known)")
    shown = f"{diff:+.0f} %" if unit == "%" else f"{diff:+.2f} pts"
    significant = test.p < c.alpha
    sig = f"significant ({p_text(test.p)})" if significant else (
        f"not significant ({p_text(test.p)})")
    failed = significant and diff > tolerance
    within = "" if failed or not significant else f", within {tolerance:+g}{unit}"
    state = FAIL if failed else PASS
    return Verdict(state, diff, test.p, test.method,
                   f"canary {what} {shown} vs stable, {sig}{within}, {volume}: "
                   f"{'FAIL' if failed else 'pass'}")


def p_text(p: float) -> str:
    if p < 0.001:
        return "p<0.001"
    return f"p={p:.3f}" if p < 0.1 else f"p={p:.2f}"


def cohort_figures(view: Cohorts) -> dict[str, Figure]:
    """The two comparisons as figures the gate reads (and `check --json` lists): the
    difference as the value, the verdict in the detail; unknown with the reason while
    waiting, and without a cohort label."""
    out: dict[str, Figure] = {}
    cmp = view.comparison
    for key in COHORT_FIGURES:
        unit = FIGURE_UNITS[key]
        if cmp is None:
            out[key] = Figure(key, None, Level.UNKNOWN, unit, None, view.reason or "no cohorts",
                              Detail(verdict=NO_LABEL if view.window_s is not None
                                     else WAITING))
            continue
        verdict = cmp.latency if key == Fig.CANARY_P95_VS_STABLE_PCT else cmp.errors
        canary, stable = view.canary, view.stable
        assert canary is not None and stable is not None
        behind = ((canary.latency_requests, stable.latency_requests)
                  if key == Fig.CANARY_P95_VS_STABLE_PCT else (canary.requests, stable.requests))
        detail = Detail(requests=behind[0], stable_requests=behind[1], verdict=verdict.state,
                        test=verdict.test, said=verdict.said)
        if verdict.state in (PASS, FAIL) and verdict.difference is not None:
            level = Level.CRITICAL if verdict.state == FAIL else Level.OK
            out[key] = Figure(key, verdict.difference, level, unit, None, None, detail)
        else:
            out[key] = Figure(key, None, Level.UNKNOWN, unit, None, verdict.said, detail)
    return out


def _num(x: float | None, digits: int = 3) -> float | int | None:
    if x is None or not math.isfinite(x):
        return None
    if float(x).is_integer() and abs(x) < 2**53:
        return int(x)
    return round(x, digits)


def _cohort_dict(f: CohortFigures | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"value": f.value, "requests": _num(f.requests, 1),
            "latency_requests": _num(f.latency_requests, 1),
            "requests_per_s": _num(f.requests_per_s), "latency_p95_ms": _num(f.p95_ms),
            "latency_p99_ms": _num(f.p99_ms), "error_rate_5xx_pct": _num(f.error_rate_5xx_pct),
            "errors_5xx": _num(f.errors_5xx, 1),
            **({"reason": f.reason} if f.reason else {})}


def _verdict_dict(v: Verdict) -> dict[str, Any]:
    p = None if v.p is None else float(f"{v.p:.3g}")  # tiny p-values keep their digits
    return {"verdict": v.state, "difference": _num(v.difference), "p_value": p,
            "test": v.test, "said": v.said}


def cohorts_dict(view: Cohorts) -> dict[str, Any]:
    """`check --json`'s "cohorts": each cohort's figures with the requests behind them, and
    the comparison (null, with the reason, when no cohort label was seen)."""
    cmp = view.comparison
    return {
        "label": view.label,
        "window_s": _num(view.window_s),
        "canary": _cohort_dict(view.canary),
        "stable": _cohort_dict(view.stable),
        "comparison": None if cmp is None else {
            "latency_p95_diff_pct": _num(cmp.p95_diff_pct),
            "latency_p99_diff_pct": _num(cmp.p99_diff_pct),
            "error_rate_5xx_diff_pts": _num(cmp.error_diff_pts),
            "latency": _verdict_dict(cmp.latency),
            "errors": _verdict_dict(cmp.errors),
        },
        **({"reason": view.reason} if view.reason else {}),
        **({"others": list(view.others)} if view.others else {}),
    }


def _side_text(name: str, f: CohortFigures) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    five = "-" if f.error_rate_5xx_pct is None else f"{f.error_rate_5xx_pct:.2f}%"
    rate = "-" if f.requests_per_s is None else f"{f.requests_per_s:.1f}/s"
    return (f"{name} p95 {ms(f.p95_ms)} ms, p99 {ms(f.p99_ms)} ms, 5xx {five}, {rate}, "
            f"{f.requests:,.0f} requests")


def summary_lines(view: Cohorts) -> list[str]:
    """`sbtop check`'s words for the cohorts: each side, then each verdict."""
    if view.canary is None or view.stable is None or view.comparison is None:
        return [f"cohorts ({view.label}): {view.reason or 'none yet'}"]
    def said(what: str, v: Verdict) -> str:
        # A wait is the same words for both: it names its comparison, as a verdict does.
        return f"  canary {what} vs stable: {v.said}" if v.state == WAITING else f"  {v.said}"

    others = ([f"  also seen, in neither cohort: {', '.join(view.others)}"]
              if view.others else [])
    return [f"cohorts ({view.label}): {_side_text('canary', view.canary)}",
            f"{' ' * (len(view.label) + 12)}{_side_text('stable', view.stable)}",
            said("p95", view.comparison.latency), said("5xx", view.comparison.errors),
            *others]

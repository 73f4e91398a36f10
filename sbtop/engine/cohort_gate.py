"""What the canary gate takes from the cohort comparison (sbtop.engine.cohorts): once the
canary takes traffic, the canary cohort is judged against the stable cohort in the same window,
in place of the whole service against the baseline taken before the first step. The runbook's
absolute limits (5xx under 1 %, DB connections under 80 %) and the soak still apply beside it.

Only a verdict of "pass" opens it: waiting for requests, an unknown figure, a stale one, all
keep it shut. Without a cohort label in the window the baseline comparison is used, and says so.
"""

from __future__ import annotations

from collections.abc import Mapping

from sbtop.engine.cohorts import FAIL, NO_LABEL, PASS, WAITING
from sbtop.engine.figures import Figure
from sbtop.engine.keys import Fig

# (name, passed, shown, waiting): made into the gate's Criterion by sbtop.engine.gate.
Judged = tuple[str, bool, str, bool]
_NAMES = ((Fig.CANARY_P95_VS_STABLE_PCT, "cohort p95"), (Fig.CANARY_5XX_VS_STABLE_PTS,
                                                         "cohort 5xx"))


def cohort_criteria(percent: int | None, figures: Mapping[str, Figure]) -> list[Judged]:
    """The cohort criteria, or none when there is nothing to compare: before the first step
    (no canary traffic), no cohort label configured, or none seen in the window."""
    if not percent:
        return []
    found = [(name, figures.get(key)) for key, name in _NAMES]
    if any(f is None or f.detail.verdict in (NO_LABEL, None) for _n, f in found):
        return []
    out: list[Judged] = []
    for name, f in found:
        assert f is not None
        # The verdict's words without their last word (the gate marks each criterion itself),
        # "requests" shortened: the criterion fits one line of an 80-column Canary panel.
        # Not judged (waiting, unknown): the words name the criterion, since both would
        # otherwise read "waiting for 38 more canary requests" and not say which is which.
        said = f"{name}: {f.reason or 'unknown'}"
        if f.detail.said and f.detail.verdict in (PASS, FAIL):
            said = f.detail.said.removesuffix(": FAIL").removesuffix(": pass").replace(
                " requests", " req")
        if f.stale_s is not None:
            out.append((name, False, f"{name}: stale for {f.stale_s:.0f} s ({said})", False))
        else:
            out.append((name, f.detail.verdict == PASS and f.value is not None, said,
                        f.detail.verdict == WAITING))
    return out


def fallback_note(figures: Mapping[str, Figure]) -> str:
    """Said beside the baseline comparison when a cohort label is configured but not seen."""
    f = figures.get(Fig.CANARY_P95_VS_STABLE_PCT)
    if f is None or f.detail.verdict != NO_LABEL:
        return ""
    return "; no cohort label seen: compared with the baseline"

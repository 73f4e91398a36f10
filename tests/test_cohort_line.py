"""The Canary panel's cohort line while there is no comparison: its reason in the 76 columns
the panel has at 80x24, never cut at the border."""

from __future__ import annotations

from textual.content import Content

from sbtop.console.cohorts import cohort_line
from sbtop.engine.cohorts import Cohorts

NO_LABEL = ("no variant label on http_request_duration_seconds in the window: the canary is "
            "compared with the baseline taken before the first step")


def _plain(markup: str) -> str:
    return Content.from_markup(markup).plain


def test_no_cohort_label_seen_is_said_in_words_that_fit_80_columns() -> None:
    c = Cohorts("variant", reason=NO_LABEL, window_s=60.0, no_label=True)
    line = _plain(cohort_line(c, 76))
    assert line == "cohorts: no variant label seen: the gate compares with the baseline"
    assert _plain(cohort_line(c, 52)) == "cohorts: no variant label seen: gate on the baseline"
    assert _plain(cohort_line(c, 36)) == "cohorts: no variant label seen"


def test_another_long_reason_is_cut_at_a_word_within_the_width() -> None:
    c = Cohorts("variant", reason="metrics unavailable: connection refused by 127.0.0.1:9 "
                "while reading http://127.0.0.1:9/metrics after three attempts")
    line = _plain(cohort_line(c, 76))
    assert len(line) <= 76 and line.endswith("…") and line.startswith("cohorts: metrics")
    assert _plain(cohort_line(Cohorts("variant", reason="waiting for a second scrape"), 76)) == (
        "cohorts: waiting for a second scrape")


def test_a_cohort_without_requests_says_so_not_a_row_of_dashes() -> None:
    """Before the first step the canary cohort has no requests: 'canary p95 - ms 5xx - (0
    req)' said it in dashes."""
    from sbtop.engine.cohorts import CohortFigures

    none = CohortFigures("optimized", 0.0, 0.0, None, None, None, None, None)
    stable = CohortFigures("baseline", 2440.0, 2440.0, 40.0, 226.0, 430.0, 0.16, 4.0)
    line = _plain(cohort_line(Cohorts("variant", none, stable), 76))
    assert line == "canary: no requests in the window | stable p95 226 ms 5xx 0.16% (2,440 req)"

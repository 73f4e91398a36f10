"""The Canary panel with cohorts: the canary and stable cohorts side by side on one line, and
the bad canary's slow cohort shutting the gate at 5 % in the console, at 120x40 and 80x24."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sbtop import config
from tests.console_harness import Harness, screen_text

pytestmark = pytest.mark.slow

COHORTS = config.parse({"canary": {"cohorts": {"label": "variant"}}}).canary


async def settle(h: Harness, pilot: object) -> None:
    await h.app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_bad_canary_shuts_the_gate_at_5_pct_on_its_cohort(
        tmp_path: Path, size: tuple[int, int]) -> None:
    h = Harness(production=False, state_dir=tmp_path, canary=COHORTS)
    # `sbtop demo --scenario bad-canary`: the optimized path four times as slow.
    h.backend.set(rps=200, canary_regresses_at=25, canary_slowdown=4.0)
    app = h.app
    try:
        async with app.run_test(size=size) as pilot:
            await settle(h, pilot)
            await h.ticks(13, pilot, seconds=5.0)
            text = screen_text(app)
            assert "cohorts: waiting" in text or "canary: no requests in the window" in text, text
            await pilot.press("c", "y")  # to 5 %
            await settle(h, pilot)
            assert h.backend.knobs.canary_percent == 5
            await h.ticks(13, pilot, seconds=5.0)
            gate = h.session.gate()
            assert gate is not None
            failing = [c.name for c in gate.failing]
            assert "cohort p95" in failing and "5xx" not in failing, failing
            a = h.session.assessment
            assert a is not None and a.cohorts is not None and a.cohorts.canary is not None
            text = screen_text(app)
            assert "canary p95" in text and "stable" in text, text
            assert "FAIL canary p95 +" in text, text
    finally:
        h.close()


def _panel_lines(text: str) -> list[str]:
    """The Canary panel's lines between its borders."""
    lines = text.splitlines()
    top = next(i for i, x in enumerate(lines) if "Canary" in x and x[0] in "╭┌┏")
    bottom = next(i for i in range(top + 1, len(lines)) if lines[i][0] in "╰└┗")
    return [x[1:-1].strip() for x in lines[top + 1:bottom]]


async def test_at_80x24_the_cohort_line_fits_and_every_criterion_says_its_verdict(
        tmp_path: Path) -> None:
    """80x24 before the first step: the gate's line is hidden, and the cohort line was sized
    to it (no width: the widest form, cut at the border, the stable cohort's requests lost).
    At 5 %: the criteria that do not fit the last line were cut at the border (the 5xx verdict
    and the database's unseen); each now says its verdict, by its name when it must."""
    h = Harness(production=False, state_dir=tmp_path, canary=COHORTS)
    h.backend.set(rps=200, canary_regresses_at=25, canary_slowdown=4.0)
    app = h.app
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(h, pilot)
            await h.ticks(13, pilot, seconds=5.0)
            panel = _panel_lines(screen_text(app))
            cohorts = next(x for x in panel if x.startswith("canary"))
            assert re.search(r"stable p95 \d+ ms 5xx [\d.]+% \([\d,]+( req)?\)$", cohorts), panel
            await pilot.press("c", "y")  # to 5 %
            await settle(h, pilot)
            await h.ticks(13, pilot, seconds=5.0)
            gate = h.session.gate()
            assert gate is not None
            panel = _panel_lines(screen_text(app))
            said = "  ".join(panel)
            for c in gate.criteria:
                if c.name == "soak":
                    continue
                word = "ok" if c.passed else "n/a" if c.passed is None else "FAIL"
                assert f"{word} {c.shown}" in said or f"{word} {c.name}" in said, panel
            assert all(len(x) <= 76 for x in panel), panel
    finally:
        h.close()


async def test_a_cohort_criterion_waiting_for_requests_reads_wait_not_fail(
        tmp_path: Path) -> None:
    """Right after the step to 5 %, too few canary requests to judge: the gate is shut, and
    the Canary panel says "wait cohort p95: waiting for ...", not FAIL."""
    h = Harness(production=False, state_dir=tmp_path, canary=COHORTS)
    h.backend.set(rps=40)
    try:
        async with h.app.run_test(size=(120, 40)) as pilot:
            await settle(h, pilot)
            await h.ticks(3, pilot, seconds=5.0)
            await pilot.press("c", "y")
            await settle(h, pilot)
            await h.ticks(2, pilot, seconds=5.0)
            gate = h.session.gate()
            assert gate is not None and not gate.open
            assert any(c.waiting for c in gate.criteria), gate.criteria
            text = screen_text(h.app)
            assert "wait cohort p95: waiting for" in text, text
            assert "FAIL cohort" not in text, text
    finally:
        h.close()

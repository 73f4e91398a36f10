"""The Canary panel with cohorts: the canary and stable cohorts side by side on one line, and
the bad canary's slow cohort shutting the gate at 5 % in the console, at 120x40 and 80x24."""

from __future__ import annotations

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
            assert "cohorts: waiting" in text or "canary p95" in text, text
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

"""The simulated backend's bad canary (`sbtop demo --scenario bad-canary`): at 5 % the whole
service's figures stay green and within the baseline's +10 %, so the baseline gate would let
the step through; the canary cohort against the stable one is four times slower on the
optimized routes, and the cohort gate catches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbtop.demo.backend import SimulatedBackend, running
from sbtop.demo.render_api import API_KEY, SERVICE_ID
from sbtop.engine.assessment import Assessment
from sbtop.engine.engine import Engine
from sbtop.engine.exposition import scan
from sbtop.engine.gate import GateSettings, evaluate
from sbtop.engine.keys import Fig
from sbtop.engine.levels import Level
from sbtop.engine.names import wanted_samples
from sbtop.engine.settings import CohortSettings, EngineSettings
from tests.cli import run_sbtop
from tests.pagegen import obs

SETTINGS = EngineSettings(cohorts=CohortSettings())  # the demo's: variant, optimized/baseline


def watch(percent: float, seconds: int = 70, *, bad: bool = True) -> Assessment:
    """The backend's own pages every 10 s of simulated traffic (the default 40 requests/s),
    read by the engine; the last assessment."""
    b = SimulatedBackend(port=0, background=False)
    if bad:
        b.set(canary_regresses_at=25, canary_slowdown=4.0)
    b.set(canary_percent=percent)
    e = Engine(SETTINGS)
    a = None
    for i in range(seconds // 10 + 1):
        b.advance(10.0)
        a = e.observe(obs(10.0 * i, scan(b.metrics_page().decode(),
                                         wanted_samples(SETTINGS.names))))
    assert a is not None
    return a


def test_the_bad_canary_is_caught_at_5_pct_while_the_whole_service_is_green() -> None:
    before = watch(0)
    at5 = watch(5)
    base = before.figures[Fig.LATENCY_P95_MS].value
    p95 = at5.figures[Fig.LATENCY_P95_MS].value
    assert base is not None and p95 is not None
    # The whole service: no judged figure warns (memory is unknown here: no health probe),
    # p95 and 5xx ok, p95 within the baseline's +10 %.
    assert not [k for k, f in at5.figures.items()
                if f.judged and f.level in (Level.WARNING, Level.CRITICAL)]
    assert at5.figures[Fig.LATENCY_P95_MS].level is Level.OK
    assert at5.figures[Fig.ERROR_RATE_5XX_PCT].level is Level.OK
    assert p95 <= base * 1.10
    without_cohorts = {k: f for k, f in at5.figures.items()
                       if k not in (Fig.CANARY_P95_VS_STABLE_PCT, Fig.CANARY_5XX_VS_STABLE_PTS)}
    assert evaluate(5, 0.0, 1e12, base, without_cohorts, GateSettings()).open
    # The cohorts: the canary's p95 far over the stable one's, significant: the gate shuts.
    gate = evaluate(5, 0.0, 1e12, base, at5.figures, GateSettings())
    assert [c.name for c in gate.failing] == ["cohort p95"]
    said = gate.failing[0].shown
    assert said.startswith("canary p95 +") and "significant (p<0.001)" in said
    c = at5.cohorts
    assert c is not None and c.canary is not None and c.stable is not None
    assert c.canary.requests >= 100  # judged on enough requests, not waiting


def test_the_good_canary_passes_the_cohort_gate() -> None:
    a = watch(5, bad=False)  # the fix works: the optimized path is faster
    gate = evaluate(5, 0.0, 1e12, 1000.0, a.figures, GateSettings())
    assert gate.open, [c.shown for c in gate.criteria]


@pytest.mark.slow
def test_sbtop_canary_next_is_refused_by_the_cohort_gate_at_5_pct(tmp_path: Path) -> None:
    """Headless, as `sbtop canary next` runs in a script: the slow canary cohort shuts the
    gate, the refusal names it, exit 1 (refused) and nothing is sent."""
    with running(port=0) as b:
        b.render.build_s, b.render.update_s = 0.05, 0.05
        # Enough canary requests that the slowdown is significant whatever the draw: at 400/s
        # (some 100 canary requests) a draw came out at p = 0.010, on the threshold.
        b.set(rps=1200, canary_regresses_at=25, canary_slowdown=4.0)
        cfg = tmp_path / "sbtop.toml"
        cfg.write_text(f"""
[targets.demo]
base_url = "{b.url}"
[targets.demo.render]
service_id = "{SERVICE_ID}"
api_key_env = "SB_TEST_RENDER_KEY"
api_url = "{b.render_url}"
[canary]
soak = {{ "5" = "1s", "25" = "1s" }}
[canary.cohorts]
label = "variant"
""")
        cfg.chmod(0o600)
        env = {"SB_TEST_RENDER_KEY": API_KEY, "SBTOP_STATE_DIR": str(tmp_path / "state")}
        r = run_sbtop("canary", "next", "--yes", "--window", "2", "--config", str(cfg), env=env)
        assert r.returncode == 0 and b.knobs.canary_percent == 5, r.stdout + r.stderr
        # 1,200 requests/s at 5 %: some 300 canary requests in 5 s.
        r = run_sbtop("canary", "next", "--yes", "--window", "6", "--config", str(cfg), env=env)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "FAIL canary p95 +" in r.stdout and "significant" in r.stdout, r.stdout
        # The soak is done and the whole service's 5xx is fine: the cohort alone shut it.
        assert "refused: the gate is shut (canary p95 +" in r.stdout, r.stdout
        assert b.knobs.canary_percent == 5

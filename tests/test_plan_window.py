"""A whole deploy window, headless, on the simulated backend with a manual clock: pre-flight
with one failing item and an override, a phase watched to its end, a phase rolled back by its
command and started again, the canary phase passed once the ladder is at its top, the final
checklist; the record read by a new sbtop process; the recording's events in the timeline."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import tomli_w

from sbtop import config
from sbtop.actions.plan_commands import plan_main
from sbtop.actions.requests import Request
from sbtop.clock import ManualClock
from sbtop.commands.targets import demo_target
from sbtop.config.plan import plan_settings
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.assessment import Assessment
from sbtop.engine.window import Status
from sbtop.recording.meta import header
from sbtop.recording.reader import Recording
from sbtop.recording.timeline import markdown
from sbtop.recording.writer import Recorder
from sbtop.session.live import LiveSession
from sbtop.session.replay import ReplaySession
from tests.cli import run_sbtop

pytestmark = pytest.mark.slow


def plan_table(marker: Path) -> dict[str, object]:
    return {
        "preflight": [
            {"name": "Database backup completed"},
            {"name": "Target answers", "check": "target"},
            {"name": "Figures OK now", "check": "figures"},
            {"name": "Migration file present", "check": "command", "command": ["false"]},
        ],
        "phases": [
            {"name": "Database indexes", "duration": ["5m", "10m"], "watch": "5m",
             "figures": ["error_rate_5xx_pct"],
             "criteria": [{"figure": "latency_p95_ms", "op": "<", "value": 500,
                           "judged": "end"}],
             "run": ["true"]},
            {"name": "Prisma singleton", "watch": "2m", "run": ["true"],
             "rollback": ["touch", str(marker)]},
            {"name": "Optimized routes", "watch": "2m", "canary": True},
        ]}


async def test_a_whole_window_headless(tmp_path: Path) -> None:
    marker = tmp_path / "singleton-reverted"
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    table = plan_table(marker)
    backend = SimulatedBackend(port=0, background=False).start()
    backend.render.build_s, backend.render.update_s = 0.05, 0.05
    try:
        clock = ManualClock()
        wiring = demo_target(backend.url)
        assert wiring.actions is not None and wiring.actions.provider is not None
        fast = dataclasses.replace(wiring.actions.provider, poll_every_s=0.05)
        plan_set = plan_settings(config.parse({"plan": table}).plan)
        wiring = dataclasses.replace(
            wiring, plan=plan_set, actions=dataclasses.replace(wiring.actions, provider=fast),
            recording=dataclasses.replace(wiring.recording, plan=plan_set))
        rec_path = tmp_path / "window.sbrec"
        recorder = Recorder(rec_path, header(wiring.recording, 1.0, clock.now()[1]), 10**8)
        session = LiveSession(wiring, clock=clock, deploy=True, state_dir=state,
                              recorder=recorder)
        session.subscribe(lambda _u: None)
        await session.start()

        async def ticks(n: int, seconds: float = 1.0) -> None:
            for _ in range(n):
                backend.advance(seconds)
                clock.advance(seconds)
                await session.tick()

        async def assess(_window_s: float) -> Assessment:
            assert session.assessment is not None
            return session.assessment

        said: list[str] = []

        async def plan(*words: str, override: str | None = None) -> int:
            said.clear()
            verb, name = words[0], (words[1] if len(words) > 1 else None)
            return await plan_main(wiring, verb, name, state_dir=state, assess=assess,
                                   yes=True, override=override, clock=clock, out=said.append)

        await ticks(3, 20.0)
        # Pre-flight: the command item fails; the person's item is confirmed.
        assert await plan("preflight") == 2
        assert any("FAIL Migration file present: the command: false exited 1" in s
                   for s in said), said
        assert await plan("confirm", "Database backup completed") == 0
        assert await plan("start", "1") == 1
        assert any("needs an override: pre-flight Migration file present" in s for s in said)
        assert await plan("start", "1", override="file checked by hand on the deploy box") == 0

        # Phase 1 is watched for 5 minutes; passing early needs an override.
        await ticks(6, 25.0)
        assert await plan("pass", "Database indexes") == 1
        assert any("the watch is not over (2m30s left)" in s for s in said)
        await ticks(6, 25.0)
        assert await plan("status") == 0, "\n".join(said)
        assert any("watch over: ready to pass" in s for s in said)
        assert await plan("pass", "Database indexes") == 0

        # Phase 2 is rolled back by its command, then started again and passed.
        assert await plan("start", "2") == 0
        await ticks(3, 20.0)
        assert await plan("rollback", "2") == 0 and marker.exists()
        assert await plan("start", "2") == 0
        await ticks(5, 25.0)
        assert await plan("pass", "2") == 0, "\n".join(said)

        # Phase 3 is the canary: it passes once the ladder is at its top.
        assert await plan("start", "Optimized routes") == 0
        await ticks(5, 25.0)
        await session.actions.read_flag()  # the console reads it every 30 s
        assert await plan("pass", "3") == 1
        assert any("canary at 0 %, next step 5 % (sbtop canary next)" in s for s in said)
        # The ladder stepped as the console's N key and `sbtop canary next` step it: through
        # the gate, each step soaked (a minute in the demo), no override.
        c = session.actions.controller
        assert c is not None
        for percent in (5, 25, 100):
            assert session.assessment is not None
            figures = session.assessment.figures
            step = await c.prepare(Request.CANARY_NEXT, figures)
            assert not step.needs_override, step.describe()
            done = await c.execute(step, figures=figures)
            assert done.ok and c.state.canary.percent == percent, done.text
            await ticks(3, 25.0)  # the soak
            if percent < 100:
                assert await plan("pass", "3") == 1
        assert await plan("pass", "3") == 0, "\n".join(said)
        assert await plan("status") == 0 and said[1].startswith(
            "deploy window on demo: done: all 3 phases passed")

        # The final checklist (the runbook's post-deployment verification).
        report = await session.actions.verify_report()
        assert report.exit_code == 0, report.result

        await ticks(2, 5.0)  # the session reads the plan's record again every 5 s
        window = session.plan_window()
        assert window is not None and window.done
        await session.close()

        # A new sbtop process reads the same record.
        cfg = tmp_path / "sbtop.toml"
        cfg.write_text(tomli_w.dumps({"targets": {"demo": {"base_url": backend.url}},
                                      "plan": table}))
        r = run_sbtop("--config", str(cfg), "plan", "status", "--json", "--window", "0.2",
                      env={"SBTOP_STATE_DIR": str(state)})
        assert r.returncode == 0, r.stderr
        got = json.loads(r.stdout)
        assert got["done"] is True
        assert [p["status"] for p in got["phases"]] == [str(Status.PASSED)] * 3
        assert got["phases"][0]["override"] == "file checked by hand on the deploy box"
        assert got["preflight"][3]["ok"] is False
        assert got["preflight"][3]["overridden"].endswith(
            ": file checked by hand on the deploy box")

        # The recording carries the plan's events; the timeline lists them.
        with Recording(rec_path) as rec:
            kinds = [e.data.get("status") for e in rec.events if e.kind == "plan"]
            assert kinds.count("passed") == 3 and "rolled back" in kinds
            text = markdown(rec)
        assert "plan phase Database indexes watching by" in text
        assert "override: file checked by hand on the deploy box" in text
        assert "## The deploy window" in text
        assert "| Prisma singleton |" in text and "rolled back" in text
        assert "plan phase Prisma singleton running by root: rollback: touch " in text
        assert "pre-flight Migration file present FAILED" in text

        # Replay judges the window again at the tick shown, on the recorded figures.
        with Recording(rec_path) as rec:
            started = next(e.wall for e in rec.events if e.data.get("status") == "watching")
            replay = ReplaySession(rec)
            replay.subscribe(lambda _u: None)
            replay.go_to(next(i for i, w in enumerate(rec.walls) if w >= started + 60),
                         rebuild=True)
            shown = replay.latest
            assert shown is not None and shown.plan is not None
            assert shown.plan.current is not None
            assert shown.plan.current.name == "Database indexes"
            assert shown.plan.current.watch_left_s is not None
            assert 200 <= shown.plan.current.watch_left_s <= 240
            replay.go_to(len(rec) - 1, rebuild=True)
            assert replay.latest is not None and replay.latest.plan is not None
            assert replay.latest.plan.done
    finally:
        backend.stop()

"""The live session publishes the deploy window in every Snapshot, acts on it through
LiveActions (the console's API), records its changes as events and marks them on the charts;
a second session (another sbtop) sees what the first did."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbtop.clock import ManualClock
from sbtop.commands.targets import demo_target
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.window import Status
from sbtop.session.actions import Refused
from sbtop.session.live import LiveSession
from sbtop.session.snapshot import Cause, Snapshot, Update

pytestmark = pytest.mark.slow


async def ticks(session: LiveSession, backend: SimulatedBackend, clock: ManualClock,
                n: int, seconds: float = 1.0) -> None:
    for _ in range(n):
        backend.advance(seconds)
        clock.advance(seconds)
        await session.tick()


async def test_the_snapshot_carries_the_plan_and_the_actions_move_it(tmp_path: Path) -> None:
    backend = SimulatedBackend(port=0, background=False).start()
    try:
        clock = ManualClock()
        session = LiveSession(demo_target(backend.url), clock=clock, deploy=True,
                              state_dir=tmp_path)
        got: list[Update] = []
        session.subscribe(got.append)
        await session.start()
        await ticks(session, backend, clock, 3)
        snap = session.latest
        assert snap is not None and snap.plan is not None
        assert snap.plan.stands.startswith("pre-flight: ")
        assert [p.name for p in snap.plan.phases][:2] == ["Database indexes",
                                                          "Prisma singleton"]
        checked = await session.actions.plan_preflight()
        # The demo has no baseline before its first canary step: that item fails.
        assert not checked.ok and "failed: Baseline captured" in checked.text
        assert session.actions.plan_confirm("All tests passing locally").ok
        after = session.latest
        assert after is not None and after.cause is Cause.PLAN and after.plan is not None
        items = {i.name: i for i in after.plan.preflight}
        assert items["All tests passing locally"].ok is True
        assert items["Figures OK now"].ok is True
        assert items["Baseline captured"].ok is False
        with pytest.raises(Refused, match="no phase 'Nope'"):
            session.actions.plan_prepare("start", "Nope")
        plan = session.actions.plan_prepare("start", "1")
        assert plan.needs_override and plan.argv[:1] == ("echo",)
        refused = await session.actions.plan_execute(plan)
        assert refused.refused
        out = await session.actions.plan_execute(plan, override="demo: items left open")
        assert out.ok, out.text
        last = got[-1]
        assert isinstance(last, Snapshot) and last.cause is Cause.PLAN
        assert last.plan is not None and last.plan.current is not None
        assert last.plan.current.status is Status.WATCHING
        assert last.plan.current.watch_left_s == 60.0
        assert any("plan Database indexes: watching" in m.label
                   for m in session.history.markers)
        await ticks(session, backend, clock, 30)
        now = session.latest
        assert now is not None and now.plan is not None and now.plan.current is not None
        assert now.plan.current.watch_left_s == 30.0
        # Another sbtop on the same state directory sees the same window.
        other = LiveSession(demo_target(backend.url), clock=clock, read_only=True,
                            state_dir=tmp_path)
        other.subscribe(lambda _u: None)
        await other.start()
        await ticks(other, backend, clock, 1)
        assert other.latest is not None and other.latest.plan is not None
        assert other.latest.plan.stands == now.plan.stands.replace("30s", "29s")
        with pytest.raises(Refused, match="read-only"):
            other.actions.plan_prepare("pass", "1")
        await other.close()
        await session.close()
    finally:
        backend.stop()


async def test_a_watch_period_over_is_told_once_to_whoever_listens(tmp_path: Path) -> None:
    """The person decides what next (sbtop never moves on): the notifier hears that the
    watch is over, once, with the verdict."""
    from sbtop.engine.transitions import Event, EventKind

    backend = SimulatedBackend(port=0, background=False).start()
    try:
        clock = ManualClock()
        session = LiveSession(demo_target(backend.url), clock=clock, deploy=True,
                              state_dir=tmp_path)
        told: list[Event] = []
        session.on_event(told.append)
        session.subscribe(lambda _u: None)
        await session.start()
        await ticks(session, backend, clock, 3)
        plan = session.actions.plan_prepare("start", "1")
        assert (await session.actions.plan_execute(plan)).refused  # refused: nothing told
        assert (await session.actions.plan_execute(plan, override="test: items left open")).ok
        # The phase's command finishing is told, as a canary action's is (once).
        (done,) = [e for e in told if e.kind is EventKind.ACTION_FINISHED]
        assert done.title == "plan start phase 1 Database indexes done on demo"
        assert done.body.startswith("echo succeeded: demo: npx prisma")
        await ticks(session, backend, clock, 50)
        assert [e for e in told if e.kind is EventKind.WATCH_ENDED] == []
        await ticks(session, backend, clock, 20)
        (ended,) = [e for e in told if e.kind is EventKind.WATCH_ENDED]
        assert ended.title == "watch over: 1. Database indexes on demo"
        assert ended.body == "watch over: ready to pass" and ended.level.value == "ok"
        await ticks(session, backend, clock, 10)
        assert len([e for e in told if e.kind is EventKind.WATCH_ENDED]) == 1
        await session.close()
    finally:
        backend.stop()

"""The trends on a live session: the simulated backend's memory leak, a manual clock, a
restart and its reconnect storm, and what `sbtop timeline` writes of it from the recording."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sbtop import config
from sbtop.clock import ManualClock
from sbtop.collector import Collector
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.engine import Engine
from sbtop.engine.keys import Fig
from sbtop.recording.meta import header
from sbtop.recording.reader import Recording
from sbtop.recording.timeline import markdown
from sbtop.recording.writer import Recorder
from sbtop.session.live import LiveSession

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


async def _ticks(session: LiveSession, backend: SimulatedBackend, clock: ManualClock,
                 n: int, step: float) -> None:
    for _ in range(n):
        backend.advance(step)
        clock.advance(step)
        await session.tick()


def test_the_leak_scenario_gives_its_growth_then_a_restart_its_storm(tmp_path: Path) -> None:
    backend = SimulatedBackend(port=0, background=False).start()
    # 180 MB of 512 MB, leaking 600 MB/h (10 MB a minute); 150 sockets.
    backend.set(memory_leak_mb_per_h=600.0, error_rate=0.0)
    clock = ManualClock()
    target = config.resolve(config.Config(targets={"demo": config.TargetConfig(
        base_url=backend.url, memory_limit_mb=512, gzip=False)}))
    path = tmp_path / "leak.jsonl.gz"
    recorder = Recorder(path, header(target.recording, 60.0, clock.wall))
    session = LiveSession(target, clock=clock, recorder=recorder, health_every_s=0)

    async def go() -> None:
        async with session:
            # Nine minutes of readings, one a minute: too little for a slope.
            await _ticks(session, backend, clock, 9, 60.0)
            a = session.assessment
            assert a is not None
            g = a.figures[Fig.MEMORY_GROWTH_MB_PER_H]
            assert g.value is None and g.reason is not None
            assert g.reason.startswith("needs 10m00s of memory readings, have 8m00s")
            await _ticks(session, backend, clock, 4, 60.0)
            a = session.assessment
            assert a is not None
            g = a.figures[Fig.MEMORY_GROWTH_MB_PER_H]
            # 10 MB a minute, each reading within 2 MB of the line: the median of pairwise
            # slopes over 11+ minutes lands within a few MB/h of 600.
            assert g.value is not None and 570 <= g.value <= 630
            # At ~300 MB now: (409.6 - 300) / 10 = ~11 min to warning, ~19 min to critical.
            assert g.detail.to_warning_s is not None and g.detail.to_critical_s is not None
            assert 8 * 60 <= g.detail.to_warning_s <= 14 * 60
            assert 16 * 60 <= g.detail.to_critical_s <= 22 * 60
            sockets = a.figures[Fig.SOCKET_GROWTH_PER_H]
            assert sockets.value is not None and abs(sockets.value) < 60  # flat at ~150
            assert sockets.detail.to_warning_s is None
            # The restart (r): a new process, the leak gone, the clients back over 10 s; the
            # console reads every second.
            backend.restart()
            await _ticks(session, backend, clock, 15, 1.0)
            a = session.assessment
            assert a is not None
            g = a.figures[Fig.MEMORY_GROWTH_MB_PER_H]
            assert g.value is None and g.reason is not None and "since the restart" in g.reason
            s = a.figures[Fig.SOCKET_GROWTH_PER_H]
            # About 15 a second after the restart, about 150 again 10 s later.
            assert s.detail.surge is not None and 120 <= s.detail.surge <= 150
            assert s.detail.surge_s is not None and 8 <= s.detail.surge_s <= 15
            note = next(n for n in a.notes if n.startswith("restart at"))
            assert "sockets +1" in note
            assert any(m.label == "restart" for m in session.history.markers)

    try:
        asyncio.run(go())
    finally:
        backend.stop()
    with Recording(path) as rec:
        text = markdown(rec)
    row = next(line for line in text.splitlines() if "process restarted" in line)
    print(row)
    assert "sockets +1" in row and " before)" in row


def test_the_timeline_gives_sbtops_restart_one_row_with_its_storm(tmp_path: Path) -> None:
    backend = SimulatedBackend(port=0, background=False).start()
    clock = ManualClock()
    target = config.resolve(config.Config(), url=backend.url)
    path = tmp_path / "restart.jsonl.gz"
    recorder = Recorder(path, header(target.recording, 1.0, clock.wall))

    async def go() -> None:
        engine = Engine(target.engine, target.name)
        async with Collector(target.collector, clock, health_every_s=0) as collector:
            for i in range(40):
                if i == 10:  # sbtop's restart action went through; the process follows
                    t, wall = clock.now()
                    recorder.event(wall, "action", {"action": "restart", "ok": True,
                                                    "override": False, "result": "done"})
                    engine.trends.restarted(t, wall)
                if i == 13:
                    backend.restart()
                backend.advance(1.0)
                clock.advance(1.0)
                recorder.tick(engine.observe(await collector.observe()), None)

    try:
        asyncio.run(go())
    finally:
        backend.stop()
        recorder.close()
    with Recording(path) as rec:
        text = markdown(rec)
    rows = [line for line in text.splitlines() if "process restarted" in line]
    assert len(rows) == 1, rows
    assert "process restarted by sbtop's restart; sockets +1" in rows[0]

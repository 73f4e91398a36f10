"""Recordings made for tests: the simulated backend observed with a fast clock, written as the
console writes them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sbtop import config
from sbtop.clock import ManualClock
from sbtop.collector import Collector
from sbtop.demo.backend import SimulatedBackend
from sbtop.engine.engine import Engine
from sbtop.recording.meta import header
from sbtop.recording.writer import Recorder


def write_recording(path: Path, *, ticks: int, step: float, incident: bool = False,
                    cut: bool = False) -> None:
    """A recording of the simulated backend made with a fast clock: `ticks` ticks `step`
    seconds apart; with `incident`, 5xx at 8 % from tick 20 to 110 and a rollback at 110."""
    backend = SimulatedBackend(port=0, background=False).start()
    backend.set(rps=100, error_rate=0.0)
    clock = ManualClock()
    target = config.resolve(config.Config(), url=backend.url)
    recorder = Recorder(path, header(target.recording, step, clock.wall))

    async def go() -> None:
        engine = Engine(target.engine, target.name)
        async with Collector(target.collector, clock, health_every_s=0) as collector:
            for i in range(ticks):
                if incident and i == 20:
                    backend.set(error_rate=0.08)
                if incident and i == 110:
                    backend.set(error_rate=0.0)
                    recorder.event(clock.wall, "action", {
                        "action": "rollback", "ok": True, "override": False,
                        "result": "rolled back: deploy dep-0004 live"})
                backend.advance(step)
                clock.advance(step)
                recorder.tick(engine.observe(await collector.observe()),
                              {"percent": 25, "step_started_wall": 0.0,
                               "baseline_p95_ms": 200.0, "read_error": None})

    try:
        asyncio.run(go())
    finally:
        backend.stop()
    if cut:
        recorder.flush()
        size = recorder.bytes_written
        recorder._raw.close()  # killed: no gzip trailer, and the last part not flushed
        with open(path, "r+b") as f:
            f.truncate(size - 7)
    else:
        recorder.close()

"""The state file survives restarts whole; the lock keeps a second sbtop out; the audit log
only ever grows by complete lines."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from sbtop.actions.audit import AuditLog
from sbtop.actions.state import CanaryState, LockedError, StateStore, TargetState
from tests.waiting import until


def test_state_round_trips_and_a_damaged_file_reads_as_empty(tmp_path: Path) -> None:
    store = StateStore(tmp_path, "production")
    state = TargetState(CanaryState(percent=25, step_started_wall=1000.0,
                                    baseline={"latency_p95_ms": 210.0}, baseline_wall=900.0))
    store.save(state)
    assert store.load() == state
    assert (store.path.stat().st_mode & 0o777) == 0o600
    store.path.write_text("{not json")
    assert store.load() == TargetState()


def _hold(directory: str, ready: object, release: object) -> None:
    store = StateStore(Path(directory), "production")
    with store.locked("canary next"):
        ready.set()  # type: ignore[attr-defined]
        release.wait(10)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_second_sbtop_is_refused_and_told_who_holds_the_lock(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockedError) as e, StateStore(tmp_path, "production").locked("restart"):
            pass
        held = json.loads(str(e.value))
        assert held["action"] == "canary next" and held["pid"] == holder.pid
    finally:
        release.set()
        holder.join(10)
    with StateStore(tmp_path, "production").locked("restart"):
        pass  # free again once the holder is gone


@pytest.mark.slow
def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(tmp_path), ready, release))
    holder.start()
    assert ready.wait(10)
    os.kill(holder.pid or 0, signal.SIGKILL)
    holder.join(10)
    with StateStore(tmp_path, "production").locked("restart"):
        pass


def _write_forever(path: str) -> None:
    log = AuditLog(Path(path))
    i = 0
    while True:
        log.append({"action": "canary next", "params": {"n": i, "pad": "x" * 500}})
        i += 1


@pytest.mark.slow
def test_the_audit_log_holds_only_complete_lines_even_when_killed(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("fork")
    writer = ctx.Process(target=_write_forever, args=(str(path),))
    writer.start()
    # Killed once it has written a good many lines, most likely in the middle of another.
    until(lambda: path.exists() and path.read_bytes().count(b"\n") > 50, 30, "50 lines written")
    os.kill(writer.pid or 0, signal.SIGKILL)
    writer.join(10)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # every line ended
    entries = [json.loads(line) for line in lines[:-1]]
    assert len(entries) > 10
    assert [e["params"]["n"] for e in entries] == list(range(len(entries)))
    assert {"time", "user", "host", "action"} <= set(entries[0])

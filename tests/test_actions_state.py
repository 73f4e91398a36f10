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


@pytest.mark.parametrize(
    ("saved", "ignored"),
    [
        ({"canary": {"percent": True}}, "percent"),
        ({"canary": {"percent": 25.0}}, "percent"),
        ({"canary": {"percent": 101}}, "percent"),
        ({"canary": {"step_started_wall": "1000"}}, "step_started_wall"),
        ({"canary": {"step_started_wall": -1}}, "step_started_wall"),
        ({"canary": {"baseline_wall": 1e300}}, "baseline_wall"),
        ({"canary": {"baseline": {"latency_p95_ms": -3}}}, "baseline"),
        ({"canary": {"baseline": {"latency_p95_ms": "210"}}}, "baseline"),
        ({"canary": {"read_error": 5}}, "read_error"),
        ({"in_flight": [1]}, "in_flight"),
        ({"rollback_skip": ["dep-1", 2]}, "rollback_skip"),
        ({"deploy_flags": {"dep-1": 150}}, "deploy_flags"),
        ({"deploy_flags": {"dep-1": False}}, "deploy_flags"),
        ({"last_abort": {"deploy": "dep-1"}}, "last_abort"),
        ({"last_abort": {"deploy": "dep-1", "wall": float("nan")}}, "last_abort"),
    ],
)
def test_one_wrong_field_is_ignored_with_a_note_and_the_rest_kept(
        tmp_path: Path, saved: dict[str, object], ignored: str) -> None:
    store = StateStore(tmp_path, "production")
    good = {"canary": {"percent": 5, "step_started_wall": 1000, "baseline_wall": 900,
                       "baseline": {"latency_p95_ms": 210.5, "error_rate_5xx_pct": None},
                       "read_error": "timed out"},
            "in_flight": {"action": "restart", "pid": 7}, "rollback_skip": ["dep-0"],
            "deploy_flags": {"dep-0": 5},
            "last_abort": {"deploy": "dep-0", "from": 25, "wall": 950.0}}
    store.path.write_text(json.dumps(good))
    whole = store.load()
    assert store.problem == "" and whole.canary.percent == 5 and whole.last_abort is not None
    data = {**good, **saved}
    if "canary" in saved:
        data["canary"] = {**good["canary"], **saved["canary"]}  # type: ignore[dict-item]
    store.path.write_text(json.dumps(data))
    loaded = store.load()
    assert store.problem == f"{store.path}: ignored {ignored} (wrong type or value)"
    default = TargetState()
    for name in ("percent", "step_started_wall", "baseline_wall", "baseline", "read_error"):
        expected = getattr(default.canary if name == ignored else whole.canary, name)
        assert getattr(loaded.canary, name) == expected, name
    for name in ("in_flight", "rollback_skip", "deploy_flags", "last_abort"):
        assert getattr(loaded, name) == getattr(default if name == ignored else whole, name)


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

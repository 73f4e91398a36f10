"""`sbtop canary`, `sbtop restart`, `sbtop rollback` against the simulated backend's Render-
shaped control plane: the plan first, confirmation, the gate, refusals that send nothing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sbtop.demo.backend import SimulatedBackend
from tests import control_plane
from tests.cli import clean_env, run_sbtop
from tests.control_plane import render_config, render_env, serving
from tests.waiting import until

# Servers, subprocesses, terminals or real time: not in the fast loop (pytest -m 'not slow').
pytestmark = pytest.mark.slow


@pytest.fixture
def backend() -> Iterator[SimulatedBackend]:
    with serving(build_s=0.2) as b:
        yield b


def setup(tmp_path: Path, b: SimulatedBackend,
          production: bool = False) -> tuple[Path, dict[str, str]]:
    return (render_config(tmp_path / "c.toml", b, production=production),
            render_env(tmp_path / "state"))


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    return control_plane.audit(tmp_path / "state")


def test_status_then_a_step_then_a_refused_step_then_a_forced_one(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env = setup(tmp_path, backend)
    r = run_sbtop("canary", "status", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 0, r.stderr
    assert "canary flag PERF_OPTIMIZATIONS_ENABLED: 0 %" in r.stdout
    r = run_sbtop("canary", "next", "--yes", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PUT " in r.stdout and "deploy dep-" in r.stdout
    assert backend.knobs.canary_percent == 5
    calls = len(backend.render.calls)
    r = run_sbtop("canary", "next", "--yes", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 1
    assert "gate is shut" in r.stdout and "soak 30m00s" in r.stdout and "--force" in r.stdout
    assert len(backend.render.calls) == calls + 1  # only the flag was read: nothing sent
    r = run_sbtop("canary", "next", "--yes", "--force", "--config", str(cfg), "--window", "1",
                  env=env)
    assert r.returncode == 0 and backend.knobs.canary_percent == 25
    entries = audit(tmp_path)
    assert entries[-1]["override"] is True and entries[-1]["ok"] is True
    assert any(e.get("refused") for e in entries)


def test_production_needs_its_name_typed_and_sends_nothing_without_it(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env = setup(tmp_path, backend, production=True)
    r = run_sbtop("restart", "--config", str(cfg), env=env)  # no terminal to type on
    assert r.returncode == 1 and "--yes" in r.stdout
    assert "PRODUCTION" in r.stdout and "POST " in r.stdout
    assert backend.restarts == 0
    assert audit(tmp_path)[-1]["result"] == "cancelled at the confirmation"


def test_dry_run_and_restart_and_rollback(tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env = setup(tmp_path, backend)
    r = run_sbtop("restart", "--dry-run", "--config", str(cfg), env=env)
    assert r.returncode == 0 and "nothing was sent" in r.stdout and backend.restarts == 0
    r = run_sbtop("restart", "--yes", "--config", str(cfg), env=env)
    assert r.returncode == 0 and backend.restarts == 1
    run_sbtop("canary", "set", "25", "--yes", "--force", "--config", str(cfg), "--window", "1",
              env=env)
    assert backend.knobs.canary_percent == 25
    r = run_sbtop("rollback", "--yes", "--config", str(cfg), env=env)
    assert r.returncode == 0, r.stdout
    assert "Auto-deploy is still on" in r.stdout
    assert backend.knobs.canary_percent == 0


def test_read_only_and_missing_key_are_refused_with_one_line(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env = setup(tmp_path, backend)
    r = run_sbtop("restart", "--yes", "--read-only", "--config", str(cfg), env=env)
    assert r.returncode == 3 and "read-only" in r.stderr
    r = run_sbtop("restart", "--yes", "--config", str(cfg), env={**env, "SB_RENDER_KEY": ""})
    assert r.returncode == 3 and "$SB_RENDER_KEY is not set" in r.stderr
    assert "Traceback" not in r.stderr and backend.restarts == 0


def test_a_render_error_fails_the_action_with_its_reason(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    from sbtop.demo.render_api import Failure

    cfg, env = setup(tmp_path, backend)
    backend.render.fail_next(Failure(500, "render is down", only="/restart"))
    r = run_sbtop("restart", "--yes", "--config", str(cfg), env=env)
    assert r.returncode == 2 and "Render API error 500" in r.stdout
    assert audit(tmp_path)[-1]["ok"] is False


def test_killed_in_the_middle_of_an_action_the_audit_holds_whole_lines_and_it_is_not_resent(
        tmp_path: Path) -> None:
    marker = tmp_path / "runs"  # a line per run of the command: its pid
    slow = (f"import os, time; open({str(marker)!r}, 'a').write(str(os.getpid()) + chr(10)); "
            "time.sleep(30)")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""
[targets.svc]
base_url = "http://127.0.0.1:9"
[targets.svc.actions]
provider = "command"
[targets.svc.actions.command]
restart = {json.dumps([sys.executable, "-c", slow])}
""")
    env = {"SBTOP_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.Popen([sys.executable, "-m", "sbtop", "restart", "--yes", "--config",
                             str(cfg)], env=clean_env(env), stdout=subprocess.PIPE, text=True)
    try:
        # Killed once its command runs: the action is then in flight.
        until(lambda: marker.exists() and marker.read_text().endswith("\n"), 30,
              "the restart command running")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        # The command outlives a SIGKILL'd sbtop (nothing could stop it): not the test.
        for pid in marker.read_text().split() if marker.exists() else []:
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)
    raw = (tmp_path / "state" / "audit.jsonl").read_text()
    assert raw.endswith("\n")
    entries = [json.loads(x) for x in raw.splitlines()]
    assert entries[-1]["result"] == "started"
    state = json.loads((tmp_path / "state" / "state-svc.json").read_text())
    assert state["in_flight"]["action"] == "restart"
    again = run_sbtop("restart", "--dry-run", "--config", str(cfg), env=env)
    assert "was interrupted" in again.stdout
    assert len(marker.read_text().split()) == 1  # the interrupted restart was not run again
    entries = audit(tmp_path)
    assert any(str(e["result"]).startswith("interrupted") for e in entries)


def test_a_step_to_where_the_flag_already_is_or_off_the_scale_is_refused(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env = setup(tmp_path, backend)
    r = run_sbtop("canary", "set", "0", "--yes", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 1 and "not done: the flag is already at 0 %" in r.stdout
    r = run_sbtop("canary", "set", "150", "--yes", "--config", str(cfg), env=env)
    assert r.returncode == 3 and "150 is not a percentage" in r.stderr
    assert "Traceback" not in r.stderr and backend.knobs.canary_percent == 0


def test_a_damaged_state_file_is_named_and_the_flag_is_read_afresh(
        tmp_path: Path, backend: SimulatedBackend) -> None:
    cfg, env = setup(tmp_path, backend)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "state-demo.json").write_text("{half a write")
    r = run_sbtop("canary", "status", "--config", str(cfg), "--window", "1", env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert "warning:" in r.stdout and "unreadable" in r.stdout
    assert "PERF_OPTIMIZATIONS_ENABLED: 0 %" in r.stdout

"""`sbtop plan` on the command line stopped by a signal while a phase's command runs: it says
so on its output, as the record and the audit do."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sbtop.actions.plan_state import PlanStore
from sbtop.engine.window import Status
from tests.children import with_parent
from tests.cli import clean_env
from tests.waiting import until

pytestmark = pytest.mark.slow


def test_a_sigterm_while_a_phase_command_runs_prints_interrupted(tmp_path: Path) -> None:
    started, state = tmp_path / "started", tmp_path / "state"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""
[targets.x]
base_url = "http://127.0.0.1:9"
production = false

[[plan.phases]]
name = "A"
run = ["sh", "-c", "touch {started}; exec sleep 30"]
""")
    proc = subprocess.Popen(with_parent([
        sys.executable, "-m", "sbtop", "--config", str(cfg), "plan", "start", "A", "--yes",
        "--window", "0.2", "--state-dir", str(state)]), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=clean_env())
    try:
        until(started.exists, 30, "the phase's command started")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert "Traceback" not in err
    last = out.strip().splitlines()[-1]
    assert last.startswith("interrupted:") and "check what it did" in last, out
    assert PlanStore(state, "x").load().phase("A").status is Status.FAILED
    entries = [json.loads(x) for x in (state / "audit.jsonl").read_text().splitlines()]
    assert entries[-1]["result"].startswith("interrupted")

"""`sbtop plan` as a script runs it: every verb a real process against the simulated backend on
loopback, each phase's command a real process, and the exit codes of the other action
commands (0 done, 1 refused, 2 failed, 3 usage or configuration), never a traceback: a
failing pre-flight item, a start refused then overridden, a start pressed twice, another
phase in hand, --read-only, a rollback command that fails, a dry run that changes nothing,
a run command that fails, a rollback by its command, no terminal to confirm on."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import tomli_w

from sbtop.actions.audit import AuditLog
from sbtop.demo.backend import SimulatedBackend
from tests.cli import run_sbtop

pytestmark = pytest.mark.slow

REASON = "migration checked by hand on the deploy box"


def test_every_plan_verb_as_a_process_gives_the_action_commands_exit_codes(
        tmp_path: Path) -> None:
    marker = tmp_path / "singleton-reverted"
    state = tmp_path / "state"
    with SimulatedBackend(port=0) as backend:
        cfg = tmp_path / "sbtop.toml"
        cfg.write_text(tomli_w.dumps({
            "targets": {"staging": {"base_url": backend.url}},
            "plan": {
                "timeout_s": 30,
                "preflight": [{"name": "Database backup completed"},
                              {"name": "Migration file present", "check": "command",
                               "command": ["false"]}],
                "phases": [
                    {"name": "Database indexes", "watch": "1s", "run": ["true"],
                     "rollback": ["false"]},
                    {"name": "Prisma singleton", "run": ["sh", "-c", "echo boom; exit 3"],
                     "rollback": ["touch", str(marker)]}]}}))

        def plan(*args: str) -> subprocess.CompletedProcess[str]:
            r = run_sbtop("--config", str(cfg), "plan", *args, "--window", "0.2",
                          "--state-dir", str(state))
            assert "Traceback" not in r.stderr, r.stderr
            return r

        def status() -> dict[str, object]:
            r = plan("status", "--json")
            assert r.returncode in (0, 2), r.stderr
            got: dict[str, object] = json.loads(r.stdout)
            return got

        r = plan("preflight")
        assert r.returncode == 2 and "FAIL Migration file present" in r.stdout, r.stdout
        r = plan("start", "1", "--yes")
        assert r.returncode == 1 and "needs an override: pre-flight Migration" in r.stdout
        assert plan("start", "1", "--yes", "--override", REASON).returncode == 0
        r = plan("start", "1", "--yes", "--override", REASON)  # pressed twice
        assert r.returncode == 1 and "already watching" in r.stdout, r.stdout
        r = plan("start", "2", "--yes", "--override", REASON)
        assert r.returncode == 1 and "phase 1 Database indexes is watching" in r.stdout
        r = plan("rollback", "1", "--read-only")
        assert r.returncode == 3 and r.stderr.startswith("sbtop: read-only"), r.stderr

        deadline = time.monotonic() + 30  # the watch of 1 s, over on the backend's clock
        while status()["phases"][0]["ready"] is not True:  # type: ignore[index]
            assert time.monotonic() < deadline, status()
            time.sleep(0.2)
        assert plan("status").returncode == 0

        r = plan("rollback", "1", "--yes")
        assert r.returncode == 2 and "rollback failed: " in r.stdout, r.stdout
        r = plan("status")
        assert r.returncode == 2 and "ROLLBACK FAILED (still in)" in r.stdout
        assert plan("pass", "1", "--yes", "--override", "dropped the indexes by hand"
                    ).returncode == 0

        before = (state / "plan-staging.json").read_bytes()
        r = plan("start", "2", "--yes", "--dry-run")
        assert r.returncode == 0 and "dry run: nothing was run or recorded" in r.stdout
        assert (state / "plan-staging.json").read_bytes() == before
        r = plan("start", "2")  # no terminal to ask on, no --yes
        assert r.returncode == 1 and "not confirmed: no terminal" in r.stdout, r.stdout
        r = plan("start", "2", "--yes")
        assert r.returncode == 2 and "sh exited 3: boom" in r.stdout, r.stdout
        assert plan("status").returncode == 2
        assert plan("rollback", "Prisma singleton", "--yes").returncode == 0
        assert marker.exists()
        assert [p["status"] for p in status()["phases"]] == [  # type: ignore[attr-defined]
            "passed", "rolled back"]

        r = plan("start", "nosuch", "--yes")
        assert r.returncode == 1 and "no phase 'nosuch' in the plan" in r.stdout
        r = plan("pass")
        assert r.returncode == 3 and r.stderr.startswith("sbtop: plan pass needs the phase")

    entries = AuditLog(state / "audit.jsonl").read()
    starts = [(e.get("override"), e.get("dry_run"), e.get("result")) for e in entries
              if e.get("action") == "plan start phase 1 Database indexes"]
    assert starts[0][2].startswith("refused: pre-flight")  # type: ignore[union-attr]
    assert (REASON, False, "started") in starts
    assert any(e.get("dry_run") is True for e in entries
               if e.get("action") == "plan start phase 2 Prisma singleton")
    assert any(e.get("result") == "cancelled at the confirmation" for e in entries)

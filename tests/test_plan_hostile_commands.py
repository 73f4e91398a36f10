"""A phase's command, a rollback or a pre-flight command item that prints secrets or cannot
even be started: real processes, and what sbtop keeps of them (the outcome's words, the plan's
record, the audit log) holds no password and no credential from the environment it handed
the command; an argv sbtop cannot run is one line, never a traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sbtop.actions.audit import AuditLog
from sbtop.actions.phases import PlanController
from sbtop.actions.plan_state import PlanStore
from sbtop.actions.preflight import PreflightContext, run_checks
from sbtop.clock import ManualClock
from sbtop.engine.window import ItemKind, PhaseSettings, PlanSettings, PreflightSettings, Status

KEY = "rk_live_9f8e7d6c5b4a"  # a Render API key as the environment holds it
PASSWORD = "s3cr3t-pw"  # the database's, inside a DSN the command prints
# What a migration tool prints on its way out: the key it was given, the URL it connected to
# (its password made up by the shell: in no argv, nor in the environment).
LEAK = ("echo using key $SBTOP_TEST_API_KEY; p=s3cr3t; "
        "echo connected to postgres://app:$p-pw@db:5432/x")


def controller(tmp_path: Path, settings: PlanSettings) -> PlanController:
    return PlanController("staging", False, settings, PlanStore(tmp_path, "staging"),
                          AuditLog(tmp_path / "audit.jsonl"), ManualClock())


def kept(tmp_path: Path) -> str:
    """Everything sbtop wrote down: the record and the audit log."""
    return "".join(p.read_text() for p in sorted(tmp_path.glob("*.json*")))


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SBTOP_TEST_API_KEY", KEY)


@pytest.mark.usefixtures("secret_env")
def test_a_phase_commands_output_keeps_no_secret_from_its_environment_or_a_url(
        tmp_path: Path) -> None:
    phase = PhaseSettings("Indexes", run=("sh", "-c", LEAK),
                          rollback=("sh", "-c", LEAK + "; exit 4"))
    c = controller(tmp_path, PlanSettings((phase,)))
    started = asyncio.run(c.execute(c.plan("start", "1")))
    assert started.ok, started.text
    assert "postgres://app:***@db:5432/x" in started.text
    back = asyncio.run(c.execute(c.plan("rollback", "1")))
    assert not back.ok and "exited 4" in back.text
    assert "using key ***" in back.text and "postgres://app:***@db" in back.text
    written = kept(tmp_path)
    assert "rollback failed" in written
    for said in (started.text, back.text, written, str(c.reload().phase("Indexes").log)):
        assert KEY not in said and PASSWORD not in said


@pytest.mark.usefixtures("secret_env")
def test_a_pre_flight_command_items_failure_keeps_no_secret(tmp_path: Path) -> None:
    item = PreflightSettings("Migration present", ItemKind.COMMAND,
                             command=("sh", "-c", LEAK + "; exit 1"), timeout_s=10)
    results = asyncio.run(run_checks((item,), PreflightContext(None)))
    ok, detail = results["Migration present"]
    assert not ok and "exited 1" in detail and "***" in detail
    assert KEY not in detail and PASSWORD not in detail


def test_an_argv_with_a_nul_byte_is_a_failed_item_and_a_failed_phase_not_a_traceback(
        tmp_path: Path) -> None:
    item = PreflightSettings("Migration present", ItemKind.COMMAND, command=("te\x00st",))
    ok, detail = asyncio.run(run_checks((item,), PreflightContext(None)))["Migration present"]
    assert not ok and "cannot run" in detail and "\x00" not in detail
    c = controller(tmp_path, PlanSettings((PhaseSettings("Indexes", run=("np\x00x",)),)))
    out = asyncio.run(c.execute(c.plan("start", "1")))
    assert not out.ok and "cannot run" in out.text and "unexpected" not in out.text
    assert c.reload().phase("Indexes").status is Status.FAILED

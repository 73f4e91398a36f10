"""What an action will do and what it did: the Plan shown for confirmation, the Outcome after.

The Controller makes both; the console, the session and the command line only show them (and
hand a confirmed Plan back to be executed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sbtop.actions.audit import AuditLog
from sbtop.actions.requests import Params, Request
from sbtop.engine.gate import Gate


@dataclass(frozen=True)
class Plan:
    request: Request
    target: str
    production: bool
    provider: str
    service: str
    params: Params
    steps: list[str]
    gate: Gate | None = None  # for a canary step up: the verdict that the step is checked by
    needs_override: bool = False
    # Every effect beside the calls themselves, in words (the flag a rollback brings back).
    effects: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        head = (f"{self.request} on {'PRODUCTION ' if self.production else ''}target "
                f"{self.target} via {self.provider} ({self.service})")
        lines = [head, *(f"  {s}" for s in self.steps), *(f"  effect: {e}" for e in self.effects)]
        if self.gate is not None:
            lines.append("  gate: " + "; ".join(
                ("ok " if c.passed else "n/a " if c.passed is None else "FAIL ") + c.shown
                for c in self.gate.criteria))
        return lines


@dataclass
class Outcome:
    ok: bool
    text: str
    refused: bool = False
    audit: dict[str, Any] = field(default_factory=dict)


def refused(log: AuditLog, record: dict[str, Any], text: str) -> Outcome:
    """A refusal, audited: the deploy actions' and the deploy window's alike."""
    entry = log.append({**record, "result": text, "refused": True})
    return Outcome(False, text, refused=True, audit=entry)


def finished(log: AuditLog, record: dict[str, Any], ok: bool, text: str,
             **more: Any) -> Outcome:
    """An action's end, audited ("failed: ..." when it failed), with `more` in its line."""
    entry = log.append({**record, "result": text if ok else f"failed: {text}", "ok": ok,
                        **more})
    return Outcome(ok, text, audit=entry)


"""One actions layer for the console's keys and the CLI: plan, gate, lock, act, record.

Every action first has a plan (exactly what will be done); the caller confirms it. Acting is
single-flight twice over: within this process (`busy`) and across sbtops on the same target
(the state directory's lock). The canary's step, its start and the baseline live in the state
file, so an sbtop restarted after an SSH drop resumes the soak clock; an action that was in
flight when sbtop died is recorded as interrupted, never sent again. Every action, dry run and
refusal is one line in the audit log.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sbtop.actions.audit import AuditLog
from sbtop.actions.providers import ActionError, Provider
from sbtop.actions.render import Progress
from sbtop.actions.state import LockedError, StateStore, TargetState
from sbtop.clock import SYSTEM, Clock
from sbtop.engine.figures import Figure
from sbtop.engine.gate import Gate, GateSettings, evaluate, next_step

# What a user asks for, and what the provider is asked to do.
REQUESTS = {"canary next": "canary", "canary set": "canary", "canary abort": "canary",
            "restart": "restart", "rollback": "rollback"}


@dataclass(frozen=True)
class Plan:
    request: str  # "canary next", "canary set", "canary abort", "restart", "rollback"
    target: str
    production: bool
    provider: str
    service: str
    params: dict[str, Any]
    steps: list[str]
    gate: Gate | None = None  # for a canary step up: the verdict that the step is checked by
    needs_override: bool = False

    def describe(self) -> list[str]:
        head = (f"{self.request} on {'PRODUCTION ' if self.production else ''}target "
                f"{self.target} via {self.provider} ({self.service})")
        lines = [head, *(f"  {s}" for s in self.steps)]
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


class Controller:
    def __init__(self, target: str, production: bool, provider: Provider, store: StateStore,
                 audit: AuditLog, gate: GateSettings, flag: str, clock: Clock = SYSTEM) -> None:
        self.target = target
        self.production = production
        self.provider = provider
        self.store = store
        self.audit = audit
        self.gate_settings = gate
        self.flag = flag
        self.clock = clock
        self.busy: str | None = None  # the request running in this process
        self.state: TargetState = store.load()

    # --- reading --------------------------------------------------------------------------

    def recover(self) -> str | None:
        """An action in flight when an earlier sbtop stopped: record it as interrupted (it is
        never sent again) and say so. None when there was none, or it is still running."""
        state = self.store.load()
        if not state.in_flight:
            return None
        try:
            with self.store.locked("recover"):
                fresh = self.store.load()
                if not fresh.in_flight:
                    return None
                what = fresh.in_flight
                fresh.in_flight = None
                self.store.save(fresh)
                self.state = fresh
        except LockedError:
            return None  # another sbtop is acting right now: it is not interrupted
        self.audit.append({"target": self.target, "action": what.get("action"),
                           "params": what.get("params"), "result": "interrupted: sbtop stopped "
                           "before the result was known; check the provider", "dry_run": False})
        return (f"{what.get('action')} started {_ago(self.clock, what.get('started_wall'))} was "
                "interrupted (sbtop stopped): check the provider before acting again")

    async def refresh(self) -> TargetState:
        """Read the flag from the provider (not assumed); a change seen here starts a step."""
        state = self.store.load()
        try:
            percent = await self.provider.read_percent(self.flag)
        except ActionError:
            percent = None
        if percent is not None and percent != state.canary.percent:
            state.canary.percent = percent
            state.canary.step_started_wall = self.clock.now()[1]
            self.store.save(state)
        self.state = state
        return state

    def gate(self, figures: Mapping[str, Figure]) -> Gate:
        c = self.state.canary
        base = c.baseline.get("latency_p95_ms")
        return evaluate(c.percent, c.step_started_wall, self.clock.now()[1], base, figures,
                        self.gate_settings)

    def capture_baseline(self, figures: Mapping[str, Figure]) -> str:
        p95 = figures.get("latency_p95_ms")
        e5 = figures.get("error_rate_5xx_pct")
        if p95 is None or p95.value is None or p95.stale_s is not None:
            return "no baseline: p95 is not known right now"
        state = self.store.load()
        state.canary.baseline = {"latency_p95_ms": p95.value,
                                 "error_rate_5xx_pct": e5.value if e5 else None}
        state.canary.baseline_wall = self.clock.now()[1]
        self.store.save(state)
        self.state = state
        self.audit.append({"target": self.target, "action": "canary baseline",
                           "params": state.canary.baseline, "result": "captured",
                           "dry_run": False})
        return f"baseline captured: p95 {p95.value:.0f} ms"

    # --- planning and acting ----------------------------------------------------------------

    def plan(self, request: str, figures: Mapping[str, Figure] | None = None,
             percent: int | None = None) -> Plan:
        action = REQUESTS[request]
        params: dict[str, Any] = {}
        gate = None
        needs_override = False
        if action == "canary":
            current = self.state.canary.percent
            if request == "canary next":
                percent = next_step(current if current is not None else 0,
                                    self.gate_settings.steps)
                if percent is None:
                    raise ActionError(f"the canary is at the top step ({current} %)")
            elif request == "canary abort":
                percent = 0
            if percent is None or not 0 <= percent <= 100:
                raise ActionError("a canary step is a percentage between 0 and 100")
            params = {"flag": self.flag, "percent": percent, "from": current}
            if not current and not self.state.canary.baseline and figures:
                # Just before the first step: what 'no worse than before' will be judged by.
                self.capture_baseline(figures)
            if current is None or percent > current:  # more exposure: the gate decides
                gate = self.gate(figures or {})
                needs_override = not gate.open or gate.next_percent != percent
        steps = self.provider.plan(action, params)
        return Plan(request, self.target, self.production, self.provider.kind,
                    self.provider.service, params, steps, gate, needs_override)

    async def execute(self, plan: Plan, *, dry_run: bool = False, override: bool = False,
                      progress: Progress | None = None) -> Outcome:
        record: dict[str, Any] = {"target": self.target, "action": plan.request,
                                  "params": plan.params, "provider": plan.provider,
                                  "dry_run": dry_run, "override": override}
        if self.busy is not None:
            return self._refuse(record, f"refused: {self.busy} is still running")
        if plan.needs_override and not override:
            failing = [c.shown for c in plan.gate.failing] if plan.gate else []
            why = "; ".join(failing) or "the step is not the next one on the ladder"
            return self._refuse(record, f"refused: the gate is shut ({why}); override to step "
                                "anyway")
        if dry_run:
            return self._done(record, True, "dry run: nothing was sent", 0.0)
        self.busy = plan.request
        started = time.monotonic()
        try:
            with self.store.locked(plan.request):
                state = self.store.load()
                state.in_flight = {"action": plan.request, "params": plan.params,
                                   "started_wall": self.clock.now()[1]}
                self.store.save(state)
                self.audit.append({**record, "result": "started"})
                try:
                    text = await self.provider.run(REQUESTS[plan.request], plan.params,
                                                   progress)
                    ok = True
                except ActionError as e:
                    text, ok = str(e), False
                state = self.store.load()
                state.in_flight = None
                if ok and REQUESTS[plan.request] == "canary":
                    state.canary.percent = int(plan.params["percent"])
                    state.canary.step_started_wall = self.clock.now()[1]
                self.store.save(state)
                self.state = state
        except LockedError as e:
            return self._refuse(record, f"refused: another sbtop is acting on {self.target} "
                                f"({e})")
        finally:
            self.busy = None
        return self._done(record, ok, text, time.monotonic() - started)

    def _refuse(self, record: dict[str, Any], text: str) -> Outcome:
        entry = self.audit.append({**record, "result": text, "refused": True})
        return Outcome(False, text, refused=True, audit=entry)

    def _done(self, record: dict[str, Any], ok: bool, text: str, seconds: float) -> Outcome:
        entry = self.audit.append({**record, "result": text if ok else f"failed: {text}",
                                   "ok": ok, "duration_s": round(seconds, 3)})
        return Outcome(ok, text, audit=entry)


def _ago(clock: Clock, wall: Any) -> str:
    if not isinstance(wall, int | float):
        return "earlier"
    return f"{max(0, int(clock.now()[1] - wall))} s ago"

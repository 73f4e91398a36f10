"""One actions layer for the console's keys and the CLI: plan, gate, lock, act, record.

Every action first has a plan (exactly what will be done); the caller confirms it. Acting is
single-flight twice over: within this process (`busy`) and across sbtops on the same target
(the state directory's lock). The canary's step, its start and the baseline live in the state
file, so an sbtop restarted after an SSH drop resumes the soak clock; an action that was in
flight when sbtop died is recorded as interrupted, never sent again. Every action, dry run and
refusal is one line in the audit log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sbtop.actions import baseline
from sbtop.actions.audit import AuditLog
from sbtop.actions.plan import Outcome, Plan, finished, refused
from sbtop.actions.providers import ActionError, Provider
from sbtop.actions.render import Progress
from sbtop.actions.requests import Action, Params, Request, RollbackTarget
from sbtop.actions.state import LockedError, StateStore, TargetState
from sbtop.clock import SYSTEM, Clock
from sbtop.engine.figures import Figure
from sbtop.engine.gate import Gate, GateSettings, evaluate, next_step
from sbtop.engine.keys import Fig


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
        """Read the flag from the provider (not assumed); a change seen here starts a step.
        A failed read makes the step unknown (and the gate shut) until a read works."""
        try:
            percent, error = await self.provider.read_percent(self.flag), None
        except ActionError as e:
            percent, error = None, str(e)
        except Exception as e:  # a provider bug must not pass for a reading
            percent, error = None, f"{type(e).__name__}: {e}"
        try:
            with self.store.locked("read flag"):  # never write over an action's state
                state = self.store.load()
                changed = False
                if error is not None and state.canary.read_error != error:
                    state.canary.read_error, changed = error, True
                if error is None and state.canary.read_error is not None:
                    state.canary.read_error, changed = None, True
                if percent is not None and percent != state.canary.percent:
                    state.canary.percent = percent
                    state.canary.step_started_wall = self.clock.now()[1]
                    changed = True
                if changed:
                    self.store.save(state)
        except LockedError:
            state = self.store.load()  # an action is running: it writes the state
        self.state = state
        return state

    def gate(self, figures: Mapping[str, Figure]) -> Gate:
        c = self.state.canary
        base = c.baseline.get(Fig.LATENCY_P95_MS)
        percent = None if c.read_error else c.percent
        return evaluate(percent, c.step_started_wall, self.clock.now()[1], base, figures,
                        self.gate_settings)

    def baseline_question(self, figures: Mapping[str, Figure]) -> tuple[str, list[str], bool]:
        """What capturing the baseline again would do, to confirm (see baseline.question)."""
        return baseline.question(self.state.canary, figures)

    def capture_baseline(self, figures: Mapping[str, Figure], *, override: bool = False) -> str:
        """Take the current p95 and 5xx rate as what later steps are judged against. During a
        canary that needs `override`: otherwise refused (and recorded)."""
        old = self.state.canary.baseline.get(Fig.LATENCY_P95_MS)
        record = {"target": self.target, "action": "canary baseline", "dry_run": False,
                  "params": {"previous_p95_ms": old}, "override": override}
        try:
            with self.store.locked("capture baseline"):
                state = self.store.load()
                if state.canary.percent and not override:
                    text = (f"refused: the canary is at {state.canary.percent} %; its own "
                            "figures would become the baseline (confirm the override to "
                            "capture anyway)")
                    self.audit.append({**record, "result": text, "refused": True})
                    return text
                if not self._capture(state, figures, override=override,
                                     previous_p95_ms=old):
                    return "no baseline: p95 is not known right now"
                self.store.save(state)
        except LockedError as e:
            return f"no baseline: another sbtop is acting on {self.target} ({e})"
        self.state = state
        was = f" (was {old:.0f} ms)" if isinstance(old, int | float) else ""
        return f"baseline captured: p95 {state.canary.baseline[Fig.LATENCY_P95_MS]:.0f} ms{was}"

    # --- planning and acting ----------------------------------------------------------------

    def plan(self, request: Request, figures: Mapping[str, Figure] | None = None,
             percent: int | None = None, params: Params | None = None) -> Plan:
        """What the request would do, checked against the gate. Changes nothing."""
        request = Request(request)  # a word from a caller that is not typed: refused if unknown
        action = request.action
        params = params or Params()
        gate = None
        needs_override = False
        effects: list[str] = []
        if action == Action.CANARY:
            unread = self.state.canary.read_error
            if unread and request != Request.CANARY_ABORT:
                raise ActionError(f"the flag could not be read ({unread}): the step is "
                                  "unknown, so nothing is stepped (an abort still works)")
            # The brake needs nothing but the provider's write: unread, it is set to 0
            # whatever it holds now.
            current = None if unread else self.state.canary.percent
            if unread:
                effects.append(f"the flag cannot be read ({unread}): it is set to 0 whatever "
                               "it holds now")
            if request == Request.CANARY_NEXT:
                percent = next_step(current if current is not None else 0,
                                    self.gate_settings.steps)
                if percent is None:
                    raise ActionError(f"the canary is at the top step ({current} %)")
            elif request == Request.CANARY_ABORT:
                percent = 0
            if percent is None or not 0 <= percent <= 100:
                raise ActionError("a canary step is a percentage between 0 and 100")
            if percent == current:
                raise ActionError(f"the flag is already at {percent} %")
            params = replace(params, flag=self.flag, percent=percent, from_percent=current)
            if request != Request.CANARY_ABORT and (current is None or percent > current):
                # More exposure: the gate decides. Less never needs it: a brake is a brake.
                gate = self.gate(figures or {})
                needs_override = not gate.open or gate.next_percent != percent
        if action == Action.ROLLBACK:
            if params.skip is None:
                params = replace(params, skip=tuple(sorted(self.state.rollback_skip)))
            effects += self._rollback_effects(params.target)
        steps = self.provider.plan(action, params)
        return Plan(request, self.target, self.production, self.provider.kind,
                    self.provider.service, params, steps, gate, needs_override,
                    tuple(effects))

    def _rollback_effects(self, target: RollbackTarget | None) -> list[str]:
        """What a rollback does to the canary: the deploy it goes back to brings back the flag
        it ran with, and one from an abort's deploy undoes the abort."""
        if target is None or not target.id:
            return []
        out = []
        flag = self.state.deploy_flags.get(target.id)
        if flag is not None:
            out.append(f"{self.flag} goes back to {flag} % with deploy {target.id} (sbtop's "
                       "canary step deployed it with that value)")
        else:
            out.append(f"{self.flag} becomes whatever deploy {target.id} ran with, which "
                       "sbtop does not know: check it after (sbtop canary status)")
        abort = self.state.last_abort
        if abort and abort.get("deploy") == target.leaves:
            when = baseline.wall_clock(abort.get("wall"))
            out.append(f"this undoes the canary abort of {when} (the flag "
                       f"was {abort.get('from', '?')} % before it)")
        return out

    async def prepare(self, request: Request, figures: Mapping[str, Figure] | None = None,
                      percent: int | None = None) -> Plan:
        """A plan with what it needs looked up first (the deploy a rollback goes back to)."""
        request = Request(request)
        params = Params()
        try:
            if request.action == Action.ROLLBACK:
                params = await self.provider.prepare(Action.ROLLBACK, Params(
                    skip=tuple(sorted(self.state.rollback_skip))))
            return self.plan(request, figures, percent, params)
        except ActionError as e:  # every refusal is recorded, this one too
            self.audit.append({"target": self.target, "action": request,
                               "params": {"percent": percent} if percent is not None else {},
                               "result": f"refused: {e}", "refused": True, "dry_run": False})
            raise

    async def execute(self, plan: Plan, *, dry_run: bool = False, override: bool = False,
                      progress: Progress | None = None,
                      figures: Mapping[str, Figure] | None = None) -> Outcome:
        """Act on a confirmed plan. Under the lock, the flag is read again and the gate is
        judged again with the freshest figures: a plan made before another sbtop acted, or
        before the figures turned, is refused rather than sent."""
        record: dict[str, Any] = {"target": self.target, "action": plan.request,
                                  "params": plan.params.shown(), "provider": plan.provider,
                                  "dry_run": dry_run, "override": override}
        if self.busy is not None:
            return self._refuse(record, f"refused: {self.busy} is still running")
        if plan.needs_override and not override:
            return self._refuse(record, self._shut(plan.gate))
        if dry_run:
            return self._done(record, True, "dry run: nothing was sent", 0.0)
        self.busy = plan.request
        started = time.monotonic()
        ok, text = False, ""
        try:
            with self.store.locked(plan.request):
                state = self.store.load()
                self.state = state
                if plan.request.action == Action.CANARY:
                    refusal = await self._recheck(plan, override, figures)
                    if refusal:
                        return self._refuse(record, refusal)
                    if not state.canary.percent and not state.canary.baseline and figures:
                        # Just before the first step: what 'no worse' is judged by from now.
                        self._capture(state, figures)
                state.in_flight = {"action": plan.request, "params": plan.params.shown(),
                                   "started_wall": self.clock.now()[1]}
                self.store.save(state)
                self.audit.append({**record, "result": "started"})
                cancelled = False
                try:
                    text = await self.provider.run(plan.request.action, plan.params,
                                                   progress)
                    ok = True
                except ActionError as e:
                    text = str(e)
                except Exception as e:  # whatever happened, the record and state must close
                    text = f"unexpected {type(e).__name__}: {e}"
                except asyncio.CancelledError:  # the user quit while it ran
                    cancelled = True
                    raise
                finally:
                    state = self.store.load()
                    state.in_flight = None
                    if cancelled:
                        self.audit.append({**record, "result": "interrupted: sbtop stopped "
                                           "following it before the result was known; check "
                                           "the provider", "ok": False,
                                           "duration_s": round(time.monotonic() - started, 3)})
                    if ok and plan.request.action == Action.CANARY:
                        percent = _step(plan.params)
                        state.canary.percent = percent
                        state.canary.step_started_wall = self.clock.now()[1]
                        state.canary.read_error = None
                        deployed = self.provider.last_deploy
                        if deployed:
                            state.deploy_flags[deployed] = percent
                        if plan.request == Request.CANARY_ABORT and deployed:
                            state.last_abort = {"deploy": deployed,
                                                "from": plan.params.from_percent,
                                                "wall": self.clock.now()[1]}
                    if ok and plan.request.action == Action.ROLLBACK:
                        # Neither the deploy left nor the one returned to is a later
                        # rollback's target: the next goes further back.
                        target = plan.params.target
                        done = {x for x in (target.id, target.leaves) if x} if target else set()
                        state.rollback_skip = sorted(set(state.rollback_skip) | done)
                    self.store.save(state)
                    self.state = state
        except LockedError as e:
            return self._refuse(record, f"refused: another sbtop is acting on {self.target} "
                                f"({e})")
        finally:
            self.busy = None
        return self._done(record, ok, text, time.monotonic() - started)

    async def _recheck(self, plan: Plan, override: bool,
                       figures: Mapping[str, Figure] | None) -> str | None:
        if plan.request == Request.CANARY_ABORT:
            return None  # the brake sets 0 whatever the flag holds, and asks nothing first
        try:
            now = await self.provider.read_percent(self.flag)
        except ActionError as e:
            return f"refused: the flag cannot be read now ({e})"
        was = plan.params.from_percent
        if now is not None and now != was:
            return (f"refused: the flag is at {now} % now, not {was} % as "
                    "when this was planned (another sbtop or the dashboard?): plan again")
        percent = _step(plan.params)
        stepping_up = was is None or percent > was
        if stepping_up and not override and figures is not None:
            gate = self.gate(figures)
            if not gate.open or gate.next_percent != percent:
                return self._shut(gate) + " (it shut since the plan was shown)"
        return None

    def _capture(self, state: TargetState, figures: Mapping[str, Figure],
                 **recorded: Any) -> bool:
        if not baseline.capture(state.canary, figures, self.clock.now()[1]):
            return False
        self.audit.append({"target": self.target, "action": "canary baseline",
                           "params": state.canary.baseline, "result": "captured",
                           "dry_run": False, **recorded})
        return True

    @staticmethod
    def _shut(gate: Gate | None) -> str:
        failing = [c.shown for c in gate.failing] if gate else []
        why = "; ".join(failing) or "the step is not the next one on the ladder"
        return f"refused: the gate is shut ({why}); override to step anyway"

    def _refuse(self, record: dict[str, Any], text: str) -> Outcome:
        return refused(self.audit, record, text)

    def _done(self, record: dict[str, Any], ok: bool, text: str, seconds: float) -> Outcome:
        return finished(self.audit, record, ok, text, duration_s=round(seconds, 3))


def _step(params: Params) -> int:
    """The percentage a canary plan sets (every canary plan has one)."""
    if params.percent is None:
        raise ActionError("a canary step is a percentage between 0 and 100")
    return params.percent


def _ago(clock: Clock, wall: Any) -> str:
    if not isinstance(wall, int | float):
        return "earlier"
    return f"{max(0, int(clock.now()[1] - wall))} s ago"

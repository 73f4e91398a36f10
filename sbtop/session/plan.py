"""The deploy window in a live session: the plan's record read from the state directory (every
few seconds, so what `sbtop plan` does in another shell shows up), the watching phases'
breaches recorded as they happen, changes turned into events for the recording, and the
judged Window published in every Snapshot.

For a face (the console's Plan view) -- everything it needs, and nothing else to import:

    Snapshot.plan: sbtop.engine.window.Window | None   (None: no [plan] configured; in a
                   replay, the window as it stood at the tick shown, rebuilt from the
                   recording's plan events, and session.actions is None there)
        .stands          where the window stands, one line (the header's compact line)
        .preflight       ItemView per pre-flight item: name, kind, ok (None: open), shown,
                         overridden, note; .blocks: a start needs an override while so
        .phases          PhaseView per phase: number, name, settings (risk, expected duration,
                         watch_s, run/rollback argv, rollback_note, canary), status, verdict,
                         watch_left_s (the countdown; None when not watching), criteria
                         (CriterionView: name, when during/end, passed True/False/None,
                         shown), ready (may be passed without an override), canary (the
                         ladder's Gate on the canary phase), by, override, result
        .current / .next the phase in hand, the next one to start
        .contacts        the escalation contacts

    session.actions (LiveActions; None in a replay) -- each call refused with a Refused
    carrying the notice to show when there is no plan or the session is read-only:
        plan_prepare(request, phase) -> PhasePlan     request "start" | "pass" | "rollback";
                                                      phase: its name or number. Raises
                                                      Refused (PlanError's words) when it
                                                      cannot be done at all.
        PhasePlan.describe()                          the confirmation's lines (the argv, the
                                                      notes); .needs_override and
                                                      .why_override: then ask for a typed
                                                      reason (as the canary gate's override)
        PhasePlan.production / .target                a production target: ask for its name
        await plan_execute(plan, override=None, progress=None) -> Outcome
                                                      after the confirmation; `override` is
                                                      the typed reason (required when
                                                      needs_override). Outcome.ok/.refused
                                                      /.text. Marked on the charts, recorded.
        plan_cancelled(plan)                          the confirmation was answered no
        plan_confirm(item, undo=False) -> Outcome     a person's pre-flight item
        await plan_preflight() -> Outcome             run the live pre-flight checks now
    A new Snapshot (Cause.PLAN) is published after each of these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbtop.actions.plan_state import PlanStore
from sbtop.actions.state import StateDirError, default_state_dir
from sbtop.engine.figures import Figure
from sbtop.engine.gate import Gate
from sbtop.engine.keys import Fig
from sbtop.engine.window import (
    UNSEEN_MAX_S,
    PhaseView,
    PlanSettings,
    PlanState,
    Status,
    Window,
    judge_window,
)
from sbtop.wiring import Wiring

if TYPE_CHECKING:
    from sbtop.actions.phases import PlanController

PLAN_EVERY_S = 5.0  # the record is read again this often (another sbtop may have acted)
# The figures an event carries: what they were when the phase started, passed, rolled back.
EVENT_FIGURES = (Fig.LATENCY_P95_MS, Fig.ERROR_RATE_5XX_PCT, Fig.REQUESTS_PER_S,
                 Fig.DB_CONNECTIONS_PCT, Fig.MEMORY_PCT)


def make_watch(wiring: Wiring, state_dir: Path | None,
               controller: PlanController | None) -> PlanWatch | None:
    """The session's watch on the plan: None without [plan]. With a controller (a deploying
    session) it shares the controller's record; without, it only reads the file."""
    if wiring.plan is None:
        return None
    if controller is not None:
        return PlanWatch(wiring.plan, controller.store, controller)
    return PlanWatch(wiring.plan, PlanStore(state_dir or default_state_dir(), wiring.name))


class PlanWatch:
    def __init__(self, settings: PlanSettings, store: PlanStore,
                 controller: PlanController | None = None) -> None:
        self.settings = settings
        self.store = store
        self.controller = controller  # only a deploying session writes (the breaches)
        self.state: PlanState | None = None
        self.problem = ""
        self._due = -math.inf
        self._told: set[tuple[str, float | None]] | None = None  # watches over, told

    def look(self, figures: Mapping[str, Figure], now_t: float,
             force: bool = False) -> list[dict[str, Any]]:
        """One tick's look: the breaches recorded (a deploying session), the record read
        again when due; the changes since the last read, as events."""
        # The controller's record is the freshest this process has (its own actions write
        # it): the breaches are judged against it.
        if self.controller is not None and self.controller.record_breaches(figures):
            force = True
        if not force and now_t < self._due:
            return []
        self._due = now_t + PLAN_EVERY_S
        before = self.state
        try:
            if self.controller is None and not self.store.exists():
                fresh = PlanState()  # a watcher's look makes no directory where none is
            else:
                fresh = self.store.load()
                self.problem = self.store.problem
        except StateDirError as e:
            self.problem = f"plan not read: {e}"
            return []
        self.state = fresh
        if self.controller is not None:
            self.controller.state = fresh
        return [] if before is None else changes(before, fresh, figures)

    def watches_ended(self, w: Window | None) -> list[PhaseView]:
        """The phases whose watch period is over since the last call: each told once (the
        person decides what next). What is already over at the first call is on the screen,
        not news, as the first look at the alerts is."""
        over = {(p.name, p.started_wall): p for p in (w.phases if w is not None else ())
                if p.status is Status.WATCHING and p.watch_over}
        if self._told is None:
            self._told = set(over)
            return []
        news = [p for key, p in over.items() if key not in self._told]
        self._told |= set(over)
        return news

    def window(self, figures: Mapping[str, Figure], now_wall: float,
               gate: Gate | None) -> Window | None:
        if self.state is None:
            return None
        return judge_window(self.settings, self.state, figures, now_wall, gate)


def changes(before: PlanState, after: PlanState,
            figures: Mapping[str, Figure]) -> list[dict[str, Any]]:
    """What happened between two reads of the record, as the recording's "plan" events."""
    seen = _figures(figures)
    out: list[dict[str, Any]] = []
    if after.reset is not None and after.reset != before.reset:  # a new deploy window
        out.append({"reset": True, "wall": after.reset.wall, "by": after.reset.by,
                    "archived": after.reset.archived, "figures": seen})
        before = PlanState()  # what follows is the new window's own
    for name, rec in after.phases.items():
        old = before.phase(name)
        known = {(t.status, t.wall) for t in old.log}
        was = old.log[-1].status if old.log else old.status
        for t in rec.log:
            if (t.status, t.wall) in known:
                continue
            out.append({"phase": name, "status": str(t.status), "was": str(was),
                        "wall": t.wall, "by": t.by, "override": t.override,
                        "result": t.result, "figures": seen})
            was = t.status
        for crit, breach in rec.breaches.items():
            if crit not in old.breaches:
                out.append({"phase": name, "breach": crit, "value": breach.value,
                            "wall": breach.wall, "figures": seen})
        if rec.unseen_s > UNSEEN_MAX_S and rec.unseen_s > old.unseen_s:
            # A stretch of the watch nothing looked at (a pass then needs an override): the
            # recording's ticks cannot tell it (replay looks at every one), the record can.
            # Rounded up: 120.04 s written as 120.0 read as "seen" in replay (not over 120).
            out.append({"phase": name, "unseen_s": math.ceil(rec.unseen_s * 10) / 10,
                        "wall": rec.looked_wall, "figures": seen})
    for name, item in after.preflight.items():
        held = before.item(name)
        if (item.ok, item.wall, item.overridden) != (held.ok, held.wall, held.overridden):
            checked = (item.ok, item.wall) != (held.ok, held.wall)
            out.append({"item": name, "ok": item.ok, "detail": item.detail, "by": item.by,
                        "overridden": item.overridden,
                        "wall": item.wall if checked else None})  # None: when it was read
    return out


def _figures(figures: Mapping[str, Figure]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in EVENT_FIGURES:
        f = figures.get(key)
        if f is not None:
            value = f.value if f.stale_s is None else None
            out[str(key)] = None if value is None or not math.isfinite(value) else round(value, 3)
    return out

"""The deploy window in a recording: the session writes a "plan" event each time a phase
changes status (started, watching, passed, rolled back, failed), a watched criterion breaks,
or a pre-flight item is checked or confirmed, with the figures at that moment. Here they are
read back: one line each for the timeline and replay, and per phase what the figures did
between its start and its end (the postmortem's question)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from sbtop import format
from sbtop.engine.keys import Fig
from sbtop.engine.labels import label, said
from sbtop.engine.window import (
    ROLLBACK_FAILED,
    Breach,
    ItemRecord,
    PhaseRecord,
    PlanSettings,
    PlanState,
    Status,
)

if TYPE_CHECKING:  # the reader reads the header through sbtop.recording.meta, which uses this
    from sbtop.recording.reader import Event, Recording

# The figures a phase's row reports, worst first: (figure, unit, worst is the highest).
PHASE_FIGURES = ((Fig.LATENCY_P95_MS, "ms"), (Fig.ERROR_RATE_5XX_PCT, "%"),
                 (Fig.DB_CONNECTIONS_PCT, "%"), (Fig.MEMORY_PCT, "%"))


def text(d: dict[str, Any]) -> str:
    """One plan event in words."""
    if d.get("reset"):
        by = f" by {d['by']}" if d.get("by") else ""
        kept = (f" (the old record archived as {d['archived']})" if d.get("archived")
                else "")
        return f"plan reset{by}: a new deploy window{kept}"
    if "item" in d:
        ok = d.get("ok")
        how = "ok" if ok else "open" if ok is None else "FAILED"
        by = f" by {d['by']}" if d.get("by") else ""
        detail = f": {d['detail']}" if d.get("detail") else ""
        over = f" (overridden by {d['overridden']})" if d.get("overridden") else ""
        return f"pre-flight {d.get('item', '?')} {how}{by}{detail}{over}"
    phase = d.get("phase", "?")
    if "unseen_s" in d:
        unseen = _seconds(d.get("unseen_s"))
        how_long = f" for {format.duration(unseen)}" if unseen is not None else ""
        return (f"plan phase {phase}: its figures went unseen{how_long} of the watch (a pass "
                "needs an override)")
    if "breach" in d:
        return f"plan phase {phase}: {said(str(d.get('breach')))} broke during the watch"
    by = f" by {d['by']}" if d.get("by") else ""
    override = f" (override: {d['override']})" if d.get("override") else ""
    result = f": {d['result']}" if d.get("result") and d.get("status") != "watching" else ""
    return f"plan phase {phase} {d.get('status', '?')}{by}{override}{result}"


def value(d: dict[str, Any]) -> str:
    """The figures the event carries, shortly (p95 and 5xx)."""
    figures = d.get("figures") or {}
    parts = []
    for key, unit in PHASE_FIGURES[:2]:
        v = figures.get(str(key))
        if isinstance(v, int | float):
            parts.append(f"{label(key)} {format.number(float(v), unit)}")
    return ", ".join(parts)


@dataclass(frozen=True)
class PhaseSpan:
    name: str
    started: float | None
    ended: float | None
    how: str  # passed, rolled back, failed, reset, or "open" (going when the recording ended)
    by: str
    override: str


def spans(events: list[Event]) -> list[PhaseSpan]:
    """Each phase's start and end as the events tell them (the last start counts: a phase
    started again after a rollback is a new span)."""
    out: list[PhaseSpan] = []
    open_: dict[str, tuple[float, str, str]] = {}
    for e in events:
        if e.kind == "plan" and e.data.get("reset"):  # a new window: what was open ends
            out += [PhaseSpan(n, s[0], e.wall, "reset", s[1], s[2]) for n, s in open_.items()]
            open_.clear()
            continue
        if e.kind != "plan" or "status" not in e.data:
            continue
        name, status = str(e.data.get("phase", "?")), str(e.data.get("status"))
        by, override = str(e.data.get("by") or ""), str(e.data.get("override") or "")
        rolling_back = str(e.data.get("result") or "").startswith("rollback:")
        if (status in ("running", "watching") and not rolling_back
                and e.data.get("was") not in ("running", "watching")):
            open_[name] = (e.wall, by, override)
        elif str(e.data.get("result") or "").startswith("rollback failed"):
            continue  # the phase is where it was: its span goes on
        elif status in ("passed", "rolled back", "failed"):
            start = open_.pop(name, None)
            out.append(PhaseSpan(name, start[0] if start else None, e.wall, status, by,
                                 start[2] if start else override))
    out += [PhaseSpan(n, s[0], None, "open", s[1], s[2]) for n, s in open_.items()]
    return sorted(out, key=lambda s: s.started if s.started is not None else s.ended or 0)


def section(rec: Recording, cell: Any, clock: Any) -> list[str]:
    """The timeline's "The deploy window" section: per phase, when it started and ended, how,
    and the worst of its figures in between. Empty when the recording has no plan events."""
    found = spans(rec.events)
    if not found:
        return []
    lines = ["", "## The deploy window", "",
             "| phase | started (UTC) | ended (UTC) | how | worst p95 | worst 5xx | "
             "worst db conns | worst memory |", "| --- | --- | --- | --- | --- | --- | --- "
             "| --- |"]
    for s in found:
        lo = s.started if s.started is not None else rec.walls[0]
        hi = s.ended if s.ended is not None else rec.walls[-1]
        worst = [_worst(rec, key, unit, lo, hi) for key, unit in PHASE_FIGURES]
        how = s.how + (f" by {s.by}" if s.by else "") + (f" (override: {s.override})"
                                                          if s.override else "")
        lines.append(f"| {cell(s.name)} | {clock(s.started) if s.started else '?'} | "
                     f"{clock(s.ended) if s.ended else '-'} | {cell(how)} | "
                     + " | ".join(cell(w) for w in worst) + " |")
    return lines


def _worst(rec: Recording, key: str, unit: str, lo: float, hi: float) -> str:
    series = rec.series.get(str(key))
    if series is None:
        return "-"
    best: tuple[float, float] | None = None
    for i, wall in enumerate(rec.walls):
        if wall < lo or wall > hi:
            continue
        v = series[i]
        if not math.isnan(v) and (best is None or v > best[0]):
            best = (v, wall)
    return "-" if best is None else format.number(best[0], unit)


# --- the plan in the header, and its record as of a moment (replay) ------------------------


def settings_record(plan: PlanSettings) -> dict[str, Any]:
    """The plan's settings for the header (no secret in them: argv and words)."""
    return dataclasses.asdict(plan)


def plan_settings(head: dict[str, Any]) -> PlanSettings | None:
    """The recorded plan, or None (none recorded, or a header not as sbtop writes it)."""
    found = head.get("plan")
    if not isinstance(found, dict):
        return None
    try:
        return msgspec.convert(found, PlanSettings)
    except msgspec.ValidationError:
        return None


def state_at(events: list[Event], wall: float) -> PlanState:
    """The plan's record as the events up to `wall` tell it: what replay judges the window
    on (the watch's countdown and criteria on the recorded figures)."""
    state = PlanState()
    for e in sorted((e for e in events if e.kind == "plan" and e.wall <= wall),
                    key=lambda e: e.wall):
        d = e.data
        if d.get("reset"):
            state = PlanState()  # a new deploy window: the old record archived
            continue
        if "item" in d:
            ok = d.get("ok")
            state.preflight[str(d["item"])] = ItemRecord(
                ok if isinstance(ok, bool) else None, str(d.get("detail") or ""), e.wall,
                _text(d.get("by")), _text(d.get("overridden")))
            continue
        rec = state.phases.setdefault(str(d.get("phase", "?")), PhaseRecord())
        if "unseen_s" in d:
            unseen = _seconds(d.get("unseen_s"))
            if unseen is not None:
                rec.unseen_s = max(rec.unseen_s, unseen)
            continue
        if "breach" in d:
            value = d.get("value")
            rec.breaches.setdefault(str(d["breach"]), Breach(
                e.wall, _number(value)))
            continue
        try:
            status = Status(str(d.get("status")))
        except ValueError:
            continue  # not a status sbtop writes
        was = rec.status
        rolling_back = str(d.get("result") or "").startswith("rollback:")
        # Back to watching after its rollback failed: the watch goes on from where it was.
        rolled_back_failed = str(d.get("result") or "").startswith(ROLLBACK_FAILED)
        if (status in (Status.RUNNING, Status.WATCHING) and not rolling_back
                and was not in (Status.RUNNING, Status.WATCHING)):
            rec.started_wall, rec.ended_wall, rec.breaches = e.wall, None, {}
            rec.unseen_s = 0.0  # a new watch: its stretches are its own
        if status is Status.WATCHING and not rolled_back_failed:
            rec.watch_from_wall = e.wall
        if status in (Status.PASSED, Status.ROLLED_BACK):
            rec.ended_wall = e.wall
        rec.status, rec.by = status, _text(d.get("by"))
        rec.override, rec.result = _text(d.get("override")), _text(d.get("result"))
    for rec in state.phases.values():
        if rec.status is Status.WATCHING:
            # The recording's own ticks are the looks (it holds the figures of every one):
            # the live record's looks are not events, and replay judges them again.
            rec.looked_wall = wall
    return state


MAX_SECONDS = 10 * 365 * 86400.0  # a stretch longer than ten years is not one sbtop wrote


def _number(v: Any) -> float | None:
    """A recorded number, or None: a JSON integer of 400 digits is a Python int that float()
    and math.isfinite() raise on (the timeline and replay died on such a recording)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _seconds(v: Any) -> float | None:
    """A recorded stretch of time, or None when it is not one sbtop could have written."""
    f = _number(v)
    return f if f is not None and 0 <= f <= MAX_SECONDS else None


def _text(v: Any) -> str | None:
    return None if v is None else str(v)

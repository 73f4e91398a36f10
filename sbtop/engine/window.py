"""The deploy window as a plan: the runbook's pre-flight checklist, then its phases (database
indexes, Prisma singleton, optimized routes with the canary ladder, Socket.IO handlers,
frontend), each started, watched, passed or rolled back by a person. sbtop never moves on by
itself: this module only says where the window stands.

Pure: the plan's settings, what was recorded of it (PlanState: kept in the state directory by
sbtop.actions.plan_state) and the latest figures in; a judged Window out. The same Window is
what the console draws (Snapshot.plan), `sbtop plan status` prints and `check --json` writes
under "plan".

A phase's watch: once it is started (its command, if any, done), its figures are watched for
`watch_s`. Criteria are judged either DURING the watch (must hold at every look: a breach is
remembered, with its time and value, and the phase cannot pass without an override) or at the
END (must hold when the watch ends: p95 may rise while an index builds, but must be back under
its bound). Watched figures add one 'during' criterion each: never critical."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sbtop.engine import words
from sbtop.engine.assessment import iso
from sbtop.engine.figures import Figure
from sbtop.engine.gate import Gate
from sbtop.engine.labels import label
from sbtop.engine.levels import Level

# --- settings (built by the config; plain frozen values) ------------------------------------


class Risk(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class When(enum.StrEnum):
    """When a criterion is judged."""

    DURING = "during"  # at every look while the watch runs; a breach is remembered
    END = "end"  # when the watch is over (and from then on, until the phase is passed)


OPS = (">", ">=", "<", "<=")


@dataclass(frozen=True, slots=True)
class CriterionSettings:
    """`figure op value`, e.g. latency_p95_ms < 500, judged during the watch or at its end."""

    figure: str
    op: str
    value: float
    when: When = When.END

    @property
    def name(self) -> str:
        return f"{self.figure} {self.op} {self.value:g} ({self.when})"

    def holds(self, value: float) -> bool:
        return {">": value > self.value, ">=": value >= self.value,
                "<": value < self.value, "<=": value <= self.value}[self.op]


@dataclass(frozen=True, slots=True)
class PhaseSettings:
    name: str
    risk: Risk = Risk.LOW
    duration_min_s: float | None = None  # the runbook's expected duration ("5-10 minutes")
    duration_max_s: float | None = None
    watch_s: float = 0.0  # "monitor for 10 minutes"
    figures: tuple[str, ...] = ()  # watched: each must not reach critical during the watch
    criteria: tuple[CriterionSettings, ...] = ()
    run: tuple[str, ...] = ()  # argv, no shell: what starting the phase runs (none: by hand)
    rollback: tuple[str, ...] = ()  # argv, no shell: what rolling it back runs
    rollback_note: str = ""  # the rollback in words, when it is done by hand
    canary: bool = False  # its sub-plan is the canary ladder (sbtop canary ..., the gate)
    note: str = ""


class ItemKind(enum.StrEnum):
    """A pre-flight item: checked live by sbtop, or confirmed by a person."""

    CONFIRM = "confirm"  # a person says it is done (who and when are recorded)
    TARGET = "target"  # the target answers (metrics and health)
    FIGURES = "figures"  # every judged figure is OK now
    BASELINE = "baseline"  # the canary's baseline is captured
    DATABASE = "database"  # the database answers
    SQL = "sql"  # a read-only query whose first column is true ("these indexes exist")
    COMMAND = "command"  # an argv that exits 0


@dataclass(frozen=True, slots=True)
class PreflightSettings:
    name: str
    kind: ItemKind = ItemKind.CONFIRM
    sql: str = ""
    command: tuple[str, ...] = ()
    timeout_s: float = 30.0
    note: str = ""


@dataclass(frozen=True, slots=True)
class PlanSettings:
    phases: tuple[PhaseSettings, ...] = ()
    preflight: tuple[PreflightSettings, ...] = ()
    timeout_s: float = 600.0  # a phase's run or rollback command, killed after this long
    contacts: tuple[str, ...] = ()  # who to call (the runbook's escalation), shown with the plan

    def phase(self, name: str) -> PhaseSettings | None:
        """By name (case-insensitive) or by its number, 1 for the first."""
        return _named(self.phases, name)

    def item(self, name: str) -> PreflightSettings | None:
        """A pre-flight item, found as a phase is."""
        return _named(self.preflight, name)


_Named = TypeVar("_Named", PhaseSettings, PreflightSettings)


def _named(among: tuple[_Named, ...], name: str) -> _Named | None:
    """The one typed: by its number, 1 for the first, or by name (case-insensitive)."""
    number = _number(name)
    if number is not None and 1 <= number <= len(among):
        return among[number - 1]
    for x in among:
        if x.name.lower() == name.lower():
            return x
    return None


def _number(name: str) -> int | None:
    """A number typed for a phase or an item; None for anything else. str.isdigit() is true
    of "²" and "①", which int() refuses: a typed name must never end in a traceback."""
    text = name.strip()
    return int(text) if text.isascii() and text.isdigit() else None


# --- what was recorded (the state file's "plan") ---------------------------------------------


class Status(enum.StrEnum):
    PENDING = "pending"  # not started
    RUNNING = "running"  # its run (or rollback) command is running now
    WATCHING = "watching"  # started; its figures are watched
    FAILED = "failed"  # its run command failed: roll it back, or start it again
    PASSED = "passed"
    ROLLED_BACK = "rolled back"


@dataclass
class Breach:
    wall: float
    value: float | None  # None: the figure could not be read at that look


@dataclass
class Transition:
    """One change of a phase's status, as it happened (the recording's events come from
    these, so a rollback and a new start between two reads are both seen)."""

    status: Status
    wall: float
    by: str | None = None
    override: str | None = None
    result: str | None = None


KEEP_TRANSITIONS = 50  # per phase, the newest
LOOK_EVERY_S = 30.0  # a look at a watched phase is written down at most this often
# A stretch of a watch longer than this that nothing looked at: its 'during' criteria were not
# judged then, and a pass says so (an override). Four looks' worth: a console's ticks, or a
# `sbtop plan status` every minute or so, never leave one.
UNSEEN_MAX_S = 4 * LOOK_EVERY_S
# How a phase's result begins when its rollback command failed: the phase is still in.
ROLLBACK_FAILED = "rollback failed"
# A pass's override reason on the record, after the start's own (if it had one) and "; ".
PASS_OVERRIDE = "pass: "


@dataclass
class PhaseRecord:
    status: Status = Status.PENDING
    started_wall: float | None = None  # when a person started it
    watch_from_wall: float | None = None  # when its command finished: the watch runs from here
    ended_wall: float | None = None  # passed or rolled back
    by: str | None = None  # who did the last of these
    override: str | None = None  # the typed reason, when it was started or passed anyway
    result: str | None = None  # the last command's result, in words
    # 'during' criteria broken while watching: criterion name -> the first breach.
    breaches: dict[str, Breach] = field(default_factory=dict)
    log: list[Transition] = field(default_factory=list)
    # The watch's looks (a deploying console's ticks, `sbtop plan status` or `pass`): the last
    # one written down, and the longest stretch of the watch so far that nothing looked at its
    # 'during' figures. A breach in such a stretch was never seen.
    looked_wall: float | None = None
    unseen_s: float = 0.0

    def logged(self, wall: float) -> None:
        """Its status now, in the log (once: the same status at the same time is kept once)."""
        last = self.log[-1] if self.log else None
        if last is None or (last.status, last.wall) != (self.status, wall):
            self.log.append(Transition(self.status, wall, self.by, self.override, self.result))
            del self.log[:-KEEP_TRANSITIONS]


@dataclass
class ItemRecord:
    ok: bool | None = None  # None: never checked or confirmed
    detail: str = ""
    wall: float | None = None
    by: str | None = None
    # Left open or failed, and a phase started anyway: "who: the typed reason". It stands
    # until the item is checked or confirmed again (a check that fails again needs a new one).
    overridden: str | None = None


@dataclass(frozen=True)
class Reset:
    """The record was started afresh (`sbtop plan reset`): when, by whom, and the archived
    file the earlier window's record was kept in."""

    wall: float
    by: str | None = None
    archived: str | None = None


@dataclass
class PlanState:
    phases: dict[str, PhaseRecord] = field(default_factory=dict)
    preflight: dict[str, ItemRecord] = field(default_factory=dict)
    reset: Reset | None = None  # None: never reset since the record was first written

    def phase(self, name: str) -> PhaseRecord:
        return self.phases.get(name) or PhaseRecord()

    def item(self, name: str) -> ItemRecord:
        return self.preflight.get(name) or ItemRecord()


# --- the judged window ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CriterionView:
    name: str
    when: When
    passed: bool | None  # None: not judged yet (an 'end' criterion while the watch runs)
    shown: str  # "p95 612 ms, must be < 500 ms" / "5xx 0.2%: held (during)"
    breach: Breach | None = None


@dataclass(frozen=True, slots=True)
class ItemView:
    name: str
    kind: ItemKind
    ok: bool | None  # None: not checked / not confirmed
    shown: str  # "first column: True", "false exited 1", "confirmed by ana", "not confirmed"
    wall: float | None = None
    by: str | None = None
    overridden: str | None = None  # "who: reason" when a phase was started without it
    note: str = ""  # the item's note from the config

    @property
    def blocks(self) -> bool:
        """A phase cannot start without an override while this is so."""
        return self.ok is not True and self.overridden is None


@dataclass(frozen=True, slots=True)
class PhaseView:
    number: int  # 1 for the first
    settings: PhaseSettings
    status: Status
    started_wall: float | None
    ended_wall: float | None
    watch_left_s: float | None  # None: not watching (or the watch's start not known)
    criteria: tuple[CriterionView, ...]
    by: str | None = None
    override: str | None = None
    result: str | None = None
    canary: Gate | None = None  # the canary phase: the ladder's gate, as the canary panel shows
    # The longest stretch of its watch so far that nothing looked at its 'during' figures
    # (None: nothing to watch during, or not watching).
    unseen_s: float | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def watch_over(self) -> bool:
        return self.watch_left_s is not None and self.watch_left_s <= 0

    @property
    def failing(self) -> tuple[CriterionView, ...]:
        return tuple(c for c in self.criteria if c.passed is False)

    @property
    def unwatched(self) -> str | None:
        """In words, when a stretch of its watch went unlooked-at for longer than
        UNSEEN_MAX_S: its 'during' criteria cannot say they held then."""
        if self.unseen_s is None or self.unseen_s <= UNSEEN_MAX_S:
            return None
        return (f"its figures went unseen for {words.duration(self.unseen_s)} of the watch (no "
                "console or sbtop plan status looked, or a figure was unknown): its 'during' "
                "criteria were not judged then")

    @property
    def rollback_failed(self) -> str | None:
        """Its last rollback's failure, in words, while it is still in (a new start, a pass
        or a rollback that works clears it): what a person asked for did not happen."""
        if self.status in (Status.WATCHING, Status.FAILED) and self.result is not None \
                and self.result.startswith(ROLLBACK_FAILED):
            return self.result
        return None

    @property
    def unjudged(self) -> tuple[CriterionView, ...]:
        """Once the watch is over, the criteria that cannot be judged now (their figure is
        unknown or not measured): a pass on them would be a pass without the figures."""
        if not self.watch_over:
            return ()
        return tuple(c for c in self.criteria if c.passed is None)

    @property
    def ready(self) -> bool:
        """Watching, the watch over, every criterion judged and none failing: a person may
        pass it without an override (sbtop never passes it)."""
        return (self.status is Status.WATCHING and self.watch_over and not self.failing
                and not self.unjudged and self.rollback_failed is None
                and self.unwatched is None)

    @property
    def verdict(self) -> str:
        """One line: what this phase is waiting for."""
        s = self.status
        if s is Status.WATCHING:
            if self.rollback_failed is not None:
                why = self.rollback_failed.removeprefix(ROLLBACK_FAILED)
                return f"{ROLLBACK_FAILED.upper()} (still in){why}"
            if self.failing:
                return "FAILING: " + "; ".join(c.shown for c in self.failing)
            if self.watch_left_s is None:
                return "watching"
            if not self.watch_over:
                return f"watching: {words.duration(self.watch_left_s)} left"
            if self.unjudged:
                return "watch over, not judged: " + "; ".join(c.shown for c in self.unjudged)
            if self.unwatched is not None:
                return f"watch over, not judged: {self.unwatched}"
            return "watch over: ready to pass"
        if s is Status.FAILED:
            return f"failed: {self.result or 'its command failed'}"
        return str(s)


@dataclass(frozen=True, slots=True)
class Window:
    phases: tuple[PhaseView, ...]
    preflight: tuple[ItemView, ...]
    current: PhaseView | None  # the phase in hand (running, watching, failed), or None
    next: PhaseView | None  # the first phase not passed after the last one passed
    stands: str  # where the window stands, in words (the console's header line)
    contacts: tuple[str, ...] = ()

    @property
    def preflight_open(self) -> tuple[ItemView, ...]:
        """Items failed, not checked or not confirmed: each needs an override to start."""
        return tuple(i for i in self.preflight if i.blocks)

    @property
    def done(self) -> bool:
        return bool(self.phases) and all(p.status is Status.PASSED for p in self.phases)


def judge_window(settings: PlanSettings, state: PlanState, figures: Mapping[str, Figure],
                 now_wall: float, gate: Gate | None = None) -> Window:
    """Where the window stands now, every phase's criteria judged on `figures` (the latest
    assessment's; empty when there is none) and its watch counted down to `now_wall`."""
    items = tuple(_item(i, state.item(i.name)) for i in settings.preflight)
    phases = tuple(_phase(n, p, state.phase(p.name), figures, now_wall,
                          gate if p.canary else None)
                   for n, p in enumerate(settings.phases, 1))
    current = next((p for p in phases if p.status in (Status.RUNNING, Status.WATCHING,
                                                      Status.FAILED)), None)
    last_passed = max((p.number for p in phases if p.status is Status.PASSED), default=0)
    upcoming = next((p for p in phases if p.number > last_passed
                     and p.status is not Status.PASSED), None)
    return Window(phases, items, current, upcoming,
                  _stands(phases, items, current, upcoming), settings.contacts)


def breaches(settings: PlanSettings, state: PlanState, figures: Mapping[str, Figure],
             now_wall: float) -> dict[str, dict[str, Breach]]:
    """The 'during' criteria of the watching phases that fail now and had not failed before:
    phase name -> criterion name -> this breach (to be recorded: the first one counts)."""
    out: dict[str, dict[str, Breach]] = {}
    for p in settings.phases:
        rec = state.phase(p.name)
        if rec.status is not Status.WATCHING or not figures:
            continue
        for c in _during(p):
            name = _criterion_name(c)
            if name in rec.breaches:
                continue
            value = _value(figures.get(c.figure))
            if value is None:
                continue  # unknown is said as unknown, not remembered as a breach
            if _holds(c, value, figures.get(c.figure)) is False:
                out.setdefault(p.name, {})[name] = Breach(now_wall, value)
    return out


def _during(p: PhaseSettings) -> list[CriterionSettings]:
    """The phase's 'during' criteria, the watched figures' 'never critical' among them (its
    op '!' means: judged by the figure's own critical threshold)."""
    watched = [CriterionSettings(f, "!", math.nan, When.DURING) for f in p.figures]
    return watched + [c for c in p.criteria if c.when is When.DURING]


def _holds(c: CriterionSettings, value: float, f: Figure | None) -> bool | None:
    """None: it cannot be judged (a watched figure with no critical bound: never critical,
    whatever it does, which is no verdict)."""
    if c.op == "!":
        if _critical(f) is None:
            return None
        return f is None or f.level is not Level.CRITICAL
    return c.holds(value)


def _critical(f: Figure | None) -> float | None:
    return f.threshold.critical if f is not None and f.threshold is not None else None


def _criterion_name(c: CriterionSettings) -> str:
    return f"{c.figure} not critical (during)" if c.op == "!" else c.name


def _phase(number: int, p: PhaseSettings, rec: PhaseRecord, figures: Mapping[str, Figure],
           now_wall: float, gate: Gate | None) -> PhaseView:
    left: float | None = None
    if rec.status is Status.WATCHING and rec.watch_from_wall is not None:
        left = max(0.0, p.watch_s - (now_wall - rec.watch_from_wall))
    live = rec.status is Status.WATCHING
    views: list[CriterionView] = []
    for c in _during(p):
        name = _criterion_name(c)
        seen = rec.breaches.get(name)
        f = figures.get(c.figure)
        value = _value(f)
        now = _shown(c, f, value)
        if seen is not None:
            at = words.number(seen.value, _unit(f))
            views.append(CriterionView(name, When.DURING, False,
                                       f"{now}; broke during the watch ({at})", seen))
        elif not live:
            views.append(CriterionView(name, When.DURING, None, now))
        else:
            views.append(CriterionView(name, When.DURING,
                                       None if value is None else _holds(c, value, f), now))
    for c in p.criteria:
        if c.when is not When.END:
            continue
        f = figures.get(c.figure)
        value = _value(f)
        now = _shown(c, f, value)
        if not live or left is None or left > 0:
            views.append(CriterionView(c.name, When.END, None, f"{now} (judged at the end)"))
        else:
            views.append(CriterionView(c.name, When.END,
                                       False if value is None else c.holds(value), now))
    if gate is not None and live:
        at_top = gate.percent is not None and gate.next_percent is None
        if gate.percent is None:
            shown = "canary step unknown (the flag has not been read: sbtop canary status)"
        elif at_top:
            shown = f"canary at {gate.percent} %, the top step"
        else:
            shown = (f"canary at {gate.percent} %, next step {gate.next_percent} % "
                     "(sbtop canary next)")
        # Below the top the ladder is on its way, not failing (its health is the gate's and
        # the watched figures'): not judged, so the phase cannot pass without an override.
        views.append(CriterionView("canary at the top step", When.END,
                                   True if at_top else None, shown))
    elif p.canary and live:
        # No flag to read (no deploy actions for the target, or no canary configured): the
        # ladder's step cannot be known, so the phase cannot say it reached the top: not
        # judged, and a pass needs an override (it passed plainly at any step).
        views.append(CriterionView("canary at the top step", When.END, None,
                                   "canary step unknown: sbtop has no canary flag to read "
                                   "here (no deploy actions for this target)"))
    return PhaseView(number, p, rec.status, rec.started_wall, rec.ended_wall, left,
                     tuple(views), rec.by, rec.override, rec.result, gate,
                     unseen_s(p, rec, now_wall))


def unseen_s(p: PhaseSettings, rec: PhaseRecord, now_wall: float) -> float | None:
    """The longest stretch of a watching phase's watch, so far, that nothing looked at (the
    one since its last look included); None when it has nothing to watch 'during'."""
    if rec.status is not Status.WATCHING or rec.watch_from_wall is None or not _during(p):
        return None
    end = min(now_wall, rec.watch_from_wall + p.watch_s)
    last = rec.looked_wall if rec.looked_wall is not None else rec.watch_from_wall
    return max(rec.unseen_s, end - last, 0.0)


def looked_at(settings: PlanSettings, state: PlanState, figures: Mapping[str, Figure]
              ) -> list[str]:
    """The watching phases a look with these figures counts for: every 'during' figure of
    theirs fresh now (an unknown figure is not looked at), their watch not yet written over."""
    out = []
    for p in settings.phases:
        rec = state.phase(p.name)
        during = _during(p)
        if rec.status is not Status.WATCHING or rec.watch_from_wall is None or not during:
            continue
        if any(_value(figures.get(c.figure)) is None for c in during):
            continue
        last = rec.looked_wall if rec.looked_wall is not None else rec.watch_from_wall
        if last < rec.watch_from_wall + p.watch_s:
            out.append(p.name)
    return out


def looks(settings: PlanSettings, state: PlanState, figures: Mapping[str, Figure],
          now_wall: float) -> dict[str, float]:
    """The watching phases this look counts for (`looked_at`) and is due to be written down
    for (LOOK_EVERY_S since the last, or the first past the watch's end): phase name -> the
    stretch it closes."""
    out: dict[str, float] = {}
    for name in looked_at(settings, state, figures):
        p = next(x for x in settings.phases if x.name == name)
        rec = state.phase(name)
        assert rec.watch_from_wall is not None  # (looked_at names only watched phases)
        last = rec.looked_wall if rec.looked_wall is not None else rec.watch_from_wall
        end = rec.watch_from_wall + p.watch_s
        if now_wall - last < LOOK_EVERY_S and now_wall < end:
            continue
        out[name] = min(now_wall, end) - last
    return out


def watch_end(settings: PlanSettings, state: PlanState, name: str) -> float:
    """When the phase's watch ends (inf while its start is not known)."""
    rec = state.phase(name)
    p = next((x for x in settings.phases if x.name == name), None)
    if p is None or rec.watch_from_wall is None:
        return math.inf
    return rec.watch_from_wall + p.watch_s


def write_looks(settings: PlanSettings, state: PlanState, held: Mapping[str, list[float]]
                ) -> None:
    """Looks taken while the record could not be written (another sbtop's action held the
    target's lock), written now in order: each closes the stretch since the one before."""
    for p in settings.phases:
        rec = state.phases.get(p.name)
        times = held.get(p.name)
        if not times or rec is None or rec.status is not Status.WATCHING \
                or rec.watch_from_wall is None:
            continue
        end = rec.watch_from_wall + p.watch_s
        last = rec.looked_wall if rec.looked_wall is not None else rec.watch_from_wall
        for t in sorted(times):
            if t <= last or last >= end:
                continue
            rec.unseen_s = max(rec.unseen_s, min(t, end) - last)
            last = rec.looked_wall = t


def _value(f: Figure | None) -> float | None:
    """A value to judge: known, fresh (never a carried-over figure passed off as now)."""
    if f is None or f.value is None or f.stale_s is not None or math.isnan(f.value):
        return None
    return f.value


def _unit(f: Figure | None) -> str:
    return f.unit if f is not None else ""


def _shown(c: CriterionSettings, f: Figure | None, value: float | None) -> str:
    what = label(c.figure)  # said as the canary gate says it: "5xx 0.15%", not the key
    if f is None:
        return f"{what}: not measured here"
    if value is None:
        why = f.reason if f is not None and f.reason else "no value"
        now = f"{what} unknown ({why})"
    else:
        now = f"{what} {words.number(value, _unit(f))}"
    if c.op == "!":
        crit = _critical(f)
        if crit is None:
            return f"{now}: no critical threshold to judge it by (add a criterion)"
        side = "under" if f is None or f.threshold is None or f.threshold.above else "over"
        return f"{now}, must stay {side} critical {words.number(crit, _unit(f))}"
    return f"{now}, must be {c.op} {words.number(c.value, _unit(f))}"


def _item(s: PreflightSettings, rec: ItemRecord) -> ItemView:
    if rec.ok is None:
        shown = "not confirmed" if s.kind is ItemKind.CONFIRM else "not checked"
    elif s.kind is ItemKind.CONFIRM:
        shown = f"confirmed by {rec.by or '?'}" if rec.ok else f"not done: {rec.detail}"
    else:
        shown = rec.detail or ("ok" if rec.ok else "failed")
    if rec.overridden:
        shown += f"; overridden by {rec.overridden}"
    return ItemView(s.name, s.kind, rec.ok, shown, rec.wall, rec.by, rec.overridden, s.note)


def _stands(phases: tuple[PhaseView, ...], items: tuple[ItemView, ...],
            current: PhaseView | None, upcoming: PhaseView | None) -> str:
    total = len(phases)
    if current is not None:
        return f"phase {current.number}/{total} {current.name}: {current.verdict}"
    if phases and all(p.status is Status.PASSED for p in phases):
        return f"done: all {total} phases passed (now the post-deployment checklist)"
    rolled = [p for p in phases if p.status is Status.ROLLED_BACK]
    lead = ""
    if rolled:
        lead = f"phase {rolled[-1].number} {rolled[-1].name} rolled back; "
    if upcoming is None:
        return lead + "no phases" if not phases else lead + "nothing left to start"
    if upcoming.number == 1 and not rolled:
        open_items = [i for i in items if i.blocks]
        pre = (f"pre-flight: {len(open_items)} of {len(items)} items open; " if open_items
               else "pre-flight done; " if items else "")
        return f"{pre}next: phase 1/{total} {upcoming.name}"
    return f"{lead}next: phase {upcoming.number}/{total} {upcoming.name}"


# --- the plan as data (check --json "plan", the recordings) --------------------------------


def to_dict(w: Window) -> dict[str, Any]:
    def crit(c: CriterionView) -> dict[str, Any]:
        return {"name": c.name, "when": str(c.when), "passed": c.passed, "shown": c.shown,
                "breach": None if c.breach is None else
                {"at": iso(c.breach.wall), "value": _num(c.breach.value)}}

    def phase(p: PhaseView) -> dict[str, Any]:
        s = p.settings
        out: dict[str, Any] = {
            "number": p.number, "name": p.name, "risk": str(s.risk), "status": str(p.status),
            "expected_s": [s.duration_min_s, s.duration_max_s], "watch_s": s.watch_s,
            "watch_left_s": _num(p.watch_left_s), "started": iso(p.started_wall),
            "ended": iso(p.ended_wall), "by": p.by, "override": p.override, "result": p.result,
            "verdict": p.verdict, "ready": p.ready, "canary": s.canary,
            "unseen_s": _num(p.unseen_s),
            "run": list(s.run), "rollback": list(s.rollback),
            "rollback_note": s.rollback_note,
            "criteria": [crit(c) for c in p.criteria]}
        return out

    return {
        "stands": w.stands,
        "current": None if w.current is None else w.current.name,
        "next": None if w.next is None else w.next.name,
        "done": w.done,
        "preflight": [{"name": i.name, "kind": str(i.kind), "ok": i.ok, "shown": i.shown,
                       "at": iso(i.wall), "by": i.by, "overridden": i.overridden}
                      for i in w.preflight],
        "phases": [phase(p) for p in w.phases],
        "contacts": list(w.contacts),
    }


def _num(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(x, 3)

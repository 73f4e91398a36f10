"""What changed between two assessments that someone should be told of: an alert fired or
resolved, the canary gate turned red. Pure: the notifier (sbtop.notify) sends what this finds.

Other moments worth a notification (an action finished, a watch period ended) are not seen in
assessments; `action_finished` and `watch_ended` make their events, and whoever knows of the
moment hands the event to the same notifier."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sbtop import untrusted
from sbtop.engine.advice import Advice, advice_for
from sbtop.engine.alerts import AlertState
from sbtop.engine.assessment import Assessment
from sbtop.engine.gate import Gate
from sbtop.engine.levels import Level
from sbtop.engine.page_changes import TROUBLE, PageChange
from sbtop.engine.prom_alerts import alert_level
from sbtop.engine.status_pages import PageState


class EventKind(enum.StrEnum):
    ALERT_FIRING = "alert_firing"
    ALERT_RESOLVED = "alert_resolved"
    GATE_RED = "gate_red"
    WATCH_ENDED = "watch_ended"
    ACTION_FINISHED = "action_finished"
    STATUS_PAGE = "status_page"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing to tell: a short title and a one-line body (plain text, ours or made safe)."""

    kind: EventKind
    title: str
    body: str = ""
    level: Level = Level.WARNING
    # What the event is about, where it can come and go (one alert, the gate, one page): a
    # terminal rings once a minute per topic, however often it flaps. "": every event told.
    topic: str = ""


@dataclass(frozen=True, slots=True)
class Firing:
    name: str
    level: Level
    what: str  # the condition or summary, one line


@dataclass(frozen=True, slots=True)
class Seen:
    """What of one assessment (and the gate beside it) notifications compare."""

    target: str = ""
    firing: Mapping[str, Firing] = field(default_factory=dict)  # by a key unique per alert
    gate_failing: tuple[str, ...] = ()  # the gate's failing criteria, as shown
    # Prometheus's alerts could not be read at this look: their absence is unknown, not
    # resolved (see `settled`).
    external_unknown: bool = False


def seen(a: Assessment, gate: Gate | None, book: Mapping[str, Advice] | None = None) -> Seen:
    firing: dict[str, Firing] = {}
    for al in a.alerts:
        if al.state is AlertState.FIRING:
            what = al.rule.summary or f"{al.rule.figure} {al.rule.op} {al.rule.value:g}"
            advice = advice_for(a.figures.get(al.rule.figure), book or {})
            if advice is not None:
                what += f"; now: {advice.words}"
            firing[f"sbtop/{al.name}"] = Firing(al.name, al.rule.severity, what)
    for x in a.external_alerts:
        if x.state == "firing" and x.counted:
            labels = ",".join(f"{k}={v}" for k, v in sorted(x.labels.items()))
            firing[f"{EXTERNAL}{x.name}/{labels}"] = Firing(
                x.name, alert_level(x), untrusted.line(x.summary or "from Prometheus", 200))
    return Seen(a.target, firing, red(gate), a.external_alerts_error is not None)


EXTERNAL = "prometheus/"  # the key prefix of Prometheus's alerts in Seen.firing


def settled(before: Seen | None, now: Seen) -> Seen:
    """`now`, with Prometheus's alerts firing at the look before carried over while they
    cannot be read: an alerts endpoint failing is not every alert resolving (nor, when it
    answers again, each firing anew)."""
    if before is None or not now.external_unknown:
        return now
    kept = {k: f for k, f in before.firing.items() if k.startswith(EXTERNAL)}
    return Seen(now.target, {**kept, **now.firing}, now.gate_failing, True)


def red(gate: Gate | None) -> tuple[str, ...]:
    """What turns the gate red: the canary's health failing while a canary runs. The soak
    still running is time, not health, and before the first step or at the top of the ladder
    there is no canary to stop."""
    if gate is None or not gate.percent or gate.next_percent is None:
        return ()
    return tuple(c.shown for c in gate.failing if c.name != "soak")


def transitions(before: Seen | None, now: Seen) -> tuple[Event, ...]:
    """The events between two looks. The first look is a baseline, not news: what already
    fires when sbtop starts is on the screen, and ringing for it would teach people to mute."""
    if before is None:
        return ()
    where = f" on {now.target}" if now.target else ""
    out = [Event(EventKind.ALERT_FIRING, f"{f.name} firing{where}", f.what, f.level, key)
           for key, f in now.firing.items() if key not in before.firing]
    out += [Event(EventKind.ALERT_RESOLVED, f"{f.name} resolved{where}", f.what, Level.OK, key)
            for key, f in before.firing.items() if key not in now.firing]
    if now.gate_failing and not before.gate_failing:
        out.append(Event(EventKind.GATE_RED, f"canary gate red{where}",
                         "; ".join(now.gate_failing), Level.CRITICAL, "gate"))
    return tuple(out)


def action_finished(action: str, ok: bool, text: str, target: str = "") -> Event:
    where = f" on {target}" if target else ""
    return Event(EventKind.ACTION_FINISHED, f"{action} {'done' if ok else 'FAILED'}{where}",
                 text, Level.OK if ok else Level.CRITICAL)


def watch_ended(phase: str, verdict: str = "", target: str = "", *,
                ok: bool | None = None) -> Event:
    """A phase's watch period is over: the person decides what next (sbtop never moves on by
    itself), so they are told. `ok`: the criteria held (True), broke (False), or not judged."""
    where = f" on {target}" if target else ""
    level = Level.UNKNOWN if ok is None else Level.OK if ok else Level.CRITICAL
    return Event(EventKind.WATCH_ENDED, f"watch over: {phase}{where}", verdict, level)


Told = dict[str, tuple[PageState, str | None]]  # page -> its last known state and incident


def page_events(changes: Iterable[PageChange], target: str = "",
                told: Told | None = None) -> tuple[Event, ...]:
    """A provider's page going into trouble or out of it, as news. A page's first answer is
    a baseline like the first look at the alerts (it is on the screen already), and a page
    turning unknown is our own network's news, not the provider's: neither is told.

    `told` (kept by the caller between polls): each page's last known state. Against it, a
    poll failing between two answers changes nothing: degraded, unknown, degraded again is
    not told twice, and degraded, unknown, operational is the recovery."""
    where = f" (watching {target})" if target else ""

    def event(c: PageChange, recovered: bool) -> Event:
        return Event(EventKind.STATUS_PAGE, f"status page: {c.name} {c.after.value}{where}",
                     c.text, Level.OK if recovered else Level.WARNING, f"page/{c.name}")

    if told is None:
        return tuple(event(c, c.recovered) for c in changes
                     if c.before is not None and (c.trouble or c.recovered))
    out = []
    for c in changes:
        if c.after is PageState.UNKNOWN:
            continue
        known = c.before not in (None, PageState.UNKNOWN)
        last = told.get(c.name) or ((c.before, None) if known and c.before else None)
        told[c.name] = (c.after, c.incident)
        if last is None or last == (c.after, c.incident):
            continue  # its first answer, or what was known before the failed polls
        if c.trouble:
            out.append(event(c, False))
        elif c.after is PageState.OPERATIONAL and last[0] in TROUBLE:
            out.append(event(c, True))
    return tuple(out)

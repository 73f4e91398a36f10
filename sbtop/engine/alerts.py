"""Alert rules with Prometheus's states: inactive -> pending -> firing -> resolved.

A rule whose condition holds becomes pending; once it has held at every evaluation for `for`,
it fires (at once when `for` is zero). One evaluation where it does not hold drops a pending
alert and resolves a firing one. Resolved alerts stay listed for `keep_resolved_s`.

Where Prometheus would see an empty vector (the figure is unknown, or stale because the scrape
failed), sbtop neither claims the problem went away nor that it continues: a pending alert is
dropped (it cannot be shown to have held), a firing alert stays firing, marked as without data.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sbtop.engine.figures import Figure
from sbtop.engine.levels import Level
from sbtop.engine.settings import AlertRule


class AlertState(enum.Enum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    rule: AlertRule
    state: AlertState
    since_t: float  # monotonic time the current state began
    since_wall: float
    value: float | None  # the figure's value at the last evaluation
    no_data: bool = False
    # When the condition began to hold (Prometheus's activeAt), for pending and firing alerts.
    active_wall: float | None = None

    @property
    def name(self) -> str:
        return self.rule.name

    def level(self) -> Level:
        """What the alert contributes to the overall level: only firing alerts count."""
        return self.rule.severity if self.state is AlertState.FIRING else Level.OK


class AlertEvaluator:
    def __init__(self, rules: tuple[AlertRule, ...], keep_resolved_s: float = 900.0) -> None:
        self.rules = rules
        self.keep_resolved_s = keep_resolved_s
        self._state: dict[str, Alert] = {}

    def evaluate(self, figures: Mapping[str, Figure], t: float, wall: float) -> tuple[Alert, ...]:
        """Advance every rule to time `t`; return the alerts that are not inactive."""
        out = []
        for rule in self.rules:
            alert = self._step(rule, figures.get(rule.figure), t, wall)
            self._state[rule.name] = alert
            if alert.state is not AlertState.INACTIVE:
                out.append(alert)
        return tuple(out)

    def _step(self, rule: AlertRule, figure: Figure | None, t: float, wall: float) -> Alert:
        prev = self._state.get(rule.name)
        state = prev.state if prev else AlertState.INACTIVE
        value = figure.value if figure is not None and figure.stale_s is None else None
        if value is None:
            if state is AlertState.FIRING and prev is not None:
                return Alert(rule, state, prev.since_t, prev.since_wall, None, no_data=True,
                             active_wall=prev.active_wall)
            if state is AlertState.RESOLVED and prev is not None:
                return self._expire(prev, t)
            return Alert(rule, AlertState.INACTIVE, t, wall, None)
        if rule.holds(value):
            if state is AlertState.PENDING and prev is not None:
                if t - prev.since_t >= rule.for_s:
                    return Alert(rule, AlertState.FIRING, t, wall, value,
                                 active_wall=prev.since_wall)
                return Alert(rule, state, prev.since_t, prev.since_wall, value,
                             active_wall=prev.since_wall)
            if state is AlertState.FIRING and prev is not None:
                return Alert(rule, state, prev.since_t, prev.since_wall, value,
                             active_wall=prev.active_wall)
            if rule.for_s <= 0:
                return Alert(rule, AlertState.FIRING, t, wall, value, active_wall=wall)
            return Alert(rule, AlertState.PENDING, t, wall, value, active_wall=wall)
        if state is AlertState.FIRING:
            return Alert(rule, AlertState.RESOLVED, t, wall, value)
        if state is AlertState.RESOLVED and prev is not None:
            return self._expire(prev, t, value)
        return Alert(rule, AlertState.INACTIVE, t, wall, value)

    def _expire(self, prev: Alert, t: float, value: float | None = None) -> Alert:
        if t - prev.since_t >= self.keep_resolved_s:
            return Alert(prev.rule, AlertState.INACTIVE, t, prev.since_wall, value)
        return Alert(prev.rule, AlertState.RESOLVED, prev.since_t, prev.since_wall, value)

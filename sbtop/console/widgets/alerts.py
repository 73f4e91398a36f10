"""Alerts: pending and firing rules with their time in state, then sources in trouble."""

from __future__ import annotations

import dataclasses

from textual.app import ComposeResult

from sbtop import format
from sbtop.console.marks import esc
from sbtop.console.widgets.panel import Panel, Rows
from sbtop.engine.alerts import Alert, AlertState
from sbtop.engine.assessment import Assessment
from sbtop.engine.levels import Level
from sbtop.engine.prom_alerts import alert_level
from sbtop.engine.settings import FIGURE_UNITS
from sbtop.session.snapshot import Snapshot

ROWS = 3
_STATE_STYLE = {
    AlertState.FIRING: "b reverse $error",
    AlertState.PENDING: "b $warning",
    AlertState.RESOLVED: "$success",
}


class AlertsPanel(Panel):
    title = "Alerts"

    def compose(self) -> ComposeResult:
        rows = Rows(id="al-rows")  # one widget for the rows: fewer for the compositor to visit
        rows.set(["[$text-muted]no alerts pending or firing[/]"])
        yield rows

    def draw(self, a: Assessment, snap: Snapshot) -> None:
        rows = [self._alert(al, a) for al in _ordered(a.alerts)]
        for x in a.external_alerts:
            if x.state in ("firing", "pending"):
                style = "b reverse $error" if x.state == "firing" else "b $warning"
                origin = format.external_origin(x)
                rows.append(f"[{style}]{x.state.upper()}[/] {esc(x.name)} "
                            f"[$text-muted]({origin}) {esc(x.summary or '')}[/]")
        down = [i for i in a.instances if not i.up]
        if down:
            names = ", ".join(f"{i.name} ({i.error or 'down'})" for i in down[:2])
            rows.append(f"[b $warning]DOWN[/] {len(down)} of {len(a.instances)} instances: "
                        f"{esc(names)}")
        for name, s in a.sources.items():
            if not s.up:
                rows.append(f"[b $warning]DOWN[/] {name}: {esc(s.error or '?')}")
        rows += [f"[$text-muted]{esc(n)}[/]" for n in a.notes]
        if not rows:
            rows = ["[$text-muted]no alerts pending or firing[/]"]
        if len(rows) > ROWS:
            rows = [*rows[: ROWS - 1], f"[$text-muted]+{len(rows) - ROWS + 1} more "
                                       "(sbtop check lists all)[/]"]
        self.query_one("#al-rows", Rows).set(rows)
        # Prometheus's alerts about this target count as sbtop's own do (an `info` one is
        # shown and counts for nothing).
        counted = [x for x in a.external_alerts
                   if x.counted and alert_level(dataclasses.replace(x, state="firing"))
                   is not Level.OK]
        levels = [al.level() for al in a.alerts] + [alert_level(x) for x in counted]
        firing = sum(al.state is AlertState.FIRING for al in a.alerts) + sum(
            x.state == "firing" for x in counted)
        pending = sum(al.state is AlertState.PENDING for al in a.alerts) + sum(
            x.state == "pending" for x in counted)
        if Level.CRITICAL in levels:
            self.set_state("-critical", f"{firing} firing")
        elif firing or pending:
            self.set_state("-warning", f"{firing} firing, {pending} pending")
        else:
            self.set_state("-ok", None)

    def _alert(self, al: Alert, a: Assessment) -> str:
        style = _STATE_STYLE.get(al.state, "")
        rule = al.rule
        unit = FIGURE_UNITS.get(rule.figure, "")
        label = format.LABELS.get(rule.figure, rule.figure)
        value = "no data" if al.value is None else format.number(al.value, unit)
        cond = f"{label} {value} {rule.op} {format.number(rule.value, unit)}"
        if al.state is AlertState.PENDING and rule.for_s > 0:
            left = rule.for_s - (a.t - al.since_t)
            cond += f", fires in {format.duration(max(0.0, left))}"
        return (f"[{style}]{al.state.value.upper()}[/] {esc(al.name)} "
                f"{format.duration(a.t - al.since_t)}  [$text-muted]{esc(cond)}[/]")


def _ordered(alerts: tuple[Alert, ...]) -> list[Alert]:
    rank = {AlertState.FIRING: 0, AlertState.PENDING: 1, AlertState.RESOLVED: 2}
    return sorted(alerts, key=lambda al: (rank.get(al.state, 3), al.name))

"""Prometheus's own alerts as sbtop weighs them: whose they are (the selector's scope) and
what a firing one adds to the overall level."""

from __future__ import annotations

from sbtop.engine.levels import Level
from sbtop.engine.observations import ExternalAlert
from sbtop.engine.selector import selector_matchers


def alert_scope(alert: ExternalAlert, selector: str) -> str:
    """'target' when the selector's labels the alert carries all match, 'other' when one of
    them does not (another job's alert), 'unlabelled' when it carries none of them (an
    aggregate rule that dropped them: it may be anyone's). A label the alert lacks decides
    nothing: `job="sb",instance=~".+"` still owns an alert labelled job="sb" alone."""
    labels = alert.labels
    matchers = selector_matchers(selector)  # parsed once per selector (cached)
    carried = [m for m in matchers if m.name in labels]
    if not matchers:
        return "target"
    if not carried:
        return "unlabelled"
    return "target" if all(m(labels) for m in carried) else "other"


_SEVERITY = {"critical": Level.CRITICAL, "page": Level.CRITICAL, "error": Level.CRITICAL,
             "high": Level.CRITICAL, "warning": Level.WARNING, "warn": Level.WARNING,
             "ticket": Level.WARNING, "medium": Level.WARNING, "info": Level.OK,
             "none": Level.OK, "low": Level.OK}


def alert_level(alert: ExternalAlert) -> Level:
    """What a Prometheus alert adds to the overall level, like sbtop's own: a firing alert by
    its severity label (none, or one not known: warning); pending adds nothing yet."""
    if alert.state != "firing":
        return Level.OK
    return _SEVERITY.get((alert.severity or "").lower(), Level.WARNING)

"""Providers' public status pages judged: "is it us or them". Pure: the parsed JSON of one
answer in, a judged reading out; a page's last answer and its latest attempt in, what to show.

A page is read by an adapter named by its `kind`. Atlassian Statuspage sites (Render's,
CockroachDB Cloud's and Vercel's among them) serve `/api/v2/summary.json`: `status.indicator`
(none, minor, major, critical, maintenance), `components[]`, the unresolved `incidents[]` and
`scheduled_maintenances[]`. Instatus pages serve `/summary.json` in a shape of their own.
Another kind of page is one more function in `ADAPTERS` (and its path in
sbtop.sources.status_settings.JSON_PATHS).

Everything read from a page is outside text: it goes through sbtop.untrusted here, once, so
every face shows the same safe words.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sbtop import untrusted
from sbtop.engine.assessment import iso

TITLE_LIMIT = 200  # characters of an incident's title kept
MAX_LISTED = 500  # incidents, maintenances or components looked at, at most


class PageState(enum.Enum):
    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    OUTAGE = "outage"
    MAINTENANCE = "maintenance"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """How much it matters to someone asking "is it them?": an outage first."""
        return _RANK[self]


_RANK = {PageState.OUTAGE: 4, PageState.DEGRADED: 3, PageState.MAINTENANCE: 2,
         PageState.UNKNOWN: 1, PageState.OPERATIONAL: 0}

# Statuspage's overall indicator, and its components' statuses, in sbtop's words.
_INDICATORS = {"none": PageState.OPERATIONAL, "minor": PageState.DEGRADED,
               "major": PageState.OUTAGE, "critical": PageState.OUTAGE,
               "maintenance": PageState.MAINTENANCE}
_COMPONENTS = {"operational": PageState.OPERATIONAL,
               "degraded_performance": PageState.DEGRADED,
               "partial_outage": PageState.DEGRADED, "major_outage": PageState.OUTAGE,
               "under_maintenance": PageState.MAINTENANCE}


class Malformed(ValueError):
    """An answer that is not the page kind's shape; its message says what was wrong."""


@dataclass(frozen=True, slots=True)
class PageReading:
    """What one good answer said, its text made safe."""

    state: PageState
    indicator: str  # the page's own word for it (Statuspage: none/minor/major/...)
    description: str = ""  # the page's own summary ("Partial System Outage")
    incident: str | None = None  # the newest unresolved incident's title (or maintenance's)
    incident_url: str | None = None
    affected: tuple[str, ...] = ()  # components not operational, by name


Adapter = Callable[[Any], PageReading]


def _text(value: object, limit: int = untrusted.LIMIT) -> str:
    return untrusted.line(value, limit) if isinstance(value, str) else ""


def _listed(doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{key} is not a list")
    return [x for x in value[:MAX_LISTED] if isinstance(x, Mapping)]


def _when(item: Mapping[str, Any]) -> float:
    """An incident's start as a number to sort on; unknown dates sort first (oldest)."""
    for key in ("created_at", "started_at", "scheduled_for", "started", "start", "updated_at"):
        value = item.get(key)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except (ValueError, OverflowError, OSError):  # OSError: a year the OS cannot place
                continue
    return float("-inf")


def _newest(items: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    named = [i for i in items if isinstance(i.get("name"), str)]
    if not named:
        return None
    # Stable on ties: the page lists newest first, so the first of equals wins (max keeps
    # the first of equals it meets).
    newest: Mapping[str, Any] = max(named, key=_when)
    return newest


def read_statuspage(doc: Any) -> PageReading:
    """An Atlassian Statuspage `summary.json` (or `status.json`, which has no incidents)."""
    if not isinstance(doc, Mapping):
        raise Malformed("not a Statuspage summary: the answer is not a JSON object")
    status = doc.get("status")
    if not isinstance(status, Mapping) or not isinstance(status.get("indicator"), str):
        raise Malformed("not a Statuspage summary: no status.indicator")
    indicator = status["indicator"]
    components = _listed(doc, "components")
    affected = [(c, _COMPONENTS.get(str(c.get("status")), PageState.UNKNOWN))
                for c in components if c.get("status") != "operational"
                and not c.get("group")]  # a group's status repeats its members'
    state = _INDICATORS.get(indicator)
    if state is None:
        raise Malformed(f"unknown status.indicator {untrusted.line(indicator, 40)!r}")
    incidents = [i for i in _listed(doc, "incidents")
                 if i.get("status") not in ("resolved", "postmortem", "completed")]
    maintenances = [m for m in _listed(doc, "scheduled_maintenances")
                    if m.get("status") in ("in_progress", "verifying")]
    if state is PageState.OPERATIONAL and maintenances:
        state = PageState.MAINTENANCE  # under way, though the indicator may not say so yet
    shown = _newest(incidents) or (_newest(maintenances) if maintenances else None)
    return PageReading(
        state=state,
        indicator=untrusted.line(indicator, 40),
        description=_text(status.get("description"), 100),
        incident=_text(shown.get("name"), TITLE_LIMIT) if shown is not None else None,
        incident_url=(_text(shown.get("shortlink"), 200) or None) if shown is not None
        else None,
        affected=tuple(_text(c.get("name"), 60) for c, s in
                       sorted(affected, key=lambda cs: -cs[1].rank)[:10]),
    )


# Instatus's page status and incident impacts (its public `/summary.json`).
_INSTATUS_PAGE = {"UP": PageState.OPERATIONAL, "HASISSUES": PageState.DEGRADED,
                  "UNDERMAINTENANCE": PageState.MAINTENANCE}
_INSTATUS_IMPACT = {"MAJOROUTAGE": PageState.OUTAGE, "PARTIALOUTAGE": PageState.DEGRADED,
                    "MINOROUTAGE": PageState.DEGRADED, "DEGRADEDPERFORMANCE": PageState.DEGRADED}


def read_instatus(doc: Any) -> PageReading:
    """An Instatus page's `summary.json`: `page.status` (UP, HASISSUES, UNDERMAINTENANCE),
    `activeIncidents[]` (name, started, status, impact, url), `activeMaintenances[]`."""
    if not isinstance(doc, Mapping):
        raise Malformed("not an Instatus summary: the answer is not a JSON object")
    page = doc.get("page")
    if not isinstance(page, Mapping) or not isinstance(page.get("status"), str):
        raise Malformed("not an Instatus summary: no page.status")
    word = page["status"]
    state = _INSTATUS_PAGE.get(word)
    if state is None:
        raise Malformed(f"unknown page.status {untrusted.line(word, 40)!r}")
    incidents = [i for i in _listed(doc, "activeIncidents") if i.get("status") != "RESOLVED"]
    maintenances = [m for m in _listed(doc, "activeMaintenances")
                    if m.get("status") == "INPROGRESS"]
    if state is PageState.DEGRADED:  # "has issues": as bad as its worst incident says
        impacts = [_INSTATUS_IMPACT.get(str(i.get("impact")), PageState.DEGRADED)
                   for i in incidents]
        state = max(impacts, key=lambda s: s.rank, default=PageState.DEGRADED)
    shown = _newest(incidents) or (_newest(maintenances) if maintenances else None)
    return PageReading(
        state=state,
        indicator=untrusted.line(word, 40),
        incident=_text(shown.get("name"), TITLE_LIMIT) if shown is not None else None,
        incident_url=(_text(shown.get("url"), 200) or None) if shown is not None else None,
    )


ADAPTERS: dict[str, Adapter] = {"statuspage": read_statuspage, "instatus": read_instatus}


def read(kind: str, doc: Any) -> PageReading:
    """The answer read by its kind's adapter (Malformed when it does not fit)."""
    adapter = ADAPTERS.get(kind)
    if adapter is None:
        raise Malformed(f"no reader for pages of kind {kind!r}")
    return adapter(doc)


@dataclass(frozen=True, slots=True)
class PageStatus:
    """One page as last polled: its last good answer (kept when a later poll fails, and then
    shown as old, never as now) and its latest attempt."""

    name: str
    url: str
    reading: PageReading | None = None  # the last good answer
    answered_wall: float | None = None  # when the last good answer came
    checked_wall: float | None = None  # the latest attempt, good or not
    error: str | None = None  # why the latest attempt gave no answer (None: it did)
    # An answer older than this is not current: the polls stopped (two missed).
    stale_after_s: float = float("inf")

    def answered(self, reading: PageReading, wall: float) -> PageStatus:
        return dataclasses.replace(self, reading=reading, answered_wall=wall,
                                   checked_wall=wall, error=None)

    def failed(self, reason: str, wall: float) -> PageStatus:
        return dataclasses.replace(self, checked_wall=wall, error=untrusted.line(reason, 300))


@dataclass(frozen=True, slots=True)
class PageView:
    """A page as a face shows it, at one moment."""

    name: str
    state: PageState
    indicator: str | None
    incident: str | None
    incident_url: str | None
    checked_wall: float | None  # the latest attempt
    error: str | None  # why the state is unknown (None when it is known)
    answered_age_s: float | None  # the last good answer's age
    last_state: PageState | None  # what the last good answer said, when it is not current


def view(page: PageStatus, now_wall: float) -> PageView:
    """The page now. Unknown, with the reason and the last good answer's age, when the latest
    poll failed, when none has been made yet, or when the last answer is older than the
    page's `stale_after_s` (the polls stopped): an old answer is never shown as current."""
    r = page.reading
    age = now_wall - page.answered_wall if page.answered_wall is not None else None
    error = page.error
    if error is None and r is None:
        error = "not checked yet"
    elif error is None and age is not None and age > page.stale_after_s:
        error = f"no answer for {ago(age)}"
    if error is not None:
        return PageView(page.name, PageState.UNKNOWN, None, None, None, page.checked_wall,
                        error, age, r.state if r is not None else None)
    assert r is not None
    return PageView(page.name, r.state, r.indicator, r.incident, r.incident_url,
                    page.checked_wall, None, age, None)


def ago(seconds: float) -> str:
    """A duration as a face says an age ("40 s", "12 min", "3.5 h")."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def summary(views: tuple[PageView, ...] | list[PageView]) -> str:
    """One line for a header, plain text (the caller escapes it): nothing when no page is
    watched; "ok" when every page is operational; else the page that matters most, its
    state and incident title, and how many others are not operational."""
    if not views:
        return ""
    worst = max(views, key=lambda v: v.state.rank)
    others = sum(1 for v in views if v is not worst and v.state is not PageState.OPERATIONAL)
    more = f" (+{others})" if others else ""
    if worst.state is PageState.OPERATIONAL:
        return "ok"
    if worst.state is PageState.UNKNOWN:
        known = [v for v in views if v.state is not PageState.UNKNOWN]
        return f"ok, {others + 1} unknown" if known else "unknown"
    title = f" — {worst.incident}" if worst.incident else ""
    return f"{worst.name} {worst.state.value}{title}{more}"


def view_dict(v: PageView) -> dict[str, Any]:
    """A page in `sbtop check --json`'s "status_pages"."""
    return {
        "name": v.name,
        "state": v.state.value,
        "indicator": v.indicator,
        "incident": v.incident,
        "incident_url": v.incident_url,
        "checked": iso(v.checked_wall),
        "error": v.error,
        "answered_age_s": None if v.answered_age_s is None else round(v.answered_age_s, 1),
        "last_state": v.last_state.value if v.last_state is not None else None,
    }


def view_line(v: PageView) -> str:
    """A page in `sbtop check`'s text: its state and incident, or why it is unknown and
    what its last answer said, and how long ago."""
    if v.error is not None:
        last = ""
        if v.last_state is not None and v.answered_age_s is not None:
            last = f" (last answer {ago(v.answered_age_s)} ago: {v.last_state.value})"
        return f"{v.name}: unknown: {v.error}{last}"
    said = f"{v.state.value} ({v.indicator})" if v.indicator else v.state.value
    incident = f" — {v.incident}" if v.incident else ""
    link = f" {v.incident_url}" if v.incident_url else ""
    return f"{v.name}: {said}{incident}{link}"

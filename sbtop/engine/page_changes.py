"""When a provider's status page changed state: "Render went degraded", as an event.

One definition of a change, used live (each poll's snapshot carries the changes it brought,
for a notifier to act on) and after the fact (`sbtop timeline` lists them from a recording).
Pure: the pages as polled and the time in, the changes out.

A change is a new state, or a new incident title while the state stays (a second incident
is news). The first answer is the start, not news, unless it is trouble: a page that answers
"operational" when sbtop starts changed nothing, one that answers "degraded" is worth a line.
A page that goes unknown (its poll failed) is a change too; another failure with other words
is not (the reason is in the view, not in the event).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sbtop.engine.status_pages import PageState, PageStatus, view

TROUBLE = (PageState.DEGRADED, PageState.OUTAGE, PageState.MAINTENANCE)


@dataclass(frozen=True, slots=True)
class PageChange:
    """One page's change of state, its text already made safe (sbtop.untrusted, upstream)."""

    name: str
    wall: float  # when the poll that saw it was made
    before: PageState | None  # None: the page's first answer
    after: PageState
    incident: str | None = None  # the incident's title, when the page names one
    error: str | None = None  # why the state is unknown (after is UNKNOWN)

    @property
    def trouble(self) -> bool:
        """The provider says something is wrong now (degraded, outage, maintenance)."""
        return self.after in TROUBLE

    @property
    def recovered(self) -> bool:
        """The provider's trouble is over: operational after degraded, outage or maintenance
        (after unknown it is not: what came between is not known)."""
        return self.before in TROUBLE and self.after is PageState.OPERATIONAL

    @property
    def text(self) -> str:
        """"Render degraded — Elevated latency (was operational)", in one line."""
        was = f" (was {self.before.value})" if self.before is not None else ""
        if self.after is PageState.UNKNOWN:
            return f"{self.name} unknown: {self.error or 'no answer'}{was}"
        if self.after is PageState.OPERATIONAL:
            return f"{self.name} operational again{was}" if was else f"{self.name} operational"
        title = f" — {self.incident}" if self.incident else ""
        if self.before is self.after:  # the same state, another incident
            if not self.incident:
                return f"{self.name} still {self.after.value}, no incident named now"
            return f"{self.name} still {self.after.value} — new incident: {self.incident}"
        return f"{self.name} {self.after.value}{title}{was}"


class PageWatch:
    """The pages' last states, to tell what a poll changed. Not thread-safe (one loop)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[PageState, str | None]] = {}

    def update(self, pages: Iterable[PageStatus], now_wall: float) -> tuple[PageChange, ...]:
        """The changes these pages show since the last update, in the pages' order."""
        out = []
        for page in pages:
            if page.reading is None and page.error is None:
                continue  # not polled yet: nothing to compare
            v = view(page, now_wall)
            key = (v.state, v.incident if v.state is not PageState.UNKNOWN else None)
            before = self._last.get(page.name)
            self._last[page.name] = key
            if before == key:
                continue
            if before is None and v.state not in TROUBLE:
                continue  # the start, not news
            wall = page.checked_wall if page.checked_wall is not None else now_wall
            out.append(PageChange(page.name, wall, before[0] if before is not None else None,
                                  v.state, v.incident, v.error))
        return tuple(out)

"""The one hook every notification goes through: `Notifier.event(event)`. It is handed
assessments to compare (`observe`), and any other moment worth telling (an action finished, a
watch period ended) as an event made by sbtop.engine.transitions.

The terminal channels write through `write`, which the face provides: the console's is
Textual's driver (never a raw print while Textual owns the terminal)."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterable, Mapping

from sbtop.engine.advice import Advice
from sbtop.engine.assessment import Assessment
from sbtop.engine.gate import Gate
from sbtop.engine.levels import Level
from sbtop.engine.page_changes import PageChange
from sbtop.engine.transitions import (
    Event,
    Seen,
    Told,
    page_events,
    seen,
    settled,
    transitions,
)
from sbtop.notify import terminal
from sbtop.notify.hold import TerminalHold
from sbtop.notify.settings import NotifySettings
from sbtop.notify.webhook import Webhook

RECENT = 20


class Notifier:
    def __init__(self, settings: NotifySettings, *, write: Callable[[str], None] | None,
                 say: Callable[[str], None], now: Callable[[], float], tmux: bool = False,
                 book: Mapping[str, Advice] | None = None) -> None:
        self.settings = settings
        self._write = write
        self._say = say
        self._tmux = tmux
        self._book = book or {}
        self._now = now
        self._hold = TerminalHold()  # the bell and desktop: once a minute per topic
        self._seen: Seen | None = None
        self._pages_told: Told = {}  # each page's last known state (unknown is not news)
        # The terminal's channels only: the team's channel does not go quiet because one
        # engineer's laptop did.
        self.muted = False
        self.recent: collections.deque[Event] = collections.deque(maxlen=RECENT)
        self.webhook = (Webhook(settings.webhook_url, timeout_s=settings.webhook_timeout_s,
                                every_s=settings.webhook_every_s, env=settings.webhook_env,
                                now=now, say=say)
                        if settings.webhook_url else None)
        if settings.problem:
            say(settings.problem)

    def event(self, e: Event) -> None:
        """Tell of `e` on every channel switched on (the hook other parts call)."""
        self.recent.append(e)
        if self._hold.offer(e, self._now()):
            self._terminal(e)
        if self.webhook is not None:
            self.webhook.offer(e)

    def _terminal(self, e: Event) -> None:
        s = self.settings
        if self._write is not None and not self.muted and (s.bell or s.desktop):
            # The bell is an alarm: good news (resolved, done, held) goes to the desktop only.
            data = terminal.sequences(e, bell=s.bell and e.level is not Level.OK,
                                      desktop=s.desktop, tmux=self._tmux)
            with contextlib.suppress(Exception):  # a terminal gone is the console's to notice
                self._write(data)

    def observe(self, a: Assessment, gate: Gate | None) -> tuple[Event, ...]:
        """Compare with the look before; tell of what changed."""
        now = settled(self._seen, seen(a, gate, self._book))
        events = transitions(self._seen, now)
        self._seen = now
        for e in events:
            self.event(e)
        for e in self._hold.due(self._now()):
            self._terminal(e)  # a flapping topic's state at the end of its minute
        if self.webhook is not None:
            self.webhook.flush_due()
        return events

    def pages_changed(self, changes: Iterable[PageChange], target: str = "") -> None:
        """A poll of the providers' status pages changed something: tell of the trouble."""
        for e in page_events(changes, target, self._pages_told):
            self.event(e)

    def toggle_mute(self) -> bool:
        self.muted = not self.muted
        return self.muted

    async def close(self) -> None:
        """What the webhook still holds is sent before it closes: held past the end, an alert
        resolved a moment before quitting would never reach the channel, whose last word
        would then be "firing" for good."""
        if self.webhook is not None:
            self.webhook.flush_all()
            await self.webhook.close()

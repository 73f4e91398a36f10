"""The terminal's own rate limit: the bell and the desktop notification at most once a minute
per topic (one alert, the canary gate, one status page). An alert flapping at its threshold
(a burn-rate rule has no `for`) would otherwise ring and pop up at every crossing, and an
engineer taught to mute misses the next real alarm. Held events are not summed as the
webhook's are (the screen shows every change): when the minute is up, the latest one is told
if it differs from what was told, so the last notification is how things stand. Pure (time is
handed in)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sbtop.engine.transitions import Event


@dataclass
class TerminalHold:
    every_s: float = 60.0
    _told: dict[str, tuple[float, str]] = field(default_factory=dict)  # topic: when, title
    _pending: dict[str, Event] = field(default_factory=dict)  # topic: its latest held event

    def offer(self, event: Event, now: float) -> bool:
        """Whether to tell `event` now; else it is held (the latest per topic)."""
        if not event.topic:
            return True
        told = self._told.get(event.topic)
        if told is not None and now - told[0] < self.every_s:
            self._pending[event.topic] = event
            return False
        self._pending.pop(event.topic, None)
        self._told[event.topic] = (now, event.title)
        return True

    def due(self, now: float) -> list[Event]:
        """The held events whose minute is up and that change what was told."""
        out = []
        for topic, event in list(self._pending.items()):
            when, title = self._told[topic]
            if now - when < self.every_s:
                continue
            del self._pending[topic]
            if event.title != title:
                self._told[topic] = (now, event.title)
                out.append(event)
        return out

"""At most one webhook message per kind of event a minute: a flapping alert must not flood
#studybuddy-alerts. What comes in between is held and sent as one summary once the minute is
up. Pure (time is handed in), so the tests drive it on a number line.

An alert firing and resolving share one minute: held apart, a flapping alert's summaries came
out of step (the firing ones' at 60 s, the resolved ones' at 65 s), and the channel's last word
was "resolved" while the alert fired. Together, a summary lists the changes in order, and it
names the latest ones: what the channel reads last is how things stand."""

from __future__ import annotations

from dataclasses import dataclass, field

from sbtop.engine.transitions import Event, EventKind

# How a summary names the kind of what it sums.
KIND_WORDS = {
    EventKind.ALERT_FIRING: "alerts fired",
    EventKind.ALERT_RESOLVED: "alerts resolved",
    EventKind.GATE_RED: "canary gate turned red",
    EventKind.WATCH_ENDED: "watch periods ended",
    EventKind.ACTION_FINISHED: "actions finished",
    EventKind.STATUS_PAGE: "status page changes",
}
NAMED_IN_SUMMARY = 5
# Kinds that share one minute (and one summary): the same alerts, going and coming.
_SLOT = {EventKind.ALERT_RESOLVED: EventKind.ALERT_FIRING}
MIXED_WORDS = "alert changes (fired and resolved)"


def slack_escape(text: str) -> str:
    """Slack reads `<...>` as links and mentions (`<!channel>` would page everyone) and `&` as
    the start of an entity: its own rule is to escape these three and nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(event: Event) -> str:
    body = f"\n{slack_escape(event.body)}" if event.body else ""
    return f"[{event.level.mark}] {slack_escape(event.title)}{body}"


@dataclass
class Limiter:
    every_s: float = 60.0
    _last: dict[EventKind, float] = field(default_factory=dict)
    _held: dict[EventKind, list[Event]] = field(default_factory=dict)

    def offer(self, event: Event, now: float) -> list[str]:
        """The messages to send now for `event`: itself, or nothing while its kind's minute
        runs (held for the summary)."""
        slot = _SLOT.get(event.kind, event.kind)
        last = self._last.get(slot)
        if last is not None and now - last < self.every_s:
            self._held.setdefault(slot, []).append(event)
            return []
        self._last[slot] = now
        return [message(event)]

    def due(self, now: float) -> list[str]:
        """The summaries whose minute is up."""
        out = []
        for kind, held in list(self._held.items()):
            if now - self._last.get(kind, -self.every_s) >= self.every_s:
                del self._held[kind]
                self._last[kind] = now
                out.append(summary(held, self.every_s))
        return out

    def rest(self) -> list[str]:
        """Every summary still held, its minute up or not (sbtop is closing: held longer, they
        would never be sent, and the channel's last word would be stale)."""
        out = [summary(held, self.every_s) for held in self._held.values()]
        self._held.clear()
        return out

    @property
    def held(self) -> int:
        return sum(len(v) for v in self._held.values())


def summary(held: list[Event], every_s: float) -> str:
    """The held events in order, the latest named (the earliest counted): the last thing
    the channel reads is the newest change."""
    if len(held) == 1:
        return message(held[0])
    kinds = {e.kind for e in held}
    words = KIND_WORDS[kinds.pop()] if len(kinds) == 1 else MIXED_WORDS
    named = held[-NAMED_IN_SUMMARY:]
    earlier = len(held) - len(named)
    names = "; ".join(slack_escape(e.title) for e in named)
    return (f"{len(held)} {words} within {every_s:g} s (held to keep the channel "
            f"readable): {f'{earlier} earlier; then ' if earlier else ''}{names}")

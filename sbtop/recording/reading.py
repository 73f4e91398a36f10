"""What opening a recording keeps track of along the way: the Assessment the last tick built, and
what was skipped or left out, summed up as the recording's `problem`.
"""

from __future__ import annotations

from sbtop.engine.codec import Encoded
from sbtop.recording.limits import MAX_EVENT_BYTES, MAX_SERIES, MiB


class Reading:
    """What opening a recording keeps track of along the way."""

    def __init__(self) -> None:
        self.current: Encoded | None = None  # the Assessment the last tick built
        self.key_at = 0  # where the last whole snapshot's line begins
        self.first: str | None = None  # the first line skipped, and why
        self.skipped = 0  # lines skipped
        self.lost = 0  # ticks skipped because the snapshot they change was
        self.notes: list[str] = []
        self.unseries: set[str] = set()
        self.event_bytes = 0
        self.events_dropped = 0

    def bad(self, lineno: int, why: str, *, tick: bool) -> None:
        if self.first is None:
            self.first = f"line {lineno} is not as sbtop writes a recording ({why})"
        self.skipped += 1
        if tick:
            self.current = None  # the changes after it have nothing to apply to

    def summary(self) -> list[str]:
        out = []
        if self.first is not None:
            lines = "1 line" if self.skipped == 1 else f"{self.skipped:,} lines"
            lost = (f", with the {self.lost:,} ticks after that change what it held"
                    if self.lost else "")
            out.append(f"{lines} skipped{lost}; the first: {self.first}")
        out += self.notes
        if self.unseries:
            out.append(f"over {MAX_SERIES} figures: {len(self.unseries)} have no history")
        if self.events_dropped:
            out.append(f"over {MAX_EVENT_BYTES // MiB} MiB of events: the last "
                       f"{self.events_dropped:,} are not shown")
        return out

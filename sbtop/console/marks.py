"""Levels as words and theme colours: the word carries the meaning, colour only repeats it
(NO_COLOR, a monochrome terminal or a colour-blind engineer read the same state)."""

from __future__ import annotations

from sbtop import format, untrusted
from sbtop.engine.figures import Figure
from sbtop.engine.levels import Level


def esc(text: str) -> str:
    """Text from the outside world (a page, a database, an error) made safe inside markup.

    textual.markup.escape leaves `[$variable]` tags alone, and a route or a query may contain
    anything: every opening bracket is escaped, so nothing in such text is ever a tag. Control
    characters were shown as escapes where the text entered sbtop (sbtop.untrusted); they are
    again here, in case some text missed that boundary.
    """
    out = untrusted.line(text, 10_000).replace("[", "\\[")
    # A backslash at the end would escape the tag that follows the text (its closing
    # "[/]"): shown literally, and the style running on. A space after it keeps it a
    # backslash.
    return out + " " if out.endswith("\\") else out


STYLE = {
    Level.OK: "$success",
    Level.WARNING: "b $warning",
    Level.CRITICAL: "b reverse $error",
    Level.UNKNOWN: "$text-muted",
}
STALE_STYLE = "b $warning"
CLASS = {
    Level.OK: "-ok",
    Level.WARNING: "-warning",
    Level.CRITICAL: "-critical",
    Level.UNKNOWN: "-unknown",
}


def level(lv: Level) -> str:
    return f"[{STYLE[lv]}]{lv.mark}[/]"


def figure(f: Figure | None, *, label: str = "", mark: bool = True) -> str:
    """'p95 218 ms OK'; unknown reads '-' and its mark; stale adds STALE."""
    prefix = f"{label} " if label else ""
    if f is None:
        return f"{prefix}[$text-muted]n/a[/]"
    value = esc(format.figure_value(f))
    text = f"{prefix}{value}"
    if f.stale_s is not None:
        return f"{text} [{STALE_STYLE}]STALE[/]"
    if mark and (f.judged or f.level is Level.UNKNOWN):
        text += " " + level(f.level)
    if f.detail.partial:
        text += f" [{STALE_STYLE}]PARTIAL[/]"  # some instances are not in it
    return text


def threshold_note(f: Figure | None) -> str:
    if f is None or f.threshold is None:
        return ""
    return f"[$text-muted]{esc(f.threshold.describe())}[/]"

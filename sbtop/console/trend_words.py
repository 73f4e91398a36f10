"""The trend figures as a panel's few words: '+600MB/h warn~23m' beside memory, '↻14:03
sockets +840 in 40s' on the border after a restart; and how a line keeps its most useful
parts where the panel is narrow (80 columns)."""

from __future__ import annotations

import functools
import time

from sbtop import format
from sbtop.console import quick_markup
from sbtop.engine.figures import Figure
from sbtop.engine.trends import about, time_left_words


def short(seconds: float) -> str:
    """'23m', '2h10m', '<1m': a time left, as coarse as the slope it comes from."""
    return about(seconds)


def soon(f: Figure | None) -> bool:
    """The trend reaches a limit not yet passed, at its pace: worth the room first."""
    if f is None or f.value is None:
        return False
    return bool(f.detail.to_warning_s) or bool(f.detail.to_critical_s)


def compact(f: Figure | None) -> str:
    """'+600MB/h warn~23m' (the next limit it reaches), '+2/h' when none is in reach, ''
    while unknown (its reason is in `check` and the help, not worth a line here)."""
    if f is None or f.value is None:
        return ""
    pace = _pace(f)
    d = f.detail
    if d.to_warning_s:
        return f"{pace} [$warning]warn~{short(d.to_warning_s)}[/]"
    if d.to_critical_s:
        return f"{pace} [$error]crit~{short(d.to_critical_s)}[/]"
    return f"[$text-muted]{pace}[/]"


def full(f: Figure | None) -> str:
    """'+600MB/h, warning in ~23m, critical in ~31m' or, with the latest reading past the
    warning (the figure beside it WARNING), '+600MB/h, past warning, critical in ~8m':
    where the panel is wide."""
    if f is None or f.value is None or not soon(f):
        return compact(f)
    d = f.detail
    said = time_left_words(d.to_warning_s, d.to_critical_s, f.value)
    style = "$warning" if d.to_warning_s else "$error"
    return f"{_pace(f)}, [{style}]{said}[/]"


def _pace(f: Figure) -> str:
    if f.value is not None and round(f.value, 1) == 0:
        return "flat"
    return format.number(f.value, f.unit).replace(" ", "")


def restart_subtitle(f: Figure | None) -> str | None:
    """'↻14:03 sockets +840 in 40s' while a restart's reconnect storm is news (the engine
    keeps the surge on the socket trend for a few minutes after the restart)."""
    if f is None or f.detail.restart_at is None or f.detail.surge is None:
        return None
    at = time.strftime("%H:%M", time.localtime(f.detail.restart_at))
    took = f" in {format.duration(f.detail.surge_s)}" if f.detail.surge_s is not None else ""
    return f"↻{at} sockets {f.detail.surge:+,.0f}{took}"


def fit(width: int, first: str, *parts: str | tuple[str, ...]) -> str:
    """`first`, then each of `parts` (in order of use) that still fits in `width` columns; a
    part given as alternatives (the longest first) takes the first that fits."""
    line, used = first, columns(first)
    for part in parts:
        for choice in (part,) if isinstance(part, str) else part:
            if choice and used + 2 + (n := columns(choice)) <= width:
                line, used = f"{line}  {choice}", used + 2 + n
                break
    return line


@functools.lru_cache(maxsize=256)
def columns(markup: str) -> int:
    """The characters `markup` shows (its tags show none). Each part is measured once, not the
    whole line again for every part tried: parsing markup was most of a tick's drawing. Parts
    are whole markup (every tag closed, every bracket of outside text escaped), so a line's
    length is its parts' and the two spaces between them."""
    return len(quick_markup.content(markup).plain)

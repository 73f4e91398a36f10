"""The deploy window in the console's words: the header's compact line and the Plan view's
rows, as markup made from the judged Window (sbtop.engine.window). Pure: no widgets, so what
each line says is tested without a screen.

Every state is a word (PENDING, WATCHING, PASSED, ROLLED BACK, FAILED; ok, FAIL, open), so
the view reads the same without colour; colour only repeats it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from sbtop import format, untrusted
from sbtop.console.marks import esc
from sbtop.engine.window import (
    PASS_OVERRIDE,
    CriterionView,
    ItemKind,
    ItemView,
    PhaseSettings,
    PhaseView,
    Status,
    When,
    Window,
)

HEADER_NAME = 18  # characters of a phase's name in the header (the view has it whole)

_STATUS_STYLE = {
    Status.PENDING: "$text-muted",
    Status.RUNNING: "b $warning",
    Status.WATCHING: "b $accent",
    Status.FAILED: "b reverse $error",
    Status.PASSED: "$success",
    Status.ROLLED_BACK: "b $warning",
}
_RISK_STYLE = {"low": "$text-muted", "medium": "$warning", "high": "b $error"}


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def header_line(w: Window | None) -> str:
    """The header's one compact line: 'PLAN 2/5 Prisma singleton: watching 4m12s left',
    'PRE-FLIGHT 1 item failing', 'PLAN next 1/5 Database indexes', 'PLAN done'."""
    if w is None or not w.phases:
        return ""
    total = len(w.phases)
    c = w.current
    if c is not None:
        return (f"[b]PLAN {c.number}/{total}[/] {esc(_cut(c.name, HEADER_NAME))}: "
                f"{short_verdict(c)}")
    if w.done:
        return f"[b]PLAN[/] [$success]done {total}/{total}[/]"
    failing = [i for i in w.preflight if i.ok is False and i.overridden is None]
    rolled = [p for p in w.phases if p.status is Status.ROLLED_BACK]
    if w.next is not None and w.next.number == 1 and w.preflight_open and not rolled:
        if failing:
            n = len(failing)
            return f"[b reverse $warning] PRE-FLIGHT {n} item{'' if n == 1 else 's'} failing [/]"
        n = len(w.preflight_open)
        return f"[b]PRE-FLIGHT[/] {n} of {len(w.preflight)} open"
    lead = f"[b $warning]{rolled[-1].number} rolled back[/] " if rolled else ""
    if w.next is None:
        return f"[b]PLAN[/] {lead}".rstrip()
    return (f"[b]PLAN[/] {lead}next {w.next.number}/{total} "
            f"{esc(_cut(w.next.name, HEADER_NAME))}")


def short_verdict(p: PhaseView) -> str:
    """The phase in hand's state in a few words, its countdown while it is watched."""
    s = p.status
    if s is Status.WATCHING:
        if p.rollback_failed is not None:
            return "[b reverse $error] ROLLBACK FAILED (still in) [/]"
        if p.failing:
            n = len(p.failing)
            return f"[b reverse $error] FAILING {n} criteri{'on' if n == 1 else 'a'} [/]"
        if p.watch_left_s is None:
            return "[b]watching[/]"
        if not p.watch_over:
            return f"watching [b]{format.duration(p.watch_left_s)}[/] left"
        return _over(p, "watch over: ready to pass", "watch over: not judged")
    if s is Status.RUNNING:
        return "[b $warning]running its command[/]"
    if s is Status.FAILED:
        return "[b reverse $error] FAILED [/]"
    return f"[{_STATUS_STYLE[s]}]{esc(str(s))}[/]"


def status_word(s: Status) -> str:
    return f"[{_STATUS_STYLE[s]}]{str(s).upper()}[/]"


def expected(p: PhaseSettings) -> str:
    """The runbook's expected duration: '5m-10m', '2m', or '' when it gives none."""
    lo, hi = p.duration_min_s, p.duration_max_s
    if lo is None and hi is None:
        return ""
    if lo is None or hi is None or lo == hi:
        return _minutes(lo if lo is not None else hi or 0.0)
    return f"{_minutes(lo)}-{_minutes(hi)}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds >= 60 else f"{seconds:g}s"


def item_word(i: ItemView) -> str:
    if i.ok is True:
        return "[$success]ok  [/]"
    if i.ok is False:
        return "[b reverse $error]FAIL[/]" if i.overridden is None else "[b $warning]FAIL[/]"
    return "[$text-muted]open[/]" if i.overridden is None else "[b $warning]open[/]"


OVERRIDDEN = "overridden"


def item_said(i: ItemView) -> str:
    """What the item says, as text: an override first."""
    if i.overridden is None:
        return i.shown
    rest = i.shown.replace(f"; overridden by {i.overridden}", "")
    return f"{OVERRIDDEN} by {i.overridden}; {rest}"


def _said_markup(piece: str, first: bool, i: ItemView) -> str:
    if first and i.overridden is not None and piece.startswith(OVERRIDDEN):
        return f"[b $warning]{OVERRIDDEN}[/]{esc(piece[len(OVERRIDDEN):])}"
    return esc(piece)


def item_lines(i: ItemView, name_w: int, width: int, wide: bool) -> list[str]:
    """' ok   Database backup completed   confirmed by ana', the kind (who checks it) when
    `wide`; what it says wrapped at a word under itself within `width` columns (a failing
    item's detail says what to do: never cut at the screen's edge)."""
    head = f"{item_word(i)} {esc(i.name.ljust(name_w))}  "
    at = 5 + name_w + 2
    if wide:
        kind = "by hand" if i.kind is ItemKind.CONFIRM else f"sbtop: {i.kind}"
        head += f"[$text-muted]{kind:<16}[/]"
        at += 16
    pieces = wrap(item_said(i), width, at, at)
    return [head + _said_markup(pieces[0], True, i),
            *(" " * at + _said_markup(p, False, i) for p in pieces[1:])]


def item_line(i: ItemView, name_w: int) -> str:
    """' ok   Database backup completed   confirmed by ana' (the kind says who checks it)."""
    return item_lines(i, name_w, 10_000, True)[0]


def wrap(text: str, width: int, first: int, rest: int) -> list[str]:
    """`text` in pieces cut at words: the first for a line `first` columns in, the others
    `rest` in, each ending by `width` (at least 20 columns each; a word longer than a line
    is broken, not lost). Columns are the terminal's cells: a CJK character or an emoji takes
    two (counted as one, a command's output in Japanese ran 135 cells on a 78-cell line)."""
    from rich.cells import cell_len

    width = max(width, max(first, rest) + 20)
    pieces: list[str] = []
    room, line = width - first, ""
    for whole in text.split():
        word = whole
        while word:
            joined = f"{line} {word}" if line else word
            if cell_len(joined) <= room:
                line, word = joined, ""
            elif line:  # the word starts the next line
                pieces.append(line)
                room, line = width - rest, ""
            else:  # a word longer than a whole line: broken at the line's edge
                head = _fit(word, room)
                pieces.append(head)
                room, word = width - rest, word[len(head):]
    if line or not pieces:
        pieces.append(line)
    return pieces


def _fit(word: str, room: int) -> str:
    """The longest start of `word` within `room` cells (one character at least)."""
    from rich.cells import cell_len

    end = 1
    while end < len(word) and cell_len(word[:end + 1]) <= room:
        end += 1
    return word[:end]


def preflight_summary(w: Window) -> str:
    ok = sum(i.ok is True for i in w.preflight)
    failed = sum(i.ok is False for i in w.preflight)
    over = sum(i.overridden is not None for i in w.preflight)
    parts = [f"{ok} of {len(w.preflight)} ok"]
    if failed:
        parts.append(f"[b $warning]{failed} failed[/]")
    if over:
        parts.append(f"{over} overridden")
    return ", ".join(parts)


def phase_line(p: PhaseView, name_w: int) -> str:
    """' 2 Prisma singleton  low     2m      watch 5m   WATCHING  watching: 4m12s left'."""
    return phase_lines(p, name_w, 10_000)[0]


def phase_lines(p: PhaseView, name_w: int, width: int) -> list[str]:
    """The phase's row within `width` columns: what it says after its state (the countdown,
    who passed it, a failure) goes under the row when it does not fit beside it, wrapped at a
    word: at 80 columns 'ROLLBACK FAILED (still in)' or 'OVERRIDE (start)' were cut at the
    screen's edge."""
    s = p.settings
    risk = f"[{_RISK_STYLE.get(str(s.risk), '')}]{s.risk!s:<6}[/]"
    watch = f"watch {_minutes(s.watch_s)}" if s.watch_s else "no watch"
    extra = ""
    if p.status is Status.WATCHING:
        extra = countdown(p)
    elif p.status is Status.FAILED:
        extra = f"[b $error]{esc(p.result or 'its command failed')}[/]"
    elif p.status is Status.RUNNING:
        extra = esc(p.result or "")
    elif p.status in (Status.PASSED, Status.ROLLED_BACK) and p.by:
        extra = f"[$text-muted]by {esc(p.by)}[/]" + (
            f" [b $warning]OVERRIDE ({overridden(p.override)})[/]" if p.override else "")
    if s.canary and p.status is Status.PENDING:
        extra = "[$text-muted]canary ladder[/]"
    head = (f"{p.number} {esc(p.name.ljust(name_w))} {risk} {expected(s):<7} {watch:<10} "
            f"{status_word(p.status)}")
    line = f"{head}  {extra}".rstrip()
    if not extra or _cells(line) <= width:
        return [line]
    if p.status in (Status.FAILED, Status.RUNNING):  # outside words: wrapped, never cut
        style = "b $error" if p.status is Status.FAILED else ""
        # Wrapped as shown: control characters as their escapes first (longer), then cut.
        # (One cell kept: esc() adds a space after a piece that ends in a backslash.)
        shown = untrusted.line(p.result or "its command failed", 10_000)
        pieces = wrap(shown, width - 1, UNDER, UNDER)
        return [head, *(" " * UNDER + (f"[{style}]{esc(x)}[/]" if style else esc(x))
                        for x in pieces)]
    if p.status in (Status.PASSED, Status.ROLLED_BACK) and p.by:
        pieces = wrap(f"by {untrusted.line(p.by, 10_000)}", width - 1, UNDER, UNDER)
        under = [" " * UNDER + f"[$text-muted]{esc(x)}[/]" for x in pieces]
        if p.override:
            mark = f"[b $warning]OVERRIDE ({overridden(p.override)})[/]"
            beside = f"{under[-1]} {mark}"
            if _cells(beside) <= width:
                under[-1] = beside
            else:
                under.append(" " * UNDER + mark)
        return [head, *under]
    return [head, " " * UNDER + extra]


UNDER = 4  # columns in, for what goes under a phase's row (where its criteria begin)


def _cells(markup: str) -> int:
    from textual.content import Content

    return Content.from_markup(markup).cell_length


def overridden(override: str) -> str:
    """Which step went on by an override: 'start', 'pass' or 'start, pass'. A phase started
    past open pre-flight items but passed on its figures said only OVERRIDE, read as a pass
    forced through (the record keeps the start's reason, then '; pass: ...')."""
    steps = [] if override.startswith(PASS_OVERRIDE) else ["start"]
    if override.startswith(PASS_OVERRIDE) or f"; {PASS_OVERRIDE}" in override:
        steps.append("pass")
    return ", ".join(steps)


def countdown(p: PhaseView) -> str:
    """A watched phase: '4m12s left of 5m', 'FAILING 1 criterion', 'ready to pass (P)'."""
    if p.rollback_failed is not None:
        return "[b reverse $error] ROLLBACK FAILED (still in) [/]"
    if p.failing:
        n = len(p.failing)
        return f"[b reverse $error] FAILING {n} criteri{'on' if n == 1 else 'a'} [/]"
    if p.watch_left_s is None:
        return ""
    if not p.watch_over:
        return (f"[b]{format.duration(p.watch_left_s)}[/] left of "
                f"{_minutes(p.settings.watch_s)}")
    return _over(p, "ready to pass (P)", "not judged: a pass needs an override")


def _over(p: PhaseView, ready: str, not_ready: str) -> str:
    """The watch is over: ready to pass only when the engine says so (every criterion judged,
    none failing, no stretch of the watch unseen); otherwise not judged (a pass needs an
    override): "ready" over a watch nobody saw would be the console passing it off as good."""
    return f"[b $success]{ready}[/]" if p.ready else f"[b $warning]{not_ready}[/]"


def contact_lines(contacts: tuple[str, ...], width: int) -> list[str]:
    """'Contacts  On call: ...' one contact line after the other, each wrapped at a word (a
    phone number or a name is never cut off at the screen's edge)."""
    label = "Contacts"
    indent = " " * (len(label) + 2)
    out: list[str] = []
    for c in contacts:
        for piece in wrap(c, width, len(indent), len(indent)):
            out.append((f"[b]{label}[/]  " if not out else indent) + esc(piece))
    return out


def criterion_line(c: CriterionView, width: int = 10_000) -> list[str]:
    """'    ok   now 5xx 0.21%, must be < 1.00%', wrapped at a word under itself."""
    word = ("[$success]ok  [/]" if c.passed else "[$text-muted]n/a [/]" if c.passed is None
            else "[b reverse $error]FAIL[/]")
    when = "end" if c.when is When.END else "now"
    at = len("    FAIL now ")
    pieces = wrap(c.shown, width, at, at)
    return [f"    {word} [$text-muted]{when}[/] {esc(pieces[0])}",
            *(" " * at + esc(p) for p in pieces[1:])]


def muted_lines(text: str, indent: int, width: int) -> list[str]:
    """A runbook's note, dimmed, wrapped at a word `indent` columns in."""
    return [" " * indent + f"[$text-muted]{esc(p)}[/]" for p in wrap(text, width, indent, indent)]


@dataclass(frozen=True, slots=True)
class Keys:
    """What the view's keys would act on: the phase keys act on the selected phase."""

    start: bool
    passes: bool
    rollback: bool


def keys_for(p: PhaseView | None, w: Window) -> Keys:
    """Which phase keys have something to do on `p`, judged on the window (the session
    still refuses with its reason: read-only, not configured, another action running)."""
    if p is None:
        return Keys(False, False, False)
    other = w.current is not None and w.current.number != p.number
    start = p.status in (Status.PENDING, Status.ROLLED_BACK, Status.FAILED) and not other
    return Keys(start, p.status is Status.WATCHING,
                p.status in (Status.WATCHING, Status.FAILED, Status.PASSED))


def rollback_lines(p: PhaseView, width: int = 10_000) -> list[str]:
    """The rollback at hand: the key and what it runs; what a person does, on its own lines.
    Each wrapped at a word within `width` (the command's continuation deeper than the note):
    at 80 columns a cut command hid the migration file it runs."""
    s = p.settings
    how = f"runs {shlex.join(s.rollback)}" if s.rollback else "recorded only (by hand)"
    lead = "    b rolls it back: "
    pieces = wrap(how, width, len(lead), 10)
    lines = [f"    [b]b[/] rolls it back: {esc(pieces[0])}",
             *(" " * 10 + esc(x) for x in pieces[1:])]
    if s.rollback_note:
        lines += muted_lines(s.rollback_note, 6, width)
    return lines

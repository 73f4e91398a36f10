"""The canary: the flag's step, time at the step, the soak counting down, each gate criterion
with its live value, and what the next step is. Shown when the target has a deploy provider,
and read-only too (from the state file)."""

from __future__ import annotations

from textual.app import ComposeResult

from sbtop import format
from sbtop.console.cohorts import cohort_line
from sbtop.console.marks import esc
from sbtop.console.widgets.panel import Line, Panel
from sbtop.engine.assessment import Assessment
from sbtop.session.snapshot import Snapshot


class CanaryPanel(Panel):
    DEFAULT_CSS = """
    CanaryPanel #cn-gate2.-empty { display: none; }
    """
    title = "Canary"

    def __init__(self, *, id: str | None = None, read_only: bool = False) -> None:
        super().__init__(id=id)
        # Read-only, the step is the state file's (the deploying sbtop keeps it), and the
        # panel says so: a watcher sees the step and the gate, and acts on neither.
        self._note = "read-only: the step as the state file holds it" if read_only else None

    def compose(self) -> ComposeResult:
        first = ("reading the state file a deploying sbtop keeps…" if self._note else
                 "reading the flag from the provider…")
        yield Line(f"[$text-muted]{first}[/]", id="cn-step")
        # The canary and stable cohorts side by side, when a cohort label is configured.
        yield Line(id="cn-cohorts", collapse_empty=True, fixed=False)
        yield Line(id="cn-gate")
        # A narrow screen cuts the gate's criteria: those that do not fit go on a second line.
        second = Line(id="cn-gate2")
        second.add_class("-empty")
        yield second

    def draw(self, a: Assessment, s: Snapshot) -> None:
        """The gate the session judged on the assessment, and the canary as last read."""
        g = s.gate
        if g is None:
            return
        step = "unknown" if g.percent is None else f"{g.percent}%"
        parts = [f"[b]flag {step}[/]"]
        state = s.canary
        since = state.step_started_wall if state is not None else None
        if since is not None and g.percent:
            parts.append(f"at this step {format.duration(s.wall - since)}")
        if g.soak_total_s and g.soak_left_s is not None:
            parts.append("soak done" if g.soak_left_s <= 0 else
                         f"soak [b]{format.duration(g.soak_left_s)}[/] left of "
                         f"{format.duration(g.soak_total_s)}")
        if g.percent is None:
            # Off the ladder or unread: the next step cannot be named, so nothing is promised.
            reason = state.read_error if state is not None and state.read_error else None
            parts.append(f"[b $warning]flag not read[/]: {esc(reason)}" if reason
                         else "next step unknown until the flag is read")
        elif g.next_percent is None:
            parts.append("top of the ladder")
        else:
            verdict = "[b $success]OPEN[/]" if g.open else "[b $warning]SHUT[/]"
            parts.append(f"next {g.next_percent}%: gate {verdict}")
        self.query_one("#cn-step", Line).set("  ".join(parts))
        first = self.query_one("#cn-gate", Line)
        # The step's line is always shown (the gate's is hidden at 80x24 with no canary under
        # way, and a hidden line has no width): the panel's width is read from it.
        width = self.query_one("#cn-step", Line).size.width or 10_000  # not laid out: one line
        self.query_one("#cn-cohorts", Line).set(cohort_line(a.cohorts, width))
        lines: list[list[str]] = [[], []]
        used = [0, 0]

        def place(plain: str, shown: str) -> bool:
            """Onto the first of the two lines with room (an empty line takes anything)."""
            for row in (0, 1):
                gap = 2 if used[row] else 0
                if not used[row] or used[row] + gap + len(plain) <= width:
                    used[row] += gap + len(plain)
                    lines[row].append(shown)
                    return True
            return False

        # Each criterion in full where it fits; one that fits nowhere says its verdict by its
        # name, so none is cut off at the panel's edge unseen (80 columns hold two of the
        # cohort comparisons' sentences, not three).
        short = []
        for c in g.criteria:
            if c.name == "soak":
                continue
            word, plain = (("[$success]ok[/]", "ok") if c.passed else
                           ("[$text-muted]n/a[/]", "n/a") if c.passed is None else
                           ("[$warning]wait[/]", "wait") if c.waiting else
                           ("[b $warning]FAIL[/]", "FAIL"))
            if not place(f"{plain} {c.shown}", f"{word} {esc(c.shown)}"):
                short.append((word, plain, c.name))
        hidden = sum(not place(f"{plain} {name}", f"{word} {esc(name)}")
                     for word, plain, name in short)
        if hidden:
            lines[1].append(f"+{hidden} more")
        first.set("  ".join(lines[0]))
        second = self.query_one("#cn-gate2", Line)
        second.set("  ".join(lines[1]))
        second.set_class(not lines[1], "-empty")
        if g.next_percent is None or g.open:
            self.set_state("-ok", self._note)
        else:
            self.set_state("-warning", "gate shut: stepping needs an override"
                           if self._note is None else f"gate shut; {self._note}")

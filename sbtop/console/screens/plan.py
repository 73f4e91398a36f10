"""`p`: the deploy window. Where it stands, the pre-flight items with their live results, every
phase with its risk, expected duration, watch and state; the phase in hand's countdown with its
criteria judged live, and the rollback at hand. The canary phase shows the canary panel (the
ladder, the gate, the soak) and takes its keys.

The cursor (j/k) picks a row: the phase keys act on the selected phase (it follows the phase in
hand until moved), enter confirms a person's item. Each key is in the footer only where it can
act; pressed elsewhere, the session says why (read-only, no plan, a phase in hand). Acting
goes through the app (PlanKeys): the confirmation, the typed override, the audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer

from sbtop.console import plan_text
from sbtop.console.marks import esc
from sbtop.console.screens.help import HelpScreen
from sbtop.console.widgets.canary import CanaryPanel
from sbtop.console.widgets.panel import Line
from sbtop.engine.window import ItemKind, PhaseView, Status, Window
from sbtop.session.snapshot import Snapshot

if TYPE_CHECKING:
    from sbtop.console.app import SbtopApp

WIDE = 100  # columns from which the pre-flight rows say who checks each item

# A row the cursor can stand on: ("item", its name) or ("phase", its number).
Row = tuple[str, Any]


class PlanScreen(Screen[None]):
    DEFAULT_CSS = """
    PlanScreen #pl-head { padding: 0 1; background: $panel; }
    PlanScreen #pl-rows { height: 1fr; padding: 0 1; }
    PlanScreen #pl-canary { height: auto; }
    PlanScreen #pl-canary.-off { display: none; }
    /* The view fills the screen: a notification would hide its phases (the view says what
       the pre-flight found itself). Those still due show when it closes, as over the help. */
    PlanScreen Toast { display: none; }
    """
    # The tooltips are the view's help (`?`): here s, b, c and 0 are not the panels' keys.
    BINDINGS = [
        Binding("escape,q,p", "back", "Back", tooltip="back to the panels"),
        Binding("j,down", "move(1)", "Down", show=False, key_display="j / k",
                tooltip="move over the items and phases (also down / up)"),
        Binding("k,up", "move(-1)", "Up", show=False),
        # In the footer only where they act; the twins (hidden) ask anyway, so the session
        # says why not (read-only, no plan, not the phase's state).
        Binding("s", "phase('start')", "Start",
                tooltip="start the selected phase (its command, then its watch)"),
        Binding("P", "phase('pass')", "Pass",
                tooltip="pass the selected phase (its watch over, no criterion failing)"),
        Binding("b", "phase('rollback')", "Roll back",
                tooltip="roll the selected phase back (its command, or by hand)"),
        Binding("s", "phase_off('start')", show=False),
        Binding("P", "phase_off('pass')", show=False),
        Binding("b", "phase_off('rollback')", show=False),
        Binding("enter", "confirm", "Confirm",
                tooltip="confirm the selected person's item; again takes it back"),
        Binding("f", "preflight", "Check", tooltip="run the live pre-flight items now"),
        Binding("f", "preflight_off", show=False),
        Binding("c", "canary", "Canary",
                tooltip="canary phase: the next step (the gate decides) / abort: flag to 0"),
        Binding("0", "abort", "Abort"),
        # The baseline item's detail says "press B": here too (in the footer on that item).
        Binding("B", "baseline", "Baseline",
                tooltip="capture the canary baseline (p95) now, then check the items again"),
        Binding("B", "baseline_off", show=False),
        Binding("i", "items", "Items", show=False,
                tooltip="show or hide the pre-flight items"),
        Binding("R", "reset", "New window",
                tooltip="a new deploy window: the old record archived"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this help"),
    ]
    # Not in read-only's help.
    _ACTING = {"phase", "confirm", "preflight", "canary", "reset", "baseline"}

    def __init__(self, keys: SbtopApp, snapshot: Snapshot | None, canary: bool) -> None:
        super().__init__()
        self._keys = keys
        self._snapshot = snapshot
        self._canary = canary  # the target has a deploy provider: the ladder can be shown
        self.window: Window | None = snapshot.plan if snapshot is not None else None
        self.cursor: Row | None = None
        self._moved = False  # the cursor follows the phase in hand until a person moves it
        self.show_items: bool | None = None  # None: the items while no phase has started
        self.checking = False
        self._rows: list[Row] = []
        self._allowed: tuple[bool, ...] | None = None
        self._scrolled_to: int | None = None

    def compose(self) -> ComposeResult:
        yield Line(id="pl-head")  # fixed: its countdown repaints the line, not the screen
        yield VerticalScroll(id="pl-rows")
        panel = CanaryPanel(id="pl-canary", read_only=self._keys.read_only)
        panel.can_focus = False  # the cursor's keys stay the view's
        panel.add_class("-off")
        yield panel
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.draw(self._snapshot)

    def on_screen_resume(self) -> None:
        """Back from a question: Textual drew the footer again as things stood then (while a
        canary step it started runs, without the phase keys). The next draw compares with
        nothing, so the footer follows once the step is done."""
        self._allowed = None

    # --- drawing ------------------------------------------------------------------------------

    def draw(self, s: Snapshot | None) -> None:
        """The window as the latest snapshot judged it (each tick, and after each action)."""
        if s is not None:
            self._snapshot = s
            self.window = s.plan
        w = self.window
        head = self.query_one("#pl-head", Line)
        if w is None:
            if self._keys.has_plan():  # configured: its record is read with the first figures
                head.set("[b]Deploy window[/]  [$text-muted]reading its record…[/]")
                self._set_lines([])
            else:
                head.set("[b]Deploy window[/]: no plan")
                self._set_lines([esc(self._keys.plan_missing())])
            return
        busy = self._keys.plan_busy()
        head.set("[b]Deploy window[/]  "
                 + (f"[b reverse $warning] RUNNING {esc(busy)} [/]  " if busy else "")
                 + esc(w.stands)
                 + ("  [$text-muted]checking the pre-flight…[/]" if self.checking else ""))
        lines, rows = self._lines(w)
        self._rows = [r for r in rows if r is not None]
        if not self._moved or self.cursor not in self._rows:
            self.cursor = self._default(w)
        marked = [("[reverse]▶[/]" if r is not None and r == self.cursor else " ") + " " + line
                  if r is not None else line for line, r in zip(lines, rows, strict=True)]
        self._set_lines(marked, rows.index(self.cursor) if self.cursor in rows else None)
        self._show_canary(w)
        allowed = tuple(self.check_action(a, p) or False for a, p in (
            ("phase", ("start",)), ("phase", ("pass",)), ("phase", ("rollback",)),
            ("confirm", ()), ("preflight", ()), ("canary", ()), ("baseline", ())))
        if allowed != self._allowed:
            self._allowed = allowed
            self.refresh_bindings()

    def _items_shown(self, w: Window) -> bool:
        if self.show_items is not None:
            return self.show_items
        return all(p.status is Status.PENDING for p in w.phases)

    def _lines(self, w: Window) -> tuple[list[str], list[Row | None]]:
        lines: list[str] = []
        rows: list[Row | None] = []

        # The columns a line has after its two of cursor (the scroll bar's, once it shows):
        # the rows wrap within them, at a word, rather than be cut at the screen's edge.
        inner = self.query_one("#pl-rows", VerticalScroll).scrollable_content_region.width
        room = (inner or self.app.size.width - 2) - 2

        def add(line: str, row: Row | None = None) -> None:
            lines.append(line if row is not None else "  " + line)
            rows.append(row)

        if w.preflight:
            if self._items_shown(w):
                add(f"[b]Pre-flight[/]  {plan_text.preflight_summary(w)}  [$text-muted]f checks, "
                    "enter confirms, i hides[/]")
                name_w = max(len(i.name) for i in w.preflight)
                wide = self.app.size.width >= WIDE
                for i in w.preflight:
                    first, *rest = plan_text.item_lines(i, name_w, room, wide)
                    add(first, ("item", i.name))
                    for line in rest:
                        add(line)
                    if self.cursor == ("item", i.name) and i.note:
                        for line in plan_text.muted_lines(i.note, 7, room):
                            add(line)
            else:
                add(f"[b]Pre-flight[/]  {plan_text.preflight_summary(w)}  "
                    "[$text-muted](i shows the items)[/]")
        add("[b]Phases[/]  [$text-muted]the keys act on the selected phase (j/k)[/]")
        name_w = max((len(p.name) for p in w.phases), default=10)
        for p in w.phases:
            first, *under = plan_text.phase_lines(p, name_w, room)
            add(first, ("phase", p.number))
            for line in under:
                add(line)
            if p is w.current or (self.cursor == ("phase", p.number)
                                  and p.status is not Status.PENDING):
                for c in p.criteria:
                    for line in plan_text.criterion_line(c, room):
                        add(line)
                if p.status in (Status.WATCHING, Status.FAILED, Status.PASSED):
                    for line in plan_text.rollback_lines(p, room):
                        add(line)
            if self.cursor == ("phase", p.number) and p.settings.note:
                for line in plan_text.muted_lines(p.settings.note, 4, room):
                    add(line)
        if not w.phases:
            add("[$text-muted]no phases: add \\[\\[plan.phases]] to the config[/]")
        for line in plan_text.contact_lines(w.contacts, room):
            add(line)
        return lines, rows

    def _default(self, w: Window) -> Row | None:
        p = w.current or w.next
        if p is not None and not (p.number == 1 and p.status is Status.PENDING
                                  and w.preflight_open and self._items_shown(w)):
            return ("phase", p.number)
        first_open = next((i for i in w.preflight if i.blocks), None)
        if first_open is not None and self._items_shown(w):
            return ("item", first_open.name)
        return self._rows[0] if self._rows else None

    def _set_lines(self, lines: list[str], at: int | None = None) -> None:
        box = self.query_one("#pl-rows", VerticalScroll)
        have = list(box.query(Line))
        if len(have) < len(lines):
            new = [Line() for _ in range(len(lines) - len(have))]
            box.mount_all(new)
            have += new
        for extra in have[len(lines):]:
            extra.remove()
        for line, text in zip(have, lines, strict=False):
            line.set(text)
        if at is not None and at < len(have) and at != self._scrolled_to:
            self._scrolled_to = at
            box.scroll_to_widget(have[at], animate=False)  # the cursor stays in sight

    def _show_canary(self, w: Window) -> None:
        panel = self.query_one(CanaryPanel)
        p = self.selected_phase()
        on = self._canary and p is not None and p.settings.canary
        panel.set_class(not on, "-off")
        if on and self._snapshot is not None:
            panel.show(self._snapshot)

    # --- what is selected ---------------------------------------------------------------

    def selected_phase(self) -> PhaseView | None:
        w = self.window
        if w is None or self.cursor is None or self.cursor[0] != "phase":
            return None
        return w.phases[int(self.cursor[1]) - 1]

    def selected_item(self) -> str | None:
        if self.cursor is None or self.cursor[0] != "item":
            return None
        return str(self.cursor[1])

    # --- keys ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        w = self.window
        can = self._keys.plan_can_act()
        if action in ("phase", "phase_off"):
            keys = plan_text.keys_for(self.selected_phase(), w) if w else None
            fits = keys is not None and {"start": keys.start, "pass": keys.passes,
                                         "rollback": keys.rollback}[str(parameters[0])]
            return (can and fits) == (action == "phase")
        if action == "confirm":
            name = self.selected_item()
            return can and name is not None and w is not None and any(
                i.name == name and i.kind is ItemKind.CONFIRM for i in w.preflight)
        if action in ("preflight", "preflight_off"):
            live = w is not None and any(i.kind is not ItemKind.CONFIRM for i in w.preflight)
            return (can and live) == (action == "preflight")
        if action == "reset":  # a new window: only when there is a record to set aside
            return can and w is not None and _resettable(w)
        if action in ("baseline", "baseline_off"):
            name = self.selected_item()
            on_item = w is not None and name is not None and any(
                i.name == name and i.kind is ItemKind.BASELINE for i in w.preflight)
            return (self._keys._can_deploy() and on_item) == (action == "baseline")
        if action in ("canary", "abort"):
            p = self.selected_phase()
            return (p is not None and p.settings.canary and self._keys._can_deploy())
        return True

    def action_help(self) -> None:
        """The view's own keys (the panels' help says b rolls back the deploy: here it rolls
        back the selected phase), and who to call."""
        shown = {"escape,q,p": "esc q p", "c": "c / 0"}  # the footer's own stay short
        rows = [(shown.get(b.key, b.key_display or b.key), b.tooltip) for b in self.BINDINGS
                if isinstance(b, Binding) and b.tooltip
                and not (self._keys.read_only and b.action.split("(")[0] in self._ACTING)]
        contacts = list(self.window.contacts) if self.window else []
        self.app.push_screen(HelpScreen(rows, contacts or self._keys.notify_notes(),
                                        title="Plan view keys"))

    def action_back(self) -> None:
        app = self._keys
        app.pop_screen()
        if app.snapshot is not None:
            app._show_plan(app.snapshot)  # the header's line and the panels waited
            if not app.paused:
                app._show(app.snapshot)

    def action_move(self, step: int) -> None:
        if not self._rows:
            return
        at = self._rows.index(self.cursor) if self.cursor in self._rows else 0
        self.cursor = self._rows[max(0, min(len(self._rows) - 1, at + step))]
        self._moved = True
        self.draw(None)

    def follow(self) -> None:
        """After an action: the cursor goes back to the phase in hand."""
        self._moved = False

    def action_phase(self, request: str) -> None:
        p = self.selected_phase()
        w = self.window
        target = p or (w.current or w.next if w is not None else None)
        self._keys.plan_request(request, str(target.number) if target else "1")

    def action_phase_off(self, request: str) -> None:
        self.action_phase(request)  # the session refuses, saying why

    def action_confirm(self) -> None:
        name = self.selected_item()
        w = self.window
        if name is None or w is None:
            return
        item = next(i for i in w.preflight if i.name == name)
        self._keys.plan_confirm(name, undo=item.ok is True)

    def action_preflight(self) -> None:
        self._keys.plan_checks()

    def action_preflight_off(self) -> None:
        self._keys.plan_checks()

    def action_baseline(self) -> None:
        self._keys.action_baseline(then=self._keys.plan_checks)

    def action_baseline_off(self) -> None:
        """B away from the baseline item captures it all the same; read-only or without a
        deploy provider, it says why."""
        if self._keys._can_deploy():
            self.action_baseline()
        else:
            self._keys.action_deploy_off()

    def action_items(self) -> None:
        if self.window is not None:
            self.show_items = not self._items_shown(self.window)
            self.draw(None)

    def action_canary(self) -> None:
        self._keys.action_canary()

    def action_abort(self) -> None:
        self._keys.action_abort()

    def action_reset(self) -> None:
        self._keys.plan_reset()


def _resettable(w: Window) -> bool:
    """Something recorded (a phase not pending, an item checked, confirmed or overridden)
    and no phase's command running."""
    if any(p.status is Status.RUNNING for p in w.phases):
        return False
    return (any(p.status is not Status.PENDING for p in w.phases)
            or any(i.ok is not None or i.overridden for i in w.preflight))

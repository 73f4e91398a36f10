"""`v`: the post-deployment checklist, run from the console: every probe at once, then the
error-rate and p95 items against the canary's baseline using the console's live figures.
`v` runs it again (the key that opened it: `r` is restart, on the main screen only); each
run is a fresh set of requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from sbtop.console.marks import esc
from sbtop.engine.verify import FAIL, PASS, UNKNOWN
from sbtop.verify import Report

_STYLE = {PASS: "$success", FAIL: "b reverse $error", UNKNOWN: "b $warning"}
_WORD = {PASS: "PASS", FAIL: "FAIL", UNKNOWN: "UNKN"}


class VerifyScreen(Screen[None]):
    DEFAULT_CSS = """
    VerifyScreen #vf-head { height: auto; padding: 0 1; }
    VerifyScreen VerticalScroll { height: 1fr; padding: 0 1; }
    VerifyScreen .vf-row { height: auto; }
    """
    BINDINGS = [
        Binding("v", "rerun", "Run again"),
        Binding("escape,q", "app.pop_screen", "Back"),
    ]

    def __init__(self, run: Callable[[], Awaitable[Report]], title: str) -> None:
        super().__init__()
        self._run = run
        self._title = title
        self.report: Report | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        yield Static(f"[b]Post-deployment checklist[/] {esc(self._title)}", id="vf-head")
        yield VerticalScroll(id="vf-rows")
        yield Footer()

    def on_mount(self) -> None:
        self.action_rerun()

    def action_rerun(self) -> None:
        if self.running:
            self.notify("the checklist is still running", severity="warning")
            return
        self.running = True
        self.query_one("#vf-head", Static).update(
            f"[b]Post-deployment checklist[/] {esc(self._title)}  [$text-muted]running…[/]")
        self._go()

    @work(exclusive=True, exit_on_error=False)
    async def _go(self) -> None:
        try:
            report = await self._run()
        except Exception as e:  # a bad variable in the environment, say: shown, not raised
            self.running = False
            self.query_one("#vf-head", Static).update(
                f"[b]Post-deployment checklist[/] [b $error]could not run[/]: "
                f"{esc(str(e) or type(e).__name__)}")
            return
        self.running = False
        self.report = report
        await self._show(report)

    async def _show(self, r: Report) -> None:
        failed = sum(c.result == FAIL for c in r.checks)
        unknown = sum(c.result == UNKNOWN for c in r.checks)
        passed = len(r.checks) - failed - unknown
        verdict = f"[{_STYLE[r.result]}]{_WORD[r.result]}[/]"
        base = (f"baseline: {r.baseline.source}" if r.baseline else
                "no baseline (B takes one): the metric items are judged by the thresholds")
        self.query_one("#vf-head", Static).update(
            f"[b]Post-deployment checklist[/] {esc(self._title)}  {verdict}  "
            f"{passed} passed, {failed} failed, {unknown} unknown  [$text-muted]v runs it "
            f"again[/]\n[$text-muted]{esc(base)}[/]")
        rows = self.query_one("#vf-rows", VerticalScroll)
        await rows.remove_children()
        name_w = max((len(c.name) for c in r.checks), default=10)
        req_w = max((len(c.method) + 1 + len(c.path) for c in r.checks if c.kind == "probe"),
                    default=0)
        widgets = []
        for c in r.checks:
            req = f"{c.method} {c.path}" if c.kind == "probe" else ""
            widgets.append(Static(
                f"[{_STYLE[c.result]}]{_WORD[c.result]}[/]  {esc(c.name.ljust(name_w))}  "
                f"[$text-muted]{esc(req.ljust(req_w))}[/]  {esc(c.detail)}", classes="vf-row"))
        if not any(c.kind == "probe" for c in r.checks):
            widgets.append(Static("[$text-muted]no checklist items: add [[verify]] entries to "
                                  "the config (config.example.toml has StudyBuddy's)[/]"
                                  .replace("[[", "\\[\\["), classes="vf-row"))
        await rows.mount_all(widgets)

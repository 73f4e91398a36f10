"""Sockets and memory: connections, messages/s, a connections sparkline, memory, loop lag."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.content import Content

from sbtop import format
from sbtop.console import marks
from sbtop.console.marks import esc
from sbtop.console.widgets.panel import Line, Panel, Sparkline
from sbtop.engine.assessment import Assessment
from sbtop.engine.keys import Fig
from sbtop.session.snapshot import Snapshot


class SocketsPanel(Panel):
    title = "Sockets & memory"
    chart_figures = (Fig.SOCKET_CONNECTIONS, Fig.MEMORY_PCT)

    def compose(self) -> ComposeResult:
        yield Line("[$text-muted]waiting for the first scrape…[/]", id="so-values")
        yield Sparkline(Fig.SOCKET_CONNECTIONS, "sockets", id="so-spark")
        yield Line(id="so-memory")

    def draw(self, a: Assessment, s: Snapshot) -> None:
        f = a.figures
        sockets = f.get(Fig.SOCKET_CONNECTIONS)
        msgs = f.get(Fig.SOCKET_MESSAGES_PER_S)
        self.query_one("#so-values", Line).set(
            f"{marks.figure(sockets, label='sockets')}  "
            f"{marks.figure(msgs, label='msgs', mark=False)}")
        self.query_one(Sparkline).draw(s.history, sockets.threshold if sockets else None)
        mem = f.get(Fig.MEMORY_PCT)
        line = marks.figure(mem, label="memory")
        if mem is not None and mem.value is not None:
            rss, limit = mem.detail.rss_bytes, mem.detail.limit_bytes
            if rss and limit:
                line += f"  [$text-muted]{format.size(rss)}/{format.size(limit)}[/]"
        elif mem is not None and mem.reason:
            line += f" [$text-muted]{esc(mem.reason)}[/]"
        lag = f.get(Fig.EVENT_LOOP_LAG_MS)
        target = self.query_one("#so-memory", Line)
        if lag is not None and lag.value is not None:
            more = f"  [$text-muted]loop lag[/] {format.number(lag.value, 'ms')}"
            if len(Content.from_markup(line + more).plain) <= (target.size.width or 36):
                line += more  # only where it fits: 80 columns keep memory whole first
        target.set(line)
        self.judge(a, (Fig.SOCKET_CONNECTIONS, Fig.MEMORY_PCT))

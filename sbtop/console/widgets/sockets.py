"""Sockets and memory: connections, messages/s, a connections sparkline, memory, loop lag,
and the trends: how fast each grows and when it reaches its limit; after a restart, its
reconnect storm on the border."""

from __future__ import annotations

from textual.app import ComposeResult

from sbtop import format
from sbtop.console import marks, trend_words
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
        sock_trend = f.get(Fig.SOCKET_GROWTH_PER_H)
        mem_trend = f.get(Fig.MEMORY_GROWTH_MB_PER_H)
        values = self.query_one("#so-values", Line)
        width = values.size.width or 36
        # A trend that reaches a limit comes before the rest; one that does not, after it
        # (80 columns keep the figure and its nearest warning whole first).
        first = marks.figure(sockets, label="sockets")
        msgs_part = marks.figure(msgs, label="msgs", mark=False)
        trend = (trend_words.full(sock_trend), trend_words.compact(sock_trend))
        values.set(trend_words.fit(width, first, trend, msgs_part)
                   if trend_words.soon(sock_trend)
                   else trend_words.fit(width, first, msgs_part, trend))
        self.query_one(Sparkline).draw(s.history, sockets.threshold if sockets else None)
        mem = f.get(Fig.MEMORY_PCT)
        line = marks.figure(mem, label="memory")
        size = ""
        if mem is not None and mem.value is not None:
            rss, limit = mem.detail.rss_bytes, mem.detail.limit_bytes
            if rss and limit:
                size = f"[$text-muted]{format.size(rss)}/{format.size(limit)}[/]"
        elif mem is not None and mem.reason:
            line += f" [$text-muted]{esc(mem.reason)}[/]"
        lag = f.get(Fig.EVENT_LOOP_LAG_MS)
        lag_part = (f"[$text-muted]loop lag[/] {format.number(lag.value, 'ms')}"
                    if lag is not None and lag.value is not None else "")
        mem_words = (trend_words.full(mem_trend), trend_words.compact(mem_trend))
        target = self.query_one("#so-memory", Line)
        width = target.size.width or 36
        parts: tuple[str | tuple[str, ...], ...] = (
            (mem_words, size, lag_part) if trend_words.soon(mem_trend)
            else (size, mem_words, lag_part))
        target.set(trend_words.fit(width, line, *parts))
        self.judge(a, (Fig.SOCKET_CONNECTIONS, Fig.MEMORY_PCT),
                   subtitle=trend_words.restart_subtitle(sock_trend))

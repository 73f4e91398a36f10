"""The reference for bench/console_cost.py: a naive Textual dashboard, four sparklines and a
small table refreshed every second, written the obvious way (Textual's Sparkline, a DataTable
cleared and refilled). The issue quotes it at 2.6 % CPU and 29 KB/s on this class of machine."""

from __future__ import annotations

import random

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Sparkline, Static


class Naive(App[None]):
    CSS = "Sparkline { height: 3; margin: 0 1; }"

    def compose(self) -> ComposeResult:
        for name in ("p95", "req/s", "5xx", "sockets"):
            yield Static(name)
            yield Sparkline([0.0], id=name.replace("/", "").replace("5", "five"))
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("route", "req/s", "p95", "5xx")
        self.data = {s.id: [random.random() for _ in range(60)] for s in self.query(Sparkline)}
        self.set_interval(1.0, self.tick)

    def tick(self) -> None:
        for spark in self.query(Sparkline):
            series = self.data[spark.id] = [*self.data[spark.id][1:], random.random()]
            spark.data = series
        table = self.query_one(DataTable)
        table.clear()
        for i in range(8):
            table.add_row(f"/api/route/{i}", f"{random.random() * 10:.1f}",
                          f"{random.random() * 500:.0f}", f"{random.random():.2f}")


if __name__ == "__main__":
    Naive().run()

"""The floor for bench/console_cost.py and bench/startup.py: a Textual app showing one static
line and doing nothing else. What any Textual program costs to start, to hold in memory and to
keep on a screen; sbtop's figures are read against it."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static


class StaticLine(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("one static line")


if __name__ == "__main__":
    StaticLine().run()

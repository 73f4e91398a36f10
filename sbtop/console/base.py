"""What every part of the console app shares: the session it shows, and notifications that
are plain text (never markup)."""

from __future__ import annotations

from textual.app import App
from textual.notifications import SeverityLevel

from sbtop import untrusted
from sbtop.engine.transitions import Event
from sbtop.notify.notifier import Notifier
from sbtop.session.protocol import Session
from sbtop.session.snapshot import Notice, Snapshot


class ConsoleBase(App[None]):
    session: Session
    notifier: Notifier | None = None  # who is told of what changed (live only)

    def announce(self, event: Event) -> None:
        """The one hook for a moment worth telling (an action finished, a watch period
        ended): the bell, the desktop notification and the webhook, as configured."""
        if self.notifier is not None:
            self.notifier.event(event)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Notifications are plain text by default here: they quote errors, file names and
        queries, whose brackets must never be read as markup, and any control character left
        in them is shown as an escape (sbtop.untrusted: the second line of defence)."""
        super().notify(untrusted.output(message), title=untrusted.output(title),
                       severity=severity, timeout=timeout, markup=markup)

    def _fatal_error(self) -> None:
        """Textual's crash report, without its locals: Textual prints every frame's local
        variables, and a frame holding the webhook's URL, an API key or a DSN would print
        the secret on the engineer's screen (a webhook URL urllib could not name did). The
        traceback alone is what a bug report needs. (Textual's own method, as pinned, with
        show_locals off.)"""
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()

    def say(self, notice: Notice) -> None:
        self.notify(notice.text, severity=notice.severity, timeout=notice.timeout)

    def _show_plan(self, s: Snapshot) -> None:
        """The deploy window, when there is one (sbtop.console.plan_keys draws it)."""

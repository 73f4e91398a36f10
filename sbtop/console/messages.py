"""What a widget or a screen asks of the app: posted, handled by the app (which knows the
session); a widget never calls back into the app."""

from __future__ import annotations

from textual.message import Message

from sbtop.engine.observations import DbSession


class ChartRequested(Message):
    """enter on a panel: its figures' history, full screen."""

    def __init__(self, keys: tuple[str, ...], title: str) -> None:
        super().__init__()
        self.keys = keys
        self.title = title


class RouteChartRequested(Message):
    """enter on a route: its own figures' history, full screen."""

    def __init__(self, route: str) -> None:
        super().__init__()
        self.route = route


class SessionsRequested(Message):
    """enter on the Database panel: the sessions view."""


class CancelQuery(Message):
    """x in the sessions view: cancel this session's query (after a confirmation)."""

    def __init__(self, session: DbSession | None) -> None:
        super().__init__()
        self.session = session


class TerminateSession(Message):
    """K in the sessions view: end this session (after a confirmation)."""

    def __init__(self, session: DbSession | None) -> None:
        super().__init__()
        self.session = session

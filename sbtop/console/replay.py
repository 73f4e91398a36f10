"""`sbtop replay FILE`: the console on a ReplaySession, with the player's keys.

The same app, the same panels; the session is the recording's (sbtop.session.replay), so
nothing is collected and no action exists (read-only). This adds only the keys that move the
player, and ends in one line and exit 3 should a bug of ours escape."""

from __future__ import annotations

import sys

from textual.binding import Binding

from sbtop import untrusted
from sbtop.console.app import SbtopApp
from sbtop.recording.reader import Recording
from sbtop.session.replay import ReplaySession


class ReplayApp(SbtopApp):
    READ_ONLY_WORDS = "a replay: actions are off (nothing is sent from a recording)"
    BINDINGS = [
        *SbtopApp.BINDINGS,
        Binding("left", "seek(-10)", "-10s", tooltip="replay: back 10 s"),
        Binding("right", "seek(10)", "+10s", tooltip="replay: forward 10 s"),
        Binding("pageup", "seek(-300)", "-5m", show=False, tooltip="replay: back 5 min"),
        Binding("pagedown", "seek(300)", "+5m", show=False, tooltip="replay: forward 5 min"),
        Binding("home", "seek_to(0)", "Start", show=False, tooltip="replay: the beginning"),
        Binding("end", "seek_to(-1)", "End", show=False, tooltip="replay: the end"),
        Binding("1", "speed(1)", "1x", show=False, tooltip="replay: real time"),
        Binding("2", "speed(10)", "10x", show=False, tooltip="replay: ten times as fast"),
        Binding("3", "speed(60)", "60x", show=False, tooltip="replay: a minute a second"),
    ]

    def __init__(self, session: ReplaySession, *, theme: str | None = None) -> None:
        super().__init__(session, theme=theme)
        self.player = session
        self.crashed: str | None = None  # an error that ended the replay (a bug of ours)

    def _handle_exception(self, error: Exception) -> None:
        # Whatever still escapes ends the replay with one line and exit 3 (run_replay), not
        # Textual's page of traceback and an exit 0 a script reads as success.
        self.crashed = f"{type(error).__name__}: {error}"
        super()._handle_exception(error)
        self._exit_renderables.clear()

    def help_rows(self) -> list[tuple[str, str]]:
        """The player's keys on two lines (the help fits 80x24); nothing is collected or
        sent in a replay, so no refresh and no checklist."""
        rows = [("space", "replay: play / pause") if k == "space +/-" else (k, d)
                for k, d in super().help_rows() if not d.startswith("replay:") and k != "v"]
        rows[3:3] = [("left/right", "replay: back / forward 10 s (pgup/pgdn 5 min, home/end)"),
                     ("1 2 3", "replay: speed 1x, 10x, 60x")]
        return rows

    def action_pause(self) -> None:
        """space: play or pause the replay."""
        self.player.play_pause()

    def action_seek(self, seconds: float) -> None:
        self.player.seek(seconds)

    def action_seek_to(self, where: int) -> None:
        self.player.seek_to(where)

    def action_speed(self, speed: int) -> None:
        self.player.set_speed(speed)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("faster", "slower", "verify"):
            return False  # nothing is collected or sent in a replay
        return super().check_action(action, parameters)


def run_replay(rec: Recording, *, theme: str | None, speed: int) -> int:
    app = ReplayApp(ReplaySession(rec, speed=speed), theme=theme)
    app.run()
    if app.signalled is not None:
        return 128 + app.signalled
    if app.crashed is not None:
        print(f"sbtop: the replay stopped on an internal error: {untrusted.line(app.crashed)}",
              file=sys.stderr)
        return 3
    return 0

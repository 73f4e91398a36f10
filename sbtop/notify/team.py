"""An action taken on the command line, told to the team's channel. A canary step, a restart or
a phase rolled back from a shell (or a script) is as much news to #studybuddy-alerts as one
taken with a key in the console, which tells its webhook; without this the channel would hear
of half the window's actions.

The webhook only: the engineer is looking at this terminal, which has just printed the
outcome (a bell or an escape sequence there would be noise). The message is waited for at most
the webhook's own deadline, so a slow or dead webhook delays the command by that much and no
more; a failure is one line and never the command's exit code (the action is done either way)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sbtop.engine.transitions import Event
from sbtop.notify.settings import NotifySettings
from sbtop.notify.webhook import Webhook

# Past the webhook's deadline, a moment for the answer to be read and the connection closed.
_GRACE_S = 0.5


async def tell_team(settings: NotifySettings, event: Event,
                    say: Callable[[str], None]) -> None:
    """Send `event` to the webhook, if one is configured; `say` the one line a failure or a
    webhook named but unset gets."""
    if settings.problem:
        say(settings.problem)
    if settings.webhook_url is None:
        return
    hook = Webhook(settings.webhook_url, timeout_s=settings.webhook_timeout_s,
                   every_s=settings.webhook_every_s, env=settings.webhook_env,
                   now=time.monotonic, say=lambda text: say(_headless(text)))
    hook.offer(event)
    await hook.close(grace_s=settings.webhook_timeout_s + _GRACE_S)


def _headless(text: str) -> str:
    # The webhook's words are the console's, which goes on telling in the terminal; a command
    # has told its terminal already (it printed the outcome).
    return text.replace("; notifications go on in the terminal (said once until it works "
                        "again)", "; the team's channel was not told")

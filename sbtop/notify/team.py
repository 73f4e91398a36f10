"""An action taken on the command line, told to the team's channel. A canary step, a restart or
a phase rolled back from a shell (or a script) is as much news to #studybuddy-alerts as one
taken with a key in the console, which tells its webhook; without this the channel would hear
of half the window's actions.

The webhook only: the engineer is looking at this terminal, which has just printed the
outcome (a bell or an escape sequence there would be noise). The message is waited for at most
the webhook's own deadline, so a slow or dead webhook delays the command by that much and no
more; a failure is one line and never the command's exit code (the action is done either way)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any

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
                   now=time.monotonic, say=say,
                   # A command has told its terminal already (it printed the outcome).
                   meanwhile="the team's channel was not told")
    # The host's name is looked up in a thread (getaddrinfo cannot be cancelled), and the
    # loop's end waits for its threads: a lookup that hangs held the command 8 s past a 1 s
    # deadline. This loop's lookups are left behind instead, in threads nothing waits for.
    asyncio.get_running_loop().set_default_executor(_Unwaited())
    hook.offer(event)
    await hook.close(grace_s=settings.webhook_timeout_s + _GRACE_S)


class _Unwaited(concurrent.futures.ThreadPoolExecutor):
    """Each call in a daemon thread of its own, never waited for: not at the loop's end
    (shutdown does nothing) nor at the interpreter's (not a pool thread, which it joins)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
               ) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as e:  # handed to whoever awaits it, as a pool does
                future.set_exception(e)

        threading.Thread(target=run, daemon=True, name="sbtop-webhook-lookup").start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None

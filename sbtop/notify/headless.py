"""Notifications for a face with no screen (`sbtop record` through a deploy window on the jump
box): the webhook only. A bell or an escape sequence written into a log file or a pipe would be
noise, and nobody is looking at that terminal."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sbtop.notify.notifier import Notifier
from sbtop.session.live import LiveSession
from sbtop.session.snapshot import Cause, Snapshot, Update


def attach(session: LiveSession, say: Callable[[str], None]) -> Notifier | None:
    """A notifier fed by `session` (its assessments and its hook), or None without a webhook
    (one named but not set is said, once, as the console does)."""
    w = session.wiring
    if w.notify.webhook_url is None and not w.notify.problem:
        return None
    notifier = Notifier(dataclasses.replace(w.notify, bell=False, desktop=()), write=None,
                        say=say, now=lambda: session.clock.now()[0], book=w.advice)

    def on_update(u: Update) -> None:
        if isinstance(u, Snapshot) and u.assessment is not None and u.cause in (
                Cause.TICK, Cause.CANARY):
            notifier.observe(u.assessment, u.gate)
        elif isinstance(u, Snapshot) and u.page_changes:
            notifier.pages_changed(u.page_changes, w.name)

    session.subscribe(on_update)
    session.on_event(notifier.event)
    return notifier

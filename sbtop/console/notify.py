"""What to do now and who knows, in the console: a breach's advice beside it (words, and the
key that acts on it where one can), the notifications of what changed (the bell and the
desktop notification written through Textual's driver, the webhook in the background), the
mute key, and the contacts in the help."""

from __future__ import annotations

import os
from collections.abc import Mapping

from sbtop import untrusted
from sbtop.console.base import ConsoleBase
from sbtop.console.messages import SessionsRequested
from sbtop.engine.advice import RUNBOOK_ADVICE, Advice, Offer, advice_for
from sbtop.engine.figures import Figure
from sbtop.notify.notifier import Notifier
from sbtop.notify.settings import Contacts, NotifySettings
from sbtop.session.live import LiveSession
from sbtop.session.snapshot import Cause, Snapshot, Update

ADVICE_MAX = 40  # the words in a panel's border: half of 80 columns


class NotifyKeys(ConsoleBase):
    advice: Mapping[str, Advice] = RUNBOOK_ADVICE
    contacts: Contacts = Contacts()
    notify_settings: NotifySettings = NotifySettings()

    def _take_notify_settings(self) -> None:
        """From the live session's wiring; a replay keeps the runbook's advice and tells no
        one (what it shows happened long ago)."""
        self.session.subscribe(self._notify_on)
        if isinstance(self.session, LiveSession):
            wiring = self.session.wiring
            self.advice, self.contacts = wiring.advice, wiring.contacts
            self.notify_settings = wiring.notify
            self.session.on_event(self.announce)  # the session's hook (a plan's watch ended)

    def _start_notifier(self) -> None:
        """Live only, once the driver is there to write through."""
        session = self.session
        if not isinstance(session, LiveSession):
            return
        self.notifier = Notifier(
            self.notify_settings, write=self._terminal_write,
            say=lambda text: self.notify(text, severity="warning", timeout=8),
            now=lambda: session.clock.now()[0], tmux=bool(os.environ.get("TMUX")),
            book=self.advice)

    def _terminal_write(self, data: str) -> None:
        # Through Textual's driver, in order with its frames (its writer thread): a raw
        # print would land in the middle of a frame, or block the event loop.
        driver = self._driver
        if not self.is_headless and driver is not None:
            driver.write(data)

    def _notify_on(self, u: Update) -> None:
        if (self.notifier is not None and isinstance(u, Snapshot) and u.assessment is not None
                and u.cause in (Cause.TICK, Cause.CANARY)):
            self.notifier.observe(u.assessment, u.gate)
        elif self.notifier is not None and isinstance(u, Snapshot) and u.page_changes:
            self.notifier.pages_changed(u.page_changes, self.session.info.name)

    async def _close_notifier(self) -> None:
        if self.notifier is not None:
            await self.notifier.close()

    # --- what to do now -----------------------------------------------------------------

    def _can_deploy(self) -> bool:
        return False  # the app's own answer (its deploy keys) replaces this

    def offer_key(self, offer: Offer) -> str | None:
        """The key that acts on `offer` here and now; None where it cannot (read-only, no
        provider, no database): then the words go alone, as the footer leaves such keys out."""
        if offer is Offer.SESSIONS:
            return "d" if self.session.info.database else None
        if offer in (Offer.ROLLBACK, Offer.RESTART):
            return ("b" if offer is Offer.ROLLBACK else "r") if self._can_deploy() else None
        return None

    def advise(self, f: Figure) -> str | None:
        """'now: rollback immediately (b)' for a breached figure; None for the rest."""
        adv = advice_for(f, self.advice)
        if adv is None:
            return None
        key = self.offer_key(adv.offer)
        return f"now: {untrusted.line(adv.words, ADVICE_MAX)}" + (f" ({key})" if key else "")

    def action_sessions(self) -> None:
        if not self.session.info.database:
            self.notify("sessions: no database is polled (set the target's dsn_env)",
                        severity="warning", timeout=4)
            return
        self.post_message(SessionsRequested())

    def action_mute(self) -> None:
        if self.notifier is None:
            self.notify("notifications: off here (a replay, or none configured)", timeout=3)
            return
        muted = self.notifier.toggle_mute()
        hook = " (the webhook goes on)" if self.notifier.webhook is not None else ""
        self.notify("bell and desktop notifications muted" + hook if muted else
                    "bell and desktop notifications on", timeout=3)

    def notify_notes(self) -> list[str]:
        """The help's lines about who to call (the runbook's contacts), when configured."""
        return self.contacts.lines()

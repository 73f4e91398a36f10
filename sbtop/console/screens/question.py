"""A question on the screen answered once. Keys typed ahead (`y` then `n`, a key's repeat, a
paste into the wrong place) reach the question before it has gone: each answer would dismiss
it again, and Textual's dismiss pops whatever screen is on top by then, the Plan view under a
phase's confirmation, so the rest of the keys land on the panels, where `b` is the deploy's
rollback. The first answer stands; the later ones do nothing."""

from __future__ import annotations

from typing import TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen

Answer = TypeVar("Answer")


class Question(ModalScreen[Answer]):
    _answered = False

    def dismiss(self, result: Answer | None = None) -> AwaitComplete:
        if self._answered:
            return AwaitComplete()  # answered already: nothing to pop, no callback again
        self._answered = True
        return super().dismiss(result)

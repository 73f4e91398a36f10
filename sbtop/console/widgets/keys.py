"""The footer's keys, composed once per change of what they show.

Textual's Footer composes its keys again after the next refresh each time the screen says its
bindings may have changed (focus moved, the app got the terminal's focus, a binding's state):
three times over the console's first frames, the first after the screen had been drawn
without them, the last after it had been drawn twice more. Here the keys are composed at the
footer's next message after the first such word (before the first frame when that word comes
before it), and again only when the keys, their labels or their state differ from those shown:
moving between panels, which all have the same keys, composes nothing.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

# What a footer shows of its bindings: each shown key's key, label, action, state and tooltip
# (and its group's), in order; the command palette's key; compact or not.
Shown = tuple[object, ...]


class KeysFooter(Footer):
    _shown: Shown | None = None  # what the keys on the footer show (None: none composed yet)
    _queued = False

    def compose(self) -> ComposeResult:
        self._shown = self._what_to_show() if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen[object]) -> None:
        # Textual's own conditions (the app focused, the footer on that screen), then one
        # composition queued however often the word comes before it runs.
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._queued:
            self._queued = True
            self.call_next(self._compose_keys)

    async def _compose_keys(self) -> None:
        self._queued = False
        if not self.is_attached or self._what_to_show() == self._shown:
            return
        await self.recompose()

    def _what_to_show(self) -> Shown:
        """Everything Footer.compose reads of the bindings, so equal means the same keys."""
        app = self.app
        keys = tuple(
            (b.key, app.get_key_display(b), b.description, b.action, enabled, tooltip,
             b.tooltip, b.group)
            for (_node, b, enabled, tooltip) in self.screen.active_bindings.values() if b.show)
        palette = None
        if self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            found = self.screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _node, b, enabled, _tooltip = found
                palette = (b.key, app.get_key_display(b), b.description, b.action, enabled,
                           b.tooltip)
        return (keys, palette, self.compact, self.combine_groups)

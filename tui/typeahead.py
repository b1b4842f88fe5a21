"""Keys typed ahead of a prompt: the App holds them while a prompt is opening (its input has no
focus yet) or closing (enter or escape has been sent to it), and routes them in order once the
prompt is ready or gone (`KeysMayFlow`), so none lands in the wrong place or is lost."""

from __future__ import annotations

from collections import deque

from textual import events
from textual.app import App

from tui.messages import KeysMayFlow
from tui.screens.ask import CLOSE_KEYS, AskScreen

MAX_HELD_KEYS = 10_000
"""Keys held while a prompt opens or closes: a pasted burst of puts fits, an endless stream of
keys cannot grow memory (beyond it keys are refused, with one notice)."""


class TypeAheadApp(App[None]):
    """An App whose keys typed ahead of a prompt reach the prompt, or what is under it, in the
    order typed."""

    def __init__(self) -> None:
        """No keys held."""
        super().__init__()
        self._held_keys: deque[events.Key] = deque()
        self._refused_keys = False

    async def on_event(self, event: events.Event) -> None:
        """Keys from the terminal, in the order typed: held while a prompt is opening or
        closing (so none lands in the wrong place or is lost), else routed as usual."""
        if isinstance(event, events.Key) and not event.is_forwarded and event.key != "ctrl+c":
            if self._held_keys or self._holding():
                if len(self._held_keys) < MAX_HELD_KEYS:
                    self._held_keys.append(event)
                elif not self._refused_keys:
                    self._refused_keys = True
                    self.notify("too many keys typed ahead: the rest are refused",
                                severity="warning")
                return
            self._mark_answering(event)
        await super().on_event(event)

    def _holding(self) -> bool:
        screen = self.screen
        return isinstance(screen, AskScreen) and not screen.ready

    def _mark_answering(self, key: events.Key) -> None:
        """Enter or escape sent to a prompt answers it: hold what comes after."""
        if isinstance(self.screen, AskScreen) and key.key in CLOSE_KEYS:
            self.screen.closing = True

    async def on_keys_may_flow(self, _: KeysMayFlow) -> None:
        """Route the held keys in order until one opens (or answers) a prompt again."""
        while self._held_keys and not self._holding():
            event = self._held_keys.popleft()
            self._mark_answering(event)
            await super().on_event(event)
        self._refused_keys = False

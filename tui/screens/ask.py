"""A one-line question (put size or file, fault kind, log filter, a y/n confirmation); dismisses
with the answer, or None when cancelled with escape.

Keys typed ahead are the App's business (`tui.typeahead`): it holds them while a prompt
is opening (its input has no focus yet) or closing (enter or escape has been sent to it), and
routes them in order once the prompt is ready or gone. The prompt tells it when."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, NoBinding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from tui.messages import KeysMayFlow

CLOSE_KEYS = frozenset({"enter", "escape"})
"""Keys that answer a prompt: nothing typed after them belongs to it."""


class PromptInput(Input):
    """An Input whose bound keys (backspace, enter, the arrows, home, ...) act where they
    arrive, in the order typed. Textual runs a widget's bindings only once the key has bubbled
    up to the App, while a printable key is inserted at once: in a burst (tmux's `send-keys
    BSpace y Enter`, one read) the letter went in before the backspace ran, and enter submitted
    what was left."""

    async def _on_key(self, event: events.Key) -> None:
        try:
            binding = self._bindings.get_bindings_for_key(event.key)[0]
        except NoBinding:
            await super()._on_key(event)
            return
        event.stop()
        event.prevent_default()
        await self.run_action(binding.action)


class AskScreen(ModalScreen[str | None]):
    """A one-line question over the dashboard; dismissed with the answer or None."""

    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    AskScreen > Vertical { width: 70; height: auto; border: thick $primary;
                           background: $surface; padding: 0 1; }
    AskScreen Label { width: 100%; }
    """
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, question: str, default: str = "") -> None:
        super().__init__()
        self.question = question
        self.default = default
        self.closing = False  # the App sent it enter or escape: keys after that are not its

    def compose(self) -> ComposeResult:
        """The question and its input, holding the default answer."""
        with Vertical():
            yield Label(self.question)
            yield PromptInput(value=self.default, select_on_focus=True)

    @property
    def ready(self) -> bool:
        """Its input has the keyboard: keys can be routed to it."""
        return isinstance(self.focused, Input) and not self.closing

    def on_descendant_focus(self, _: events.DescendantFocus) -> None:
        """The input has the keyboard: held keys may go to it."""
        self._keys_may_flow()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """enter: answer with what is typed."""
        event.stop()
        self._close(event.value)

    def action_cancel(self) -> None:
        """escape: answer None."""
        self._close(None)

    def _close(self, answer: str | None) -> None:
        """Dismiss once (a second dismiss would pop the screen below), then let the keys held
        meanwhile go to what is on top now."""
        if not self.is_active:
            return
        self.dismiss(answer)
        self._keys_may_flow()

    def _keys_may_flow(self) -> None:
        self.app.post_message(KeysMayFlow())

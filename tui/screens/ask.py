"""A one-line question (put size or file, fault kind, log filter, a y/n confirmation); dismisses
with the answer, or None when cancelled with escape.

Keys typed ahead are never lost and never answer twice: keys that reach the prompt before its
input has the focus are held and replayed into it once it has; the input answers on the first
enter (or escape) and hands every key after that back to the App, which routes it to whatever
is on top once the prompt is gone (the next `p` opens the next prompt)."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label

MAX_TYPED_AHEAD = 4096
"""Keys held while a prompt is opening; a paste-sized burst fits, an endless stream of keys
cannot grow memory (beyond it keys are refused with a notice)."""


def replay(app: App[object], event: events.Key) -> None:
    """Post a copy of `event` to the App, which sends it to the focused widget of the top
    screen (the original has been handled already and would not be routed again)."""
    app.post_message(events.Key(event.key, event.character))


class PromptInput(Input):
    """An Input that answers once: enter submits, escape cancels, later keys go back to the
    App. It handles enter itself, in order with the keys around it (Input's enter binding runs
    when the key has bubbled up to the App, after the input may have taken the next keys)."""

    class Cancelled(Message):
        """Escape: the prompt closes without an answer."""

    answered = False

    async def _on_key(self, event: events.Key) -> None:
        if not self.answered and event.key not in ("enter", "escape"):
            return  # Input's own handler types it
        event.stop()
        event.prevent_default()
        if self.answered:
            replay(self.app, event)
            return
        self.answered = True
        self.post_message(self.Submitted(self, self.value) if event.key == "enter"
                          else self.Cancelled())


class AskScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    AskScreen > Vertical { width: 70; height: auto; border: thick $primary;
                           background: $surface; padding: 0 1; }
    AskScreen Label { width: 100%; }
    """

    def __init__(self, question: str, default: str = "") -> None:
        super().__init__()
        self.question = question
        self.default = default
        self.typed_ahead: list[events.Key] = []
        self._closed = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield PromptInput(value=self.default, select_on_focus=True)

    def on_key(self, event: events.Key) -> None:
        """A key that reached the screen itself: the input has no focus yet. Hold it."""
        if self.focused is not None:
            return  # bubbled up from the input: its bindings (backspace, arrows) run next
        event.stop()
        event.prevent_default()
        if len(self.typed_ahead) >= MAX_TYPED_AHEAD:
            self.app.notify(f"key {event.key!r} refused: too many keys typed ahead",
                            severity="warning")
            return
        self.typed_ahead.append(event)

    def on_descendant_focus(self, _: events.DescendantFocus) -> None:
        held, self.typed_ahead = self.typed_ahead, []
        for event in held:
            replay(self.app, event)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close(event.value)

    def on_prompt_input_cancelled(self, _: PromptInput.Cancelled) -> None:
        self._close(None)

    def _close(self, answer: str | None) -> None:
        """Dismiss once: a second dismiss would pop the screen below."""
        if self._closed:
            return
        self._closed = True
        self.dismiss(answer)

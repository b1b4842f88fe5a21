"""The one-line prompt under keys a terminal delivers in one burst, without a network."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tests.tui.helpers import burst, run_app, wait_until
from tui.screens.ask import AskScreen
from tui.typeahead import TypeAheadApp


class Asking(TypeAheadApp):
    """An app that asks one y / n question, prefilled "n", and keeps the answers."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(AskScreen("delete it? y / n", "n"), self.answers.append)


def test_backspace_a_letter_and_enter_in_one_burst_answer_that_letter() -> None:
    """tmux's `send-keys BSpace y Enter` arrives as one read: the prompt must see the keys in
    that order (the bound keys, backspace and enter, ran only once they had bubbled up to the
    App, after the letter: the answer was empty, and a confirmed kill or delete was
    cancelled)."""
    app = Asking()

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: isinstance(app.focused, Input), "the prompt focused")
        burst(app, ["backspace", "y", "enter"])
        await wait_until(pilot, lambda: app.answers, "the prompt answered")
        assert app.answers == ["y"]

    run_app(app, body)


def test_keys_that_move_the_cursor_keep_their_place_in_a_burst() -> None:
    """home, then a letter, then end and another letter, all in one burst."""
    app = Asking()

    async def body(pilot: Pilot[Any]) -> None:
        await wait_until(pilot, lambda: isinstance(app.focused, Input), "the prompt focused")
        burst(app, ["end", "home", "a", "end", "b", "enter"])
        await wait_until(pilot, lambda: app.answers, "the prompt answered")
        assert app.answers == ["anb"]

    run_app(app, body)

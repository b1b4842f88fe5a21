"""Driving the dashboard in tests: sync tests that run the App on asyncio (trio_mode would
claim an `async def` test for trio)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from rich.text import Text
from textual import events
from textual.app import App
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import VaultnetApp
from tui.screens.ask import AskScreen
from tui.widgets.event_table import EventTable

DEADLINE = 60.0
SIZE = (140, 44)


def run_app(app: App[Any], body: Callable[[Pilot[Any]], Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await body(pilot)

    asyncio.run(main())


async def wait_until(pilot: Pilot[Any], condition: Callable[[], object],
                     what: str | Callable[[], str], deadline: float = DEADLINE) -> None:
    """Poll `condition` between UI frames until it holds, failing after `deadline` seconds
    (`what` says what was awaited; a callable is asked then, to describe what was seen)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        await pilot.pause(0.05)


async def answer(pilot: Pilot[Any], key: str, text: str | None = None) -> None:
    """Press `key`, and if it asks a question, replace the default answer with `text`."""
    await pilot.press(key)
    if text is not None:
        # One pause is not always enough on a loaded machine: the prompt may not be on top
        # yet, and the text would go nowhere.
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, AskScreen)
                         and isinstance(pilot.app.focused, Input),
                         lambda: f"the prompt of {key!r}; {key_state(pilot.app)}")
        pilot.app.screen.query_one(Input).value = text
        await pilot.press("enter")


def key_state(app: App[Any]) -> str:
    """Where keys would go now, for a failure message: the screens, the focused widget, the
    keys the App holds for a prompt."""
    held = getattr(app, "_held_keys", ())
    return (f"screens {[type(s).__name__ for s in app.screen_stack]}, focused {app.focused!r}, "
            f"{len(held)} keys held {[k.key for k in held][:8]}")


def record_notifications(app: VaultnetApp) -> list[str]:
    """Every notification the app posts from now on. Textual drops a notification from
    `app._notifications` when it times out (5 s), so counting those races a slow machine."""
    posted: list[str] = []
    notify = app.notify

    def recording(message: str, *args: Any, **kwargs: Any) -> None:
        posted.append(str(message))
        notify(message, *args, **kwargs)

    app.notify = recording  # type: ignore[method-assign]
    return posted


def burst(app: App[Any], keys: Iterable[str]) -> None:
    """Send `keys` the way a terminal does when they are typed faster than the app handles
    them: all queued at once, none waiting for the previous one to be handled (Pilot.press
    waits until the app is idle after each key). Single characters are typed as themselves."""
    driver = app._driver
    assert driver is not None
    for key in keys:
        name = key if len(key) > 1 else _character_to_key(key)
        event = events.Key(name, "\r" if key == "enter" else key if len(key) == 1 else None)
        event.set_sender(app)
        driver.send_message(event)


def event_rows(app: VaultnetApp) -> list[tuple[str, ...]]:
    """View 4's rows as shown, top to bottom, each as plain-text cells: time, kind, vault,
    copy, what happened, seen by, trace."""
    table = app.query_one(EventTable)
    return [tuple(Text.from_markup(str(c)).plain for c in table.get_row_at(i))
            for i in range(table.row_count)]

"""Focus, movement keys, the confirmation of destructive keys and the footer, on the frozen
model (no network: these are about the keyboard, not the operations)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Footer, TabbedContent
from textual.widgets._footer import FooterKey

from tests.tui.frozen import frozen_model, frozen_versions_model
from tests.tui.helpers import burst, record_notifications, wait_until
from tui.app import TABS, VaultnetApp
from tui.model import NetworkModel
from tui.screens.ask import AskScreen
from tui.widgets.chunk_table import ChunkTable
from tui.widgets.message_table import MessageTable
from tui.widgets.structured_table import StructuredTable
from tui.widgets.vault_table import VaultTable
from tui.widgets.version_table import VersionTable

VIEW_KEYS = {"vaults": {"a", "K", "r", "f", "x", "p"}, "chunks": {"p", "g", "D", "t", "x"},
             "flows": {"/", "space"}, "evictions": {"c", "/", "space"}, "ranking": {"space"},
             "versions": {"n", "v", "b", "s", "u", "X", "m", "o", "t"}}


@pytest.fixture(scope="module")
def model() -> NetworkModel:
    return frozen_model()


def run(app: VaultnetApp, body: Any, size: tuple[int, int] = (100, 30)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await body(pilot)

    asyncio.run(main())


def test_arrows_and_vim_keys_move_in_the_focused_table(model: NetworkModel) -> None:
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        table = app.query_one(VaultTable)
        assert app.focused is table  # at launch: arrows move here, not between the tabs
        assert table.row_count > 3
        await pilot.press("down", "down")
        assert table.cursor_row == 2
        assert app.query_one(TabbedContent).active == "vaults-pane"
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("j", "j")
        assert table.cursor_row == 3
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0

    run(app, body)


def test_each_view_focuses_its_main_widget_and_tab_moves_the_marked_focus() -> None:
    app = VaultnetApp(model=frozen_versions_model())

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("2")
        assert app.focused is app.query_one(ChunkTable)
        await pilot.press("3")
        assert app.focused is app.query_one("#flow-log")
        await pilot.press("6")
        versions, messages = app.query_one(VersionTable), app.query_one(MessageTable)
        assert app.focused is versions
        focused_colour = versions.styles.border.top[1]
        assert messages.styles.border.top[1] != focused_colour
        await pilot.press("tab")
        assert app.focused is app.query_one(StructuredTable)
        await pilot.press("tab")
        assert app.focused is messages
        assert messages.styles.border.top[1] == focused_colour
        assert versions.styles.border.top[1] != focused_colour

    run(app, body)


@pytest.mark.parametrize("key", ["K", "D"])
def test_destructive_keys_ask_first(model: NetworkModel, key: str) -> None:
    """K (kill a vault) and D (delete a chunk) open a y / n prompt; n cancels. k and d do
    nothing destructive (k moves up)."""
    app = VaultnetApp(model=model)
    texts = record_notifications(app)

    async def body(pilot: Pilot[Any]) -> None:
        if key == "D":
            await pilot.press("2")
        await pilot.press(key.lower())
        assert not isinstance(app.screen, AskScreen)
        await pilot.press(key)
        assert isinstance(app.screen, AskScreen)
        assert "y / n" in app.screen.question
        await pilot.press("n", "enter")
        assert not isinstance(app.screen, AskScreen)
        assert texts[-1] == "cancelled"

    run(app, body)


def test_every_view_footer_fits_80_columns_with_its_keys_help_and_quit() -> None:
    app = VaultnetApp(model=frozen_versions_model())

    async def body(pilot: Pilot[Any]) -> None:
        for number, view in enumerate(TABS, start=1):
            await pilot.press(str(number))
            await pilot.pause()
            keys = [k for k in app.query_one(Footer).query(FooterKey) if k.display]
            shown = {k.key_display for k in keys}
            assert {"?", "q"} <= shown, view
            assert VIEW_KEYS[view] <= shown, (view, shown)
            assert all(k.region.width > 0 and k.region.right <= 80 for k in keys), view

    run(app, body, size=(80, 24))



def test_the_screenshot_command_saves_in_the_current_directory(
        model: NetworkModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a data directory (the frozen model) the SVG goes to the current directory,
    whether ~/Downloads exists or not, and the notice says where."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "no-home"))
    app = VaultnetApp(model=model)
    texts = record_notifications(app)

    async def body(pilot: Pilot[Any]) -> None:
        command = next(c for c in app.get_system_commands(app.screen)
                       if c.title == "Screenshot")
        command.callback()
        saved = list(tmp_path.glob("*.svg"))
        assert len(saved) == 1
        assert texts[-1] == f"screenshot saved: {saved[0]}"

    run(app, body)


@pytest.mark.parametrize(("typed", "title", "key"), [("kill", "kill the selected vault", "K"),
                                                     ("filter", "filter the log", "/")])
def test_the_palette_lists_actions_with_their_keys(model: NetworkModel, typed: str,
                                                    title: str, key: str) -> None:
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+p")
        await pilot.press(*typed)
        commands = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: commands.option_count > 0, "the palette's hits")
        prompts = [str(commands.get_option_at_index(i).prompt)
                   for i in range(commands.option_count)]
        assert f"{title}\nkey {key}" in prompts

    run(app, body)


@pytest.mark.parametrize("keys", ["45", "1234565432123456", "2x4cc5"])
def test_view_keys_typed_in_a_burst_end_on_the_last_view(model: NetworkModel, keys: str) -> None:
    """Views switched faster than the app handles the switches: the view shown at the end is
    the last one asked for (a late focus in a view already left used to bring it back: 4 5
    ended on 4), and its main widget has the keyboard."""
    app = VaultnetApp(model=model)
    last = {"x": "chunks", "c": "evictions"}.get(keys[-1]) or TABS[int(keys[-1]) - 1]

    async def body(pilot: Pilot[Any]) -> None:
        burst(app, list(keys))
        await wait_until(pilot, lambda: app.query_one(TabbedContent).active == f"{last}-pane",
                         lambda: f"{last} shown, not {app.query_one(TabbedContent).active}")
        await pilot.pause(0.5)
        assert app.query_one(TabbedContent).active == f"{last}-pane"
        pane = app.query_one(TabbedContent).active_pane
        assert pane is not None and app.focused is not None and pane in app.focused.ancestors

    run(app, body)

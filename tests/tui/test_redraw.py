"""What a redraw costs: the drain redraws the shown view on every tick, so a redraw with
nothing new must touch nothing (no cell updated, no panel laid out again), the views not on
screen must not be drawn at all, and a table with new rows is changed in place, not rebuilt."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.visual import VisualType
from textual.widgets import Static

from tests.tui.frozen import frozen_model
from tui.app import VIEWS, VaultnetApp
from tui.model import NetworkModel
from tui.views.chunks import ChunksView
from tui.views.vaults import VaultsView
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.summary_bar import SummaryBar
from tui.widgets.vault_table import VaultDetail, VaultTable


@pytest.fixture(scope="module")
def model() -> NetworkModel:
    return frozen_model()


def run(app: VaultnetApp, body: Any) -> None:
    async def main() -> None:
        async with app.run_test(size=(140, 44)) as pilot:
            await pilot.pause()
            await body(pilot)

    asyncio.run(main())


def test_a_redraw_with_nothing_new_updates_no_cell_and_a_change_only_its_cell(
        model: NetworkModel, monkeypatch: pytest.MonkeyPatch) -> None:
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        table = app.query_one(VaultTable)
        updated: list[tuple[str, str, object]] = []
        update_cell = table.update_cell

        def counting(row: str, column: str, value: str, **kwargs: Any) -> None:
            updated.append((row, column, value))
            update_cell(row, column, value, **kwargs)

        monkeypatch.setattr(table, "update_cell", counting)
        rows = table.row_count
        app.render_shown()
        app.render_shown()
        assert updated == [] and table.row_count == rows

        name, row = next(iter(model.vaults.items()))
        model.vaults[name] = dataclasses.replace(row, rate_in=1234.0)
        try:
            app.render_shown()
        finally:
            model.vaults[name] = row
        assert updated == [(name.hex(), "in", "1234")]
        assert table.get_cell(name.hex(), "in") == "1234"

    run(app, body)


def test_panels_shown_the_same_text_are_not_updated_again(
        model: NetworkModel, monkeypatch: pytest.MonkeyPatch) -> None:
    app = VaultnetApp(model=model)

    async def body(pilot: Pilot[Any]) -> None:
        updates: Counter[str] = Counter()
        update = Static.update

        def counting(self: Static, content: VisualType = "", *, layout: bool = True) -> None:
            updates[type(self).__name__] += 1
            update(self, content, layout=layout)

        monkeypatch.setattr(Static, "update", counting)
        app.render_shown()
        app.render_shown()
        assert updates == Counter()

        app.paused = True  # the summary bar says so: one update, and only of it
        app.render_shown()
        app.render_shown()
        assert updates == Counter({SummaryBar.__name__: 1})
        assert "PAUSED" in str(app.query_one(SummaryBar).render())
        assert VaultDetail.__name__ not in updates

    run(app, body)


def test_only_the_view_on_screen_is_drawn_until_another_is_shown(
        model: NetworkModel, monkeypatch: pytest.MonkeyPatch) -> None:
    app = VaultnetApp(model=model)
    drawn: Counter[str] = Counter()
    for view, _ in VIEWS:
        def show(self: Any, kind: str = view.__name__, original: Any = view.show) -> None:
            drawn[kind] += 1
            original(self)

        monkeypatch.setattr(view, "show", show)

    async def body(pilot: Pilot[Any]) -> None:
        drawn.clear()
        for _ in range(3):
            app.render_shown()
        assert drawn == Counter({VaultsView.__name__: 3})

        drawn.clear()
        await pilot.press("2")
        await pilot.pause()
        app.render_shown()
        assert set(drawn) == {ChunksView.__name__}

    run(app, body)


class Table(KeyedTable):
    COLUMNS = (("name", "name"), ("value", "value"))


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Table()


def rows(*names: int, value: str = "v") -> list[tuple[bytes, tuple[str, ...]]]:
    return [(bytes([n]), (str(n), value)) for n in names]


def shown(table: Table) -> list[tuple[str, ...]]:
    """The rows on screen, top down; `rows` (where callers find a row's place) in that order."""
    assert list(table.rows) == [row.key for row in table.ordered_rows]
    return [tuple(map(str, table.get_row(row.key))) for row in table.ordered_rows]


def test_a_new_row_on_top_moves_the_others_down_without_a_rebuild(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        app = TableApp()
        async with app.run_test() as pilot:
            table = app.query_one(Table)
            table.show_rows(rows(*range(10, 0, -1)))
            table.move_cursor(row=3)
            await pilot.pause()
            selected = table.selected_name()
            cleared: list[bool] = []
            monkeypatch.setattr(table, "clear", lambda columns=False: cleared.append(True))

            table.show_rows(rows(*range(11, 1, -1)))  # 11 new on top, 1 dropped at the bottom
            assert shown(table) == [(str(n), "v") for n in range(11, 1, -1)]
            assert table.selected_name() == selected and table.cursor_row == 4

            table.show_rows(rows(*range(2, 12)))  # the same rows, the other way round
            assert shown(table) == [(str(n), "v") for n in range(2, 12)]
            assert table.selected_name() == selected
            assert cleared == []

    asyncio.run(main())


def test_rows_alike_in_every_cell_take_their_places_in_turn() -> None:
    async def main() -> None:
        app = TableApp()
        async with app.run_test():
            table = app.query_one(Table)
            alike = [(bytes([n]), ("same", "v")) for n in (1, 2, 3)]
            table.show_rows([*alike, (b"\x09", ("9", "v"))])
            table.show_rows([(b"\x09", ("9", "v")), *alike])
            assert [key.value for key in table.rows] == ["09", "01", "02", "03"]
            assert [row.key.value for row in table.ordered_rows] == ["09", "01", "02", "03"]

    asyncio.run(main())


def test_a_table_left_with_few_of_its_rows_is_rebuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        app = TableApp()
        async with app.run_test():
            table = app.query_one(Table)
            table.show_rows(rows(*range(1, 21)))
            removed: list[object] = []
            remove_row = table.remove_row
            monkeypatch.setattr(table, "remove_row",
                                lambda key: (removed.append(key), remove_row(key)))
            table.show_rows(rows(5, 6, value="w"))
            assert shown(table) == [("5", "w"), ("6", "w")] and removed == []

    asyncio.run(main())

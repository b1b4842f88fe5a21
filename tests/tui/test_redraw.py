"""What a redraw costs: the drain redraws the shown view on every tick, so a redraw with
nothing new must touch nothing (no cell updated, no panel laid out again) and the views not
on screen must not be drawn at all."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.visual import VisualType
from textual.widgets import Static

from tests.tui.frozen import frozen_model
from tui.app import VIEWS, VaultnetApp
from tui.model import NetworkModel
from tui.views.chunks import ChunksView
from tui.views.vaults import VaultsView
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

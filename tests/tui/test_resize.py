"""A terminal made smaller under the dashboard: the selected row stays in view and the summary
bar still says everything (shorter), rather than cutting off its end."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.pilot import Pilot

from tests.tui.frozen import frozen_model
from tests.tui.helpers import wait_until
from tui.app import VaultnetApp
from tui.widgets.event_table import EventTable
from tui.widgets.summary_bar import SummaryBar


def test_shrinking_keeps_the_cursor_row_in_view_and_the_whole_summary() -> None:
    app = VaultnetApp(model=frozen_model())

    def in_view(table: EventTable) -> bool:
        top = table.scroll_offset.y
        return top <= table.cursor_row < top + table.scrollable_content_region.height - 1

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        table = app.query_one(EventTable)
        await wait_until(pilot, lambda: table.row_count > 100 and in_view(table),
                         "the newest row selected and shown")
        assert table.cursor_row == table.row_count - 1
        summary = app.query_one(SummaryBar)
        evictions = app.model.summary.evictions
        assert evictions > 0 and f"evictions {evictions}  " in str(summary.render())
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: in_view(table),
                         lambda: f"row {table.cursor_row} in view (from {table.scroll_offset.y})")
        assert table.cursor_row == table.row_count - 1
        text = str(summary.render())
        assert len(text) <= 78 and f"evict {evictions} " in text and "lost 0" in text, text

    async def main() -> None:
        async with app.run_test(size=(160, 48)) as pilot:
            await body(pilot)

    asyncio.run(main())

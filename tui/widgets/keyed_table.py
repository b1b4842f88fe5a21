"""A DataTable whose rows are keyed by a name, refreshed in place (no flicker, cursor kept)."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class KeyedTable(DataTable[str]):
    """Subclasses set COLUMNS = ((key, label), ...) and call `show_rows`; WIDTHS fixes the
    width of columns whose content grows after the first rows (holder lists). Arrows and
    j / k move the cursor, Home / End to the first / last row; the focused table has an
    accent border (tab moves the focus between tables)."""

    COLUMNS: tuple[tuple[str, str], ...] = ()
    WIDTHS: dict[str, int] = {}
    DEFAULT_CSS = """
    KeyedTable { border: round $panel-lighten-2; }
    KeyedTable:focus { border: round $accent; }
    """
    BINDINGS = [Binding("j", "cursor_down", "down", show=False),
                Binding("k", "cursor_up", "up", show=False),
                Binding("home", "first_row", "first row", show=False),
                Binding("end", "last_row", "last row", show=False)]

    def action_first_row(self) -> None:
        """home: the first row."""
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        """end: the last row."""
        self.move_cursor(row=max(self.row_count - 1, 0))

    def on_mount(self) -> None:
        """Row cursor, and the columns."""
        self.cursor_type = "row"
        for key, label in self.COLUMNS:
            self.add_column(label, key=key, width=self.WIDTHS.get(key))

    def on_resize(self) -> None:
        """Keep the selected row in view when the table shrinks (a smaller terminal, or the
        scenario tour's panel beside it): it was left below the bottom edge."""
        self.call_after_refresh(lambda: self.move_cursor(row=self.cursor_row, scroll=True))

    def show_rows(self, rows: list[tuple[bytes, tuple[str, ...]]]) -> None:
        """Rows as (name, cells): while the set of names and their order stay the same, only
        the cells that changed are updated (each update makes the DataTable render every
        visible cell again, so rewriting unchanged ones cost a full render of the table per
        drain tick); otherwise the table is rebuilt with the cursor on the same name."""
        wanted = [name.hex() for name, _ in rows]
        if [str(k.value) for k in self.rows] != wanted:
            selected = self.selected_name()
            self.clear()
            for name, cells in rows:
                self.add_row(*cells, key=name.hex())
            if selected is not None and selected.hex() in wanted:
                self.move_cursor(row=wanted.index(selected.hex()))
            return
        for name, cells in rows:
            row = name.hex()
            for (key, _), cell, now in zip(self.COLUMNS, cells, self.get_row(row), strict=True):
                if cell != now:
                    self.update_cell(row, key, cell)

    def selected_name(self) -> bytes | None:
        """The name of the row under the cursor, or None if there are no rows."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return bytes.fromhex(str(key))

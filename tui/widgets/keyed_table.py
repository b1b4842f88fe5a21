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
        """Rows as (name, cells), in that order, with the cursor kept on the same name. The
        table is changed in place: rows gone are removed, new ones added, of the others only
        the cells that changed are updated (each update makes the DataTable render every
        visible cell again: rewriting unchanged ones cost a full render per drain tick), and
        the rows are put in order if it changed. Rebuilding instead measured every cell of
        every row again: about 240 ms for a new chunk on top of 500. It is rebuilt only when
        more rows go than stay (each removal renumbers the rows after it)."""
        wanted = {name.hex(): cells for name, cells in rows}
        selected = self.selected_name()
        gone = [old for old in self.rows if old.value not in wanted]
        if len(gone) > self.row_count - len(gone):
            self.clear()
        else:
            for old in gone:
                self.remove_row(old)
        for row, cells in wanted.items():
            if row not in self.rows:
                self.add_row(*cells, key=row)
                continue
            for (key, _), cell, now in zip(self.COLUMNS, cells, self.get_row(row), strict=True):
                if cell != now:
                    self.update_cell(row, key, cell)
        order = list(wanted)
        if [row.key.value for row in self.ordered_rows] != order:
            self._reorder(wanted)
        place = order.index(selected.hex()) if selected and selected.hex() in wanted else None
        if place is not None and place != self.cursor_row:
            self.move_cursor(row=place)

    def _reorder(self, wanted: dict[str, tuple[str, ...]]) -> None:
        """Put the rows in the order of `wanted`. DataTable sorts by the cells' values only, so
        each row's place is looked up by its cells (rows alike in every cell look the same
        wherever they go: the first of them takes the first of their places). Its sort leaves
        `rows` in the order the rows were added, and a row's place on screen is found by its
        index in `rows` (`VersionTable.select`, the tour, the tests), so `rows` follows."""
        places: dict[tuple[str, ...], list[int]] = {}
        for place, cells in reversed(list(enumerate(wanted.values()))):
            places.setdefault(cells, []).append(place)
        self.sort(key=lambda cells: places[tuple(cells)].pop())
        ordered = self.ordered_rows
        self.rows.clear()
        self.rows.update((row.key, row) for row in ordered)

    def selected_name(self) -> bytes | None:
        """The name of the row under the cursor, or None if there are no rows."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return bytes.fromhex(str(key))

"""The chunks put from the dashboard, with who holds each copy (Primary / Backup / Sacrificial)."""

from __future__ import annotations

from tui.model import ChunkInfo, NetworkModel
from tui.widgets.keyed_table import KeyedTable
from vaultnet.xor import short

COLUMNS = (("chunk", "chunk"), ("size", "size"), ("P", "Primary"), ("B", "Backup"),
           ("S", "Sacrificial"), ("state", "state"))


class ChunkTable(KeyedTable):
    """The chunks put from the dashboard, newest first, with their holders."""

    COLUMNS = COLUMNS
    WIDTHS = {"P": 13, "B": 13, "S": 13, "state": 7}
    DEFAULT_CSS = "ChunkTable { height: 1fr; }"

    def show(self, model: NetworkModel) -> None:
        """Draw the rows from the model."""
        chunks = reversed(model.chunks.values())  # newest first
        self.show_rows([(chunk.name, self._cells(chunk)) for chunk in chunks])

    @staticmethod
    def _cells(chunk: ChunkInfo) -> tuple[str, ...]:
        def holders(kind: str) -> str:
            return " ".join(short(n, 6) for n in chunk.holders.get(kind, [])) or "-"

        state = "deleted" if chunk.deleted else "[b red]LOST[/]" if chunk.lost else "stored"
        return (short(chunk.name), str(chunk.size), holders("P"), holders("B"), holders("S"),
                state)

"""The structured data records the network holds: each record's name, its owner (the
dashboard's own client, which is the testnet process's unless it runs in process: "you"), its
version, its data's size, and its VersionManager group (how many members hold this version,
and who they are). The cursor picks the record an update (u) or a delete (X) is for."""

from __future__ import annotations

from tui.model import NetworkModel, StructuredRow
from tui.widgets.keyed_table import KeyedTable
from vaultnet.xor import short

COLUMNS = (("name", "record"), ("owner", "owner"), ("version", "version"), ("size", "size"),
           ("group", "VersionManager group: holding / members"))


def _cells(row: StructuredRow) -> tuple[str, ...]:
    size = len(row.group)
    holding = (f"[green]{row.holding}/{size}[/]" if row.holding == size
               else f"[b red]{row.holding}/{size}[/]")
    return (short(row.name), f"{short(row.owner)}{' [b](you)[/]' if row.mine else ''}",
            f"v{row.version}", f"{row.size} B",
            f"{holding} {' '.join(short(member, 4) for member in row.group)}")


class StructuredTable(KeyedTable):
    """Every structured data record, by name, as most of its group holds it."""

    COLUMNS = COLUMNS
    WIDTHS = {"name": 10, "owner": 16, "version": 8, "size": 8}
    DEFAULT_CSS = "StructuredTable { height: auto; max-height: 7; }"

    def show(self, model: NetworkModel) -> None:
        """Draw the rows from the model, the count in the border."""
        self.show_rows([(row.name, _cells(row)) for row in model.structured])
        count = len(model.structured)
        self.border_title = (f"structured data: {count} record{'' if count == 1 else 's'}"
                             if count else "structured data: none yet (s puts a record)")

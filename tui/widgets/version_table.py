"""The version trees the dashboard has seen: a row per versioned item, then its versions drawn
as a tree (a fork indents, a straight run of versions does not), with the root, the tips and
orphans (versions waiting for their parent) marked. The cursor picks the parent of the next
version put (v) or the tip whose branch is deleted (b)."""

from __future__ import annotations

from tui.model import NetworkModel, VersionedItem
from tui.widgets.keyed_table import KeyedTable
from vaultnet.personas.version_tree import VersionName
from vaultnet.xor import NAME_SIZE, short

COLUMNS = (("tree", "versioned item / version"), ("chunk", "chunk"), ("note", "state"))
INDEX_BYTES = 8


def version_row(key: bytes, version: VersionName) -> bytes:
    """The row key of a version: the item's key, the version's index and chunk name."""
    return key + version.index.to_bytes(INDEX_BYTES, "big") + version.id


def parse_row(row: bytes) -> tuple[bytes, VersionName | None]:
    """(item key, version or None for the item's own row) from a row key."""
    key, rest = row[:NAME_SIZE], row[NAME_SIZE:]
    if not rest:
        return key, None
    return key, VersionName(int.from_bytes(rest[:INDEX_BYTES], "big"), rest[INDEX_BYTES:])


def _note(item: VersionedItem, version: VersionName) -> str:
    notes = []
    if version == item.root:
        notes.append("root")
    parent = item.parents.get(version)
    if version != item.root and (parent is None or parent not in item.parents):
        notes.append(f"orphan, waits for v{parent.index}" if parent else "orphan")
    if version in item.tips:
        notes.append("[b]tip[/]")
    if len(item.children(version)) > 1:
        notes.append("fork")
    return ", ".join(notes)


def _summary(item: VersionedItem) -> str:
    if not item.sampled:
        return "…"
    size = len(item.group)
    agree = (f"[green]group {item.agreeing}/{size} agree[/]" if item.agreeing == size
             else f"[b red]group {item.agreeing}/{size} agree[/]")
    if not item.parents:
        return f"no tree · {agree}"
    return f"{_count(len(item.parents), 'version')}, {_count(len(item.tips), 'tip')} · {agree}"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


class VersionTable(KeyedTable):
    """Every version tree the dashboard has seen, drawn as a tree."""

    COLUMNS = COLUMNS
    WIDTHS = {"tree": 28, "chunk": 8}
    DEFAULT_CSS = "VersionTable { height: 1fr; }"

    def show(self, model: NetworkModel) -> None:
        """Draw the rows from the model."""
        rows: list[tuple[bytes, tuple[str, ...]]] = []
        for item in reversed(model.versioned.values()):  # newest first
            rows.append((item.key, (f"[b]{item.label}[/] {short(item.key, 6)}", "",
                                    _summary(item))))
            for start in item.starts():
                self._walk(item, start, "", "", rows)
        self.show_rows(rows)

    def _walk(self, item: VersionedItem, version: VersionName, prefix: str, connector: str,
              rows: list[tuple[bytes, tuple[str, ...]]]) -> None:
        """Depth first; `prefix` is the drawing left of this version's connector."""
        rows.append((version_row(item.key, version),
                     (f"{prefix}{connector}● v{version.index}", short(version.id),
                      _note(item, version))))
        below = prefix + ("│ " if connector == "├─" else "  " if connector == "└─" else "")
        children = item.children(version)
        if len(children) == 1:
            self._walk(item, children[0], below, "", rows)
            return
        for i, child in enumerate(children):
            self._walk(item, child, below, "└─" if i == len(children) - 1 else "├─", rows)

    def select(self, key: bytes, version: VersionName | None = None) -> None:
        """Put the cursor on an item's row, or on one of its versions, if shown."""
        row = key if version is None else version_row(key, version)
        wanted = [str(k.value) for k in self.rows]
        if row.hex() in wanted:
            self.move_cursor(row=wanted.index(row.hex()))

    def selected(self) -> tuple[bytes, VersionName | None] | None:
        """The selected item's key and version (None: the item's own row), or None."""
        row = self.selected_name()
        return None if row is None else parse_row(row)

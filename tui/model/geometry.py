"""XOR geometry for view 2: the vaults nearest a name, by shared leading bits."""

from __future__ import annotations

import math

from tui.model.records import ChunkInfo, XorBlock, XorRow
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import Name, distance

XOR_ROWS = 12


def xor_blocks(focus: Name, chunks: dict[Name, ChunkInfo], names: list[Name]) -> list[XorBlock]:
    """The focused chunk's three copy names (holders sit near those, not near the chunk's
    own name), or the focused vault's name, each with its nearest vaults."""
    if focus not in chunks:
        return [XorBlock("name", focus, nearest(focus, names, {}, XOR_ROWS))]
    blocks = []
    chunk = chunks[focus]
    for kind in CopyKind:
        copy = copy_name(focus, kind)
        holders = {vault: kind.value for vault in chunk.holders.get(kind.value, [])}
        blocks.append(XorBlock(f"{kind.name.lower()} copy", copy,
                               nearest(copy, names, holders, XOR_ROWS // 2)))
    return blocks


def nearest(target: Name, names: list[Name], holds: dict[Name, str], count: int) -> list[XorRow]:
    """The `count` names nearest `target`, each with the kind of copy it holds (`holds`)."""
    rows = []
    for name in sorted(names, key=lambda n: distance(n, target))[:count]:
        d = distance(name, target)
        rows.append(XorRow(name, len(name) * 8 - d.bit_length(),
                           math.log2(d) if d else 0.0, holds.get(name, "")))
    return rows

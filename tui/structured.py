"""Structured data records as view 6 shows them, read from a testnet the dashboard runs in
process (`vaultnet tui --in-process`, `--record`): the control protocol through which the
dashboard reaches a testnet of its own process, or an attached one, does not carry records
(`vaultnet.control`), so the dashboard shows and changes them only in process."""

from __future__ import annotations

from tui.model import StructuredRow
from vaultnet.runtime.testnet import Testnet

STRUCTURED_SHOWN = 64
"""Records a sample keeps (the first, by name): a screen's worth, and a bounded recording."""


def read_structured(net: Testnet, owner: bytes | None) -> tuple[StructuredRow, ...]:
    """Every record `net` holds (the first STRUCTURED_SHOWN by name), as most of its
    VersionManager group holds it; `owner` is the dashboard client's verify key (its records
    are marked as its own)."""
    rows = []
    for name, views in list(net.structured_records().items())[:STRUCTURED_SHOWN]:
        record = views.held
        assert record is not None  # a member of the group holds it, or it is not listed
        rows.append(StructuredRow(name, record.owner, record.owner == owner, record.version,
                                  len(record.data), views.members,
                                  sum(1 for r in views.views.values() if r == record)))
    return tuple(rows)

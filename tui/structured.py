"""Structured data records as view 6 shows them: the rows of a reading
(`vaultnet.control.reading.RecordReading`, taken in process or by a testnet process for its
control port's `read`), each marked if the dashboard's client owns it."""

from __future__ import annotations

from tui.model import StructuredRow
from vaultnet.control.reading import NetworkReading


def structured_rows(reading: NetworkReading, owner: bytes | None) -> tuple[StructuredRow, ...]:
    """The records `reading` carries (the first STRUCTURED_SHOWN by name, as most of each
    one's VersionManager group holds it); `owner` is the dashboard client's verify key (its
    records are marked as its own)."""
    return tuple(StructuredRow(r.name, r.owner, r.owner == owner, r.version, r.size, r.group,
                               r.holding) for r in reading.records)

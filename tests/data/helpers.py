"""Brute-force checks of what the network holds, computed over all live vaults.

The checks run on the trio thread that also runs the vaults, so each reads every vault's store
once per call, however many chunks it checks: a check that queried every store once per copy
(200 chunks, 600 copies) held the loop for seconds under load, long enough for the vaults' own
timers to see their peers as silent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vaultnet import Testnet
from vaultnet.runtime.inspection import copy_record_views, stored_index
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import Name, closest


def holders(net: Testnet, copy: Name) -> list[Name]:
    return list(stored_index(net).get(copy, ()))


def all_copies_placed(net: Testnet, chunks: Iterable[Name]) -> bool:
    """Every copy of every chunk is held by exactly the configured number of holders, and
    those are the closest vaults to the copy's name."""
    index = stored_index(net)
    names = [v.name for v in net.vaults]
    return all(_placed(index, names, copy_name(chunk, kind), net.parameters.holders_per_copy)
               for chunk in chunks for kind in CopyKind)


def _placed(index: Mapping[Name, tuple[Name, ...]], names: list[Name], copy: Name,
            count: int) -> bool:
    return list(index.get(copy, ())) == sorted(closest(copy, names, count))


def copies_placed(net: Testnet, chunk: Name) -> bool:
    """`all_copies_placed` for one chunk."""
    return all_copies_placed(net, (chunk,))


def copy_records_agreed(net: Testnet, chunk: Name, kind: CopyKind) -> bool:
    """All members of the copy's DataManager group hold the same record of it."""
    return copy_record_views(net, copy_name(chunk, kind)).agreed is not None


def copy_holders_agreed(net: Testnet, copy: Name) -> bool:
    """All members of the copy's DataManager group hold the same holders of it, or none holds
    a record (the rest of the record, such as the order of `failed`, may differ)."""
    views = copy_record_views(net, copy).views.values()
    return len({None if r is None else r.holders for r in views}) == 1


def nothing_stored(net: Testnet, chunk: Name) -> bool:
    return net.holders(chunk).stored_copies == 0

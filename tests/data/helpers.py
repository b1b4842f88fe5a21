"""Brute-force checks of what the network holds, computed over all live vaults."""

from __future__ import annotations

from vaultnet import Testnet
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import Name, closest


def holders(net: Testnet, copy: Name) -> list[Name]:
    return sorted(v.name for v in net.vaults if any(c == copy for c, _, _ in v.stored()))


def copies_placed(net: Testnet, chunk: Name) -> bool:
    """Every copy of `chunk` is held by exactly the configured number of holders, and those are
    the closest vaults to the copy's name."""
    names = [v.name for v in net.vaults]
    for kind in CopyKind:
        copy = copy_name(chunk, kind)
        if holders(net, copy) != sorted(closest(copy, names, net.parameters.holders_per_copy)):
            return False
    return True


def copy_records_agreed(net: Testnet, chunk: Name, kind: CopyKind) -> bool:
    """All members of the copy's DataManager group hold the same record of it."""
    return net.holders(chunk)[kind].records.agreed is not None


def nothing_stored(net: Testnet, chunk: Name) -> bool:
    return net.holders(chunk).stored_copies == 0

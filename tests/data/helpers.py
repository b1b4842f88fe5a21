"""Brute-force checks of what the network holds, computed over all live vaults."""

from __future__ import annotations

from vaultnet import Testnet
from vaultnet.personas.data_manager import HOLDERS_PER_COPY
from vaultnet.store import CopyKind, copy_name
from vaultnet.xor import Name, closest


def holders(net: Testnet, copy: Name) -> list[Name]:
    return sorted(v.name for v in net.vaults if any(c == copy for c, _, _ in v.stored()))


def copies_placed(net: Testnet, chunk: Name) -> bool:
    """Every copy of `chunk` is held by exactly the configured number of holders, and those are
    the closest vaults to the copy's name."""
    names = [v.name for v in net.vaults]
    for kind in CopyKind:
        copy = copy_name(chunk, kind)
        if holders(net, copy) != sorted(closest(copy, names, HOLDERS_PER_COPY)):
            return False
    return True


def group_records_equal(net: Testnet, key: Name, store: str) -> bool:
    """All members of the true close group of `key` hold the same record in `store`."""
    group = set(net.true_close_group(key))
    values = []
    for vault in net.vaults:
        if vault.name in group:
            assert vault.host is not None
            values.append(getattr(vault.host, store).records.get(key))
    return len(values) == len(group) and all(v == values[0] for v in values)


def nothing_stored(net: Testnet, chunk: Name) -> bool:
    return all(not holders(net, copy_name(chunk, kind)) for kind in CopyKind)

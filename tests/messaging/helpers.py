"""Checks of what the MpidManager groups hold, computed over all live vaults."""

from __future__ import annotations

from vaultnet import Testnet
from vaultnet.runtime.inspection import host_of
from vaultnet.xor import Name


def group_holds(net: Testnet, mpid: Name, bodies: list[bytes]) -> bool:
    """Every member of the group holds exactly the messages with `bodies` for `mpid`."""
    held = net.inbox(mpid).views.values()
    return (len(held) == net.parameters.group_size
            and all(sorted(m.body for m in h or ()) == sorted(bodies) for h in held))


def outboxes_empty(net: Testnet) -> bool:
    return all(len(host_of(v).mpid_manager.outbox) == 0 for v in net.vaults)

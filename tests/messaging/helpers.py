"""Checks of what the MpidManager groups hold, computed over all live vaults."""

from __future__ import annotations

from typing import Any

from vaultnet import Testnet
from vaultnet.xor import Name


def held_by_group(net: Testnet, mpid: Name) -> list[list[dict[str, Any]]]:
    """The messages each member of the true close group of `mpid` holds for it."""
    group = set(net.true_close_group(mpid))
    return [v.host.mpid_manager.held(mpid) for v in net.vaults  # type: ignore[union-attr]
            if v.name in group]


def group_holds(net: Testnet, mpid: Name, bodies: list[bytes]) -> bool:
    """Every member of the group holds exactly the messages with `bodies` for `mpid`."""
    held = held_by_group(net, mpid)
    return (len(held) == net.params.group_size
            and all(sorted(m["body"] for m in h) == sorted(bodies) for h in held))


def outboxes_empty(net: Testnet) -> bool:
    return all(len(v.host.mpid_manager.outbox) == 0 for v in net.vaults)  # type: ignore[union-attr]

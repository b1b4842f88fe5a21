"""Fault injection: make one vault misbehave the ways a real network's vaults do.

`Testnet.fault(name, kind)` (and `vaultnet ctl fault`, and the dashboard) apply these:

- `lie`: its PmidNode misreports sizes and answers integrity challenges wrongly;
- `lose`: its PmidNode silently drops every chunk it holds and acknowledges new stores without
  keeping them (a disk that lies about writes);
- `corrupt`: one byte of every chunk it holds is flipped in place (sizes unchanged);
- `silent`: the vault drops everything it receives, stops its keep-alives and neighbour gossip
  and does not try to rejoin (a hung process: its sockets still accept, nothing answers);
- `partition`: (`sim` only) every link between this vault and the others drops everything;
- `heal`: clears lie / lose / silent and any partition. Corrupted or lost bytes stay lost.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from vaultnet.runtime.vault_state import personas_of

if TYPE_CHECKING:
    from vaultnet.runtime.vault import Vault
    from vaultnet.transport.sim import SimNetwork


class Fault(enum.StrEnum):
    """The ways a vault can be made to misbehave (see the module docstring)."""

    LIE = "lie"
    LOSE = "lose"
    CORRUPT = "corrupt"
    SILENT = "silent"
    PARTITION = "partition"
    HEAL = "heal"


class FaultError(Exception):
    """The fault cannot be applied (unknown kind, or not on this transport)."""


def parse_fault(text: str) -> Fault:
    """The fault named by `text` (any case); FaultError naming the choices if none."""
    try:
        return Fault(text.strip().lower())
    except ValueError:
        kinds = ", ".join(f.value for f in Fault)
        raise FaultError(f"unknown fault {text!r} (choose one of {kinds})") from None


def apply_fault(vault: Vault, fault: Fault, others: list[Vault],
                sim: SimNetwork | None) -> None:
    """Make `vault` misbehave as `fault` says. `others` are the rest of the live vaults."""
    host = personas_of(vault)
    if host is None:
        raise FaultError("this vault has no personas to fault")
    node = host.pmid_node
    if fault is Fault.LIE:
        node.lying = True
    elif fault is Fault.LOSE:
        node.losing = True
        for entry in host.chunks.entries():
            host.chunks.delete(entry.copy_name)
    elif fault is Fault.CORRUPT:
        for entry in host.chunks.entries():
            if entry.size:
                host.chunks.corrupt(entry.copy_name)
    elif fault is Fault.SILENT:
        vault.silent = True
    elif fault is Fault.PARTITION:
        if sim is None:
            raise FaultError("partition needs the sim transport")
        sim.partition([vault.address], [v.address for v in others])
    else:
        node.lying = node.losing = vault.silent = False
        if sim is not None:
            sim.heal()

"""Records signed by a given owner, and what the VersionManager groups of a testnet hold."""

from __future__ import annotations

from typing import Any

from vaultnet import Testnet
from vaultnet.identity import Identity
from vaultnet.personas.structured_data import RECORD_NONCE_SIZE, StructuredRecord, signed_bytes
from vaultnet.runtime.vault_state import personas_of
from vaultnet.xor import Name

NONCE = b"\x01" * RECORD_NONCE_SIZE
"""The nonce of the records these tests sign unless they say which (one incarnation)."""


def signed(owner: Identity, name: Name, version: int, data: bytes,
           nonce: bytes = NONCE) -> StructuredRecord:
    """Version `version` of the record `name` (put with `nonce`) holding `data`, signed by
    `owner`."""
    return StructuredRecord(name, owner.verify_key, version, data, nonce,
                            owner.sign(signed_bytes(name, nonce, version, data)))


def member_records(net: Testnet, name: Name) -> list[dict[str, Any] | None]:
    """The record each member of the true close group of `name` stores (None: none)."""
    group = set(net.true_close_group(name))
    records = []
    for vault in net.vaults:
        host = personas_of(vault)
        if vault.name in group and host is not None:
            records.append(host.version_manager.structured.get(name))
    return records


def group_holds(net: Testnet, name: Name, record: StructuredRecord | None) -> bool:
    """Every member of the group of `name` holds `record` (None: none of them holds one)."""
    expected = None if record is None else record.to_record()
    held = member_records(net, name)
    return len(held) == net.parameters.group_size and all(r == expected for r in held)

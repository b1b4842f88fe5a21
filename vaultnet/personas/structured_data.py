"""Structured data: owner-signed mutable records, kept by the VersionManager group of their name.

The original design says the VersionManager persona "is not limited to versions and can be used
for structured data of many types"; so a record lives in the VersionManager group closest to its
64-byte name (a table of its own beside the version trees, `STRUCTURED_TABLE`), is agreed by
sync like a version put, and moves with churn through the same account transfer.

A record (`StructuredRecord`) is its name, its owner's verify key, a version counter (0 when it
is put, one more with each update), its data (at most `MAX_DATA_SIZE` bytes), its nonce (random
bytes the client draws afresh for each put and keeps through the record's updates) and the
owner's signature over (name, nonce, version, data) (`signed_bytes`). Whoever holds the owner's
signing key is the owner: not necessarily the client that sends the request.

Decisions:
* **Flows** mirror the version trees': put, update ("post" in the seed) and delete go from the
  client to its MaidManagers, which refuse what they can tell alone (data over the size limit,
  a record whose signature does not verify with the owner key it names, data over the client's
  allowance) and forward the rest to the VersionManagers of the record's name. Those agree on it
  by sync and decide it against the record they hold: a put of a name that exists is
  DataExists; an update needs the stored owner key, the stored nonce and version == stored
  version + 1 (NotOwner, StaleVersion); a delete needs the owner's signature over (name, stored
  nonce, stored version) (`delete_bytes`; NotOwner, StaleVersion). The answer goes back through
  the MaidManagers, which record it in their firewall (Uf), so a client's retry with the same
  message id gets the recorded answer.
* **The nonce** makes each put of a name a new incarnation: a delete or update signature seen
  on the wire for an earlier record at the name (deleted, then put again, at version 0 again)
  does not verify against (or match) the new record's nonce, so it cannot delete it or set the
  old data on it. A whole earlier record replayed as a put while the name is free is still
  taken (the VersionManagers keep no tombstones): it brings back only what its owner signed.
* **Gets** go straight to the VersionManagers; each member answers from its own copy, the
  client takes the answer a quorum gave and verifies the owner's signature itself (a record
  whose signature does not verify is refused: InvalidSignature), so a group that lies cannot
  forge the owner's data.
* The VersionManagers trust the signature check of their accumulated MaidManager group (as they
  trust its account check of a version put) and check only what needs the stored record.
* **Charging** (`maid_manager.py`): the data of a record is charged to the account of the
  client that sends the put or update (its MaidManagers' account, whatever the owner key), as a
  chunk's content is; only what the VersionManagers stored is charged, and a delete refunds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from vaultnet.identity import SIGNATURE_SIZE, VERIFY_KEY_SIZE, IdentityError, verify
from vaultnet.storage.records import MemoryRecords, Records
from vaultnet.storage.store import RecordStore
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name

MAX_DATA_SIZE = 64 * 1024
"""The most bytes of data one record holds (64 KiB): every member keeps every record of its
group and sends it whole to a newcomer, so a record stays small; larger content goes in chunks
and the record names them."""
MAX_VERSION = (1 << 63) - 1
"""The largest version counter (it is signed as 8 bytes)."""
STRUCTURED_TABLE = "structured_data"
"""The VersionManager's table of records, beside its version trees."""
_SIGNED = b"vaultnet-structured-data"
_DELETE = b"vaultnet-structured-delete"
_FIELDS = {"name", "owner", "version", "data", "nonce", "signature"}
RECORD_NONCE_SIZE = 16
"""Bytes of a record's nonce: drawn at random for each put, so two incarnations of a name never
share one."""


def is_version(value: object) -> TypeGuard[int]:
    """Whether `value` can be a record's version counter (an int in 0..MAX_VERSION)."""
    return type(value) is int and 0 <= value <= MAX_VERSION


def signed_bytes(name: Name, nonce: bytes, version: int, data: bytes) -> bytes:
    """What the owner signs for version `version` of the record `name` (put with `nonce`)
    holding `data`."""
    return _SIGNED + name + nonce + version.to_bytes(8, "big") + data


def delete_bytes(name: Name, nonce: bytes, version: int) -> bytes:
    """What the owner signs to delete the record `name` (put with `nonce`) at version
    `version`: a signature for an older version, or for an earlier record at the name, cannot
    delete this one."""
    return _DELETE + name + nonce + version.to_bytes(8, "big")


def verifies(owner: bytes, signature: bytes, data: bytes) -> bool:
    """Whether `signature` is `owner`'s signature of `data`."""
    try:
        verify(owner, signature, data)
    except IdentityError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class StructuredRecord:
    """One version of an owner-signed mutable record."""

    name: Name
    owner: bytes
    """The owner's verify key: only its signatures update or delete the record."""
    version: int
    data: bytes
    nonce: bytes
    """Drawn at random by the client that put the record; an update keeps it."""
    signature: bytes
    """The owner's signature over `signed_bytes(name, nonce, version, data)`."""

    def signature_ok(self) -> bool:
        """Whether the owner key signed this name, nonce, version and data."""
        return verifies(self.owner, self.signature,
                        signed_bytes(self.name, self.nonce, self.version, self.data))

    def to_record(self) -> dict[str, Any]:
        """The stored and wire form."""
        return {"name": self.name, "owner": self.owner, "version": self.version,
                "data": self.data, "nonce": self.nonce, "signature": self.signature}

    @classmethod
    def from_record(cls, raw: Any) -> StructuredRecord:
        """From a stored record, a peer's transfer or a message: its shape checked (FrameError
        if wrong); the size limit and the signature are checked where they are decided."""
        if not isinstance(raw, dict) or set(raw) != _FIELDS:
            raise FrameError("malformed structured data record")
        name, owner, version = raw["name"], raw["owner"], raw["version"]
        data, nonce, signature = raw["data"], raw["nonce"], raw["signature"]
        if not (isinstance(name, bytes) and len(name) == NAME_SIZE
                and isinstance(owner, bytes) and len(owner) == VERIFY_KEY_SIZE
                and is_version(version)
                and isinstance(data, bytes)
                and isinstance(nonce, bytes) and len(nonce) == RECORD_NONCE_SIZE
                and isinstance(signature, bytes) and len(signature) == SIGNATURE_SIZE):
            raise FrameError("malformed structured data record")
        return cls(name, owner, version, data, nonce, signature)


def structured_store(beside: Records, table: str = STRUCTURED_TABLE) -> Records:
    """The table `table` beside the store `beside` (the VersionManager's records beside its
    version trees, the MaidManager's record charges beside its chunk counts): in the same
    database when that is on disk (so it survives a restart with it), in memory when it is."""
    if isinstance(beside, RecordStore):
        return RecordStore(beside.db, table)
    return MemoryRecords(table)

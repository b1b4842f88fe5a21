"""Structured data: owner-signed mutable records, kept by the VersionManager group of their name.

The original design says the VersionManager persona "is not limited to versions and can be used
for structured data of many types"; so a record lives in the VersionManager group closest to its
64-byte name (a table of its own beside the version trees, `STRUCTURED_TABLE`), is agreed by
sync like a version put, and moves with churn through the same account transfer.

A record (`StructuredRecord`) is its name, its owner's verify key, a version counter (0 when it
is put, one more with each update), its data (at most `MAX_DATA_SIZE` bytes) and the owner's
signature over (name, version, data) (`signed_bytes`). Whoever holds the owner's signing key is
the owner: not necessarily the client that sends the request.

Decisions:
* **Flows** mirror the version trees': put, update ("post" in the seed) and delete go from the
  client to its MaidManagers, which refuse what they can tell alone (data over the size limit,
  a record whose signature does not verify with the owner key it names) and forward the rest to
  the VersionManagers of the record's name. Those agree on it by sync and decide it against the
  record they hold: a put of a name that exists is DataExists; an update needs the stored
  owner key and version == stored version + 1 (NotOwner, StaleVersion); a delete needs the
  owner's signature over (name, stored version) (`delete_bytes`; NotOwner, StaleVersion). The
  answer goes back through the MaidManagers, which record it in their firewall (Uf), so a
  client's retry with the same message id gets the recorded answer.
* **Gets** go straight to the VersionManagers; each member answers from its own copy, the
  client takes the answer a quorum gave and verifies the owner's signature itself (a record
  whose signature does not verify is refused: InvalidSignature), so a group that lies cannot
  forge the owner's data.
* The VersionManagers trust the signature check of their accumulated MaidManager group (as they
  trust its account check of a version put) and check only what needs the stored record.
* Records are not charged to the client's account (this round): the MaidManagers gate them on
  size and signature only.
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
_FIELDS = {"name", "owner", "version", "data", "signature"}


def is_version(value: object) -> TypeGuard[int]:
    """Whether `value` can be a record's version counter (an int in 0..MAX_VERSION)."""
    return type(value) is int and 0 <= value <= MAX_VERSION


def signed_bytes(name: Name, version: int, data: bytes) -> bytes:
    """What the owner signs for version `version` of the record `name` holding `data`."""
    return _SIGNED + name + version.to_bytes(8, "big") + data


def delete_bytes(name: Name, version: int) -> bytes:
    """What the owner signs to delete the record `name` at version `version` (a signature for
    an older version cannot delete a newer one)."""
    return _DELETE + name + version.to_bytes(8, "big")


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
    signature: bytes
    """The owner's signature over `signed_bytes(name, version, data)`."""

    def signature_ok(self) -> bool:
        """Whether the owner key signed this name, version and data."""
        return verifies(self.owner, self.signature,
                        signed_bytes(self.name, self.version, self.data))

    def to_record(self) -> dict[str, Any]:
        """The stored and wire form."""
        return {"name": self.name, "owner": self.owner, "version": self.version,
                "data": self.data, "signature": self.signature}

    @classmethod
    def from_record(cls, raw: Any) -> StructuredRecord:
        """From a stored record, a peer's transfer or a message: its shape checked (FrameError
        if wrong); the size limit and the signature are checked where they are decided."""
        if not isinstance(raw, dict) or set(raw) != _FIELDS:
            raise FrameError("malformed structured data record")
        name, owner, version = raw["name"], raw["owner"], raw["version"]
        data, signature = raw["data"], raw["signature"]
        if not (isinstance(name, bytes) and len(name) == NAME_SIZE
                and isinstance(owner, bytes) and len(owner) == VERIFY_KEY_SIZE
                and is_version(version)
                and isinstance(data, bytes)
                and isinstance(signature, bytes) and len(signature) == SIGNATURE_SIZE):
            raise FrameError("malformed structured data record")
        return cls(name, owner, version, data, signature)


def structured_store(trees: Records) -> Records:
    """The table of records beside the version trees `trees`: in the same database when they
    are on disk (so records survive a restart with the trees), in memory when they are."""
    if isinstance(trees, RecordStore):
        return RecordStore(trees.db, STRUCTURED_TABLE)
    return MemoryRecords(STRUCTURED_TABLE)

"""Typed persona records: frozen dataclasses with one codec to and from the msgpack map a
`RecordStore` keeps in sqlite (`from_record` / `to_record`), so a persona reads and changes a
record by its fields instead of by string keys.

The map's keys are the field names, in field order: a record written from one of these is byte
for byte the map the persona wrote before it had them (members compare records by their
canonical bytes when an account transfers, `vaultnet.personas.account_transfer.agreed_record`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from vaultnet.storage.store import CopyKind
from vaultnet.xor import Name


@dataclass(frozen=True, slots=True)
class Record:
    """Base of a typed record: the codec every record shares."""

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> Self:
        """The record a stored map holds (KeyError for a map missing one of its fields; keys
        that are not fields are ignored)."""
        return cls(**{f.name: raw[f.name] for f in dataclasses.fields(cls)})

    def to_record(self) -> dict[str, Any]:
        """The map to store: field name -> value, in field order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def node_rank(stored: int, lost: int) -> float:
    """Share of the data entrusted to a node that it did not lose: stored / (stored + lost)
    (1.0 for a node that never lost anything, 0.5 for one that lost as much as it holds)."""
    total = stored + lost
    return 1.0 if total == 0 else stored / total


@dataclass(frozen=True, slots=True)
class VaultHealth(Record):
    """A storage node's PmidHealth as its PmidManagers last reported it to a client's
    MaidManagers (GetPMIDHealth): bytes it should hold, bytes it lost, the space it offers."""

    node: Name
    stored: int = 0
    lost: int = 0
    available: int = 0

    @property
    def rank(self) -> float:
        """stored / (stored + lost), as the node's PmidManagers rank it."""
        return node_rank(self.stored, self.lost)

    def to_list(self) -> list[Any]:
        """[node, stored, lost, available]: how it is kept in an account and travels."""
        return [self.node, self.stored, self.lost, self.available]


@dataclass(frozen=True, slots=True)
class MaidAccount(Record):
    """A client's account at its MaidManagers: bytes charged, how many it may use, and the
    vaults it registered (with their last reported health), whose offered space is its
    allowance once it registered one."""

    used: int
    allowance: int
    vaults: tuple[VaultHealth, ...] = ()

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> Self:
        """The record a stored map holds (an account stored before vaults could be registered
        has none)."""
        return cls(raw["used"], raw["allowance"],
                   tuple(VaultHealth(*v) for v in raw.get("vaults", ())))

    def to_record(self) -> dict[str, Any]:
        """The map to store: each vault as [node, stored, lost, available]; an account with
        no vault is the map it always was (used, allowance)."""
        raw: dict[str, Any] = {"used": self.used, "allowance": self.allowance}
        if self.vaults:
            raw["vaults"] = [v.to_list() for v in self.vaults]
        return raw

    def vault(self, node: Name) -> VaultHealth | None:
        """The registered vault `node`, if it is one."""
        return next((v for v in self.vaults if v.node == node), None)


@dataclass(frozen=True, slots=True)
class ChunkPuts(Record):
    """How many times a client put one chunk (a delete refunds `size` when the last goes)."""

    count: int
    size: int


@dataclass(frozen=True, slots=True)
class RecordCharge(Record):
    """What a client's account is charged for one structured data record it wrote: the size of
    its data as the VersionManagers last stored it for this client (a delete refunds it)."""

    size: int


@dataclass(frozen=True, slots=True)
class PmidAccount(Record):
    """A storage node's account at its PmidManagers: bytes it should hold, bytes it lost,
    copies it holds."""

    stored: int = 0
    lost: int = 0
    count: int = 0
    available: int = 0
    """The space the node offers (its capacity, as it reported it: `Action.CAPACITY`)."""

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> Self:
        """The record a stored map holds (one stored before nodes reported their capacity
        offers none)."""
        return cls(raw["stored"], raw["lost"], raw["count"], raw.get("available", 0))

    def to_record(self) -> dict[str, Any]:
        """The map to store: a node that offers nothing known has the map it always had."""
        raw: dict[str, Any] = {"stored": self.stored, "lost": self.lost, "count": self.count}
        if self.available:
            raw["available"] = self.available
        return raw

    @property
    def rank(self) -> float:
        """stored / (stored + lost): a node below the PmidManagers' RANK_FLOOR is refused new
        copies."""
        return node_rank(self.stored, self.lost)


@dataclass(frozen=True, slots=True)
class PmidCopy(Record):
    """One copy a storage node should hold, in its per-chunk account at its PmidManagers
    (keyed node name + copy name): its size (and kind, which the node needs to report a copy
    it lacks), so the account says what the node must hold."""

    kind: CopyKind
    size: int

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> Self:
        """The record a stored map holds (its kind stored as the kind's letter)."""
        return cls(CopyKind(raw["kind"]), raw["size"])


@dataclass(frozen=True, slots=True)
class CopyRecord(Record):
    """A chunk copy's record at its DataManagers: its kind and size, how many puts subscribe
    to it, the vaults holding it, and those that failed it (never chosen again)."""

    kind: CopyKind
    size: int
    subscribers: int
    holders: tuple[Name, ...]
    failed: tuple[Name, ...]
    """Holders removed for failing the copy (refused, evicted, lost): never chosen again."""

    @classmethod
    def from_record(cls, raw: Mapping[str, Any]) -> Self:
        """The record a stored map holds (its kind stored as the kind's letter, its holder
        lists coming back from the store as lists)."""
        return cls(CopyKind(raw["kind"]), raw["size"], raw["subscribers"],
                   tuple(raw["holders"]), tuple(raw["failed"]))


@dataclass(frozen=True, slots=True)
class MpidAccount(Record):
    """A public identity's account at its MpidManagers: who may message it, where its MpidNode
    was last online (an authority's wire form; None: offline, hold), and how many messages it
    holds and has waiting for an answer."""

    whitelist: list[bytes] = dataclasses.field(default_factory=list)
    blacklist: list[bytes] = dataclasses.field(default_factory=list)
    relay: list[Any] | None = None
    inbox: int = 0
    outbox: int = 0


@dataclass(frozen=True, slots=True)
class HeldMessage(Record):
    """A message the recipient's MpidManagers hold until its MpidNode acknowledges it."""

    sender: Name
    mid: bytes
    body: bytes


@dataclass(frozen=True, slots=True)
class OutboxEntry(Record):
    """A sent message waiting at the sender's MpidManagers for the recipient's group's answer,
    with where to pass that answer on."""

    to: Name
    body: bytes
    reply: list[Any]

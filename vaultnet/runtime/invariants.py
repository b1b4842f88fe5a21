"""The network's invariants, checked by brute force over every live vault. Each check returns
the violations it found as typed records (an empty list when the invariant holds), so a test
asserts `== []` and its failure shows what is wrong and where; `Testnet.wait_replicated` and
`Testnet.wait_settled` wait for them with a deadline and name what was still wrong.

- `replication`: every copy of each chunk (3 kinds, see `vaultnet.runtime.inspection`) has a record
  every member of its DataManager group holds alike, naming HOLDERS_PER_COPY live holders, and
  exactly those vaults store it.
- `group_records`: every member of each record's close group holds the same record.
- `holders_match_records`: the vaults storing each recorded copy are the ones its record names.
- `lost`: no acknowledged chunk has become unreachable.
- `version_trees`: every member of each VersionManager group holds the same tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass

from vaultnet.messages import Persona
from vaultnet.personas.data_manager import HOLDERS_PER_COPY
from vaultnet.runtime.inspection import (
    COPY_KINDS,
    GROUP_PERSONAS,
    ChunkHolders,
    CopyHolders,
    Population,
    chunk_holders,
    copy_records,
    data_manager_index,
    intact_on,
    live_chunks,
    record_views,
    stored_counts,
    stored_index,
)
from vaultnet.storage.store import CopyKind, chunk_name_of, copy_name
from vaultnet.xor import Name

SHOWN = 10
"""Violations `describe` lists by name before it only counts the rest: an error message stays
readable when hundreds of chunks are short of a holder."""


def short(name: bytes) -> str:
    """The first 16 hex digits of a name: enough to tell vaults and chunks apart in a message."""
    return name.hex()[:16]


def names(vaults: Iterable[Name]) -> str:
    """A list of vaults for a message."""
    return "[" + ", ".join(short(v) for v in vaults) + "]"


@dataclass(frozen=True)
class Violation:
    """One way the network is not as it should be; str() says what and where."""

    def __str__(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class CopyViolation(Violation):
    """One copy of one chunk is not fully replicated."""

    chunk: Name
    kind: CopyKind


@dataclass(frozen=True)
class CopyNotAgreed(CopyViolation):
    """Members of the copy's DataManager group lack its record or hold different ones."""

    lacking: tuple[Name, ...]
    distinct: int

    def __str__(self) -> str:
        return (f"chunk {short(self.chunk)} {self.kind.name}: DataManagers disagree "
                f"({self.distinct} different records, {len(self.lacking)} members without)")


@dataclass(frozen=True)
class CopyUnderReplicated(CopyViolation):
    """The agreed record does not name exactly HOLDERS_PER_COPY live holders."""

    named: tuple[Name, ...]
    live: tuple[Name, ...]

    def __str__(self) -> str:
        return (f"chunk {short(self.chunk)} {self.kind.name}: the record names "
                f"{len(self.live)} live holders {names(self.live)} of {names(self.named)}")


@dataclass(frozen=True)
class CopyMisplaced(CopyViolation):
    """Other vaults store the copy than the ones its agreed record names."""

    named: tuple[Name, ...]
    stored: tuple[Name, ...]

    def __str__(self) -> str:
        return (f"chunk {short(self.chunk)} {self.kind.name}: stored by {names(self.stored)}, "
                f"the record names {names(self.named)}")


@dataclass(frozen=True)
class RecordsDisagree(Violation):
    """Members of a record's close group hold different values for it (or some none)."""

    table: str
    key: bytes
    lacking: tuple[Name, ...]
    distinct: int

    def __str__(self) -> str:
        return (f"{self.table} record {short(self.key)}: the group holds {self.distinct} "
                f"different values ({len(self.lacking)} members without)")


@dataclass(frozen=True)
class ChunkLost(Violation):
    """An acknowledged chunk no get can reach: no copy's record names a live vault that
    stores it intact."""

    chunk: Name

    def __str__(self) -> str:
        return f"chunk {short(self.chunk)} lost: no recorded live holder stores a copy intact"


def describe(violations: Iterable[Violation], shown: int = SHOWN) -> str:
    """The violations for an error message: the first `shown`, then how many more."""
    found = list(violations)
    text = "; ".join(str(v) for v in found[:shown])
    if len(found) > shown:
        text += f"; and {len(found) - shown} more"
    return text


def copy_violations(holders: ChunkHolders, live: Set[Name],
                    holders_per_copy: int = HOLDERS_PER_COPY) -> list[CopyViolation]:
    """What keeps each copy of one chunk from full replication (sans-IO: over a snapshot)."""
    found: list[CopyViolation] = []
    for kind in COPY_KINDS:
        copy = holders[kind]
        record = copy.records.agreed
        if record is None:
            found.append(CopyNotAgreed(holders.chunk, kind, copy.records.lacking,
                                       copy.records.distinct))
        elif len(record.holders) != holders_per_copy or not set(record.holders) <= live:
            found.append(CopyUnderReplicated(holders.chunk, kind, record.holders,
                                             tuple(h for h in record.holders if h in live)))
        elif copy.stored != copy.recorded:
            found.append(CopyMisplaced(holders.chunk, kind, copy.recorded, copy.stored))
    return found


def replication(net: Population, chunks: Iterable[Name] | None = None) -> list[CopyViolation]:
    """Every copy of each of `chunks` (default: every chunk the DataManagers record) fully
    replicated: an agreed record naming HOLDERS_PER_COPY live holders, stored by exactly them."""
    index, records = stored_index(net), data_manager_index(net)
    live = {v.name for v in net.vaults}
    found: list[CopyViolation] = []
    for chunk in live_chunks(net) if chunks is None else chunks:
        found.extend(copy_violations(chunk_holders(net, chunk, index, records), live))
    return found


def copies_of(chunks: Iterable[Name]) -> list[Name]:
    """The names of every copy of each of `chunks` (what `fully_stored` counts)."""
    return [copy_name(chunk, kind) for chunk in chunks for kind in COPY_KINDS]


def fully_stored(net: Population, copies: Iterable[Name] | None = None) -> bool:
    """Whether each of `copies` (copy names, `copies_of`; default: every copy of each chunk
    the DataManagers record) is on exactly HOLDERS_PER_COPY live vaults: what `replication`
    finds true of every fully replicated copy, counted from the disks alone, so a wait can poll
    it often and check records only once the copies are in place."""
    counts = stored_counts(net)
    return all(counts[copy] == HOLDERS_PER_COPY
               for copy in (copies_of(live_chunks(net)) if copies is None else copies))


def replication_ok(net: Population, chunks: Iterable[Name]) -> bool:
    """Whether `replication` finds nothing wrong: a condition for `Testnet.wait_for`."""
    return not replication(net, chunks)


def group_records(net: Population, personas: tuple[Persona, ...] = GROUP_PERSONAS
                  ) -> list[RecordsDisagree]:
    """Every member of each record's true close group holds the same value, for every record
    of `personas` any live vault keeps (default: every persona keeping group records)."""
    return [RecordsDisagree(table, key, views.lacking, views.distinct)
            for (table, key), views in record_views(net, personas).items()
            if views.distinct != 1]


def groups_agree(net: Population, persona: Persona) -> bool:
    """Whether `group_records` finds nothing wrong in `persona`'s records."""
    return not group_records(net, (persona,))


def holders_match_records(net: Population) -> list[CopyMisplaced]:
    """Exactly the holders each agreed DataManager record names store its copy (copies whose
    members disagree are `group_records`' to report; a record may name fewer than
    HOLDERS_PER_COPY holders when no more vault can take the copy)."""
    index = stored_index(net)
    found = []
    for copy, views in copy_records(net).items():
        record = views.agreed
        named = tuple(sorted(record.holders)) if record is not None else ()
        if record is not None and index.get(copy, ()) != named:
            found.append(CopyMisplaced(chunk_name_of(copy, record.kind), record.kind, named,
                                       index.get(copy, ())))
    return found


def lost(net: Population, acknowledged: Iterable[Name]) -> list[ChunkLost]:
    """No chunk a put acknowledged is lost: for some kind, a member of the copy's DataManager
    group records a live holder whose disk stores the copy intact (what a get reaches)."""
    vaults = {v.name: v for v in net.vaults}
    index, records = stored_index(net), data_manager_index(net)
    return [ChunkLost(chunk) for chunk in acknowledged
            if not any(intact_on(vaults[holder], copy.copy_name, copy.kind)
                       for copy in chunk_holders(net, chunk, index, records).copies.values()
                       for holder in recorded_and_stored(copy))]


def recorded_and_stored(copy: CopyHolders) -> list[Name]:
    """The live vaults storing `copy` that some member of its group records as holders."""
    named = {h for record in copy.records.views.values() if record is not None
             for h in record.holders}
    return [h for h in copy.stored if h in named]


def version_trees(net: Population) -> list[RecordsDisagree]:
    """Every member of each VersionManager group holds the same version trees and structured
    data records (both are that persona's transferred tables)."""
    return group_records(net, (Persona.VERSION_MANAGER,))


def settled(net: Population) -> list[Violation]:
    """What `Testnet.wait_settled` waits for: every group's members hold equal records, and
    the holders of each recorded copy are the ones its record names."""
    return [*group_records(net), *holders_match_records(net)]

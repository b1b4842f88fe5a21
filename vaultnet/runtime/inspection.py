"""Read-only inspection of a running testnet: what each live vault stores on disk and what each
member of a group records, as plain frozen records, so that tests assert on documented facts
instead of reaching into personas' stores (`Testnet.holders`, `.account`, `.rank`, ...).

Copies: every chunk is stored as len(CopyKind) = 3 copies (Primary, Backup, Sacrificial), each under
its own copy name (`vaultnet.storage.store.copy_name`: the chunk's name, its first byte with the top
bit flipped, and its bitwise complement) so that each copy has its own DataManager group; each copy
is held by HOLDERS_PER_COPY = 2 vaults, the closest eligible live vaults to the copy's name. A fully
replicated chunk is therefore COPIES_PER_CHUNK = 6 stored copies. `Vault.stored()` lists copy names;
`vaultnet.storage.store.chunk_name_of(copy, kind)` (or `HeldCopy.chunk` here) maps one back to its
chunk.

Every function reads the live vaults once, synchronously (nothing changes while it runs), and
decides group membership by the testnet's oracle (`Testnet.true_close_group`), not by any
vault's possibly stale view.
"""

from __future__ import annotations

import functools
import itertools
import types
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from vaultnet.client.mpid import MpidMessage
from vaultnet.messages import Persona
from vaultnet.personas.data_manager import HOLDERS_PER_COPY
from vaultnet.personas.records import CopyRecord as CopyRecord  # re-exported: the record
from vaultnet.personas.records import MaidAccount as PersonaMaidAccount
from vaultnet.personas.records import PmidAccount as PmidAccount  # re-exported: the record
from vaultnet.personas.records import VaultHealth
from vaultnet.personas.structured_data import STRUCTURED_TABLE, StructuredRecord
from vaultnet.personas.version_tree import StructuredDataVersions, VersionName
from vaultnet.routing import Parameters
from vaultnet.runtime.vault_state import personas_of
from vaultnet.storage.records import Records
from vaultnet.storage.store import (
    CopyKind,
    Database,
    StoredCopy,
    chunk_name_of,
    copy_name,
    is_content_of,
)
from vaultnet.xor import NAME_SIZE, Name

if TYPE_CHECKING:
    from vaultnet.runtime.host import PersonaHost
    from vaultnet.runtime.vault import Vault



class Population(Protocol):
    """What inspection reads of a testnet (`Testnet` is one): its live vaults, and who truly is
    closest to a name, by the launcher's knowledge of every vault rather than any vault's view."""

    @property
    def vaults(self) -> list[Vault]:
        """The live vaults."""
        ...

    def true_close_group(self, target: Name) -> list[Name]:
        """The group_size live vaults closest to `target`."""
        ...


COPY_KINDS: tuple[CopyKind, ...] = tuple(CopyKind)
"""The kinds of copy every chunk is stored as, in the order the protocol lists them."""
COPIES_PER_CHUNK = len(COPY_KINDS) * HOLDERS_PER_COPY
"""Stored copies of a fully replicated chunk: 3 kinds x 2 holders = 6."""
GROUP_PERSONAS: tuple[Persona, ...] = (Persona.MAID_MANAGER, Persona.DATA_MANAGER,
                                       Persona.PMID_MANAGER, Persona.VERSION_MANAGER,
                                       Persona.MPID_MANAGER)
"""The personas whose records live in a close group and move with churn (every member of the
group holds the same records once the group has settled)."""

T = TypeVar("T")


@dataclass(frozen=True)
class ProtocolParameters:
    """The protocol's numbers, public so that tests assert against them, not against literals."""

    group_size: int
    accumulation_quorum: int
    sync_quorum: int
    copy_kinds: tuple[CopyKind, ...]
    holders_per_copy: int

    @classmethod
    def of(cls, params: Parameters) -> ProtocolParameters:
        """The parameters a testnet built with `params` runs by."""
        return cls(params.group_size, params.accumulation_quorum, params.sync_quorum,
                   COPY_KINDS, HOLDERS_PER_COPY)

    @property
    def copies_per_chunk(self) -> int:
        """Stored copies of a fully replicated chunk (kinds x holders per copy: 6)."""
        return len(self.copy_kinds) * self.holders_per_copy


@dataclass(frozen=True)
class GroupViews(Generic[T]):
    """What each member of the group for `key` holds for it (None: nothing), in group order:
    members may disagree while a change is being agreed or a record is being transferred."""

    key: bytes
    views: Mapping[Name, T | None]

    @property
    def members(self) -> tuple[Name, ...]:
        """The group's members (the true close group of the key's first 64 bytes)."""
        return tuple(self.views)

    @property
    def agreed(self) -> T | None:
        """The record every member holds, or None if one lacks it or two differ."""
        values = list(self.views.values())
        if not values or values[0] is None or any(v != values[0] for v in values[1:]):
            return None
        return values[0]

    @property
    def lacking(self) -> tuple[Name, ...]:
        """Members holding no record for the key."""
        return tuple(m for m, v in self.views.items() if v is None)

    @property
    def distinct(self) -> int:
        """How many different values the members hold (no record counts as one value)."""
        values: list[T | None] = []
        for value in self.views.values():
            if value not in values:
                values.append(value)
        return len(values)


@dataclass(frozen=True)
class CopyHolders:
    """One copy of a chunk: the live vaults storing it on disk, and what each member of its
    DataManager group records about it."""

    kind: CopyKind
    copy_name: Name
    stored: tuple[Name, ...]
    """Live vaults whose disk holds the copy, sorted."""
    records: GroupViews[CopyRecord]

    @property
    def recorded(self) -> tuple[Name, ...]:
        """The holders the group's agreed record names, sorted (none while members disagree)."""
        record = self.records.agreed
        return tuple(sorted(record.holders)) if record is not None else ()


@dataclass(frozen=True)
class ChunkHolders:
    """Every copy of one chunk, by kind (see the module's docstring for the copy counts)."""

    chunk: Name
    copies: Mapping[CopyKind, CopyHolders]

    def __getitem__(self, kind: CopyKind) -> CopyHolders:
        """The copy of this kind: `net.holders(name)[CopyKind.BACKUP].stored`."""
        return self.copies[kind]

    @property
    def stored_copies(self) -> int:
        """Copies on disk over all kinds: COPIES_PER_CHUNK once fully replicated."""
        return sum(len(copy.stored) for copy in self.copies.values())

    @property
    def holders(self) -> frozenset[Name]:
        """Every live vault storing some copy of the chunk."""
        return frozenset(h for copy in self.copies.values() for h in copy.stored)


@dataclass(frozen=True)
class HeldCopy:
    """One copy on one live vault's disk, with the chunk it is a copy of."""

    holder: Name
    copy_name: Name
    kind: CopyKind
    size: int

    @property
    def chunk(self) -> Name:
        """The chunk this is a copy of (the copy-name mapping, undone)."""
        return chunk_name_of(self.copy_name, self.kind)


@dataclass(frozen=True)
class NodeRank(GroupViews[PmidAccount]):
    """A storage node's account as each member of its PmidManager group keeps it."""

    @property
    def node(self) -> Name:
        """The storage node (vault) ranked."""
        return self.key

    @property
    def lowest(self) -> float:
        """The lowest rank any member gives the node (1.0 where no member keeps an account:
        a node that never lost anything)."""
        return min((a.rank for a in self.views.values() if a is not None), default=1.0)


@dataclass(frozen=True)
class MaidAccount:
    """A MaidManager's account of one client: bytes charged, its allowance, how many times it
    put each chunk, and the vaults it registered with their last reported health."""

    used: int
    allowance: int
    chunks: Mapping[Name, int]
    vaults: tuple[VaultHealth, ...] = ()


@dataclass(frozen=True)
class Account(GroupViews[MaidAccount]):
    """A client's account as each member of its MaidManager group keeps it."""

    @property
    def client(self) -> Name:
        """The client (MAID name) the account is for."""
        return self.key

    @property
    def used(self) -> int | None:
        """Bytes charged, if every member says the same (a member without an account says 0,
        as the MaidManager itself does); None while they differ."""
        values = {a.used if a is not None else 0 for a in self.views.values()}
        return values.pop() if len(values) == 1 else None

    @property
    def allowance(self) -> int | None:
        """The allowance, if every member keeping an account says the same (None while they
        differ, or none keeps one: then it is the MaidManagers' default)."""
        values = {a.allowance for a in self.views.values() if a is not None}
        return values.pop() if len(values) == 1 else None


@dataclass(frozen=True)
class VersionTrees(GroupViews[StructuredDataVersions]):
    """A versioned item's tree as each member of its VersionManager group holds it."""

    @property
    def tips(self) -> list[VersionName] | None:
        """The agreed tree's tips (VersionNames, sorted), or None without an agreed tree."""
        tree = self.agreed
        return tree.get() if tree is not None else None


@dataclass(frozen=True)
class StructuredRecords(GroupViews[StructuredRecord]):
    """A structured data record as each member of its VersionManager group holds it."""

    @property
    def held(self) -> StructuredRecord | None:
        """The record most members hold (the first of the most held, in group order), or None
        if no member holds one."""
        records = [r for r in self.views.values() if r is not None]
        return max(records, key=records.count, default=None)


@dataclass(frozen=True)
class Inbox(GroupViews[tuple[MpidMessage, ...]]):
    """The messages held for an MPID as each member of its MpidManager group holds them (an
    empty tuple: none)."""

    @property
    def mpid(self) -> Name:
        """The recipient the messages are held for."""
        return self.key


# -- reading the live vaults ----------------------------------------------------------------------


def optional(convert: Callable[[Any], T], raw: Any | None) -> T | None:
    """`convert(raw)`, or None for a record a member does not keep."""
    return convert(raw) if raw is not None else None


def host_of(vault: Vault) -> PersonaHost:
    """The personas of a live testnet vault (every one has them from its start)."""
    host = personas_of(vault)
    if host is None:
        raise ValueError(f"vault {vault.name.hex()[:16]} runs no personas")
    return host


def group_views(net: Population, key: bytes,
                read: Callable[[PersonaHost], T | None]) -> GroupViews[T]:
    """`read` applied to each member of the true close group of `key`'s first 64 bytes."""
    group = net.true_close_group(key[:NAME_SIZE])
    vaults = {v.name: v for v in net.vaults if v.name in group}
    return GroupViews(key, {m: read(host_of(vaults[m])) for m in group})


class DiskReading(Generic[T]):
    """One reading of each vault's disk, kept until its database is written again
    (`Database.version`): a wait that re-checks every tenth of a simulated second re-reads only
    the vaults written since. What it keeps is shared, so `read` must return it read-only."""

    def __init__(self, read: Callable[[PersonaHost], T]) -> None:
        self._read = read
        self._kept: weakref.WeakKeyDictionary[Database, tuple[int, T]] = (
            weakref.WeakKeyDictionary())

    def __call__(self, host: PersonaHost) -> T:
        """What `read` gives for `host`, read again only if its database changed since."""
        kept = self._kept.get(host.db)
        if kept is not None and kept[0] == host.db.version:
            return kept[1]
        version, value = host.db.version, self._read(host)
        self._kept[host.db] = (version, value)
        return value


_stored_copies: DiskReading[tuple[StoredCopy, ...]] = DiskReading(
    lambda host: tuple(host.chunks.entries()))
"""Every copy on a vault's disk (`ChunkStore.entries`), sorted by copy name."""
_stored_names: DiskReading[tuple[Name, ...]] = DiskReading(
    lambda host: tuple(copy.copy_name for copy in _stored_copies(host)))
"""The names of the copies on a vault's disk (`_stored_copies`)."""
_copy_records: DiskReading[Mapping[bytes, CopyRecord]] = DiskReading(
    lambda host: types.MappingProxyType({copy: CopyRecord.from_record(raw) for copy, raw
                                         in host.data_manager.records.items()}))
"""A vault's DataManager records, copy name -> record."""


def held_copies(net: Population) -> list[HeldCopy]:
    """Every copy on every live vault's disk, sorted by copy name then holder."""
    held = [HeldCopy(v.name, c.copy_name, c.kind, c.size)
            for v in net.vaults for c in _stored_copies(host_of(v))]
    return sorted(held, key=lambda c: (c.copy_name, c.holder))


def stored_index(net: Population) -> dict[Name, tuple[Name, ...]]:
    """Copy name -> the live vaults storing it (sorted): one read of each vault's disk (and
    none of a disk unchanged since the last check), so a check over hundreds of chunks does not
    query every store once per copy."""
    index: dict[Name, list[Name]] = {}
    for vault in sorted(net.vaults, key=lambda v: v.name):
        for copy in _stored_copies(host_of(vault)):
            index.setdefault(copy.copy_name, []).append(vault.name)
    return {copy: tuple(holders) for copy, holders in index.items()}


def stored_counts(net: Population) -> Counter[Name]:
    """Copy name -> how many live vaults store it: what `stored_index` lists, counted without
    building the lists (a check polled every tenth of a second)."""
    return Counter(itertools.chain.from_iterable(_stored_names(host_of(v)) for v in net.vaults))


def copy_record(host: PersonaHost, copy: Name) -> CopyRecord | None:
    """This vault's DataManager record of `copy`, if it keeps one."""
    return optional(CopyRecord.from_record, host.data_manager.records.get(copy))


RecordIndex = Mapping[Name, Mapping[bytes, CopyRecord]]
"""Each live vault's DataManager records, copy name -> record (`data_manager_index`)."""


def data_manager_index(net: Population) -> dict[Name, Mapping[bytes, CopyRecord]]:
    """Every live vault's DataManager records: one read of each vault's table (and none of a
    table unchanged since the last check), so a check over hundreds of chunks does not query
    each member once per copy."""
    return {v.name: _copy_records(host_of(v)) for v in net.vaults}


def copy_record_views(net: Population, copy: Name,
                      records: RecordIndex | None = None) -> GroupViews[CopyRecord]:
    """Each member of the copy's DataManager group: its record of `copy` (read from `records`,
    a `data_manager_index` taken once for many copies, if given)."""
    if records is None:
        return group_views(net, copy, functools.partial(copy_record, copy=copy))
    return GroupViews(copy, {m: records[m].get(copy) for m in net.true_close_group(copy)})


def chunk_holders(net: Population, chunk: Name,
                  index: Mapping[Name, tuple[Name, ...]] | None = None,
                  records: RecordIndex | None = None) -> ChunkHolders:
    """Every copy of `chunk`: who stores it and what its DataManagers record. `index` is a
    `stored_index`, `records` a `data_manager_index`, each taken once for many chunks."""
    index = stored_index(net) if index is None else index
    copies = {}
    for kind in COPY_KINDS:
        copy = copy_name(chunk, kind)
        copies[kind] = CopyHolders(kind, copy, index.get(copy, ()),
                                   copy_record_views(net, copy, records))
    return ChunkHolders(chunk, copies)


def persona_stores(host: PersonaHost, personas: tuple[Persona, ...]) -> Iterator[Records]:
    """The record stores of `personas` that move with churn, on one vault."""
    for persona in personas:
        yield from host.personas[persona].transfer_stores()


def record_views(net: Population, personas: tuple[Persona, ...] = GROUP_PERSONAS
                  ) -> dict[tuple[str, bytes], GroupViews[Any]]:
    """(table, key) -> what each member of the key's true close group holds, for every record
    any live vault keeps in the stores of `personas` (one read of each store)."""
    held: dict[tuple[str, bytes], dict[Name, Any]] = {}
    for vault in net.vaults:
        for store in persona_stores(host_of(vault), personas):
            for key, value in store.items():
                held.setdefault((store.table, key), {})[vault.name] = value
    result: dict[tuple[str, bytes], GroupViews[Any]] = {}
    for (table, key), values in held.items():
        group = net.true_close_group(key[:NAME_SIZE])
        result[(table, key)] = GroupViews(key, {m: values.get(m) for m in group})
    return result


def member_records(net: Population, persona: Persona,
                   convert: Callable[[Any], T], table: str | None = None
                   ) -> dict[bytes, GroupViews[T]]:
    """Key -> each member's record (through `convert`), for every key of `persona` (of its
    store `table`, when it keeps more than one) that some member of the key's true group keeps
    a record of: records left only on vaults outside the group are not counted."""
    result: dict[bytes, GroupViews[T]] = {}
    for (held_in, key), views in record_views(net, (persona,)).items():
        if table is not None and held_in != table:
            continue
        if any(v is not None for v in views.views.values()):
            result[key] = GroupViews(key, {m: optional(convert, v)
                                           for m, v in views.views.items()})
    return result


def copy_records(net: Population) -> dict[Name, GroupViews[CopyRecord]]:
    """Copy name -> its DataManager group's records, for every copy a member records."""
    return member_records(net, Persona.DATA_MANAGER, CopyRecord.from_record)


def live_chunks(net: Population) -> list[Name]:
    """Chunks some copy of which a member of its DataManager group keeps a record of, sorted."""
    chunks = set()
    for copy, views in copy_records(net).items():
        kind = next(r.kind for r in views.views.values() if r is not None)
        chunks.add(chunk_name_of(copy, kind))
    return sorted(chunks)


def intact_on(vault: Vault, copy: Name, kind: CopyKind) -> bool:
    """Whether `vault`'s disk holds `copy` with content that hashes to its chunk's name."""
    content = host_of(vault).chunks.get(copy)
    return content is not None and is_content_of(content, copy, kind)


def node_rank(net: Population, node: Name) -> NodeRank:
    """`node`'s account as each member of its PmidManager group keeps it."""
    views = group_views(net, node, lambda host: optional(
        PmidAccount.from_record, host.pmid_manager.accounts.get(node)))
    return NodeRank(node, views.views)


def node_ranks(net: Population) -> dict[Name, NodeRank]:
    """Every node some member of its PmidManager group keeps an account of."""
    return {node: NodeRank(node, views.views) for node, views in
            member_records(net, Persona.PMID_MANAGER, PmidAccount.from_record,
                           _pmid_accounts_table(net)).items()}


def _pmid_accounts_table(net: Population) -> str | None:
    """The table of the PmidManagers' aggregate accounts (None with no vault to ask)."""
    return next((host_of(v).pmid_manager.accounts.table for v in net.vaults), None)


def node_copies(net: Population, node: Name) -> dict[Name, dict[Name, int]]:
    """`node`'s per-chunk account as each member of its PmidManager group keeps it: member ->
    copy name -> size (read-only)."""
    return {member: dict(host_of(vault).pmid_manager.copies_of(node))
            for vault in net.vaults
            if (member := vault.name) in net.true_close_group(node)}


def maid_account(host: PersonaHost, client: Name) -> MaidAccount | None:
    """One MaidManager's account of `client`, if it keeps one."""
    manager = host.maid_manager
    raw = manager.accounts.get(client)
    if raw is None:
        return None
    chunks = {key[NAME_SIZE:]: entry["count"] for key, entry in manager.chunks.items()
              if key[:NAME_SIZE] == client}
    account = PersonaMaidAccount.from_record(raw)
    return MaidAccount(account.used, account.allowance, chunks, account.vaults)


def client_account(net: Population, client: Name) -> Account:
    """`client`'s account as each member of its MaidManager group keeps it."""
    views = group_views(net, client, functools.partial(maid_account, client=client))
    return Account(client, views.views)


def version_tree(net: Population, key: Name) -> VersionTrees:
    """The version tree at `key` as each member of its VersionManager group holds it."""
    views = group_views(net, key, lambda host: host.version_manager.tree(key))
    return VersionTrees(key, views.views)


def structured_records(net: Population) -> dict[Name, StructuredRecords]:
    """Record name -> each member of its VersionManager group: its structured data record, for
    every record some member of the name's true group holds (sorted by name; records left only
    on vaults outside the group are not counted)."""
    held: dict[Name, StructuredRecords] = {}
    for (table, key), views in record_views(net, (Persona.VERSION_MANAGER,)).items():
        if table == STRUCTURED_TABLE and any(v is not None for v in views.views.values()):
            held[key] = StructuredRecords(key, {
                m: optional(StructuredRecord.from_record, v) for m, v in views.views.items()})
    return dict(sorted(held.items()))


def inbox(net: Population, mpid: Name) -> Inbox:
    """The messages held for `mpid` as each member of its MpidManager group holds them."""
    views = group_views(net, mpid, lambda host: tuple(
        MpidMessage(m.sender, m.mid, m.body) for m in host.mpid_manager.held(mpid)))
    return Inbox(mpid, views.views)


def held_messages(vault: Vault) -> int:
    """Messages `vault` holds until a lookup of their sender's group finishes
    (`Vault.hold_for_group`): a test waits for 0 before judging what was delivered."""
    return vault.held_messages()

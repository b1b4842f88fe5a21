"""One reading of a running testnet for the dashboard: what its views show of the vaults, the
PmidManager accounts, the chunks, version trees and messages it follows and the structured data
records, reduced to plain records, so the same reading is taken in process or by the testnet for
a dashboard in another process (`vaultnet tui`, `vaultnet tui --attach`, through the control
port's `read`).

A reading is bounded whatever the network holds: a row per live vault with its first
HOLDS_SHOWN copies, the accounts (one per node), the first STRUCTURED_SHOWN records by name, and
only the tracked names a `Query` asks about (at most MAX_CHUNKS chunks, MAX_TREES version trees
and MAX_MESSAGES messages). A tree or a record is read as its VersionManager group's majority
copy, so the reading carries one per name, not one per holder.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from vaultnet.identity import VERIFY_KEY_SIZE
from vaultnet.messages import ID_SIZE
from vaultnet.personas.structured_data import is_version
from vaultnet.personas.version_manager import tree_of_record
from vaultnet.personas.version_tree import StructuredDataVersions, VersionName, VersionTreeError
from vaultnet.runtime.testnet import Testnet
from vaultnet.runtime.vault import Vault
from vaultnet.runtime.vault_state import holds_message, pmid_accounts, version_record
from vaultnet.storage.records import encode
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name

HOLDS_SHOWN = 20
"""Copies listed per vault (its totals count every copy)."""
MAX_CHUNKS = 512
"""Chunks a query may ask holders of (the dashboard follows at most 500)."""
MAX_TREES = 64
"""Version trees a query may ask about (the dashboard follows at most 64)."""
MAX_MESSAGES = 64
"""Messages a query may ask holders of (the dashboard samples its newest 50)."""
STRUCTURED_SHOWN = 64
"""Structured data records a reading carries (the first, by name): a screen's worth, and a
bounded answer and recording."""
MESSAGE_KEY_SIZE = 2 * NAME_SIZE + ID_SIZE
"""A held message's key in its managers' inbox: recipient, sender, message id."""


class ReadingError(ValueError):
    """A query or reading record that is not one (wrong shape, type, size or count)."""


@dataclass(frozen=True)
class Query:
    """The names a reading reports on besides the vaults: chunks (their holders), version
    trees (their group's copies) and held messages (their managers)."""

    chunks: tuple[Name, ...] = ()
    trees: tuple[Name, ...] = ()
    messages: tuple[bytes, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The query as msgpack values."""
        return {"chunks": list(self.chunks), "trees": list(self.trees),
                "messages": list(self.messages)}

    @classmethod
    def from_record(cls, record: object) -> Query:
        """The query `to_record` wrote; ReadingError says what is wrong with anything else."""
        if not isinstance(record, dict) or set(record) != {"chunks", "trees", "messages"}:
            raise ReadingError("a query is a map of chunks, trees and messages")
        return cls(_byte_strings(record["chunks"], NAME_SIZE, MAX_CHUNKS, "chunks"),
                   _byte_strings(record["trees"], NAME_SIZE, MAX_TREES, "trees"),
                   _byte_strings(record["messages"], MESSAGE_KEY_SIZE, MAX_MESSAGES, "messages"))


def _byte_strings(value: object, size: int, most: int, what: str) -> tuple[bytes, ...]:
    if (not isinstance(value, list) or len(value) > most
            or not all(isinstance(v, bytes) and len(v) == size for v in value)):
        raise ReadingError(f"{what}: at most {most} names of {size} bytes each")
    return tuple(value)


@dataclass(frozen=True)
class VaultReading:
    """One live vault as its row shows it."""

    name: Name
    stored: int  # bytes, every copy
    copies: dict[str, int]  # "P" / "B" / "S" -> count
    holds: tuple[tuple[Name, str, int], ...]  # (copy, kind, size), the first HOLDS_SHOWN
    messages_in: int
    messages_out: int
    peers: int
    close_group: tuple[Name, ...]  # its own view of the group of its name


@dataclass(frozen=True)
class GroupMember:
    """A member of a versioned item's VersionManager group, and how its tree compares."""

    vault: Name
    state: str  # "agrees", "differs" or "no tree"
    versions: int


@dataclass(frozen=True)
class VersionedState:
    """A tree as most of its group holds it, and how each member's copy compares."""

    parents: tuple[tuple[VersionName, VersionName | None], ...] = ()
    root: VersionName | None = None
    tips: frozenset[VersionName] = frozenset()
    group: tuple[GroupMember, ...] = ()
    strays: tuple[Name, ...] = ()  # vaults outside the group still holding a copy of it


@dataclass(frozen=True)
class RecordReading:
    """A structured data record as most of its VersionManager group holds it, and how many
    members hold that version."""

    name: Name
    owner: bytes  # the owner's verify key
    version: int
    size: int  # bytes of data
    group: tuple[Name, ...]  # its VersionManager group (the vaults nearest its name)
    holding: int  # members of the group holding this version

    def to_record(self) -> list[Any]:
        """The record's row as msgpack values."""
        return [self.name, self.owner, self.version, self.size, list(self.group), self.holding]

    @classmethod
    def from_record(cls, raw: object) -> RecordReading:
        """The row `to_record` wrote; ReadingError says what is wrong with anything else."""
        if not isinstance(raw, list) or len(raw) != 6:
            raise ReadingError("a record row is [name, owner, version, size, group, holding]")
        name, owner, version, size, group, holding = raw
        if not (isinstance(name, bytes) and len(name) == NAME_SIZE
                and isinstance(owner, bytes) and len(owner) == VERIFY_KEY_SIZE
                and is_version(version) and _count(size) and isinstance(group, list)
                and all(isinstance(m, bytes) and len(m) == NAME_SIZE for m in group)
                and _count(holding) and holding <= len(group)):
            raise ReadingError("a record row is [name, owner, version, size, group, holding] "
                               "of a 64-byte name and members, a verify key and counts")
        return cls(name, owner, version, size, tuple(group), holding)


def _count(value: object) -> bool:
    return type(value) is int and value >= 0


@dataclass(frozen=True)
class NetworkReading:
    """What one reading saw: the live vaults (in the testnet's order), each node's account
    as its PmidManagers keep it, the answers to the query and the structured data records
    (the first STRUCTURED_SHOWN by name)."""

    vaults: tuple[VaultReading, ...]
    accounts: tuple[tuple[Name, dict[str, Any]], ...]
    holders: tuple[tuple[Name, dict[str, list[Name]]], ...]  # chunk -> kind -> vaults
    trees: tuple[tuple[Name, VersionedState], ...]
    inboxes: tuple[tuple[bytes, tuple[Name, ...]], ...]  # message key -> managers holding it
    records: tuple[RecordReading, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The reading as msgpack values (the control port's `read` answer)."""
        return {
            "vaults": [[v.name, v.stored, v.copies, [list(h) for h in v.holds], v.messages_in,
                        v.messages_out, v.peers, list(v.close_group)] for v in self.vaults],
            "accounts": [[node, account] for node, account in self.accounts],
            "holders": [[name, holders] for name, holders in self.holders],
            "trees": [[key, state_record(state)] for key, state in self.trees],
            "inboxes": [[key, list(managers)] for key, managers in self.inboxes],
            "records": [r.to_record() for r in self.records],
        }

    @classmethod
    def from_record(cls, record: Any) -> NetworkReading:
        """The reading `to_record` wrote; ReadingError if it is not one."""
        try:
            return cls(
                tuple(VaultReading(name, stored, dict(copies),
                                   tuple((c, k, s) for c, k, s in holds), m_in, m_out, peers,
                                   tuple(group))
                      for name, stored, copies, holds, m_in, m_out, peers, group
                      in record["vaults"]),
                tuple((node, dict(account)) for node, account in record["accounts"]),
                tuple((name, {k: list(v) for k, v in holders.items()})
                      for name, holders in record["holders"]),
                tuple((key, state_from_record(state)) for key, state in record["trees"]),
                tuple((key, tuple(managers)) for key, managers in record["inboxes"]),
                _records(record["records"]))
        except (KeyError, TypeError, ValueError, AttributeError, VersionTreeError) as exc:
            raise ReadingError(f"malformed reading: {exc}") from None


def _records(raw: object) -> tuple[RecordReading, ...]:
    if not isinstance(raw, list) or len(raw) > STRUCTURED_SHOWN:
        raise ReadingError(f"records: a list of at most {STRUCTURED_SHOWN} rows")
    return tuple(RecordReading.from_record(r) for r in raw)


def _version(v: VersionName | None) -> list[Any] | None:
    return None if v is None else v.to_record()


def _unversion(r: Any) -> VersionName | None:
    return None if r is None else VersionName.from_record(r)


def state_record(s: VersionedState) -> list[Any]:
    """A tree's state as msgpack values (dashboard recordings keep it this way too)."""
    return [[[_version(v), _version(p)] for v, p in s.parents], _version(s.root),
            [_version(t) for t in sorted(s.tips)],
            [[m.vault, m.state, m.versions] for m in s.group], list(s.strays)]


def state_from_record(r: Any) -> VersionedState:
    """The tree state `state_record` wrote (KeyError / TypeError / ValueError otherwise)."""
    parents, root, tips, group, strays = r
    return VersionedState(
        tuple((VersionName.from_record(v), _unversion(p)) for v, p in parents),
        _unversion(root), frozenset(VersionName.from_record(t) for t in tips),
        tuple(GroupMember(vault, state, versions) for vault, state, versions in group),
        tuple(strays))


def read_network(net: Testnet, query: Query) -> NetworkReading:
    """Read `net` (reads only, synchronous: the network does not move while it runs)."""
    live = list(net.vaults)
    wanted = {copy_name(chunk, kind): (chunk, kind.value)
              for chunk in query.chunks for kind in CopyKind}
    holders: dict[Name, dict[str, list[Name]]] = {
        chunk: {kind.value: [] for kind in CopyKind} for chunk in query.chunks}
    rows = []
    for vault in live:
        entries = vault.stored()
        for copy, _, _ in entries:
            if copy in wanted:
                chunk, kind = wanted[copy]
                holders[chunk][kind].append(vault.name)
        rows.append(VaultReading(
            vault.name, sum(size for _, _, size in entries),
            dict(Counter(kind for _, kind, _ in entries)), tuple(entries[:HOLDS_SHOWN]),
            vault.messages_in, vault.messages_out, len(vault.routing),
            tuple(vault.close_group(vault.name))))
    return NetworkReading(tuple(rows), tuple(_accounts(live).items()), tuple(holders.items()),
                          tuple((key, _tree(net, live, key)) for key in query.trees),
                          tuple((key, _holding(live, key)) for key in query.messages),
                          _structured(net))


def _structured(net: Testnet) -> tuple[RecordReading, ...]:
    """The first STRUCTURED_SHOWN records by name, each as most of its group holds it."""
    rows = []
    for name, views in list(net.structured_records().items())[:STRUCTURED_SHOWN]:
        record = views.held
        assert record is not None  # a member of the group holds it, or it is not listed
        rows.append(RecordReading(name, record.owner, record.version, len(record.data),
                                  views.members,
                                  sum(1 for r in views.views.values() if r == record)))
    return tuple(rows)


def _accounts(live: list[Vault]) -> dict[Name, dict[str, Any]]:
    """Each node's account as its PmidManager group keeps it (the first member that has
    one; members agree through sync)."""
    accounts: dict[Name, dict[str, Any]] = {}
    for vault in live:
        for node, account in pmid_accounts(vault):
            accounts.setdefault(node, account)
    return accounts


def _tree(net: Testnet, live: list[Vault], key: Name) -> VersionedState:
    """The tree at `key` as every live vault holds it; its group's majority is shown."""
    records: dict[Name, dict[str, Any]] = {}
    for vault in live:
        record = version_record(vault, key)
        if record is not None:
            records[vault.name] = record
    group = net.true_close_group(key)
    encoded = {name: encode(record) for name, record in records.items()}
    votes = Counter(encoded[name] for name in group if name in encoded)
    if not votes:
        votes = Counter(encoded.values())
    majority = votes.most_common(1)[0][0] if votes else None
    trees = {name: _parsed_tree(record) for name, record in records.items()}
    tree = None
    if majority is not None:
        tree = trees[next(n for n, e in encoded.items() if e == majority)]
    return VersionedState(
        parents=() if tree is None else tuple(
            (VersionName.from_record(v), None if p is None else VersionName.from_record(p))
            for v, p in tree.to_record()["versions"]),
        root=None if tree is None else tree.root,
        tips=frozenset() if tree is None else frozenset(tree.get()),
        group=tuple(GroupMember(
            name, "agrees" if encoded.get(name) == majority
            else "no tree" if name not in encoded else "differs",
            len(trees[name] or ()) if name in trees else 0)
            for name in group),
        strays=tuple(sorted(n for n in records if n not in group)))


def _parsed_tree(record: dict[str, Any]) -> StructuredDataVersions | None:
    """A member's stored tree record as its tree (None: malformed, shown as differing)."""
    try:
        return tree_of_record(record)[0]
    except FrameError:
        return None


def _holding(live: list[Vault], key: bytes) -> tuple[Name, ...]:
    """The MpidManagers holding the message at `key` in their inbox."""
    return tuple(sorted(v.name for v in live if holds_message(v, key)))

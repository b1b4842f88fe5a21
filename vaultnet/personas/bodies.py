"""What a message says: each `Action`'s body as a typed record, with one codec for all of them.

A `Message` (`vaultnet.messages`) carries its body as the msgpack map it travels and is signed
as; handlers read it as a record (`msg.typed(HolderPutBody)`) and senders build one
(`group_message(..., HolderPutBody(copy, kind, size), ...)`). `BODIES` says which records an
action may carry (one action can mean different things to different personas: a client's put
and a DataManager's put to a holder's managers). Every field of a record declares how it is
checked on the way in, so a missing or mistyped field, a name of the wrong length or a string
that is not one of its choices is a `FrameError` (the message is dropped, the vault runs on);
`encode` gives exactly the map the network always sent: the fields in declaration order, under
their wire keys, an optional field that is None left out. The codec itself (`Wire`,
`WireRecord`) is in `personas/codec.py`, shared with the sync actions (`personas/actions.py`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Self, TypeVar

from vaultnet.group.sync import DIGEST_SIZE, REFLECTED_PER_KEY
from vaultnet.identity import SIGNATURE_SIZE, VERIFY_KEY_SIZE
from vaultnet.messages import ID_SIZE, Authority, Persona
from vaultnet.personas.codec import Wire, WireRecord
from vaultnet.personas.records import HeldMessage, VaultHealth
from vaultnet.personas.structured_data import MAX_VERSION, StructuredRecord, is_version
from vaultnet.personas.tree_access import MAX_OWNERS, TreeMode
from vaultnet.personas.version_tree import VersionName, VersionTreeError
from vaultnet.protocol import Action, ErrorCode, Op
from vaultnet.storage.store import COPY_KIND_VALUES, CopyKind
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name

NONCE_SIZE = 16
"""Bytes of a challenge's nonce (`Context.nonce`)."""
FAILED_CHECK = "failed integrity check"
LIED = "lied about a size"
"""Why a node's rank dropped when it reported a failed copy with a size other than the copy's
(LIED), or failed an integrity check: the reasons a correction may give."""
KEEP = "keep"
REPLACED = "replaced"
NO_RECORD = "no record"
NO_SUCH_COPY = "no such copy"
VERDICTS = (KEEP, REPLACED, NO_RECORD, NO_SUCH_COPY)
"""A DataManager's answer to a PmidNode asking whether it should still hold a copy: named as a
holder; replaced by other holders; no confirmed, full record (never a reason to drop: the
node's copy may be the one left); no record at all, none being collected either (a reason to
drop only when a quorum says so in a late round: the copy was deleted while the node was
away)."""
GONE_WHILE_AWAY = "replaced or deleted while away"
"""The reason a PmidNode's failure report gives for a copy it deleted because its DataManagers
replaced it, or deleted the copy, while it was away: its PmidManagers take the copy out of its
account and tell no DataManager (they have another holder, or no record)."""
LIMIT_CEILING = 10_000
"""The largest version or branch limit a client may ask a version tree for."""
LIST_CHANGES = ("allow", "disallow", "block", "unblock")
"""What an MpidNode may do to a sender with its white- and blacklist."""


_T = TypeVar("_T")


def _sized(size: int | None) -> Callable[[object], bytes]:
    def read(value: object) -> bytes:
        if not isinstance(value, bytes) or (size is not None and len(value) != size):
            raise ValueError(f"not bytes of size {size}")
        return value

    return read


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("not a non-negative int")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError("not a bool")
    return value


def _mapping(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("not a map")
    return value


NAME = Wire(_sized(NAME_SIZE))
"""A 64-byte name (a copy, a node, a client)."""
ID = Wire(_sized(ID_SIZE))
"""A 16-byte message id another message refers to."""
BLOB = Wire(_sized(None))
"""Bytes of any size: content hashes, nonces, encoded records."""
COUNT = Wire(_count)
"""A non-negative int (a size)."""
FLAG = Wire(lambda value: value is True)
"""A bool that is true only if it says True (absent, or anything else, is False)."""
BOOL = Wire(_bool)
"""A bool that must say so: a verdict members vote on, where only True or False may count."""
MAP = Wire(_mapping)
"""Another message's body, as the map it travels as (a resent message carries it)."""
AUTHORITY = Wire(Authority.from_wire, Authority.to_wire)
"""An `Authority` (whom to answer), as its 4-list on the wire."""


def sized(size: int) -> Wire:
    """Bytes of exactly `size`."""
    return Wire(_sized(size))


def text(*choices: str) -> Wire:
    """A str, one of `choices` if any are given."""
    def read(value: object) -> str:
        if not isinstance(value, str) or (choices and value not in choices):
            raise ValueError(f"not one of {choices}")
        return value

    return Wire(read)


def member(kind: type[enum.Enum]) -> Wire:
    """A member of the enum `kind`, travelling as its value, a str (a str enum's member is
    that str already)."""
    def read(value: object) -> enum.Enum:
        if not isinstance(value, str):
            raise ValueError(f"not a {kind.__name__}")
        return kind(value)

    return Wire(read, lambda member: member if isinstance(member, str) else member.value)


def nullable(wire: Wire) -> Wire:
    """`wire`, or None (nil on the wire)."""
    return Wire(lambda value: None if value is None else wire.read(value),
                lambda value: None if value is None else wire.write(value), wire.key)


def optional(wire: Wire) -> Wire:
    """`wire`, or None: then left out of the map."""
    return replace(wire, absent=True)


def _version(value: object) -> VersionName:
    try:
        return VersionName.from_record(value)
    except VersionTreeError as exc:
        raise ValueError(str(exc)) from None


def _structured(value: object) -> StructuredRecord:
    try:
        return StructuredRecord.from_record(value)
    except FrameError as exc:
        raise ValueError(str(exc)) from None


def _record_version(value: object) -> int:
    if not is_version(value):
        raise ValueError(f"a record's version is an int in 0..{MAX_VERSION}")
    return value


def _limit(value: object) -> int:
    if type(value) is not int or not 1 <= value <= LIMIT_CEILING:
        raise ValueError(f"version limits must be ints in 1..{LIMIT_CEILING}")
    return value


def _held(value: object) -> HeldMessage:
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("a held message is not [sender, mid, body]")
    sender, mid, body = value
    return HeldMessage(_sized(NAME_SIZE)(sender), _sized(ID_SIZE)(mid), _sized(None)(body))


def _list_of(item: Callable[[object], _T], what: str, limit: int | None = None,
             ) -> Callable[[object], list[_T]]:
    def read(value: object) -> list[_T]:
        if not isinstance(value, list) or (limit is not None and len(value) > limit):
            raise ValueError(f"not a list of {what}" + (f" (at most {limit})" if limit else ""))
        try:
            return [item(v) for v in value]
        except ValueError as exc:
            raise ValueError(f"malformed {what}: {exc}") from None

    return read


NAMES = Wire(_list_of(_sized(NAME_SIZE), "names"))
"""A list of 64-byte names."""
REFLECTS = Wire(lambda value: [] if value is None else
                _list_of(_sized(DIGEST_SIZE), "reflected actions", REFLECTED_PER_KEY)(value))
"""The digests of the agreed actions a transferred record reflects (none if left out)."""
HELD = Wire(_list_of(_held, "held messages"),
            lambda held: [[m.sender, m.mid, m.body] for m in held])
"""Messages held for an MpidNode, each as [sender, mid, body]."""
VERSION = Wire(_version, VersionName.to_record)
"""A version of a versioned item, as its record [index, id]."""
VERSIONS = Wire(_list_of(_version, "versions"), lambda versions: [v.to_record() for v in versions])
"""A list of versions, as their records."""
TREE_LIMIT = Wire(_limit)
"""A version tree's limit on its versions or branches."""
LIMIT = nullable(TREE_LIMIT)
"""A version tree's limit a client asks for (None: the default)."""
OWNER_LIST = Wire(_list_of(_sized(NAME_SIZE), "owners", MAX_OWNERS))
"""A shared tree's other owners."""
OWNERS = nullable(OWNER_LIST)
"""A shared tree's other owners (None: none), in the order the client gave them."""
STRUCTURED = Wire(_structured, StructuredRecord.to_record)
"""An owner-signed structured data record, as its map."""
SIGNATURE = Wire(_sized(SIGNATURE_SIZE))
"""A signature (an owner's, over what its field's record says)."""
RECORD_VERSION = Wire(_record_version)
"""A structured data record's version counter (signed as 8 bytes: at most MAX_VERSION)."""


def _health(value: object) -> VaultHealth:
    if not isinstance(value, list) or len(value) != 4:
        raise ValueError("a vault's health is not [node, stored, lost, available]")
    node, stored, lost, available = value
    return VaultHealth(_sized(NAME_SIZE)(node), _count(stored), _count(lost), _count(available))


def _ratio(value: object) -> float:
    if not isinstance(value, float) or not 0.0 <= value <= 1.0:
        raise ValueError("not a float in 0..1")
    return value


MAX_VAULTS = 16
"""The most vaults one client may register (its MaidManager account keeps each with its last
health; a registration past it is refused TooManyVaults)."""
HEALTHS = Wire(_list_of(_health, "vaults' health", MAX_VAULTS),
               lambda healths: [h.to_list() for h in healths])
"""The PmidHealth of a client's registered vaults, each as [node, stored, lost, available]."""
RATIO = Wire(_ratio)
"""A float in 0..1 (a node's rank)."""
REGISTRATION = b"vaultnet-register-vault"
"""What a vault registration's signatures sign, before the client's and the vault's names."""


def registration_bytes(maid: Name, pmid: Name) -> bytes:
    """The bytes the client's MAID key and the vault's PMID key both sign to register the
    vault `pmid` for the client `maid`."""
    return REGISTRATION + maid + pmid


def keyed(wire: Wire, key: str) -> Wire:
    """`wire` under the key `key` (one that is not a good field name)."""
    return replace(wire, key=key)


class Body(WireRecord):
    """The base of every body record: the shared codec (`WireRecord`), decoded only for an
    action that carries it."""

    __slots__ = ()
    FIELD = "body field"

    @classmethod
    def decode(cls, action: Action, raw: Mapping[str, Any]) -> Self:
        """The record in the map `raw` of a message asking `action`; FrameError if `action`
        does not carry this record or a field is missing or malformed."""
        if cls not in BODIES.get(action, ()):
            raise FrameError(f"{action.value!r} does not carry a {cls.__name__}")
        return cls.from_map(raw)


# -- group plumbing every manager persona shares ----------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncBody(Body):
    """A member's vote: the agreed action `data` (canonical bytes) on the record `key`."""

    key: Annotated[Name, keyed(NAME, "k")]
    data: Annotated[bytes, keyed(BLOB, "a")]


@dataclass(frozen=True, slots=True)
class PayloadWantedBody(Body):
    """A recipient's ask for the content of a message our group sent: enough to send the
    message `id` again (its action, recipient and body)."""

    action: Annotated[Action, member(Action)]
    id: Annotated[bytes, ID]
    to: Annotated[Name, NAME]
    persona: Annotated[Persona, member(Persona)]
    group: Annotated[bool, FLAG]
    body: Annotated[dict[str, Any], MAP]


@dataclass(frozen=True, slots=True)
class SynchronisingBody(Body):
    """To a client: its request `action` was accepted and is being agreed on."""

    action: Annotated[Action, member(Action)]


@dataclass(frozen=True, slots=True)
class ExpiredBody(Body):
    """To a client: its request `action` was dated outside the replay window."""

    action: Annotated[Action, member(Action)]
    reason: Annotated[str, text()]


# -- chunks: MaidManager -> DataManager -> PmidManager -> PmidNode ------------------------------


@dataclass(frozen=True, slots=True)
class CopyBody(Body):
    """A message about one copy only: stored, held, fetch (and its answer), delete it."""

    copy: Annotated[Name, NAME]


@dataclass(frozen=True, slots=True)
class RecordCheckBody(Body):
    """A DataManager's holders of `copy` for another member, with the agreed actions its record
    reflects; `ask`: answer with yours (`vaultnet.personas.departure_checks`)."""

    copy: Annotated[Name, NAME]
    holders: Annotated[list[Name], NAMES]
    reflects: Annotated[list[bytes], REFLECTS]
    ask: Annotated[bool, FLAG] = False


@dataclass(frozen=True, slots=True)
class CopyPutBody(Body):
    """A MaidManager group's put of one copy of a client's chunk to the copy's DataManagers."""

    name: Annotated[Name, NAME]
    kind: Annotated[CopyKind, member(CopyKind)]
    size: Annotated[int, COUNT]
    client: Annotated[Name, NAME]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class PutResponseBody(Body):
    """The Primary's DataManagers to the client's MaidManagers: how the put `id` ended."""

    name: Annotated[Name, NAME]
    client: Annotated[Name, NAME]
    reply: Annotated[Authority, AUTHORITY]
    ok: Annotated[bool, FLAG]
    reason: Annotated[str, text()]
    id: Annotated[bytes, ID]
    size: Annotated[int, COUNT]


@dataclass(frozen=True, slots=True)
class HolderPutBody(Body):
    """A copy for a holder: the DataManagers' put to its PmidManagers, their store to it."""

    copy: Annotated[Name, NAME]
    kind: Annotated[CopyKind, member(CopyKind)]
    size: Annotated[int, COUNT]


@dataclass(frozen=True, slots=True)
class NodeFailureBody(Body):
    """A PmidNode to its PmidManagers: it evicted or refused a copy."""

    copy: Annotated[Name, NAME]
    kind: Annotated[CopyKind, member(CopyKind)]
    size: Annotated[int, COUNT]
    reason: Annotated[str, text()]


@dataclass(frozen=True, slots=True)
class HolderFailureBody(Body):
    """A holder's PmidManagers to the copy's DataManagers: the holder failed the copy."""

    holder: Annotated[Name, NAME]
    size: Annotated[int, COUNT]
    reason: Annotated[str, text()]


@dataclass(frozen=True, slots=True)
class CopyDeleteBody(Body):
    """A copy's DataManagers to a holder's PmidManagers: the holder no longer holds it."""

    copy: Annotated[Name, NAME]
    size: Annotated[int, COUNT]


@dataclass(frozen=True, slots=True)
class KindBody(Body):
    """A MaidManager group's delete of the copy of one kind."""

    kind: Annotated[CopyKind, member(CopyKind)]


@dataclass(frozen=True, slots=True)
class CorrectionBody(Body):
    """A copy's DataManagers to a holder's PmidManagers: it reported a size other than the
    copy's, or lost it (reported 0)."""

    copy: Annotated[Name, NAME]
    size: Annotated[int, COUNT]
    reported: Annotated[int, COUNT]
    reason: Annotated[str, text(LIED, FAILED_CHECK)]


@dataclass(frozen=True, slots=True)
class ContentWantedBody(Body):
    """A PmidManager lead to another member: send node the store `id` (its body) with content."""

    id: Annotated[bytes, ID]
    node: Annotated[Name, NAME]
    store: Annotated[dict[str, Any], MAP]


@dataclass(frozen=True, slots=True)
class ReconcileBody(Body):
    """A DataManager to a (re)joined PmidNode: what its record says of the node's copy."""

    copy: Annotated[Name, NAME]
    verdict: Annotated[str, text(*VERDICTS)]


@dataclass(frozen=True, slots=True)
class ExistsBody(Body):
    """A MaidManager group asks the Primary's DataManagers whether it exists (Put<Unique>)."""

    id: Annotated[bytes, ID]


@dataclass(frozen=True, slots=True)
class ExistsAnswerBody(Body):
    """The Primary's DataManagers' answer to `ExistsBody` `id`."""

    id: Annotated[bytes, ID]
    exists: Annotated[bool, FLAG]


@dataclass(frozen=True, slots=True)
class GetResponseBody(Body):
    """A copy's lead to a client: its get's content is the payload, or `reason` why none."""

    copy: Annotated[Name, NAME]
    ok: Annotated[bool, FLAG]
    reason: Annotated[str, text()]


@dataclass(frozen=True, slots=True)
class SiblingFetchBody(Body):
    """A sibling copy's lead asks our group for the content of its copy `copy`."""

    copy: Annotated[Name, keyed(NAME, "for")]


@dataclass(frozen=True, slots=True)
class SiblingContentBody(Body):
    """A sibling copy's lead sends the content of our copy `copy` (its own is `source`)."""

    copy: Annotated[Name, NAME]
    source: Annotated[Name, keyed(NAME, "from")]


@dataclass(frozen=True, slots=True)
class ChallengeBody(Body):
    """A DataManager's integrity check of a holder: hash the copy with `nonce`."""

    copy: Annotated[Name, NAME]
    nonce: Annotated[bytes, BLOB]


@dataclass(frozen=True, slots=True)
class ChallengeResponseBody(Body):
    """A holder's answer to `ChallengeBody` (empty: it does not hold the copy)."""

    copy: Annotated[Name, NAME]
    answer: Annotated[bytes, BLOB]


@dataclass(frozen=True, slots=True)
class IntegrityFailureBody(Body):
    """A holder's auditor to the copy's group: the holder failed its check with `nonce`."""

    op: Annotated[Op, member(Op)]
    holder: Annotated[Name, NAME]
    nonce: Annotated[bytes, sized(NONCE_SIZE)]
    copy: Annotated[Name, NAME]


# -- a client's account: MaidNode <-> MaidManager ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientPutBody(Body):
    """A client's put of the chunk `name` (its content is the payload); `unique`: refused if
    the chunk exists (Put<Unique>), sent only when set."""

    name: Annotated[Name, NAME]
    unique: Annotated[bool | None, optional(FLAG)] = None


@dataclass(frozen=True, slots=True)
class NameBody(Body):
    """A message about one chunk of a client's: its delete, or the answer that its put is
    stored."""

    name: Annotated[Name, NAME]


@dataclass(frozen=True, slots=True)
class PutRefusedBody(Body):
    """To a client: its put of `name` failed, for `reason` (`error` says which refusal)."""

    name: Annotated[Name, NAME]
    reason: Annotated[str, text()]
    error: Annotated[ErrorCode | None, optional(member(ErrorCode))] = None


@dataclass(frozen=True, slots=True)
class DeleteOkBody(Body):
    """To a client: its delete of `name` is done; `held`: its account held the chunk."""

    name: Annotated[Name, NAME]
    held: Annotated[bool, FLAG]


# -- versioned items: MaidNode -> MaidManager -> VersionManager ---------------------------------


@dataclass(frozen=True, slots=True)
class ClientPutVersionBody(Body):
    """A client's put of `version` (its chunk put first) under `parent` in the tree at `key`;
    a put without a parent creates the tree with these limits, mode and owners."""

    key: Annotated[Name, NAME]
    parent: Annotated[VersionName | None, nullable(VERSION)]
    version: Annotated[VersionName, VERSION]
    max_versions: Annotated[int | None, LIMIT]
    max_branches: Annotated[int | None, LIMIT]
    mode: Annotated[TreeMode | None, nullable(member(TreeMode))]
    owners: Annotated[list[Name] | None, OWNERS]


@dataclass(frozen=True, slots=True)
class PutVersionBody(Body):
    """The client's MaidManagers forward its put of a version (`ClientPutVersionBody`) as the
    request `id`, answered through them to `reply`."""

    parent: Annotated[VersionName | None, nullable(VERSION)]
    version: Annotated[VersionName, VERSION]
    max_versions: Annotated[int | None, LIMIT]
    max_branches: Annotated[int | None, LIMIT]
    mode: Annotated[TreeMode | None, nullable(member(TreeMode))]
    owners: Annotated[list[Name] | None, OWNERS]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class KeyBody(Body):
    """A client reads what the VersionManagers keep at `key`: a tree's tips, or a structured
    data record."""

    key: Annotated[Name, NAME]


@dataclass(frozen=True, slots=True)
class BranchBody(Body):
    """A client reads, or deletes, the branch of the tree at `key` from `tip`."""

    key: Annotated[Name, NAME]
    tip: Annotated[VersionName, VERSION]


@dataclass(frozen=True, slots=True)
class DeleteBranchBody(Body):
    """The client's MaidManagers forward its branch delete as the request `id`."""

    tip: Annotated[VersionName, VERSION]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class VersionAnswerBody(Body):
    """To a client: how its version request ended (the versions it asked for or removed,
    or why it was refused)."""

    ok: Annotated[bool, FLAG]
    error: Annotated[ErrorCode | None, optional(member(ErrorCode))] = None
    reason: Annotated[str | None, optional(text())] = None
    removed: Annotated[list[VersionName] | None, optional(VERSIONS)] = None
    versions: Annotated[list[VersionName] | None, optional(VERSIONS)] = None


@dataclass(frozen=True, slots=True)
class VersionResultBody(Body):
    """The VersionManagers' agreed answer to the request `id`, to the client's MaidManagers,
    which pass `answer` (a `VersionAnswerBody` or `StructuredAnswerBody` map) on to `reply`."""

    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]
    answer: Annotated[dict[str, Any], MAP]


# -- structured data: MaidNode -> MaidManager -> VersionManager ---------------------------------


@dataclass(frozen=True, slots=True)
class StructuredBody(Body):
    """A client's put (version 0) or update of `record`, signed by its owner."""

    record: Annotated[StructuredRecord, STRUCTURED]


@dataclass(frozen=True, slots=True)
class StructuredRequestBody(Body):
    """The client's MaidManagers forward its put or update of `record` as the request `id`,
    answered through them to `reply`."""

    record: Annotated[StructuredRecord, STRUCTURED]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class DeleteStructuredBody(Body):
    """A client's delete of the record `name` at `version`, with the owner's `signature` over
    `delete_bytes(name, nonce, version)` (the nonce of the record it deletes)."""

    name: Annotated[Name, NAME]
    version: Annotated[int, RECORD_VERSION]
    signature: Annotated[bytes, SIGNATURE]


@dataclass(frozen=True, slots=True)
class DeleteStructuredRequestBody(Body):
    """The client's MaidManagers forward its delete (`DeleteStructuredBody`) as the request
    `id`, answered through them to `reply`."""

    version: Annotated[int, RECORD_VERSION]
    signature: Annotated[bytes, SIGNATURE]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class StructuredAnswerBody(Body):
    """To a client: how its structured data request ended (the record it read, the version it
    stored, or why it was refused); `deleted`: `record` is the one its delete removed (the
    MaidManagers refund it), sent only when set."""

    ok: Annotated[bool, FLAG]
    error: Annotated[ErrorCode | None, optional(member(ErrorCode))] = None
    reason: Annotated[str | None, optional(text())] = None
    record: Annotated[StructuredRecord | None, optional(STRUCTURED)] = None
    deleted: Annotated[bool | None, optional(FLAG)] = None


# -- account transfer: between members of a group as it changes ---------------------------------


@dataclass(frozen=True, slots=True)
class TransferQueryBody(Body):
    """A newcomer asks a member for its copy of the record `key` in the table `store`."""

    store: Annotated[str, text()]
    key: Annotated[bytes, BLOB]


TRANSFER_BATCH = 64
TRANSFER_BATCH_BYTES = 256 * 1024
"""One transfer message carries at most this many records, of at most this many bytes of keys
and values together (a larger record goes alone): what a member sends a newcomer at a
churn event goes in as few messages as that allows, not one per record (a storage node's
per-chunk account at its PmidManagers is one record per copy it holds)."""


@dataclass(frozen=True, slots=True)
class TransferItem:
    """One record of a transfer: its table, its key and its canonical bytes."""

    store: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class GroupReflects:
    """The agreed actions the transferred records of one group already reflect."""

    group: Name
    reflects: list[bytes]


def _transfer_item(value: object) -> TransferItem:
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("a transferred record is not [store, key, value]")
    store, key, data = value
    if not isinstance(store, str):
        raise ValueError("a transferred record's table is not a str")
    return TransferItem(store, _sized(None)(key), _sized(None)(data))


def _group_reflects(value: object) -> GroupReflects:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("a group's reflected actions are not [group, actions]")
    return GroupReflects(_sized(NAME_SIZE)(value[0]), REFLECTS.read(value[1]))


TRANSFER_ITEMS = Wire(_list_of(_transfer_item, "transferred records", TRANSFER_BATCH),
                      lambda items: [[i.store, i.key, i.value] for i in items])
"""A transfer's records, each as [store, key, value], at most TRANSFER_BATCH."""
GROUPS_REFLECT = Wire(_list_of(_group_reflects, "groups' reflected actions", TRANSFER_BATCH),
                      lambda groups: [[g.group, g.reflects] for g in groups])
"""A transfer's reflected actions, each group's as [group, digests]."""


@dataclass(frozen=True, slots=True)
class TransferBody(Body):
    """A member's copies of records a vault is newly responsible for (each record's table,
    key and canonical bytes), with the agreed actions each group of them already reflects."""

    records: Annotated[list[TransferItem], TRANSFER_ITEMS]
    reflects: Annotated[list[GroupReflects], GROUPS_REFLECT]


# -- messaging: MpidNode <-> MpidManager <-> the recipient's MpidManagers -------------------------


@dataclass(frozen=True, slots=True)
class SendBody(Body):
    """An MpidNode sends `body` to the MPID `to`."""

    to: Annotated[Name, NAME]
    body: Annotated[bytes, BLOB]


@dataclass(frozen=True, slots=True)
class HeldMessageBody(Body):
    """A message `mid` from `sender`: delivered to the recipient's managers, pushed to the
    recipient by them."""

    sender: Annotated[Name, NAME]
    mid: Annotated[bytes, ID]
    body: Annotated[bytes, BLOB]


@dataclass(frozen=True, slots=True)
class AckBody(Body):
    """An MpidNode took the pushed message `mid` from `sender`."""

    sender: Annotated[Name, NAME]
    mid: Annotated[bytes, ID]


@dataclass(frozen=True, slots=True)
class ChangeListBody(Body):
    """An MpidNode allows, disallows, blocks or unblocks the sender `name`."""

    change: Annotated[str, text(*LIST_CHANGES)]
    name: Annotated[Name, NAME]


@dataclass(frozen=True, slots=True)
class DeliveryBody(Body):
    """The recipient `to`'s managers' answer to the delivery of `mid`: held, or refused."""

    ok: Annotated[bool, FLAG]
    to: Annotated[Name, NAME]
    mid: Annotated[bytes, ID]
    error: Annotated[ErrorCode | None, optional(member(ErrorCode))] = None
    reason: Annotated[str | None, optional(text())] = None


@dataclass(frozen=True, slots=True)
class MpidAnswerBody(Body):
    """To an MpidNode: how its request ended (what it asked for, or why it was refused)."""

    ok: Annotated[bool, FLAG]
    error: Annotated[ErrorCode | None, optional(member(ErrorCode))] = None
    reason: Annotated[str | None, optional(text())] = None
    held: Annotated[int | None, optional(COUNT)] = None
    messages: Annotated[list[HeldMessage] | None, optional(HELD)] = None
    whitelist: Annotated[list[Name] | None, optional(NAMES)] = None
    blacklist: Annotated[list[Name] | None, optional(NAMES)] = None


# -- vault registration (MaidManager, PmidManager) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterVaultBody(Body):
    """A client registers the vault whose verify key is `pmid_key`: the client's MAID key
    (`maid_key`) and the vault's PMID key each sign `registration_bytes(maid, pmid)`."""

    maid_key: Annotated[bytes, sized(VERIFY_KEY_SIZE)]
    pmid_key: Annotated[bytes, sized(VERIFY_KEY_SIZE)]
    maid_signature: Annotated[bytes, sized(SIGNATURE_SIZE)]
    pmid_signature: Annotated[bytes, sized(SIGNATURE_SIZE)]


@dataclass(frozen=True, slots=True)
class VaultAnswerBody(Body):
    """To a client: how its vault registration or unregistration ended (`error` and `reason`
    say why it was refused; `reason` on a registration that succeeded: the vault's space is
    not counted yet); `allowance`: its allowance now."""

    ok: Annotated[bool, FLAG]
    allowance: Annotated[int, COUNT]
    error: Annotated[ErrorCode | None, optional(member(ErrorCode))] = None
    reason: Annotated[str | None, optional(text())] = None


@dataclass(frozen=True, slots=True)
class CapacityBody(Body):
    """A PmidNode tells its PmidManagers the space it offers (its capacity, in bytes)."""

    available: Annotated[int, COUNT]


@dataclass(frozen=True, slots=True)
class PmidHealthBody(Body):
    """A node's PmidManagers answer GetPMIDHealth: what it should hold, what it lost, the
    space it offers, and its rank."""

    node: Annotated[Name, NAME]
    stored: Annotated[int, COUNT]
    lost: Annotated[int, COUNT]
    available: Annotated[int, COUNT]
    rank: Annotated[float, RATIO]


@dataclass(frozen=True, slots=True)
class PutOkBody(Body):
    """To a client: its put of `name` is stored; `health`: the PmidHealth of the vaults it
    registered, sent only when it has registered one."""

    name: Annotated[Name, NAME]
    health: Annotated[list[VaultHealth] | None, optional(HEALTHS)] = None


ACCOUNT_PAGE = 64
"""The most copies one SendAccount page names (about 5 KB: a 64-byte name, a kind and a size
each); a node's account goes in as many pages as it needs."""


@dataclass(frozen=True, slots=True)
class AccountEntry:
    """One copy of a SendAccount page: its name, kind and size."""

    copy: Name
    kind: CopyKind
    size: int


def _entry(value: object) -> AccountEntry:
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("an account entry is not [copy, kind, size]")
    copy, kind, size = value
    if kind not in COPY_KIND_VALUES:
        raise ValueError("an account entry's kind is not a copy kind")
    return AccountEntry(_sized(NAME_SIZE)(copy), CopyKind(kind), _count(size))


ACCOUNT_ENTRIES = Wire(_list_of(_entry, "account entries", ACCOUNT_PAGE),
                       lambda entries: [[e.copy, e.kind.value, e.size] for e in entries])
"""A SendAccount page's copies, each as [copy, kind, size], at most ACCOUNT_PAGE."""


@dataclass(frozen=True, slots=True)
class AccountPageBody(Body):
    """PmidManagers to a rejoining PmidNode (SendAccount): the copies it should hold whose
    names follow `after` (None: from the first), in name order; the page covers names up to
    its last entry, or every name after `after` when it is the `last` page."""

    entries: Annotated[list[AccountEntry], ACCOUNT_ENTRIES]
    last: Annotated[bool, FLAG]
    after: Annotated[Name | None, optional(NAME)] = None


@dataclass(frozen=True, slots=True)
class EmptyBody(Body):
    """A message whose action says it all."""


BODIES: Mapping[Action, tuple[type[Body], ...]] = {
    Action.PUT: (ClientPutBody, CopyPutBody, HolderPutBody),
    Action.GET: (EmptyBody,),
    Action.DELETE: (NameBody, KindBody, CopyDeleteBody, CopyBody),
    Action.PUT_VERSION: (ClientPutVersionBody, PutVersionBody),
    Action.DELETE_BRANCH: (BranchBody, DeleteBranchBody),
    Action.GET_VERSIONS: (KeyBody,),
    Action.GET_BRANCH: (BranchBody,),
    Action.PUT_STRUCTURED: (StructuredBody, StructuredRequestBody),
    Action.UPDATE_STRUCTURED: (StructuredBody, StructuredRequestBody),
    Action.DELETE_STRUCTURED: (DeleteStructuredBody, DeleteStructuredRequestBody),
    Action.GET_STRUCTURED: (KeyBody,),
    Action.ONLINE: (EmptyBody,),
    Action.SEND: (SendBody,),
    Action.ACK: (AckBody,),
    Action.CHANGE_LIST: (ChangeListBody,),
    Action.GET_LISTS: (EmptyBody,),
    Action.GET_INBOX: (EmptyBody,),
    Action.PUT_OK: (NameBody, PutOkBody),
    Action.PUT_FAILURE: (PutRefusedBody, NodeFailureBody, HolderFailureBody),
    Action.DELETE_OK: (DeleteOkBody,),
    Action.GET_RESPONSE: (GetResponseBody,),
    Action.VERSION_ANSWER: (VersionAnswerBody,),
    Action.STRUCTURED_ANSWER: (StructuredAnswerBody,),
    Action.MPID_ANSWER: (MpidAnswerBody,),
    Action.MESSAGE: (HeldMessageBody,),
    Action.SYNCHRONISING: (SynchronisingBody,),
    Action.REQUEST_EXPIRED: (ExpiredBody,),
    Action.EXISTS: (ExistsBody,),
    Action.EXISTS_ANSWER: (ExistsAnswerBody,),
    Action.PUT_RESPONSE: (PutResponseBody,),
    Action.VERSION_RESULT: (VersionResultBody,),
    Action.STRUCTURED_RESULT: (VersionResultBody,),
    Action.DELIVER: (HeldMessageBody,),
    Action.DELIVERY: (DeliveryBody,),
    Action.OFFLINE: (EmptyBody,),
    Action.STORE: (HolderPutBody,),
    Action.STORED: (CopyBody,),
    Action.CORRECTION: (CorrectionBody,),
    Action.CONTENT_WANTED: (ContentWantedBody,),
    Action.HOLDING: (CopyBody,),
    Action.RECONCILE: (ReconcileBody,),
    Action.FETCH: (CopyBody,),
    Action.FETCH_RESPONSE: (CopyBody,),
    Action.SIBLING_FETCH: (SiblingFetchBody,),
    Action.SIBLING_CONTENT: (SiblingContentBody,),
    Action.CHALLENGE: (ChallengeBody,),
    Action.CHALLENGE_RESPONSE: (ChallengeResponseBody,),
    Action.INTEGRITY_FAILURE: (IntegrityFailureBody,),
    Action.RECORD_CHECK: (RecordCheckBody,),
    Action.SYNC: (SyncBody,),
    Action.TRANSFER: (TransferBody,),
    Action.TRANSFER_QUERY: (TransferQueryBody,),
    Action.PAYLOAD_WANTED: (PayloadWantedBody,),
    Action.PROBE: (EmptyBody,),
    Action.REGISTER_VAULT: (RegisterVaultBody,),
    Action.UNREGISTER_VAULT: (NameBody,),
    Action.VAULT_ANSWER: (VaultAnswerBody,),
    Action.CAPACITY: (CapacityBody,),
    Action.GET_PMID_HEALTH: (EmptyBody,),
    Action.PMID_HEALTH: (PmidHealthBody,),
    Action.SEND_ACCOUNT: (AccountPageBody,),
}
"""The records each action may carry (every action has its own): `Body.decode` refuses any
other."""

"""What a group's members propose and agree on before committing it (`GroupPersona.propose`):
every sync action as a typed record, in the one field codec bodies use (`personas/codec.py`).

An action's canonical bytes (`to_bytes`: `vaultnet.storage.records.encode` of its map, which
names its op under "op") are what members vote on, compare and hash, and what message ids
derive from: the same bytes the untyped maps always gave. One op can mean different records to
different personas (a DataManager's, a PmidManager's and a MaidManager's put), so each persona
commits one class per op (`@commits(DataPut)`), and an agreed action is decoded into its
persona's class for its op before any commit runs: a malformed one, or an op the persona does
not commit, is a `FrameError` (the vote is dropped, the vault runs on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, ClassVar, Self, TypeVar, cast

from vaultnet.messages import Authority
from vaultnet.personas.bodies import (
    AUTHORITY,
    BLOB,
    BOOL,
    COUNT,
    FAILED_CHECK,
    FLAG,
    ID,
    LIED,
    LIST_CHANGES,
    MAP,
    NAME,
    NAMES,
    NONCE_SIZE,
    OWNER_LIST,
    RECORD_VERSION,
    SIGNATURE,
    STRUCTURED,
    TREE_LIMIT,
    VERSION,
    member,
    nullable,
    optional,
    sized,
    text,
)
from vaultnet.personas.codec import Wire, WireRecord
from vaultnet.personas.record_codec import decode_record
from vaultnet.personas.structured_data import StructuredRecord
from vaultnet.personas.tree_access import TreeMode
from vaultnet.personas.version_tree import VersionName
from vaultnet.protocol import ErrorCode, Op
from vaultnet.storage.records import encode
from vaultnet.storage.store import CopyKind
from vaultnet.wire import FrameError
from vaultnet.xor import Name

CONTEST_ROUND = "round"
"""The key of a contested action's round (see `ContestedAction`)."""

_R = TypeVar("_R", bound=WireRecord)


class SyncAction(WireRecord):
    """The base of every sync action: the op it is committed with (`OP`) and its canonical
    bytes, the map of its fields with its op under "op"."""

    __slots__ = ()
    OP: ClassVar[Op]
    """The op every member commits this action with (its persona's `COMMITS` entry)."""
    FIELD = "action field"

    def encode(self) -> dict[str, Any]:
        """The map this action is agreed as: its op and its fields."""
        return {"op": self.OP, **super().encode()}

    def to_bytes(self) -> bytes:
        """The canonical bytes members vote on and compare."""
        return encode(self.encode())


class ContestedAction(SyncAction):
    """An action carrying a choice made from a member's own view (a new copy's holders), which
    members may split on: voted in rounds (`round`, None when it is not contested) of the
    ballot `id` (see `GroupPersona.propose_contested`)."""

    __slots__ = ()
    id: bytes
    round: int | None

    def in_round(self, round_: int) -> Self:
        """The same choice as a vote in round `round_`."""
        return cast(Self, replace(cast(Any, self), round=round_))

    def choice(self) -> bytes:
        """The action's bytes without its round: what votes in different rounds compare."""
        return encode({k: v for k, v in self.encode().items() if k != CONTEST_ROUND})


def read_action(data: bytes, action_of: Callable[[Op], type[SyncAction]]) -> SyncAction:
    """The agreed action `data` as the class `action_of` gives for its op (which raises
    FrameError for an op it has none for); FrameError if it is not a map, names no op, or a
    field is missing or malformed, or if it has a round but is no contested action in a round
    (`ContestedAction`)."""
    raw = decode_record(data)
    action = action_of(Op.decode(raw.get("op"))).from_map(raw)
    if CONTEST_ROUND in raw and not (isinstance(action, ContestedAction)
                                     and action.round is not None):
        raise FrameError("contested sync action without its round and ballot")
    return action


def _nested(record: type[_R]) -> Wire:
    """A field that is another record, travelling as its map."""
    return Wire(lambda value: record.from_map(MAP.read(value)), lambda value: value.encode())


# -- DataManager (data_manager.py, integrity.py) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class DataPut(ContestedAction):
    """A MaidManager group's put of one copy: a subscriber more, or (with `holders`, contested
    in `round`) the new copy's record. `id` is the put's message id (the ballot), `origin` the
    client's request it answers through the MaidManagers `mm` to `reply`."""

    OP: ClassVar[Op] = Op.PUT
    kind: Annotated[CopyKind, member(CopyKind)]
    size: Annotated[int, COUNT]
    id: Annotated[bytes, ID]
    origin: Annotated[bytes, ID]
    client: Annotated[Name, NAME]
    reply: Annotated[Authority, AUTHORITY]
    mm: Annotated[Name, NAME]
    holders: Annotated[list[Name] | None, optional(NAMES)] = None
    round: Annotated[int | None, optional(COUNT)] = None


@dataclass(frozen=True, slots=True)
class RemoveHolder(SyncAction):
    """A holder failed the copy (its PmidManagers said so, with the size it `reported`):
    remove it for `reason` and replace it."""

    OP: ClassVar[Op] = Op.REMOVE_PMID
    holder: Annotated[Name, NAME]
    reported: Annotated[int, COUNT]
    reason: Annotated[str, text()]
    id: Annotated[bytes, ID]


@dataclass(frozen=True, slots=True)
class Unsubscribe(SyncAction):
    """A MaidManager group's delete `id` of the copy: one subscriber less."""

    OP: ClassVar[Op] = Op.UNSUBSCRIBE
    id: Annotated[bytes, ID]


@dataclass(frozen=True, slots=True)
class IntegrityFailed(SyncAction):
    """A member's own integrity check of `holder` with `nonce` failed: remove it."""

    OP: ClassVar[Op] = Op.INTEGRITY_FAILED
    holder: Annotated[Name, NAME]
    nonce: Annotated[bytes, sized(NONCE_SIZE)]


# -- MaidManager ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaidPut(SyncAction):
    """A client's put `id` of the chunk `name`: charge `size` to its account, answer `reply`."""

    OP: ClassVar[Op] = Op.PUT
    name: Annotated[Name, NAME]
    size: Annotated[int, COUNT]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class MaidDelete(SyncAction):
    """A client's delete `id` of the chunk `name`: uncount and refund it, answer `reply`."""

    OP: ClassVar[Op] = Op.DELETE
    name: Annotated[Name, NAME]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class MaidRegister(SyncAction):
    """A client's registration `id` of the vault `node` (both signatures checked): keep it in
    the account, ask its PmidManagers for its health, answer `reply`."""

    OP: ClassVar[Op] = Op.REGISTER_VAULT
    node: Annotated[Name, NAME]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class MaidUnregister(SyncAction):
    """A client's unregistration `id` of the vault `node`: drop it from the account, answer
    `reply`."""

    OP: ClassVar[Op] = Op.UNREGISTER_VAULT
    node: Annotated[Name, NAME]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class MaidHealth(SyncAction):
    """The registered vault `node`'s PmidManagers answered GetPMIDHealth (`id`): keep its
    health, and the allowance its offered space gives."""

    OP: ClassVar[Op] = Op.HEALTH
    node: Annotated[Name, NAME]
    stored: Annotated[int, COUNT]
    lost: Annotated[int, COUNT]
    available: Annotated[int, COUNT]
    id: Annotated[bytes, ID]


@dataclass(frozen=True, slots=True)
class MaidRecordCharge(SyncAction):
    """The VersionManagers stored (or deleted: `size` 0) the client's record `name` for its
    request `id`: the account is charged `size` bytes for it from now on, in place of what it
    was charged for the name before."""

    OP: ClassVar[Op] = Op.RECORD_CHARGE
    name: Annotated[Name, NAME]
    size: Annotated[int, COUNT]
    id: Annotated[bytes, ID]


# -- PmidManager ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PmidPut(ContestedAction):
    """A copy's DataManagers' put `id` of `copy` to the node: charge and store it, or refuse
    it if the node is ranked below the floor (`refused`), a verdict contested in `round` of
    the ballot `id` (each member judges the rank by its own copy of the account)."""

    OP: ClassVar[Op] = Op.PUT
    copy: Annotated[Name, NAME]
    kind: Annotated[CopyKind, member(CopyKind)]
    size: Annotated[int, COUNT]
    id: Annotated[bytes, ID]
    refused: Annotated[bool, BOOL] = False
    round: Annotated[int | None, optional(COUNT)] = None


@dataclass(frozen=True, slots=True)
class PmidDelete(SyncAction):
    """A copy's DataManagers' delete `id` of `copy` from the node: take it out of its account."""

    OP: ClassVar[Op] = Op.DELETE
    copy: Annotated[Name, NAME]
    size: Annotated[int, COUNT]
    id: Annotated[bytes, ID]


@dataclass(frozen=True, slots=True)
class PmidFailed(SyncAction):
    """The node's own report `id`: it evicted or refused `copy`, for `reason`."""

    OP: ClassVar[Op] = Op.FAILED
    copy: Annotated[Name, NAME]
    size: Annotated[int, COUNT]
    reason: Annotated[str, text()]
    id: Annotated[bytes, ID]


@dataclass(frozen=True, slots=True)
class PmidCorrect(SyncAction):
    """A copy's DataManagers' correction `id`: the node reported `reported` for `copy` of
    `size` (a lie), or failed an integrity check (Lose: the copy is lost)."""

    OP: ClassVar[Op] = Op.CORRECT
    size: Annotated[int, COUNT]
    reported: Annotated[int, COUNT]
    reason: Annotated[str, text(LIED, FAILED_CHECK)]
    id: Annotated[bytes, ID]
    copy: Annotated[Name | None, optional(NAME)] = None


@dataclass(frozen=True, slots=True)
class PmidCapacity(SyncAction):
    """The node's own report `id`: it offers `available` bytes."""

    OP: ClassVar[Op] = Op.CAPACITY
    available: Annotated[int, COUNT]
    id: Annotated[bytes, ID]


# -- VersionManager ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PutVersion(SyncAction):
    """A client's put `id` of `version` under `parent` (a tree created with these limits,
    mode and owners when there is no parent), answered to `reply`."""

    OP: ClassVar[Op] = Op.PUT_VERSION
    parent: Annotated[VersionName | None, nullable(VERSION)]
    version: Annotated[VersionName, VERSION]
    max_versions: Annotated[int, TREE_LIMIT]
    max_branches: Annotated[int, TREE_LIMIT]
    mode: Annotated[TreeMode, member(TreeMode)]
    owners: Annotated[list[Name], OWNER_LIST]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class DeleteBranch(SyncAction):
    """A client's delete `id` of the branch ending at `tip`, answered to `reply`."""

    OP: ClassVar[Op] = Op.DELETE_BRANCH
    tip: Annotated[VersionName, VERSION]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


# -- VersionManager: structured data (structured_data.py) -------------------------------------


@dataclass(frozen=True, slots=True)
class PutStructured(SyncAction):
    """A client's put `id` of `record` (version 0, its signature checked by the MaidManagers),
    answered to `reply`."""

    OP: ClassVar[Op] = Op.PUT_STRUCTURED
    record: Annotated[StructuredRecord, STRUCTURED]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class UpdateStructured(SyncAction):
    """A client's update `id` to `record` (its signature checked by the MaidManagers),
    answered to `reply`."""

    OP: ClassVar[Op] = Op.UPDATE_STRUCTURED
    record: Annotated[StructuredRecord, STRUCTURED]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class DeleteStructured(SyncAction):
    """A client's delete `id` of the record at `version`, with the owner's `signature`,
    answered to `reply`."""

    OP: ClassVar[Op] = Op.DELETE_STRUCTURED
    version: Annotated[int, RECORD_VERSION]
    signature: Annotated[bytes, SIGNATURE]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


# -- MpidManager ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MpidSend(SyncAction):
    """An MpidNode's send `id` of `body` to the MPID `to`, answered to `reply`."""

    OP: ClassVar[Op] = Op.SEND
    to: Annotated[Name, NAME]
    body: Annotated[bytes, BLOB]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class MpidOnline(SyncAction):
    """An MpidNode's request `id`: it is online where `reply` says."""

    OP: ClassVar[Op] = Op.ONLINE
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class MpidOffline(SyncAction):
    """The vault `relay` the MpidNode was online through lost its connection."""

    OP: ClassVar[Op] = Op.OFFLINE
    relay: Annotated[Name, NAME]


@dataclass(frozen=True, slots=True)
class MpidAck(SyncAction):
    """The MpidNode took the pushed message `mid` from `sender`."""

    OP: ClassVar[Op] = Op.ACK
    sender: Annotated[Name, NAME]
    mid: Annotated[bytes, ID]


@dataclass(frozen=True, slots=True)
class MpidChangeList(SyncAction):
    """An MpidNode's request `id` to allow, disallow, block or unblock `name`."""

    OP: ClassVar[Op] = Op.CHANGE_LIST
    change: Annotated[str, text(*LIST_CHANGES)]
    name: Annotated[Name, NAME]
    id: Annotated[bytes, ID]
    reply: Annotated[Authority, AUTHORITY]


@dataclass(frozen=True, slots=True)
class MpidDeliver(SyncAction):
    """The sender's managers deliver the message `mid` from `sender` to our MPID."""

    OP: ClassVar[Op] = Op.DELIVER
    sender: Annotated[Name, NAME]
    mid: Annotated[bytes, ID]
    body: Annotated[bytes, BLOB]


@dataclass(frozen=True, slots=True)
class DeliveryAnswer(WireRecord):
    """The recipient's managers' answer to a delivery, as `MpidDelivered` carries it (its
    `error` and `reason` nil when it was held)."""

    FIELD = "answer field"
    ok: Annotated[bool, FLAG]
    error: Annotated[ErrorCode | None, nullable(member(ErrorCode))]
    reason: Annotated[str | None, nullable(text())]


@dataclass(frozen=True, slots=True)
class MpidDelivered(SyncAction):
    """The recipient's managers answered the delivery of `mid`: clear it, pass `answer` on."""

    OP: ClassVar[Op] = Op.DELIVERED
    mid: Annotated[bytes, ID]
    answer: Annotated[DeliveryAnswer, _nested(DeliveryAnswer)]

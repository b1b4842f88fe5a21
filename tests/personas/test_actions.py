"""Sync actions as typed records: every action round-trips through its canonical bytes unchanged,
encodes to exactly the map the personas proposed before actions were typed (members compare and
hash these bytes, and message ids derive from them), and a malformed one (another op, a missing
field, a name of the wrong length) is a FrameError when it is decoded, so it never reaches a
commit. Each persona's `COMMITS` table holds exactly the actions it proposes."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import types
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from tests.personas.helpers import GROUP, MEMBERS, PARAMS, Ctx
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas import (
    actions,
    data_manager,
    integrity,
    maid_manager,
    mpid_manager,
    pmid_manager,
    structured_keeper,
    version_manager,
)
from vaultnet.personas.actions import (
    ContestedAction,
    DataPut,
    DeleteBranch,
    DeleteStructured,
    DeliveryAnswer,
    IntegrityFailed,
    MaidDelete,
    MaidHealth,
    MaidPut,
    MaidRecordCharge,
    MaidRegister,
    MaidUnregister,
    MpidAck,
    MpidChangeList,
    MpidDeliver,
    MpidDelivered,
    MpidOffline,
    MpidOnline,
    MpidSend,
    PmidCapacity,
    PmidCorrect,
    PmidDelete,
    PmidFailed,
    PmidPut,
    PutStructured,
    PutVersion,
    RemoveHolder,
    SyncAction,
    Unsubscribe,
    UpdateStructured,
)
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.bodies import FAILED_CHECK, LIED
from vaultnet.personas.data_manager import DataManager
from vaultnet.personas.dispatch import commits
from vaultnet.personas.effects import Outbox
from vaultnet.personas.maid_manager import MaidManager
from vaultnet.personas.mpid_manager import MpidManager
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.personas.structured_data import StructuredRecord
from vaultnet.personas.tree_access import TreeMode
from vaultnet.personas.version_manager import VersionManager
from vaultnet.personas.version_tree import VersionName
from vaultnet.protocol import Action, ErrorCode, Op
from vaultnet.storage.records import MemoryRecords, encode
from vaultnet.storage.store import CopyKind
from vaultnet.wire import FrameError

N1, N2 = b"\x01" * 64, b"\x02" * 64
ID, ID2 = b"\x03" * 16, b"\x04" * 16
REPLY = Authority(N1, Persona.MAID_NODE, relay=N2)
V0, V1 = VersionName(0, N1), VersionName(1, N2)
RECORD = StructuredRecord(N1, b"\x05" * 32, 3, b"data", b"\x07" * 16, b"\x06" * 64)


def personas() -> dict[type[GroupPersona], GroupPersona]:
    """One of each persona that commits sync actions, over memory stores."""
    def store(name: str) -> MemoryRecords:
        return MemoryRecords(name)

    return {
        DataManager: DataManager(PARAMS, store("records")),
        MaidManager: MaidManager(PARAMS, store("accounts"), store("chunks")),
        PmidManager: PmidManager(PARAMS, store("accounts")),
        VersionManager: VersionManager(PARAMS, store("trees")),
        MpidManager: MpidManager(PARAMS, store("accounts"), store("inbox"), store("outbox")),
    }


SAMPLES: list[tuple[type[GroupPersona], SyncAction]] = [
    (DataManager, DataPut(CopyKind.PRIMARY, 7, ID, ID2, N1, REPLY, N2)),
    (DataManager, DataPut(CopyKind.BACKUP, 7, ID, ID2, N1, REPLY, N2, [N1, N2], 0)),
    (DataManager, RemoveHolder(N1, 7, "full (0 bytes free)", ID)),
    (DataManager, Unsubscribe(ID)),
    (DataManager, IntegrityFailed(N1, ID)),
    (MaidManager, MaidPut(N1, 7, ID, REPLY)),
    (MaidManager, MaidDelete(N1, ID, REPLY)),
    (MaidManager, MaidRegister(N2, ID, REPLY)),
    (MaidManager, MaidUnregister(N2, ID, REPLY)),
    (MaidManager, MaidHealth(N2, 7, 1, 1 << 30, ID)),
    (MaidManager, MaidRecordCharge(N1, 7, ID)),
    (PmidManager, PmidPut(N1, CopyKind.SACRIFICIAL, 7, ID)),
    (PmidManager, PmidPut(N1, CopyKind.BACKUP, 7, ID, True, 0)),
    (PmidManager, PmidDelete(N1, 7, ID)),
    (PmidManager, PmidFailed(N1, 7, "evicted", ID)),
    (PmidManager, PmidCorrect(7, 9, LIED, ID)),
    (PmidManager, PmidCapacity(1 << 30, ID)),
    (VersionManager, PutVersion(None, V0, 100, 10, TreeMode.PUBLIC, [], ID, REPLY)),
    (VersionManager, PutVersion(V0, V1, 5, 2, TreeMode.SHARED, [N1, N2], ID, REPLY)),
    (VersionManager, DeleteBranch(V1, ID, REPLY)),
    (VersionManager, PutStructured(RECORD, ID, REPLY)),
    (VersionManager, UpdateStructured(RECORD, ID, REPLY)),
    (VersionManager, DeleteStructured(3, b"\x06" * 64, ID, REPLY)),
    (MpidManager, MpidSend(N1, b"hello", ID, REPLY)),
    (MpidManager, MpidOnline(ID, REPLY)),
    (MpidManager, MpidOffline(N1)),
    (MpidManager, MpidAck(N1, ID)),
    (MpidManager, MpidChangeList("block", N1, ID, REPLY)),
    (MpidManager, MpidDeliver(N1, ID, b"hello")),
    (MpidManager, MpidDelivered(ID, DeliveryAnswer(True, None, None))),
    (MpidManager, MpidDelivered(ID, DeliveryAnswer(False, ErrorCode.BLOCKED, "blacklisted"))),
]
IDS = [f"{persona.__name__}-{type(action).__name__}" for persona, action in SAMPLES]
ACTION_CLASSES = {cls for _, cls in inspect.getmembers(actions, inspect.isclass)
                  if issubclass(cls, SyncAction) and dataclasses.is_dataclass(cls)}


def test_every_action_class_is_sampled() -> None:
    assert {type(action) for _, action in SAMPLES} == ACTION_CLASSES


@pytest.mark.parametrize(("persona", "action"), SAMPLES, ids=IDS)
def test_round_trip(persona: type[GroupPersona], action: SyncAction) -> None:
    assert type(action).from_map(action.encode()) == action
    assert personas()[persona].decode_action(action.to_bytes()) == action


def test_encodes_the_maps_the_personas_always_proposed() -> None:
    """The literal maps the personas built before actions were typed: the same bytes."""
    reply = REPLY.to_wire()
    sent: list[tuple[SyncAction, dict[str, Any]]] = [
        (DataPut(CopyKind.PRIMARY, 7, ID, ID2, N1, REPLY, N2),
         {"op": Op.PUT, "kind": "P", "size": 7, "id": ID, "origin": ID2, "client": N1,
          "reply": reply, "mm": N2}),
        (DataPut(CopyKind.BACKUP, 7, ID, ID2, N1, REPLY, N2, [N1, N2], 0),
         {"op": Op.PUT, "kind": "B", "size": 7, "id": ID, "origin": ID2, "client": N1,
          "reply": reply, "mm": N2, "holders": [N1, N2], "round": 0}),
        (RemoveHolder(N1, 7, "evicted", ID),
         {"op": Op.REMOVE_PMID, "holder": N1, "reported": 7, "reason": "evicted", "id": ID}),
        (Unsubscribe(ID), {"op": Op.UNSUBSCRIBE, "id": ID}),
        (IntegrityFailed(N1, ID), {"op": "integrity_failed", "holder": N1, "nonce": ID}),
        (MaidPut(N1, 7, ID, REPLY), {"op": Op.PUT, "name": N1, "size": 7, "id": ID,
                                     "reply": reply}),
        (PmidPut(N1, CopyKind.SACRIFICIAL, 7, ID, True, 0),  # the floor's verdict since
         {"op": Op.PUT, "copy": N1, "kind": "S", "size": 7, "id": ID,  # 2026-12-08
          "refused": True, "round": 0}),
        (PmidCorrect(7, 0, FAILED_CHECK, ID),
         {"op": Op.CORRECT, "size": 7, "reported": 0, "reason": FAILED_CHECK, "id": ID}),
        (PutVersion(None, V0, 100, 10, TreeMode.PUBLIC, [], ID, REPLY),
         {"op": Op.PUT_VERSION, "parent": None, "version": [0, N1], "max_versions": 100,
          "max_branches": 10, "mode": "public", "owners": [], "id": ID, "reply": reply}),
        (DeleteBranch(V1, ID, REPLY),
         {"op": Op.DELETE_BRANCH, "tip": [1, N2], "id": ID, "reply": reply}),
        (MpidOnline(ID, REPLY), {"op": Op.ONLINE, "id": ID, "reply": reply}),
        (MpidOffline(N1), {"op": Op.OFFLINE, "relay": N1}),
        (MpidDelivered(ID, DeliveryAnswer(True, None, None)),
         {"op": Op.DELIVERED, "mid": ID, "answer": {"ok": True, "error": None,
                                                     "reason": None}}),
    ]
    for action, legacy in sent:
        assert action.encode() == legacy
        assert action.to_bytes() == encode(legacy)


def test_a_contested_choice_is_its_bytes_without_the_round() -> None:
    put = DataPut(CopyKind.BACKUP, 7, ID, ID2, N1, REPLY, N2, [N1, N2], 0)
    assert isinstance(put, ContestedAction)
    assert put.choice() == dataclasses.replace(put, round=None).to_bytes()
    assert put.in_round(2).round == 2 and put.in_round(2).choice() == put.choice()
    assert put.in_round(2).to_bytes() != put.to_bytes()


def may_be_left_out(action: SyncAction, key: str) -> bool:
    """A field that may be None (left out, or nil)."""
    hint = get_type_hints(type(action))[key]
    return isinstance(hint, types.UnionType) and type(None) in hint.__args__


def malformed(action: SyncAction) -> list[tuple[str, dict[str, Any]]]:
    """Each required field missing, each field a float, and each 64-byte name cut short."""
    raw = action.encode()
    required = [key for key in raw if key != "op" and not may_be_left_out(action, key)]
    return ([(f"no {key}", {k: v for k, v in raw.items() if k != key}) for key in required]
            + [(f"{key} a float", raw | {key: 1.5}) for key in raw if key != "op"]
            + [(f"{key} short", raw | {key: value[:63]}) for key, value in raw.items()
               if isinstance(value, bytes) and len(value) == 64])


@pytest.mark.parametrize(("persona", "action"), SAMPLES, ids=IDS)
def test_malformed_actions_are_frame_errors(persona: type[GroupPersona],
                                            action: SyncAction) -> None:
    decoder = personas()[persona]
    for case, raw in malformed(action):
        with pytest.raises(FrameError):
            decoder.decode_action(encode(raw))
            pytest.fail(case)


@pytest.mark.parametrize(("persona", "action"), SAMPLES, ids=IDS)
def test_an_action_under_another_op_is_a_frame_error(persona: type[GroupPersona],
                                                     action: SyncAction) -> None:
    """Under an op its persona does not commit, or no op, it is a FrameError; under another op
    it commits, it is read as that op's class (if its fields fit) and never as this one."""
    decoder = personas()[persona]
    for op in Op:
        if op is action.OP:
            continue
        try:
            other = decoder.decode_action(encode(action.encode() | {"op": op}))
        except FrameError:
            continue
        assert type(other) is persona.COMMITS[op].action
    assert {op for op in Op if op not in persona.COMMITS}, "every persona refuses some ops"
    for op in Op:
        if op not in persona.COMMITS:
            with pytest.raises(FrameError, match="cannot commit"):
                decoder.decode_action(encode(action.encode() | {"op": op}))
    for op_value in (None, "bogus", 1):
        with pytest.raises(FrameError):
            decoder.decode_action(encode(action.encode() | {"op": op_value}))


def test_wrong_values_are_frame_errors() -> None:
    decoder = personas()[DataManager]
    put = DataPut(CopyKind.BACKUP, 7, ID, ID2, N1, REPLY, N2, [N1, N2], 0).encode()
    for key, value in (("kind", "X"), ("size", -1), ("size", True), ("id", ID[:15]),
                       ("holders", [N1[:10]]), ("round", -1), ("reply", [N1, "MaidNode"])):
        with pytest.raises(FrameError):
            decoder.decode_action(encode(put | {key: value}))
    mpid = personas()[MpidManager]
    change = MpidChangeList("block", N1, ID, REPLY).encode()
    with pytest.raises(FrameError):
        mpid.decode_action(encode(change | {"change": "befriend"}))
    delivered = MpidDelivered(ID, DeliveryAnswer(False, ErrorCode.BLOCKED, "no")).encode()
    with pytest.raises(FrameError):
        mpid.decode_action(encode(delivered | {"answer": {"ok": False, "error": "Nope",
                                                           "reason": None}}))


def test_actions_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Unsubscribe(ID).id = ID2  # type: ignore[misc]


def sync_vote(sender: bytes, data: bytes, i: int) -> Message:
    return Message(src=Authority(GROUP, Persona.DATA_MANAGER, group=True),
                   dst=Authority(GROUP, Persona.DATA_MANAGER, group=True), action=Action.SYNC,
                   msg_id=bytes([i]) * 16, trace_id=bytes(16), sender=sender,
                   body={"k": GROUP, "a": data})


class Spying(DataManager):
    """A DataManager whose unsubscribe commit only records what reached it."""

    def __init__(self) -> None:
        super().__init__(PARAMS, MemoryRecords("records"))
        self.committed: list[Unsubscribe] = []

    @commits(Unsubscribe)
    def commit_unsubscribe(self, copy: bytes, action: Unsubscribe, ctx: Ctx, out: Outbox,
                           trace: bytes) -> None:
        """Record the agreed action instead of running it."""
        self.committed.append(action)


def test_a_malformed_action_agreed_by_a_quorum_never_reaches_a_commit() -> None:
    """Three members vote for an unsubscribe whose id is too short: each vote is a FrameError
    as it arrives (never counted), and nothing is committed (a well-formed one is)."""
    own, *others = MEMBERS
    manager = Spying()
    manager.attach(own)
    ctx = Ctx(own, [0.0])
    bad = encode({"op": Op.UNSUBSCRIBE, "id": b"short"})
    for i, member in enumerate(others):
        with pytest.raises(FrameError, match="action field 'id'"):
            manager.handle(sync_vote(member, bad, i), ctx)
    assert manager.committed == []
    good = Unsubscribe(ID).to_bytes()
    for i, member in enumerate(others[:-1]):
        assert manager.handle(sync_vote(member, good, 10 + i), ctx).notes == []
    manager.handle(sync_vote(others[-1], good, 19), ctx)
    assert manager.committed == [Unsubscribe(ID)]


def test_a_malformed_contested_vote_is_refused_as_it_arrives() -> None:
    """A vote with a round is decoded when it comes: a bad round, a put of another persona's
    shape, or a round on an action that is never contested is a FrameError at once."""
    own, peer = MEMBERS[:2]
    manager = DataManager(PARAMS, MemoryRecords("records"))
    manager.attach(own)
    ctx = Ctx(own, [0.0])
    put = DataPut(CopyKind.BACKUP, 7, ID, ID2, N1, REPLY, N2, [N1, N2], 0).encode()
    for bad in (put | {"round": None}, put | {"round": "1"}, {"op": Op.PUT, "round": 0},
                {"op": Op.UNSUBSCRIBE, "id": ID, "round": 0}):
        with pytest.raises(FrameError):
            manager.handle(sync_vote(peer, encode(bad), 1), ctx)
    manager.handle(sync_vote(peer, encode(put), 2), ctx)  # a well-formed one is taken


def test_a_proposal_of_an_action_the_persona_does_not_commit_is_a_type_error() -> None:
    manager = PmidManager(PARAMS, MemoryRecords("accounts"))
    manager.attach(MEMBERS[0])
    with pytest.raises(TypeError, match="an Op"):
        manager.propose(GROUP, MaidPut(N1, 7, ID, REPLY), Ctx(MEMBERS[0], [0.0]),
                        Outbox(), bytes(16))


def proposed_in(*modules: Any) -> set[type[SyncAction]]:
    """The action classes the code of `modules` builds (the actions a persona proposes)."""
    built = set()
    for module in modules:
        tree = ast.parse(Path(module.__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                cls = getattr(actions, node.func.id, None)
                if cls in ACTION_CLASSES:
                    built.add(cls)
    return built


@pytest.mark.parametrize(("persona", "modules"), [
    (DataManager, (data_manager, integrity)),
    (MaidManager, (maid_manager,)),
    (PmidManager, (pmid_manager,)),
    (VersionManager, (version_manager, structured_keeper)),
    (MpidManager, (mpid_manager,)),
], ids=lambda value: getattr(value, "__name__", ""))
def test_each_persona_commits_exactly_the_actions_it_proposes(persona: type[GroupPersona],
                                                              modules: tuple[Any, ...]) -> None:
    table = {op: entry.action for op, entry in persona.COMMITS.items()}
    assert all(cls.OP is op for op, cls in table.items())
    assert set(table.values()) == proposed_in(*modules)


def test_every_action_class_is_committed_by_one_persona() -> None:
    committed = [entry.action for persona in personas() for entry in persona.COMMITS.values()]
    assert sorted(committed, key=lambda cls: cls.__name__) == sorted(
        ACTION_CLASSES, key=lambda cls: cls.__name__)


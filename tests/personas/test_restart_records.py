"""A restarted vault's records, sans-IO: kept records stay unconfirmed until the group confirms or
replaces them (or nobody answers and our own copy stands); a DataManager tells a rejoining
PmidNode keep / replaced / no record, and the node drops its copy only on a quorum of
"replaced". Members are plain personas over sqlite stores; messages are passed by hand."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from tests.personas.helpers import GROUP, MEMBERS, PARAMS, Ctx, Manager
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.base import (
    LONE_TRANSFER_WAIT,
    TRANSFER_ASK_INTERVAL,
    TRANSFER_ASK_ROUNDS,
    Outbox,
)
from vaultnet.personas.data_manager import KEEP, NO_RECORD, REPLACED, DataManager
from vaultnet.personas.pmid_node import PmidNode
from vaultnet.store import ChunkStore, CopyKind, Database, RecordStore, copy_name
from vaultnet.xor import Name, closest

KEY = GROUP + b"record"
RESTARTED, A, B, C = MEMBERS
FAR = b"\xff" * 64  # a vault outside the group, so that each member knows a group's worth


class WideCtx(Ctx):
    """The helper's view plus one far vault: enough known vaults to reconcile."""

    def closest_live(self, target: Name, k: int, exclude: set[Name]) -> list[Name]:
        return closest(target, [m for m in [*MEMBERS, FAR] if m not in exclude], k)



Vaults = dict[Name, tuple[Manager, WideCtx]]


@pytest.fixture
def clock() -> list[float]:
    return [0.0]


@pytest.fixture
def vaults(tmp_path: Path, clock: list[float]) -> Vaults:
    made = {}
    for i, name in enumerate(MEMBERS):
        manager = Manager(RecordStore(Database(tmp_path / f"{i}.db"), "accounts"))
        manager.attach(name)
        made[name] = (manager, WideCtx(name, clock))
    return made


def restart_with(vaults: Vaults, kept: dict[str, object],
                 current: dict[str, object] | None) -> Manager:
    """RESTARTED comes back holding `kept`; A, B and C hold `current` (None: nothing)."""
    for name in (A, B, C):
        if current is not None:
            vaults[name][0].store.put(KEY, current)
    manager = vaults[RESTARTED][0]
    manager.store.put(KEY, kept)
    manager.restarted()
    return manager


def answer_queries(vaults: Vaults, out: Outbox, members: tuple[Name, ...]) -> list[Message]:
    """Deliver RESTARTED's transfer queries to `members`; their answers, as sent."""
    answers = []
    for query in out.messages:
        if query.action == "transfer_query" and query.dst.name in members:
            manager, ctx = vaults[query.dst.name]
            for answer in manager.handle(replace(query, sender=RESTARTED), ctx).messages:
                answers.append(replace(answer, sender=query.dst.name))
    return answers


def test_a_kept_record_is_used_but_unconfirmed_then_replaced_by_the_groups(
        vaults: Vaults) -> None:
    manager = restart_with(vaults, {"owner": "stale"}, {"owner": "current"})
    assert manager.store.get(KEY) == {"owner": "stale"}  # kept, not cleared
    assert not manager.is_confirmed(manager.store, KEY)
    out = manager.tick_transfers(vaults[RESTARTED][1])
    assert sorted(m.dst.name for m in out.messages if m.action == "transfer_query") == [A, B, C]
    (first, second) = answer_queries(vaults, out, (A, B))
    manager.handle(first, vaults[RESTARTED][1])
    assert manager.store.get(KEY) == {"owner": "stale"}  # one differing copy is not enough
    manager.handle(second, vaults[RESTARTED][1])
    assert manager.store.get(KEY) == {"owner": "current"}
    assert manager.is_confirmed(manager.store, KEY)


def test_one_equal_member_copy_confirms_a_kept_record(vaults: Vaults) -> None:
    manager = restart_with(vaults, {"owner": "same"}, {"owner": "same"})
    out = manager.tick_transfers(vaults[RESTARTED][1])
    (answer, *_) = answer_queries(vaults, out, (A,))
    manager.handle(answer, vaults[RESTARTED][1])
    assert manager.is_confirmed(manager.store, KEY)
    assert manager.store.get(KEY) == {"owner": "same"}


def test_with_no_member_answering_our_own_copy_stands(vaults: Vaults,
                                                      clock: list[float]) -> None:
    """The whole group restarted or is gone: nobody answers. We ask TRANSFER_ASK_ROUNDS times,
    then after LONE_TRANSFER_WAIT keep our own copy as confirmed."""
    manager = restart_with(vaults, {"owner": "only"}, None)
    ctx = vaults[RESTARTED][1]
    asks = 0
    while clock[0] <= LONE_TRANSFER_WAIT:
        asks += sum(m.action == "transfer_query" for m in manager.tick_transfers(ctx).messages)
        assert not manager.is_confirmed(manager.store, KEY)
        clock[0] += TRANSFER_ASK_INTERVAL / 2
    manager.tick_transfers(ctx)
    assert asks == TRANSFER_ASK_ROUNDS * 3  # three other members, every round
    assert manager.is_confirmed(manager.store, KEY)
    assert manager.store.get(KEY) == {"owner": "only"}


def test_nothing_is_reconciled_before_the_vault_knows_a_group(vaults: Vaults,
                                                             clock: list[float]) -> None:
    manager = restart_with(vaults, {"owner": "stale"}, {"owner": "current"})
    assert manager.tick_transfers(Ctx(RESTARTED, clock)).messages == []  # knows only 3 others
    assert manager.tick_transfers(vaults[RESTARTED][1]).messages != []


# -- holding / reconcile ------------------------------------------------------------------------

CONTENT = b"a chunk held across a restart"
COPY = copy_name(hashlib.sha512(CONTENT).digest(), CopyKind.PRIMARY)
HOLDER, OTHER = b"\x80" + bytes(63), b"\x81" + bytes(63)


def holding(sender: Name, copy: Name, msg_id: bytes) -> Message:
    return Message(src=Authority(sender, Persona.PMID_NODE),
                   dst=Authority(copy, Persona.DATA_MANAGER, group=True), action="holding",
                   msg_id=msg_id, trace_id=bytes(16), sender=sender, body={"copy": copy})


def verdict(manager: DataManager, ctx: Ctx, sender: Name, msg_id: bytes) -> str:
    (answer,) = manager.handle(holding(sender, GROUP, msg_id), ctx).messages
    assert answer.action == "reconcile" and answer.dst.name == sender
    return answer.body["verdict"]


def test_data_manager_verdicts(tmp_path: Path, clock: list[float]) -> None:
    manager = DataManager(PARAMS, RecordStore(Database(tmp_path / "dm.db"), "data_manager"))
    manager.attach(A)
    ctx = WideCtx(A, clock)
    assert verdict(manager, ctx, HOLDER, b"0" * 16) == NO_RECORD
    manager.records.put(GROUP, {"kind": "P", "size": 5, "subscribers": 1,
                                "holders": [HOLDER, OTHER], "failed": []})
    assert verdict(manager, ctx, HOLDER, b"1" * 16) == KEEP
    assert verdict(manager, ctx, FAR, b"2" * 16) == REPLACED
    short = {"kind": "P", "size": 5, "subscribers": 1, "holders": [HOLDER], "failed": [OTHER]}
    manager.records.put(GROUP, short)
    assert verdict(manager, ctx, FAR, b"5" * 16) == NO_RECORD  # its copy may be the one left
    assert verdict(manager, ctx, OTHER, b"6" * 16) == REPLACED  # removed for failing the copy
    manager.restarted()  # the same record, kept across a restart: not trusted to drop anything
    assert verdict(manager, ctx, OTHER, b"7" * 16) == NO_RECORD
    assert verdict(manager, ctx, FAR, b"3" * 16) == NO_RECORD
    assert verdict(manager, ctx, HOLDER, b"4" * 16) == NO_RECORD


def reconcile(sender: Name, answer: str, msg_id: bytes) -> Message:
    return Message(src=Authority(sender, Persona.DATA_MANAGER),
                   dst=Authority(FAR, Persona.PMID_NODE), action="reconcile", msg_id=msg_id,
                   trace_id=bytes(16), sender=sender, body={"copy": COPY, "verdict": answer})


def test_pmid_node_drops_a_copy_only_on_a_quorum_of_replaced(tmp_path: Path,
                                                            clock: list[float]) -> None:
    chunks = ChunkStore(Database(tmp_path / "node.db"), 1 << 20)
    chunks.put(COPY, CopyKind.PRIMARY, CONTENT)
    node = PmidNode(PARAMS, chunks)
    node.attach(FAR)
    ctx = WideCtx(FAR, clock)
    for i, member in enumerate(MEMBERS):
        node.handle(reconcile(member, NO_RECORD, bytes([i]) * 16), ctx)
    assert chunks.has(COPY)  # nobody having a record is never a reason to drop
    quorum = PARAMS.accumulation_quorum
    for i, member in enumerate(MEMBERS[:quorum - 1]):
        node.handle(reconcile(member, REPLACED, bytes([10 + i]) * 16), ctx)
        node.handle(reconcile(member, REPLACED, bytes([20 + i]) * 16), ctx)  # said twice
    assert chunks.has(COPY)
    out = node.handle(reconcile(MEMBERS[quorum - 1], REPLACED, b"z" * 16), ctx)
    assert not chunks.has(COPY)
    assert [n.what for n in out.notes] == ["chunk_deleted"]

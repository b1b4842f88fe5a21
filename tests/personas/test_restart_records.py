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
from vaultnet.personas.account_transfer import (
    LONE_TRANSFER_WAIT,
    TRANSFER_ASK_INTERVAL,
    TRANSFER_ASK_ROUNDS,
)
from vaultnet.personas.bodies import GONE_WHILE_AWAY, KEEP, NO_RECORD, NO_SUCH_COPY, REPLACED
from vaultnet.personas.data_manager import DataManager
from vaultnet.personas.effects import Outbox
from vaultnet.personas.integrity import CHECK_TIMEOUT, UNSTORED_WAIT, expected_answer
from vaultnet.personas.pmid_node import RECONCILE_LATER, RECONCILE_ROUNDS, PmidNode
from vaultnet.storage.records import encode
from vaultnet.storage.store import ChunkStore, CopyKind, Database, RecordStore, copy_name
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



def test_a_kept_record_deleted_meanwhile_is_dropped(vaults: Vaults, clock: list[float]) -> None:
    """A, B and C deleted the record while we were away: two of them answer that they hold
    none, and we drop our copy instead of keeping it as a lone copy after
    LONE_TRANSFER_WAIT (which brought a deleted chunk's record back to life)."""
    manager = restart_with(vaults, {"owner": "deleted meanwhile"}, None)
    ctx = vaults[RESTARTED][1]
    answers = answer_queries(vaults, manager.tick_transfers(ctx), (A, B))
    assert [a.body["records"] for a in answers] == [[["accounts", KEY, b""]]] * 2
    for answer in answers:
        manager.handle(answer, ctx)
    assert manager.store.get(KEY) is None
    clock[0] = LONE_TRANSFER_WAIT + 1
    manager.tick_transfers(ctx)
    assert manager.store.get(KEY) is None


def test_one_member_without_the_record_does_not_drop_a_kept_one(vaults: Vaults) -> None:
    """A holds the record, B does not: our kept copy stays, and A's equal copy confirms it."""
    manager = restart_with(vaults, {"owner": "same"}, None)
    vaults[A][0].store.put(KEY, {"owner": "same"})
    ctx = vaults[RESTARTED][1]
    for answer in answer_queries(vaults, manager.tick_transfers(ctx), (B, A)):
        manager.handle(answer, ctx)
    assert manager.store.get(KEY) == {"owner": "same"}
    assert manager.is_confirmed(manager.store, KEY)

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
    assert verdict(manager, ctx, HOLDER, b"0" * 16) == NO_SUCH_COPY
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
        node.handle(reconcile(member, NO_SUCH_COPY, bytes([i]) * 15 + b"n"), ctx)
    assert chunks.has(COPY)  # no record, or none yet in the first rounds: never a reason
    quorum = PARAMS.accumulation_quorum
    for i, member in enumerate(MEMBERS[:quorum - 1]):
        node.handle(reconcile(member, REPLACED, bytes([10 + i]) * 16), ctx)
        node.handle(reconcile(member, REPLACED, bytes([20 + i]) * 16), ctx)  # said twice
    assert chunks.has(COPY)
    out = node.handle(reconcile(MEMBERS[quorum - 1], REPLACED, b"z" * 16), ctx)
    assert not chunks.has(COPY)
    assert [n.what for n in out.notes] == ["chunk_deleted"]


def stored(holder: Name, msg_id: bytes) -> Message:
    return Message(src=Authority(holder, Persona.PMID_NODE),
                   dst=Authority(GROUP, Persona.DATA_MANAGER, group=True), action="stored",
                   msg_id=msg_id, trace_id=bytes(16), sender=holder, body={"copy": GROUP})


def data_manager(tmp_path: Path, own: Name) -> DataManager:
    manager = DataManager(PARAMS, RecordStore(Database(tmp_path / "dm.db"), "data_manager"))
    manager.attach(own)
    manager.records.put(GROUP, {"kind": "P", "size": len(CONTENT), "subscribers": 1,
                                "holders": [HOLDER, OTHER], "failed": []})
    return manager


def test_replaced_only_once_the_replacement_confirmed_its_copy(tmp_path: Path,
                                                               clock: list[float]) -> None:
    """A rejoining node whose place went to OTHER keeps its copy until OTHER says "stored":
    that store may never arrive, and then the node's copy is the one that exists."""
    manager = data_manager(tmp_path, A)
    ctx = WideCtx(A, clock)
    manager.checks.holder_chosen(GROUP, OTHER, ctx)
    assert verdict(manager, ctx, FAR, b"1" * 16) == NO_RECORD
    manager.handle(stored(OTHER, b"s" * 16), ctx)
    assert verdict(manager, ctx, FAR, b"2" * 16) == REPLACED


def test_a_store_confirmed_before_our_own_commit_counts(tmp_path: Path,
                                                       clock: list[float]) -> None:
    """The group's agreement, and so the holder's "stored", can run ahead of our own commit:
    a confirmation that came first is not forgotten when we choose the holder."""
    manager = data_manager(tmp_path, A)
    ctx = WideCtx(A, clock)
    manager.records.put(GROUP, {"kind": "P", "size": len(CONTENT), "subscribers": 1,
                                "holders": [HOLDER], "failed": []})
    manager.handle(stored(OTHER, b"s" * 16), ctx)  # not named by our record yet
    manager.records.put(GROUP, {"kind": "P", "size": len(CONTENT), "subscribers": 1,
                                "holders": [HOLDER, OTHER], "failed": []})
    manager.checks.holder_chosen(GROUP, OTHER, ctx)
    assert verdict(manager, ctx, FAR, b"1" * 16) == REPLACED


def test_the_lead_challenges_a_holder_that_never_confirmed_and_replaces_it(
        tmp_path: Path, clock: list[float]) -> None:
    """OTHER was chosen but its store was lost: UNSTORED_WAIT later the lead challenges it,
    and on two "not held" answers removes it and chooses another holder."""
    lead = closest(GROUP, [m for m in MEMBERS if m != GROUP], 1)[0]
    manager = data_manager(tmp_path, lead)
    ctx = WideCtx(lead, clock)
    manager.stash.put(GROUP, CONTENT)
    manager.checks.holder_chosen(GROUP, OTHER, ctx)
    assert not [m for m in manager.tick(ctx).messages if m.action == "challenge"]
    clock[0] += UNSTORED_WAIT + 1
    challenges = [m for m in manager.tick(ctx).messages if m.action == "challenge"]
    assert sorted(m.dst.name for m in challenges) == [HOLDER, OTHER]
    nonce = challenges[0].body["nonce"]

    def answer(holder: Name, content: bytes, msg_id: bytes) -> Message:
        return Message(src=Authority(holder, Persona.PMID_NODE), dst=challenges[0].src,
                       action="challenge_response", msg_id=msg_id, trace_id=bytes(16),
                       sender=holder, body={"copy": GROUP, "answer": (
                           expected_answer(content, nonce) if content else b"")})

    manager.handle(answer(HOLDER, CONTENT, b"h" * 16), ctx)
    for i in range(2):  # "not held", then again after CHECK_TIMEOUT
        manager.handle(answer(OTHER, b"", bytes([40 + i]) * 16), ctx)
        clock[0] += CHECK_TIMEOUT + 1
        manager.tick(ctx)
    assert manager.records.get(GROUP)["holders"] == [HOLDER, OTHER]  # our vote alone: kept
    verdict = encode({"op": "integrity_failed", "holder": OTHER, "nonce": nonce})
    for member in [m for m in MEMBERS if m not in (lead, GROUP)][:2]:  # their own checks agree
        manager.handle(Message(src=Authority(GROUP, Persona.DATA_MANAGER, group=True),
                               dst=Authority(GROUP, Persona.DATA_MANAGER, group=True),
                               action="sync", msg_id=member[:16], trace_id=bytes(16),
                               sender=member, body={"k": GROUP, "a": verdict}), ctx)
    record = manager.records.get(GROUP)
    assert record is not None and record["failed"] == [OTHER]
    assert record["holders"][0] == HOLDER and len(record["holders"]) == 2


def test_a_keep_in_the_fast_rounds_does_not_end_the_asking(tmp_path: Path,
                                                          clock: list[float]) -> None:
    """Members that have not yet noticed we left say "keep" and replace us a moment later:
    only a quorum of "keep" in a later round (after RECONCILE_ROUNDS) settles the copy."""
    chunks = ChunkStore(Database(tmp_path / "node.db"), 1 << 20)
    chunks.put(COPY, CopyKind.PRIMARY, CONTENT)
    node = PmidNode(PARAMS, chunks)
    node.attach(FAR)
    ctx = WideCtx(FAR, clock)

    def ask_and_keep(round_id: int) -> bool:
        asked = [m for m in node.tick(ctx).messages if m.action == "holding"]
        for i, member in enumerate(MEMBERS):
            node.handle(reconcile(member, KEEP, bytes([round_id, i]) * 8), ctx)
        clock[0] += RECONCILE_LATER
        return bool(asked)

    assert all(ask_and_keep(r) for r in range(RECONCILE_ROUNDS))
    assert ask_and_keep(RECONCILE_ROUNDS)  # still asked after the fast rounds
    assert not ask_and_keep(RECONCILE_ROUNDS + 1)  # settled by the later round's quorum
    assert chunks.has(COPY)


def test_a_copy_deleted_while_away_is_dropped_on_a_later_round_quorum(
        tmp_path: Path, clock: list[float]) -> None:
    """A quorum says there is no such copy in a round after the fast ones: the copy was
    deleted while we were away (its delete never reached our PmidManagers if the DataManagers
    had replaced us first): we drop it and tell our PmidManagers."""
    chunks = ChunkStore(Database(tmp_path / "node.db"), 1 << 20)
    chunks.put(COPY, CopyKind.PRIMARY, CONTENT)
    node = PmidNode(PARAMS, chunks)
    node.attach(FAR)
    ctx = WideCtx(FAR, clock)
    for round_id in range(RECONCILE_ROUNDS + 1):
        assert chunks.has(COPY)
        node.tick(ctx)
        out = Outbox()
        for i, member in enumerate(MEMBERS[:PARAMS.accumulation_quorum]):
            out.extend(node.handle(reconcile(member, NO_SUCH_COPY, bytes([round_id, i]) * 8),
                                   ctx))
        clock[0] += RECONCILE_LATER
    assert not chunks.has(COPY)
    assert [m.body["reason"] for m in out.messages if m.action == "put_failure"] == [
        GONE_WHILE_AWAY]

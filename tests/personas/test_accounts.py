"""Account arithmetic, sans-IO: what a PmidManager counts for a node that evicts, lies or loses
a copy, and what a MaidManager counts for a client whose put failed or who deletes a chunk it
does not hold. Agreed actions are committed directly (the group's vote is tested elsewhere)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.personas.helpers import GROUP, MEMBERS, Ctx, from_each
from vaultnet.group.contest import CONTEST_WAIT
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.bodies import FAILED_CHECK, LIED, CapacityBody, HolderPutBody
from vaultnet.personas.effects import Outbox
from vaultnet.personas.maid_manager import MaidManager
from vaultnet.personas.pmid_manager import PmidManager, rank
from vaultnet.protocol import Action, EventKind
from vaultnet.routing import Parameters
from vaultnet.storage.records import encode
from vaultnet.storage.store import CopyKind, Database, RecordStore, copy_name
from vaultnet.xor import name_of

NODE = MEMBERS[0]
BIG = copy_name(name_of(b"big"), CopyKind.PRIMARY)
SMALL = copy_name(name_of(b"small"), CopyKind.SACRIFICIAL)
TRACE = bytes(16)


@pytest.fixture
def manager(tmp_path: Path) -> PmidManager:
    db = Database(tmp_path / "pm.db")
    persona = PmidManager(Parameters(), RecordStore(db, "accounts"))
    persona.attach(MEMBERS[1])
    return persona


def commit(persona: Any, op: str, key: bytes, **action: Any) -> Outbox:
    out = Outbox()
    agreed = persona.decode_action(encode({"op": op, "id": name_of(repr(action).encode())[:16],
                                           **action}))
    getattr(persona, f"commit_{op}")(key, agreed, Ctx(MEMBERS[1], [0.0]), out, TRACE)
    return out


def store_two_copies(manager: PmidManager) -> None:
    """The issue's account: 5,000 bytes stored in two copies."""
    commit(manager, "put", NODE, copy=BIG, kind="P", size=4000, refused=False)
    commit(manager, "put", NODE, copy=SMALL, kind="S", size=1000, refused=False)
    assert manager.account(NODE) == {"stored": 5000, "lost": 0, "count": 2}


def rank_changes(out: Outbox) -> list[dict[str, Any]]:
    return [n.detail for n in out.notes if n.what == EventKind.RANK_CHANGED]


def test_an_honest_eviction_leaves_the_rank_alone(manager: PmidManager) -> None:
    store_two_copies(manager)
    out = commit(manager, "failed", NODE, copy=SMALL, size=1000, reason="evicted")
    assert manager.account(NODE) == {"stored": 4000, "lost": 0, "count": 1}
    assert rank_changes(out) == []
    (up,) = out.messages
    assert up.action == "put_failure" and up.body["size"] == 1000


def test_a_lied_eviction_is_corrected_to_the_true_size_and_penalised_once(
        manager: PmidManager) -> None:
    """The node claims 2,001 bytes for its 1,000-byte copy; the DataManagers' correction
    (before the fix: stored stayed 2,999 after it)."""
    store_two_copies(manager)
    out = commit(manager, "failed", NODE, copy=SMALL, size=2001, reason="evicted")
    assert manager.account(NODE)["stored"] == 2999 and rank_changes(out) == []
    out = commit(manager, "correct", NODE, size=1000, reported=2001, reason=LIED)
    assert manager.account(NODE) == {"stored": 4000, "lost": 1000, "count": 1}
    (change,) = rank_changes(out)
    assert change["reason"] == LIED and change["rank"] == rank(manager.account(NODE)) == 0.8


def test_a_failed_integrity_check_moves_the_copy_from_stored_to_lost(
        manager: PmidManager) -> None:
    store_two_copies(manager)
    out = commit(manager, "correct", NODE, size=4000, reported=0, reason=FAILED_CHECK)
    assert manager.account(NODE) == {"stored": 1000, "lost": 4000, "count": 1}
    assert rank_changes(out)[0]["reason"] == FAILED_CHECK


# -- MaidManager ---------------------------------------------------------------------------

CLIENT = b"\x77" * 64
CHUNK = name_of(b"a chunk")


@pytest.fixture
def maid(tmp_path: Path) -> MaidManager:
    db = Database(tmp_path / "mm.db")
    persona = MaidManager(Parameters(), RecordStore(db, "accounts"), RecordStore(db, "chunks"))
    persona.attach(MEMBERS[1])
    return persona


def from_client(action: str, msg_id: bytes, body: dict[str, Any]) -> Message:
    return Message(src=Authority(CLIENT, Persona.MAID_NODE),
                   dst=Authority(CLIENT, Persona.MAID_MANAGER, group=True), action=action,
                   msg_id=msg_id, trace_id=TRACE, sender=CLIENT, body=body)


def put_answer(ok: bool) -> Message:
    return Message(src=Authority(copy_name(CHUNK, CopyKind.PRIMARY), Persona.DATA_MANAGER,
                                 group=True),
                   dst=Authority(CLIENT, Persona.MAID_MANAGER, group=True),
                   action="put_response", msg_id=b"r" * 16, trace_id=TRACE, sender=b"",
                   body={"client": CLIENT, "name": CHUNK, "ok": ok, "size": 3000,
                         "id": b"p" * 16, "reply": Authority(CLIENT, Persona.MAID_NODE).to_wire(),
                         **({} if ok else {"reason": "no room"})})


def test_a_failed_put_is_undone_so_a_later_delete_refunds_nothing(maid: MaidManager) -> None:
    """Before the fix the failed put refunded `used` but kept the chunk in the account, and a
    delete refunded it a second time."""
    ctx = Ctx(MEMBERS[1], [0.0])
    commit(maid, "put", CLIENT, name=CHUNK, size=3000,
           reply=Authority(CLIENT, Persona.MAID_NODE).to_wire())
    commit(maid, "put", CLIENT, name=b"\x01" * 64, size=500,
           reply=Authority(CLIENT, Persona.MAID_NODE).to_wire())
    assert maid.account(CLIENT)["used"] == 3500
    out = Outbox()
    maid.on_put_response(put_answer(ok=False), b"", ctx, out)
    assert out.messages[0].action == "put_failure"
    assert maid.account(CLIENT)["used"] == 500 and maid.chunks.get(CLIENT + CHUNK) is None
    (answer,) = maid.handle(from_client("delete", b"d" * 16, {"name": CHUNK}), ctx).messages
    assert answer.action == "delete_ok" and answer.body["held"] is False
    assert maid.account(CLIENT)["used"] == 500


def test_deleting_a_chunk_the_account_does_not_hold_succeeds_and_changes_nothing(
        maid: MaidManager) -> None:
    ctx = Ctx(MEMBERS[1], [0.0])
    (answer,) = maid.handle(from_client("delete", b"d" * 16, {"name": CHUNK}), ctx).messages
    assert answer.action == "delete_ok" and answer.dst.name == CLIENT
    assert answer.body["held"] is False
    assert not maid.accounts.get(CLIENT) and not maid.chunks.get(CLIENT + CHUNK)
    again = maid.handle(from_client("delete", b"d" * 16, {"name": CHUNK}), ctx).messages
    assert again == [answer]  # a retry gets the recorded answer


# -- PmidManager: the per-chunk account (the seed's AccountDb, Key: Data key, Value: Size) -----


def test_put_and_delete_keep_the_per_chunk_account_in_step_with_the_aggregate(
        manager: PmidManager) -> None:
    store_two_copies(manager)
    assert manager.copies_of(NODE) == {BIG: 4000, SMALL: 1000}
    assert sum(manager.copies_of(NODE).values()) == manager.account(NODE)["stored"]
    out = commit(manager, "delete", NODE, copy=BIG, size=4000)
    assert manager.copies_of(NODE) == {SMALL: 1000}
    assert manager.account(NODE) == {"stored": 1000, "lost": 0, "count": 1}
    (delete,) = out.messages
    assert delete.action == "delete" and delete.body["copy"] == BIG
    assert manager.copies_of(MEMBERS[2]) == {}


def test_a_failure_report_takes_the_copy_out_of_the_per_chunk_account(
        manager: PmidManager) -> None:
    store_two_copies(manager)
    commit(manager, "failed", NODE, copy=SMALL, size=1000, reason="evicted")
    assert manager.copies_of(NODE) == {BIG: 4000}
    assert manager.account(NODE)["count"] == len(manager.copies_of(NODE)) == 1


def test_the_per_chunk_account_moves_with_churn(manager: PmidManager) -> None:
    """Its keys start with the node's name (the group's), so account transfer sends them."""
    store_two_copies(manager)
    assert manager.copies in manager.transfer_stores()
    assert {key[:64] for key in manager.copies.keys()} == {NODE}  # noqa: SIM118


def test_lose_counts_the_loss_once_and_tells_the_node_to_delete_the_copy(
        manager: PmidManager) -> None:
    """Lose<Data>: a copy that failed an integrity check leaves both accounts, its size counts
    as lost once, and the node is sent a delete for it."""
    store_two_copies(manager)
    out = commit(manager, "correct", NODE, size=4000, reported=0, reason=FAILED_CHECK, copy=BIG)
    assert manager.account(NODE) == {"stored": 1000, "lost": 4000, "count": 1}
    assert manager.copies_of(NODE) == {SMALL: 1000}
    (delete,) = out.messages
    assert delete.action == "delete" and delete.dst.name == NODE
    assert delete.dst.persona == Persona.PMID_NODE and delete.body["copy"] == BIG
    (change,) = rank_changes(out)
    assert change["reason"] == FAILED_CHECK


def test_a_lie_is_no_loss_of_the_copy_and_sends_no_delete(manager: PmidManager) -> None:
    store_two_copies(manager)
    commit(manager, "failed", NODE, copy=SMALL, size=2001, reason="evicted")
    out = commit(manager, "correct", NODE, size=1000, reported=2001, reason=LIED, copy=SMALL)
    assert out.messages == [] and manager.copies_of(NODE) == {BIG: 4000}


def test_a_member_lacking_the_capacity_a_node_reports_gets_it_agreed(tmp_path: Path) -> None:
    """Three members hold the node's offered space, one built the account from puts before
    the report reached it: every member votes the next report, so the fourth commits it too
    (it used to vote alone, never commit, and keep a different account: sim seed 3)."""
    clock = [0.0]
    managers = {}
    for i, member in enumerate(MEMBERS):
        managers[member] = PmidManager(Parameters(),
                                       RecordStore(Database(tmp_path / f"{i}.db"), "accounts"))
        managers[member].attach(member)
        account = {"stored": 1024, "lost": 0, "count": 1}
        managers[member].accounts.put(GROUP, account if i == 3 else {**account,
                                                                     "available": 5000})
    report = Message(src=Authority(GROUP, Persona.PMID_NODE),
                     dst=Authority(GROUP, Persona.PMID_MANAGER, group=True),
                     action=Action.CAPACITY, msg_id=b"c" * 16, trace_id=TRACE,
                     body=CapacityBody(5000).encode(), sender=GROUP)
    votes = []
    for member, manager in managers.items():
        out = manager.handle(report, Ctx(member, clock))
        votes += [(member, m) for m in out.messages if m.action == Action.SYNC]
    for sender, vote in votes:
        for member, manager in managers.items():
            if member != sender:
                manager.handle(replace(vote, sender=sender), Ctx(member, clock))
    assert [managers[m].account(GROUP)["available"] for m in MEMBERS] == [5000] * 4


def test_members_whose_accounts_put_the_node_on_both_sides_of_the_floor_agree_on_one_verdict(
        tmp_path: Path) -> None:
    """Two members have committed a failed check of the node that the other two have not yet
    (rank 0.5 against 1.0) when a put to it arrives. The floor's verdict is voted: round 0
    splits 2 + 2, is voted again, and every member then does the same, all storing the copy or
    all refusing it, so the node or the DataManagers hear from the whole group (each judging
    alone at the commit, two sent the store and two the refusal, neither reached its quorum,
    and the client's put went unanswered)."""
    clock = [0.0]
    node = GROUP
    content = b"a copy put to a node whose rank the members see differently" * 10
    copy = copy_name(name_of(content), CopyKind.BACKUP)
    managers: dict[bytes, PmidManager] = {}
    for i, member in enumerate(MEMBERS):
        managers[member] = PmidManager(Parameters(),
                                       RecordStore(Database(tmp_path / f"{i}.db"), "accounts"))
        managers[member].attach(member)
        managers[member].accounts.put(node, {"stored": 1000, "lost": 1000 if i < 2 else 0,
                                             "count": 1})
    put = Message(src=Authority(copy, Persona.DATA_MANAGER, group=True),
                  dst=Authority(node, Persona.PMID_MANAGER, group=True), action=Action.PUT,
                  msg_id=b"p" * 16, trace_id=TRACE,
                  body=HolderPutBody(copy, CopyKind.BACKUP, len(content)).encode(),
                  sender=b"", payload=content)
    sent: dict[bytes, list[Message]] = {member: [] for member in MEMBERS}
    votes: list[tuple[bytes, Message]] = []

    def record(member: bytes, messages: list[Message]) -> None:
        for msg in messages:
            if msg.action == Action.SYNC:
                votes.append((member, msg))
            else:
                sent[member].append(msg)

    for member, manager in managers.items():
        record(member, from_each(manager, put, MEMBERS, Ctx(member, clock)))

    def deliver() -> None:
        while votes:
            sender, vote = votes.pop(0)
            for member, manager in managers.items():
                if member != sender:
                    record(member, manager.handle(replace(vote, sender=sender),
                                                  Ctx(member, clock)).messages)

    deliver()
    round_0 = [m.contests.voted(node, put.msg_id, 0) for m in managers.values()
               if m.contests is not None]
    assert len(set(round_0)) == 2 and None not in round_0  # split 2 + 2
    clock[0] += CONTEST_WAIT
    for member, manager in managers.items():
        record(member, manager.resend(Ctx(member, clock)).messages)
    deliver()

    verdicts = {member: sorted(m.action.value for m in messages
                               if m.action in (Action.STORE, Action.PUT_FAILURE))
                for member, messages in sent.items()}
    assert len({tuple(v) for v in verdicts.values()}) == 1, verdicts
    assert verdicts[NODE] in (["store"], ["put_failure"]), verdicts
    held = {member: copy in manager.copies_of(node) for member, manager in managers.items()}
    assert set(held.values()) == {verdicts[NODE] == ["store"]}, held

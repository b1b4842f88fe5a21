"""SendAccount, sans-IO: a node's PmidManagers send it its per-chunk account in pages when it
(re)joins their close group, and the node, on a quorum of its managers' identical pages, drops
the copies it held at start that the account no longer lists and reports those it lacks."""

from __future__ import annotations

from pathlib import Path

from tests.personas.helpers import MEMBERS, PARAMS, Ctx
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.bodies import (
    ACCOUNT_PAGE,
    GONE_WHILE_AWAY,
    REPLACED,
    AccountPageBody,
    NodeFailureBody,
    ReconcileBody,
)
from vaultnet.personas.effects import Outbox
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.personas.pmid_node import ACCOUNT_GRACE, MISSING, PmidNode
from vaultnet.protocol import Action
from vaultnet.storage.records import MemoryRecords, encode
from vaultnet.storage.store import ChunkStore, CopyKind, Database, copy_name
from vaultnet.xor import Name, name_of

NODE = MEMBERS[0]
TRACE = bytes(16)


def content(i: int) -> bytes:
    return f"chunk {i}".encode()


def copy_of(i: int) -> Name:
    return copy_name(name_of(content(i)), CopyKind.PRIMARY)


def manager_with(copies: int, own: Name = MEMBERS[1]) -> PmidManager:
    """A member of NODE's PmidManager group whose account of NODE holds `copies` copies."""
    manager = PmidManager(PARAMS, MemoryRecords("pmid_accounts"))
    manager.attach(own)
    for i in range(copies):
        agreed = manager.decode_action(encode({"op": "put", "copy": copy_of(i), "kind": "P",
                                               "size": len(content(i)), "id": bytes(16),
                                               "refused": False}))
        manager.commit_put(NODE, agreed, Ctx(own, [0.0]), Outbox(), TRACE)
    return manager


def pages(out: Outbox) -> list[Message]:
    return [m for m in out.messages if m.action == Action.SEND_ACCOUNT]


def test_a_rejoining_node_is_sent_its_account_in_bounded_pages() -> None:
    manager = manager_with(2 * ACCOUNT_PAGE + 5)
    sent = pages(manager.churned(Ctx(MEMBERS[1], [0.0]), None, NODE))
    bodies = [m.typed(AccountPageBody) for m in sent]
    assert [len(b.entries) for b in bodies] == [ACCOUNT_PAGE, ACCOUNT_PAGE, 5]
    assert [b.last for b in bodies] == [False, False, True]
    assert bodies[0].after is None
    assert [b.after for b in bodies[1:]] == [bodies[0].entries[-1].copy,
                                             bodies[1].entries[-1].copy]
    listed = [e.copy for b in bodies for e in b.entries]
    assert listed == sorted(listed) and set(listed) == set(manager.copies_of(NODE))
    assert all(m.dst.name == NODE and not m.dst.group and m.src.group for m in sent)


def test_equal_accounts_send_equal_pages_and_no_account_sends_none() -> None:
    one, other = manager_with(3), manager_with(3, MEMBERS[2])
    ours = pages(one.churned(Ctx(MEMBERS[1], [0.0]), None, NODE))
    theirs = pages(other.churned(Ctx(MEMBERS[2], [0.0]), None, NODE))
    assert [(m.msg_id, m.content_key()) for m in ours] == [
        (m.msg_id, m.content_key()) for m in theirs]
    assert pages(one.churned(Ctx(MEMBERS[1], [0.0]), None, MEMBERS[3])) == []  # no account
    assert pages(one.churned(Ctx(MEMBERS[1], [0.0]), NODE, None)) == []  # a departure


def node_holding(tmp_path: Path, copies: list[int]) -> PmidNode:
    """NODE restarted on a disk holding `copies`."""
    chunks = ChunkStore(Database(tmp_path / "node.db"), 1 << 20)
    for i in copies:
        chunks.put(copy_of(i), CopyKind.PRIMARY, content(i))
    node = PmidNode(PARAMS, chunks)
    node.attach(NODE)
    return node


def deliver(node: PmidNode, page: Message, senders: list[Name], clock: list[float]) -> Outbox:
    out = Outbox()
    for sender in senders:
        out.extend(node.handle(Message(src=page.src, dst=page.dst, action=page.action,
                                       msg_id=page.msg_id, trace_id=page.trace_id,
                                       body=page.body, sender=sender), Ctx(NODE, clock)))
    return out


def test_a_rejoining_node_drops_a_copy_deleted_while_it_was_away(tmp_path: Path) -> None:
    """The node held copies 0, 1, 2 when it stopped; copy 1 was deleted meanwhile and copy 3
    put to it; the account (0, 2, 3) reaches it from a quorum of its managers."""
    node = node_holding(tmp_path, [0, 1, 2])
    manager = manager_with(4)
    agreed = manager.decode_action(encode({"op": "delete", "copy": copy_of(1), "size": 7,
                                           "id": bytes(16)}))
    manager.commit_delete(NODE, agreed, Ctx(MEMBERS[1], [0.0]), Outbox(), TRACE)
    (page,) = pages(manager.churned(Ctx(MEMBERS[1], [0.0]), None, NODE))
    clock = [0.0]
    deliver(node, page, MEMBERS[1:PARAMS.accumulation_quorum], clock)
    assert node.chunks.has(copy_of(1))  # below quorum: nothing done
    deliver(node, page, MEMBERS[PARAMS.accumulation_quorum:PARAMS.accumulation_quorum + 1],
            clock)
    assert not node.chunks.has(copy_of(1))
    assert node.chunks.has(copy_of(0)) and node.chunks.has(copy_of(2))
    # Copy 3 (put while the node was away) is lacking: reported once its grace has passed,
    # unless it arrives meanwhile.
    failures = [m for m in node.tick(Ctx(NODE, clock)).messages
                if m.action == Action.PUT_FAILURE]
    assert failures == []
    clock[0] += ACCOUNT_GRACE
    failures = [m for m in node.tick(Ctx(NODE, clock)).messages
                if m.action == Action.PUT_FAILURE]
    assert [(m.body["copy"], m.body["reason"]) for m in failures] == [(copy_of(3), MISSING)]
    assert [m for m in node.tick(Ctx(NODE, clock)).messages
            if m.action == Action.PUT_FAILURE] == []  # once


def test_a_copy_stored_since_the_start_is_never_dropped_by_an_account(tmp_path: Path) -> None:
    node = node_holding(tmp_path, [0])
    node.chunks.put(copy_of(5), CopyKind.PRIMARY, content(5))  # stored after the restart
    (page,) = pages(manager_with(1).churned(Ctx(MEMBERS[1], [0.0]), None, NODE))
    deliver(node, page, MEMBERS[1:4], [0.0])
    assert node.chunks.has(copy_of(0)) and node.chunks.has(copy_of(5))


def test_a_page_drops_only_copies_within_its_names(tmp_path: Path) -> None:
    """A page covers the names after its `after` up to its last entry: a held copy past that
    is left for the next page."""
    manager = manager_with(ACCOUNT_PAGE + 1)
    first, second = pages(manager.churned(Ctx(MEMBERS[1], [0.0]), None, NODE))
    beyond = max(manager.copies_of(NODE))
    node = node_holding(tmp_path, [i for i in range(ACCOUNT_PAGE + 1) if copy_of(i) == beyond])
    deliver(node, first, MEMBERS[1:4], [0.0])
    assert node.chunks.has(beyond)
    deliver(node, second, MEMBERS[1:4], [0.0])
    assert node.chunks.has(beyond)  # listed on the second page


def test_a_copy_replaced_while_away_is_deleted_and_reported(tmp_path: Path) -> None:
    """A quorum of the copy's DataManagers say the node was replaced: it deletes the copy and
    tells its PmidManagers, so their account stops listing it."""
    node = node_holding(tmp_path, [0])
    out = Outbox()
    for sender in MEMBERS[1:PARAMS.accumulation_quorum + 1]:
        out.extend(node.handle(Message(
            src=Authority(sender, Persona.DATA_MANAGER), dst=Authority(NODE, Persona.PMID_NODE),
            action=Action.RECONCILE, msg_id=sender[-16:], trace_id=TRACE, sender=sender,
            body=ReconcileBody(copy_of(0), REPLACED).encode()), Ctx(NODE, [0.0])))
    assert not node.chunks.has(copy_of(0))
    reports = [m.typed(NodeFailureBody) for m in out.messages if m.action == Action.PUT_FAILURE]
    assert reports == [NodeFailureBody(copy_of(0), CopyKind.PRIMARY, len(content(0)),
                                       GONE_WHILE_AWAY)]


def test_a_copy_replaced_while_away_leaves_the_account_by_its_own_size() -> None:
    """The managers take the copy out by the size their account holds (whatever the node
    claims) and tell no DataManager: those already hold another holder."""
    manager = manager_with(3)
    stored = manager.account_of(NODE).stored
    for copy in (copy_of(1), copy_of(9)):  # 9: not in the account, nothing to take out
        agreed = manager.decode_action(encode({"op": "failed", "copy": copy, "size": 1 << 30,
                                               "reason": GONE_WHILE_AWAY, "id": bytes(16)}))
        out = Outbox()
        manager.commit_failed(NODE, agreed, Ctx(MEMBERS[1], [0.0]), out, TRACE)
        assert out.messages == []
    assert set(manager.copies_of(NODE)) == {copy_of(0), copy_of(2)}
    assert manager.account_of(NODE).stored == stored - len(content(1))

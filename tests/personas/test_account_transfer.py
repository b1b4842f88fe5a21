"""Account transfer, sans-IO: a newcomer accepts a record at the transfer quorum, takes the median
of disagreeing counters, asks the group when copies disagree, and waits before trusting a lone
copy. Members are plain personas over sqlite stores; messages are passed by hand."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, ClassVar

import pytest

from tests.personas.helpers import GROUP, MEMBERS, PARAMS, Ctx, Manager
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.account_transfer import (
    DELETED_TTL,
    LONE_TRANSFER_WAIT,
    TRANSFER_ASK_INTERVAL,
    TRANSFER_ASK_ROUNDS,
    TRANSFER_TTL,
)
from vaultnet.personas.actions import MpidAck, SyncAction
from vaultnet.personas.bodies import BLOB, TRANSFER_BATCH, TransferBody, TransferItem
from vaultnet.personas.dispatch import commits
from vaultnet.personas.effects import Outbox
from vaultnet.personas.mpid_manager import MpidManager
from vaultnet.protocol import EventKind, Op
from vaultnet.storage.records import encode
from vaultnet.storage.store import Database, RecordStore
from vaultnet.wire import FrameError
from vaultnet.xor import Name

KEY = GROUP + b"record"
NEWCOMER, A, B, C = MEMBERS
STRANGER = b"\xff" * 64



Vaults = dict[Name, tuple["Manager", Ctx]]


@pytest.fixture
def clock() -> list[float]:
    return [0.0]


@pytest.fixture
def vaults(tmp_path: Path, clock: list[float]) -> Vaults:
    made = {}
    for i, name in enumerate(MEMBERS):
        manager = Manager(RecordStore(Database(tmp_path / f"{i}.db"), "accounts"))
        manager.attach(name)
        made[name] = (manager, Ctx(name, clock))
    return made


def transfer(sender: Name, value: dict[str, object], msg_id: bytes) -> Message:
    return Message(src=_auth(sender), dst=_auth(NEWCOMER), action="transfer", msg_id=msg_id,
                   trace_id=bytes(16), sender=sender,
                   body=TransferBody([TransferItem("accounts", KEY, encode(value))], []).encode())


def _auth(name: Name) -> Authority:
    return Authority(name, Persona.MAID_MANAGER)


def deliver(vaults: Vaults, to: Name, msg: Message) -> Outbox:
    manager, ctx = vaults[to]
    return manager.handle(msg, ctx)


def held(vaults: Vaults) -> object:
    return vaults[NEWCOMER][0].store.get(KEY)


def test_two_equal_copies_are_accepted(vaults: Vaults) -> None:
    deliver(vaults, NEWCOMER, transfer(A, {"owner": "x"}, b"1" * 16))
    assert held(vaults) is None
    deliver(vaults, NEWCOMER, transfer(B, {"owner": "x"}, b"2" * 16))
    assert held(vaults) == {"owner": "x"}


def test_what_the_newcomer_holds_wins(vaults: Vaults) -> None:
    vaults[NEWCOMER][0].store.put(KEY, {"owner": "mine"})
    deliver(vaults, NEWCOMER, transfer(A, {"owner": "x"}, b"1" * 16))
    deliver(vaults, NEWCOMER, transfer(B, {"owner": "x"}, b"2" * 16))
    assert held(vaults) == {"owner": "mine"}


def test_three_disagreeing_counter_records_give_the_median(vaults: Vaults) -> None:
    for sender, stored, mid in ((A, 10, b"1"), (B, 30, b"2"), (C, 20, b"3")):
        deliver(vaults, NEWCOMER, transfer(sender, {"stored": stored, "lost": stored // 10},
                                           mid * 16))
    assert held(vaults) == {"stored": 20, "lost": 2}


def test_disagreement_is_resolved_by_asking_the_group(vaults: Vaults, clock: list[float]) -> None:
    """A sent its copy before a change committed, B after: the newcomer asks every member for
    its current copy and accepts once two current copies agree."""
    for name in (A, B, C):
        vaults[name][0].store.put(KEY, {"owner": "after", "chunks": ["c1"]})
    deliver(vaults, NEWCOMER, transfer(A, {"owner": "before"}, b"1" * 16))
    out = deliver(vaults, NEWCOMER, transfer(B, {"owner": "after", "chunks": ["c1"]}, b"2" * 16))
    assert held(vaults) is None
    assert [n.what for n in out.notes] == [EventKind.TRANSFER_DISPUTED]
    queries = out.messages
    assert sorted(q.dst.name for q in queries) == [A, B, C]
    assert {q.action for q in queries} == {"transfer_query"}
    answer = deliver(vaults, A, replace(queries[[q.dst.name for q in queries].index(A)],
                                        sender=NEWCOMER))
    (fresh,) = answer.messages
    assert fresh.dst.name == NEWCOMER and fresh.action == "transfer"
    deliver(vaults, NEWCOMER, replace(fresh, sender=A))
    assert held(vaults) == {"owner": "after", "chunks": ["c1"]}


def test_asking_is_repeated_a_bounded_number_of_times(vaults: Vaults, clock: list[float]) -> None:
    manager, ctx = vaults[NEWCOMER]
    deliver(vaults, NEWCOMER, transfer(A, {"owner": "one"}, b"1" * 16))
    deliver(vaults, NEWCOMER, transfer(B, {"owner": "two"}, b"2" * 16))
    rounds = 1
    for _ in range(10):
        clock[0] += TRANSFER_ASK_INTERVAL
        out = manager.tick_transfers(ctx)
        rounds += len(out.notes)
        assert all(n.what == EventKind.TRANSFER_DISPUTED for n in out.notes)
    assert rounds == TRANSFER_ASK_ROUNDS
    assert held(vaults) is None


def test_a_query_from_outside_the_group_is_refused(vaults: Vaults) -> None:
    vaults[A][0].store.put(KEY, {"owner": "x"})
    query = Message(src=_auth(STRANGER), dst=_auth(A), action="transfer_query",
                    msg_id=b"q" * 16, trace_id=bytes(16), sender=STRANGER,
                    body={"store": "accounts", "key": KEY})
    with pytest.raises(FrameError, match="outside the record's group"):
        deliver(vaults, A, query)


def test_a_lone_copy_waits_before_it_is_trusted(vaults: Vaults, clock: list[float]) -> None:
    manager, ctx = vaults[NEWCOMER]
    deliver(vaults, NEWCOMER, transfer(A, {"owner": "only"}, b"1" * 16))
    clock[0] = LONE_TRANSFER_WAIT / 2
    manager.tick_transfers(ctx)
    assert held(vaults) is None
    clock[0] = LONE_TRANSFER_WAIT + 1
    manager.tick_transfers(ctx)
    assert held(vaults) == {"owner": "only"}


def test_a_record_deleted_for_good_does_not_come_back_by_transfer(
        vaults: Vaults, clock: list[float]) -> None:
    """Seed 909: a member that missed a deletion sends its stale copy at the next churn; a
    vault that deleted the record refuses it, alone or not, until DELETED_TTL has passed."""
    manager, ctx = vaults[NEWCOMER]
    manager.store.put(KEY, {"message": "delivered"})
    assert manager.transfers.delete_for_good(manager.store, KEY, ctx)
    deliver(vaults, NEWCOMER, transfer(A, {"message": "delivered"}, b"1" * 16))
    deliver(vaults, NEWCOMER, transfer(B, {"message": "delivered"}, b"2" * 16))
    clock[0] = LONE_TRANSFER_WAIT + 1
    manager.tick_transfers(ctx)
    assert held(vaults) is None
    clock[0] = DELETED_TTL + 1
    deliver(vaults, NEWCOMER, transfer(A, {"message": "new"}, b"3" * 16))
    deliver(vaults, NEWCOMER, transfer(B, {"message": "new"}, b"4" * 16))
    assert held(vaults) == {"message": "new"}


def test_an_acknowledged_message_is_deleted_for_good(tmp_path: Path,
                                                      clock: list[float]) -> None:
    """The MpidManagers' agreed ack deletes the inbox record for good: a member's stale copy
    sent afterwards is refused, so the message is not delivered a second time."""
    inbox = RecordStore(Database(tmp_path / "inbox.db"), "inbox")
    manager = MpidManager(PARAMS, RecordStore(Database(tmp_path / "a.db"), "accounts"), inbox,
                          RecordStore(Database(tmp_path / "o.db"), "outbox"))
    manager.attach(NEWCOMER)
    ctx = Ctx(NEWCOMER, clock)
    sender, mid = b"\x07" * 64, b"\x08" * 16
    key = GROUP + sender + mid
    inbox.put(key, {"held": "message"})
    manager.commit_ack(GROUP, MpidAck(sender, mid), ctx, Outbox(), bytes(16))
    assert inbox.get(key) is None
    stale = Message(src=Authority(A, Persona.MPID_MANAGER),
                    dst=Authority(NEWCOMER, Persona.MPID_MANAGER), action="transfer",
                    msg_id=b"5" * 16, trace_id=bytes(16), sender=A,
                    body=TransferBody([TransferItem("inbox", key, encode({"held": "message"}))],
                                      []).encode())
    manager.handle(stale, ctx)
    clock[0] = LONE_TRANSFER_WAIT + 1
    manager.tick_transfers(ctx)
    assert inbox.get(key) is None


@dataclass(frozen=True, slots=True)
class Add(SyncAction):
    """The one action of `Counting`: the request `id` adds one."""

    OP: ClassVar[Op] = Op.PUT
    id: Annotated[bytes, BLOB]


class Counting(Manager):
    """A manager whose one action adds one to the record: applying it twice would show."""

    @commits(Add)
    def commit_add(self, key: Name, action: Add, ctx: Ctx, out: Outbox,
                   trace: bytes) -> None:
        """Add one to the record's count."""
        record = self.store.get(KEY) or {"count": 0}
        record["count"] += 1
        self.store.put(KEY, record)


Group = tuple[dict[Name, "Counting"], dict[Name, Ctx]]
QUERY = Message(src=_auth(NEWCOMER), dst=_auth(A), action="transfer_query", msg_id=b"q" * 16,
                trace_id=bytes(16), sender=NEWCOMER, body={"store": "accounts", "key": KEY})
"""A newcomer's ask for the members' current copy of KEY."""


def counting_group(tmp_path: Path, clock: list[float], kind: type[Counting]) -> Group:
    """Every member as a `kind` manager over its own sqlite file, with its context."""
    managers = {name: kind(RecordStore(Database(tmp_path / f"{i}.db"), "accounts"))
                for i, name in enumerate(MEMBERS)}
    for name, manager in managers.items():
        manager.attach(name)
    return managers, {name: Ctx(name, clock) for name in MEMBERS}


def agree(group: Group, action: SyncAction) -> list[Message]:
    """A, B and C propose `action` and hand each other their votes (the newcomer gets none):
    the votes, for a test to deliver again."""
    managers, ctxs = group
    votes = []
    for name in (A, B, C):
        out = Outbox()
        managers[name].propose(GROUP, action, ctxs[name], out, bytes(16))
        votes += [replace(m, sender=name) for m in out.messages]
    for vote in votes:
        for name in (A, B, C):
            if name != vote.sender:
                managers[name].handle(vote, ctxs[name])
    return votes


def answer(group: Group, member: Name) -> Message:
    """`member`'s answer to QUERY: its copy of KEY, with the actions it reflects."""
    managers, ctxs = group
    (copy,) = managers[member].handle(QUERY, ctxs[member]).messages
    return replace(copy, sender=member)


def test_a_transferred_record_is_not_given_an_action_it_already_reflects(
        tmp_path: Path, clock: list[float]) -> None:
    """A, B and C commit an action; the newcomer then takes their record by transfer. The
    members' votes for that action still reach it (resends, a retried request): it must not
    apply the action a second time to a record that already holds its effect."""
    group = managers, ctxs = counting_group(tmp_path, clock, Counting)
    votes = agree(group, Add(b"request-1"))
    assert [managers[n].store.get(KEY) for n in (A, B, C)] == [{"count": 1}] * 3
    for member in (A, B):
        copy = answer(group, member)
        ((group_name, reflected),) = copy.body["reflects"]
        assert group_name == GROUP and len(reflected) == 1
        managers[NEWCOMER].handle(copy, ctxs[NEWCOMER])
    assert managers[NEWCOMER].store.get(KEY) == {"count": 1}
    for vote in votes:
        managers[NEWCOMER].handle(vote, ctxs[NEWCOMER])
    assert managers[NEWCOMER].store.get(KEY) == {"count": 1}
    other = Outbox()
    managers[A].propose(GROUP, Add(b"request-2"), ctxs[A], other, bytes(16))
    for name in (A, B, C):
        managers[NEWCOMER].handle(replace(other.messages[0], sender=name), ctxs[NEWCOMER])
    assert managers[NEWCOMER].store.get(KEY) == {"count": 2}, "a later action still commits"


def test_a_churn_sends_a_groups_records_in_batches(vaults: Vaults) -> None:
    """Each member sends a newcomer the records of a group in messages of at most
    TRANSFER_BATCH records, not one message per record, and the newcomer accepts every one."""
    keys = [GROUP + i.to_bytes(2, "big") for i in range(TRANSFER_BATCH + 6)]
    for name in (A, B, C):
        manager, ctx = vaults[name]
        for key in keys:
            manager.store.put(key, {"n": key[-2:]})
    for name in (A, B):
        manager, ctx = vaults[name]
        sent = [m for m in manager.transfers.churned(ctx, None, NEWCOMER).messages
                if m.dst.name == NEWCOMER]
        assert [len(m.body["records"]) for m in sent] == [TRANSFER_BATCH, 6]
        for msg in sent:
            deliver(vaults, NEWCOMER, replace(msg, sender=name))
    assert all(vaults[NEWCOMER][0].store.get(key) == {"n": key[-2:]} for key in keys)


def test_a_transfer_listing_malformed_reflected_actions_is_refused(vaults: Vaults) -> None:
    for i, reflects in enumerate(("text", [b"short"], [bytes(16)] * 1000)):
        bad = transfer(A, {"owner": "x"}, bytes([i]) * 16)
        with pytest.raises(FrameError, match="reflected actions"):
            deliver(vaults, NEWCOMER,
                    replace(bad, body={**bad.body, "reflects": [[KEY[:64], reflects]]}))
    assert vaults[NEWCOMER][0].pending_transfers() == 0


def test_one_equal_copy_listing_an_action_is_enough_to_mark_it_reflected(
        tmp_path: Path, clock: list[float]) -> None:
    """Found by the sweep (seed 1625): of the two equal copies a newcomer accepted, one came
    from a member that had taken the record by transfer itself and listed none of the actions
    it reflects, so the newcomer then applied the members' resent votes for an action the
    record already held (2 subscribers where its peers had 1)."""
    group = managers, ctxs = counting_group(tmp_path, clock, Counting)
    votes = agree(group, Add(b"request-1"))
    listed, silent = answer(group, A), answer(group, B)
    managers[NEWCOMER].handle(listed, ctxs[NEWCOMER])
    managers[NEWCOMER].handle(replace(silent, body={**silent.body, "reflects": []}),
                              ctxs[NEWCOMER])
    assert managers[NEWCOMER].store.get(KEY) == {"count": 1}
    for vote in votes:
        managers[NEWCOMER].handle(vote, ctxs[NEWCOMER])
    assert managers[NEWCOMER].store.get(KEY) == {"count": 1}


def test_a_restarted_vault_does_not_hand_on_records_it_has_not_reconciled(
        vaults: Vaults) -> None:
    """Kept across a restart, a record may have been deleted meanwhile: a churn sends it to
    nobody until the group confirmed it."""
    manager, ctx = vaults[A]
    manager.store.put(KEY, {"owner": "kept"})
    manager.restarted()
    assert [m for m in manager.transfers.churned(ctx, None, NEWCOMER).messages
            if m.action == "transfer"] == []


def far_group(tmp_path: Path, clock: list[float]) -> tuple[Manager, Ctx, Name, list[Name]]:
    """A group and a vault 7th nearest to it (past next in line, within OFFER_REACH): its
    manager, its view, the lone survivor and the three members whose departures it has not
    noticed yet."""
    group = bytes(63) + b"\x40"

    def at(distance: int) -> Name:
        return bytes(63) + bytes([0x40 ^ distance])

    survivor, departed, others, newcomer = at(1), [at(2), at(3), at(4)], [at(5), at(6)], at(7)
    manager = Manager(RecordStore(Database(tmp_path / "far.db"), "accounts"))
    manager.attach(newcomer)
    ctx = Ctx(newcomer, clock, population=[survivor, *departed, *others, newcomer])
    assert newcomer not in ctx.closest_live(group, PARAMS.group_size + 1, {group})
    return manager, ctx, group, departed


def lone_copy(sender: Name, to: Name, key: bytes) -> Message:
    """The lone survivor's copy of the record `key`, sent to the vault `to`."""
    return Message(src=_auth(sender), dst=_auth(to), action="transfer", msg_id=b"L" * 16,
                   trace_id=bytes(16), sender=sender,
                   body=TransferBody([TransferItem("accounts", key, encode({"owner": "lone"}))],
                                     []).encode())


def test_a_copy_sent_before_we_saw_every_departure_is_taken_once_we_are_in_line(
        tmp_path: Path, clock: list[float]) -> None:
    """Three of a group's four members die at once (sim seed 6): the survivor sends its
    records to the vaults it sees as newcomers, one of which has not noticed every departure
    yet and is not next in line by its own view. It keeps the copy, and takes it once it is in
    line; refused, it never got the record, since nobody sends it again without churn."""
    manager, ctx, group, departed = far_group(tmp_path, clock)
    survivor = ctx.population[0]
    key = group + b"record"
    manager.handle(lone_copy(survivor, ctx.own, key), ctx)
    clock[0] = LONE_TRANSFER_WAIT + 1
    manager.tick_transfers(ctx)
    assert manager.store.get(key) is None, "not a member yet by its own view"
    for name in departed:
        ctx.population.remove(name)
    manager.tick_transfers(ctx)
    assert manager.store.get(key) == {"owner": "lone"}


def test_a_copy_collected_from_down_the_line_leaves_if_we_never_move_up(
        tmp_path: Path, clock: list[float]) -> None:
    manager, ctx, group, _ = far_group(tmp_path, clock)
    key = group + b"record"
    manager.handle(lone_copy(ctx.population[0], ctx.own, key), ctx)
    assert manager.pending_transfers() == 1
    clock[0] = TRANSFER_TTL + 1
    manager.tick_transfers(ctx)
    assert manager.pending_transfers() == 0 and manager.store.get(key) is None


def test_copies_that_disagree_down_the_line_are_asked_about_only_once_in_line(
        tmp_path: Path, clock: list[float]) -> None:
    """A vault that only collects copies (not next in line) asks nobody about a disputed
    record: such queries from every vault down the line were messages for nothing."""
    manager, ctx, group, departed = far_group(tmp_path, clock)
    survivor, other = ctx.population[0], ctx.population[4]
    key = group + b"record"
    first = manager.handle(lone_copy(survivor, ctx.own, key), ctx)
    second = replace(lone_copy(other, ctx.own, key), msg_id=b"M" * 16, body=TransferBody(
        [TransferItem("accounts", key, encode({"owner": "other"}))], []).encode())
    assert not first.messages and not manager.handle(second, ctx).messages
    clock[0] += TRANSFER_ASK_INTERVAL
    assert not manager.tick_transfers(ctx).messages
    for name in departed:
        ctx.population.remove(name)
    asked = manager.tick_transfers(ctx)
    assert [n.what for n in asked.notes] == [EventKind.TRANSFER_DISPUTED]
    assert {m.action for m in asked.messages} == {"transfer_query"}


def test_the_newcomers_a_churn_sends_records_to_are_those_the_group_lacked_before(
        tmp_path: Path) -> None:
    """`churned` sends a record to the members of its group that were not members before the
    change; the shortcut it takes for a group the change did not touch gives the same vaults
    as working out the group before the change, over random tables, groups and changes."""
    rng = random.Random(7)
    manager = Manager(RecordStore(Database(tmp_path / "db.sqlite"), "records"))
    shortcuts = 0
    for _ in range(400):
        population = [rng.randbytes(64) for _ in range(rng.choice((3, 5, 9, 40)))]
        ctx = Ctx(population[0], [0.0], population)
        group = rng.choice((rng.randbytes(64), rng.choice(population)))
        members = ctx.close_group(group)
        lost = added = None
        if rng.random() < 0.5:
            lost = rng.choice((rng.randbytes(64), group, group[:60] + rng.randbytes(4)))
        else:
            added = rng.choice(population[1:])
        before = manager.transfers.group_before(group, ctx, lost, added)
        expected = [m for m in members if m != ctx.own and m not in before]
        assert manager.transfers._newcomers(group, members, ctx, lost, added) == expected
        shortcuts += not expected
    assert 0 < shortcuts < 400

"""Departure checks, without a network: a DataManager that applied a holder's departure on its
own view compares the copy's holders with its peers' CHECK_AFTER later, and a member that
differs from most of its group takes the group's holders. The two shapes the seed sweep found:
a member that never saw the departure (restarted meanwhile, seed 582), and a member that
applied one its peers did not (a long flap seen by it alone, seed 137)."""

from __future__ import annotations

from collections import deque

from tests.personas.memory_network import MemoryNetwork
from vaultnet.messages import Message, Persona
from vaultnet.personas.data_manager import LEFT_AFTER, SWEEP_INTERVAL, DataManager
from vaultnet.personas.departure_checks import CHECK_AFTER, CHECKS_PENDING, CHECKS_PER_TICK
from vaultnet.personas.records import CopyRecord
from vaultnet.protocol import Action, EventKind
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import Name, closest, name_of

COPY = copy_name(name_of(b"a copy whose holder left"), CopyKind.SACRIFICIAL)


class Group:
    """A 12-vault memory network whose four DataManagers of COPY hold it on H1 and H2, two
    vaults outside the group (the nearest such to the copy)."""


    def __init__(self) -> None:
        self.net = MemoryNetwork()
        self.members = self.net.group(COPY)
        others = [n for n in self.net.names if n not in self.members]
        self.h1, self.h2 = closest(COPY, others, 2)
        self.spare = closest(COPY, [n for n in self.net.names
                                    if n not in (self.h1, self.h2)], 1)[0]
        """Who replaces H2 by the usual rule (the nearest other vault, a member or not)."""
        for member in self.members:
            self.dm(member).records.put(
                COPY, CopyRecord(CopyKind.SACRIFICIAL, 32, 1, (self.h1, self.h2), ()).to_record())

    def dm(self, member: Name) -> DataManager:
        """`member`'s DataManager."""
        manager = self.net.vaults[member][Persona.DATA_MANAGER]
        assert isinstance(manager, DataManager)
        return manager

    def holders(self, member: Name) -> tuple[Name, ...]:
        """COPY's holders by `member`'s record."""
        record = self.dm(member).record(COPY)
        assert record is not None
        return record.holders

    def lose(self, member: Name, vault: Name) -> None:
        """`member` stops seeing `vault` (its churn handler is told)."""
        self.net.contexts[member].population.remove(vault)
        self.deliver(member, self.dm(member).churned(self.net.contexts[member], vault, None)
                     .messages)

    def see(self, member: Name, vault: Name) -> None:
        """`member` sees `vault` again."""
        self.net.contexts[member].population.append(vault)
        self.deliver(member, self.dm(member).churned(self.net.contexts[member], None, vault)
                     .messages)

    def tick(self, seconds: float) -> list[Message]:
        """Let `seconds` pass and run every DataManager's tick; what they sent, delivered."""
        self.net.clock[0] += seconds
        sent: list[Message] = []
        for member in self.members:
            out = self.dm(member).tick(self.net.contexts[member])
            self.net.notes.extend((member, note) for note in out.notes)
            sent.extend(out.messages)
            self.deliver(member, out.messages)
        return sent

    def deliver(self, sender: Name, messages: list[Message]) -> None:
        """Hand `messages` sent by `sender` to their recipients, and all they cause."""
        self.net._deliver(deque((m, sender) for m in messages))

    def adopted_by(self) -> list[Name]:
        """Members that took their group's holders."""
        return [m for m, note in self.net.notes if note.what == EventKind.HOLDERS_ADOPTED]


def test_a_member_that_missed_a_departure_takes_the_groups_holders() -> None:
    """H2 dies; three members see it leave and replace it; the fourth (restarted meanwhile, its
    record of departures gone) never does. At the check it takes the others' holders and puts
    the copy to the replacement with the id theirs had."""
    group = Group()
    puts: list[Message] = []

    def keep_puts(msg: Message) -> bool:
        """Lose nothing; note the puts."""
        if msg.action == Action.PUT:
            puts.append(msg)
        return False

    group.net.lost = keep_puts
    *saw, missed = group.members
    for member in group.members:
        if member in saw:
            group.lose(member, group.h2)
        else:
            group.net.contexts[member].population.remove(group.h2)  # never told
    group.tick(LEFT_AFTER)
    replaced = (group.h1, group.spare)
    assert [group.holders(m) for m in saw] == [replaced] * 3
    assert group.holders(missed) == (group.h1, group.h2)
    sent = group.tick(CHECK_AFTER)
    assert sum(m.action == Action.RECORD_CHECK for m in sent) == 3 * 3  # each to each
    assert [group.holders(m) for m in group.members] == [replaced] * 4
    assert group.adopted_by() == [missed]
    # every member's put to the spare's PmidManagers has one id: it reaches their quorum
    to_spare = [m for m in puts if m.dst.name == group.spare]
    assert len(to_spare) == 4 and len({m.msg_id for m in to_spare}) == 1
    for _ in range(3):
        group.tick(SWEEP_INTERVAL)
    assert [group.holders(m) for m in group.members] == [replaced] * 4


def test_a_member_that_applied_a_departure_alone_takes_the_groups_holders_back() -> None:
    """One member's links to H2 are down longer than LEFT_AFTER while its peers still see it:
    that member alone replaces H2. At its check the peers answer with H2 still in, and it takes
    their holders back; the peers keep theirs, and its sweeps do not remove H2 again."""
    group = Group()
    alone = group.members[0]
    group.lose(alone, group.h2)
    group.tick(LEFT_AFTER)
    assert group.holders(alone) == (group.h1, group.spare)
    group.see(alone, group.h2)
    group.tick(CHECK_AFTER)
    assert [group.holders(m) for m in group.members] == [(group.h1, group.h2)] * 4
    assert group.adopted_by() == [alone]
    for _ in range(3):
        group.tick(SWEEP_INTERVAL)
    assert [group.holders(m) for m in group.members] == [(group.h1, group.h2)] * 4


def test_an_even_split_ends_on_one_record_and_a_healthy_group_sends_no_checks() -> None:
    """Two members replaced H2 (a flap only they saw) and two did not: each of the two asks,
    and the other two, told by both, take their holders; a member never follows one peer
    alone, nor a split it is half of. A group where nobody applied a departure sends no
    check at all."""
    group = Group()
    assert not [m for m in group.tick(CHECK_AFTER) if m.action == Action.RECORD_CHECK]
    first, second, third, fourth = group.members
    for member in (first, second):
        group.lose(member, group.h2)
    group.tick(LEFT_AFTER)
    for member in (first, second):
        group.see(member, group.h2)
    replaced = group.holders(first)
    assert replaced != group.holders(third)
    group.tick(CHECK_AFTER)
    assert sorted(group.adopted_by()) == sorted([third, fourth])
    assert [group.holders(m) for m in group.members] == [replaced] * 4


def test_checks_are_bounded_and_started_a_few_at_a_time() -> None:
    """At most CHECKS_PENDING copies wait for a check (the oldest dropped first), and a tick
    starts at most CHECKS_PER_TICK of them (each asks the three other members); a copy no
    longer ours costs nothing."""
    group = Group()
    member = group.members[0]
    manager, ctx = group.dm(member), group.net.contexts[member]
    ours = [c for c in (name_of(bytes([i, 1])) for i in range(256))
            if member in group.net.group(c)][:CHECKS_PER_TICK + 8]
    assert len(ours) == CHECKS_PER_TICK + 8
    for copy in ours:
        manager.records.put(copy, CopyRecord(CopyKind.BACKUP, 1, 1, (group.h1,), ()).to_record())
    for i in range(CHECKS_PENDING):
        manager.departure_checks.departure_applied(name_of(i.to_bytes(4, "big")), ctx)
    for copy in ours:
        manager.departure_checks.departure_applied(copy, ctx)
    assert manager.departure_checks.pending() == CHECKS_PENDING
    group.net.clock[0] += CHECK_AFTER
    checks = [sum(m.action == Action.RECORD_CHECK for m in manager.tick(ctx).messages)
              for _ in range(3)]
    assert checks == [3 * CHECKS_PER_TICK, 3 * 8, 0]

"""A split put vote, sans-IO: the DataManagers of a new copy choose its holders from their own
views of who is live; members that do not see a vault (a partition just healed) propose other
holders than their peers, and no proposal reaches the sync quorum. The split round is detected
and voted again, and the group commits one set of holders, the same everywhere (the sweep's
seed 10 before the fix: the Backup copy was never stored)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.personas.helpers import MEMBERS, PARAMS, Ctx
from vaultnet.group.sync import SYNC_TTL
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.actions import DataPut, RemoveHolder
from vaultnet.personas.bodies import CopyPutBody
from vaultnet.personas.data_manager import HOLDERS_PER_COPY, DataManager
from vaultnet.personas.effects import Outbox
from vaultnet.protocol import Action
from vaultnet.storage.store import CopyKind, Database, RecordStore, copy_name
from vaultnet.xor import Name, closest, name_of

CONTENT = b"a copy whose holders the group must agree on" * 20
CHUNK = name_of(CONTENT)
COPY = copy_name(CHUNK, CopyKind.BACKUP)
HIDDEN = closest(COPY, MEMBERS, 1)[0]
"""The vault nearest the copy: the one some members do not see yet."""
OUTSIDER = b"\x77" * 64
BALLOT = b"r" * 16
"""The put request's message id: it names the ballot."""


class View(Ctx):
    """A member's view in which some vaults are not (yet) live."""

    def __init__(self, own: Name, clock: list[float], hidden: set[Name]) -> None:
        super().__init__(own, clock)
        self.hidden = hidden

    def is_live(self, name: Name) -> bool:
        """Hidden vaults are not live in this view."""
        return name not in self.hidden

    def closest_live(self, target: Name, k: int, exclude: set[Name]) -> list[Name]:
        """The nearest vaults this view sees."""
        return super().closest_live(target, k, exclude | self.hidden)


class Group:
    """The four DataManagers of COPY and the sync messages between them, delivered by hand."""

    def __init__(self, tmp_path: Path, hidden_by: set[Name]) -> None:
        self.clock = [0.0]
        self.managers: dict[Name, DataManager] = {}
        self.views: dict[Name, View] = {}
        for member in MEMBERS:
            manager = DataManager(PARAMS, RecordStore(Database(tmp_path / f"{member.hex()}.db"),
                                                      "records"))
            manager.attach(member)
            self.managers[member] = manager
            self.views[member] = View(member, self.clock,
                                      {HIDDEN} if member in hidden_by else set())
        self.queue: list[tuple[Name, Message]] = []

    def send(self, sender: Name, out: Outbox) -> None:
        self.queue.extend((sender, m) for m in out.messages if m.action == Action.SYNC)

    def put(self, member: Name) -> None:
        """The put request, accumulated at `member` (as if from the MaidManagers)."""
        msg = Message(src=Authority(OUTSIDER, Persona.MAID_MANAGER, group=True),
                      dst=Authority(COPY, Persona.DATA_MANAGER, group=True), action=Action.PUT,
                      msg_id=BALLOT, trace_id=bytes(16), sender=b"",
                      body=CopyPutBody(CHUNK, CopyKind.BACKUP, len(CONTENT), b"c" * 64,
                                       b"o" * 16, Authority(b"c" * 64, Persona.MAID_NODE)
                                       ).encode(),
                      payload=CONTENT)
        out = Outbox()
        self.managers[member].on_put(msg, CONTENT, self.views[member], out)
        self.send(member, out)

    def deliver(self) -> None:
        """Every queued vote to every other member, until none is left."""
        while self.queue:
            sender, msg = self.queue.pop(0)
            for member, manager in self.managers.items():
                if member != sender:
                    out = manager.handle(replace(msg, sender=sender), self.views[member])
                    self.send(member, out)

    def tick(self, seconds: float) -> None:
        """Time passes; every member's timer runs (resends, and re-votes of split rounds)."""
        self.clock[0] += seconds
        for member, manager in self.managers.items():
            self.send(member, manager.resend(self.views[member]))
        self.deliver()

    def heal(self) -> None:
        """Every member sees every vault again."""
        for view in self.views.values():
            view.hidden.clear()

    def records(self) -> dict[Name, tuple[Name, ...] | None]:
        """Each member's holders of COPY (None: no record)."""
        found = {}
        for member, manager in self.managers.items():
            record = manager.record(COPY)
            found[member] = record.holders if record is not None else None
        return found


def vote_in(manager: DataManager, round_: int) -> bytes | None:
    """What `manager` voted in `round_` of the put's ballot (None: no vote)."""
    assert manager.contests is not None
    return manager.contests.voted(COPY, BALLOT, round_)


def test_a_two_to_two_split_is_voted_again_and_commits_one_choice(tmp_path: Path) -> None:
    """Two members do not see the nearest vault: round 0 is 2 + 2 and commits nothing; once a
    member has seen the split it votes round 1 for the round's first choice by the tally (the
    same at every member), or waits while it cannot verify that choice's holders. One round
    more, one record, the same everywhere."""
    others = [m for m in MEMBERS if m != HIDDEN]
    group = Group(tmp_path, hidden_by=set(others[:2]))
    for member in MEMBERS:
        group.put(member)
    group.deliver()
    round_0 = [vote_in(group.managers[m], 0) for m in MEMBERS]
    assert len(set(round_0)) == 2 and all(round_0.count(v) == 2 for v in round_0)
    if set(group.records().values()) == {None}:
        group.heal()  # the round's choice needs the hidden vault: voted once it is seen
        group.tick(1.0)
    holders = set(group.records().values())
    assert len(holders) == 1 and None not in holders
    (chosen,) = holders
    assert chosen is not None and len(chosen) == HOLDERS_PER_COPY
    assert all(m.contests is not None and m.contests.pending() == 0
               and vote_in(m, 2) is None for m in group.managers.values())
    group.tick(SYNC_TTL)  # the split round's votes expire; nothing commits twice
    assert set(group.records().values()) == holders
    assert all(m.sync is not None and m.sync.pending() == 0 for m in group.managers.values())
    records = [m.record(COPY) for m in group.managers.values()]
    assert {r.subscribers if r is not None else None for r in records} == {1}


def test_a_split_that_may_have_won_is_forced_and_waits_for_a_plausible_view(
        tmp_path: Path) -> None:
    """The sweep's seed 10: three members got the put, two see the nearest vault and one does
    not (2 + 1), the fourth never got it. The 2-vote choice may have won with the fourth's
    vote, so it is the only one round 1 may take; the member that cannot see its holder does
    not vote it (nor anything else) until it does. Then the group commits it, the member that
    never got the request too."""
    others = [m for m in MEMBERS if m != HIDDEN]
    late, blind = others[0], others[1]
    group = Group(tmp_path, hidden_by={blind})
    for member in MEMBERS:
        if member != late:
            group.put(member)
    group.deliver()
    group.tick(1.0)
    assert set(group.records().values()) == {None}  # forced choice, blind member waits
    group.heal()
    group.tick(1.0)
    expected = tuple(closest(COPY, MEMBERS, HOLDERS_PER_COPY))
    assert group.records() == {m: expected for m in MEMBERS}
    # The member that never got the request watched, and never voted.
    assert vote_in(group.managers[late], 0) is None


def test_holders_one_vault_chose_alone_are_not_voted(tmp_path: Path) -> None:
    """A peer's choice is voted only if plausible by our own view: unknown vaults, too many
    holders, or vaults we know are not live do not get our vote."""
    group = Group(tmp_path, hidden_by={MEMBERS[1]})
    manager, view = group.managers[MEMBERS[0]], group.views[MEMBERS[0]]
    near = closest(COPY, MEMBERS, HOLDERS_PER_COPY)

    def put(holders: list[Name]) -> DataPut:
        """A peer's round-1 put proposal naming `holders`."""
        return DataPut(CopyKind.BACKUP, len(CONTENT), BALLOT, BALLOT, OUTSIDER,
                       Authority(OUTSIDER, Persona.MAID_NODE), OUTSIDER, holders, 1)

    assert manager.plausible(COPY, put(list(near)), view)
    assert not manager.plausible(COPY, put([OUTSIDER, near[0]]), view)
    assert not manager.plausible(COPY, put(list(MEMBERS[:3])), view)
    assert not manager.plausible(COPY, put([near[0], near[0]]), view)
    assert not manager.plausible(COPY, put(near[:1]), view)
    assert not group.managers[MEMBERS[1]].plausible(COPY, put([HIDDEN, *[
        m for m in near if m != HIDDEN][:1]]), group.views[MEMBERS[1]])


def know_ineligible(group: Group, members: list[Name], vaults: set[Name]) -> None:
    """`members` have learned (from removals of other copies, in their own order) that
    `vaults` are below the rank floor; their peers have not yet."""
    for member in members:
        group.managers[member]._ineligible.update(dict.fromkeys(vaults))


def test_members_that_know_different_vaults_ineligible_still_agree_on_holders(
        tmp_path: Path) -> None:
    """Two members know every vault is below the rank floor and propose no holders; two know
    all but the farthest and propose it alone: 2 + 2. Neither judges the other's choice by
    what it alone knows: the longer choice is voted again first, every member finds it
    plausible, and one record commits everywhere (before: each pair refused the other's
    choice in every round, and the put was never answered)."""
    group = Group(tmp_path, hidden_by=set())
    farthest = closest(COPY, MEMBERS, len(MEMBERS))[-1]
    know_ineligible(group, MEMBERS[:2], set(MEMBERS))
    know_ineligible(group, MEMBERS[2:], set(MEMBERS) - {farthest})
    for member in MEMBERS:
        group.put(member)
    group.deliver()
    assert len({vote_in(group.managers[m], 0) for m in MEMBERS}) == 2  # round 0 split
    group.tick(1.0)
    assert group.records() == {m: (farthest,) for m in MEMBERS}


def test_a_replacement_is_the_same_whatever_each_member_knows_ineligible(
        tmp_path: Path) -> None:
    """A holder is removed by vote; one member alone already knows the next nearest vault is
    below the rank floor. Every member still replaces the holder with the same vault, chosen
    from the record they agreed on (that vault refuses, if it must, and is replaced in turn),
    so the replacement put reaches a quorum at its PmidManagers."""
    group = Group(tmp_path, hidden_by=set())
    for member in MEMBERS:
        group.put(member)
    group.deliver()
    ranked = closest(COPY, MEMBERS, len(MEMBERS))
    assert group.records() == {m: tuple(ranked[:2]) for m in MEMBERS}
    know_ineligible(group, MEMBERS[:1], {ranked[2]})
    removal = RemoveHolder(ranked[0], len(CONTENT), "full (0 bytes free)", b"f" * 16)
    for member, manager in group.managers.items():
        out = Outbox()
        manager.propose(COPY, removal, group.views[member], out, bytes(16))
        group.send(member, out)
    group.deliver()
    assert group.records() == {m: (ranked[1], ranked[2]) for m in MEMBERS}

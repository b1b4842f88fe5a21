"""Departure checks: a DataManager that applied a holder's departure on its own view (no vote,
`DataManager._drop_departed`) compares that copy's holders with its group's once more, later,
and a member whose holders differ from what most of the group holds takes theirs.

Why: a departure applied without a vote leaves records different for good whenever members
saw it differently. A member restarted in the meantime forgets the departures it saw (sweep
seed 582: it kept the dead holder while its peers replaced it), and a member that committed a
put long before its peers (their votes lost, then resent) may replace a holder its links lost
for a while, which its peers, committing later, keep (seed 137). Every such divergence has a
member that applied the departure, so that member starts the comparison; the others only
answer and count what they are told.

The comparison runs CHECK_AFTER seconds after the departure was applied, once every vote in
flight then has committed or been dropped and every peer that saw the holder leave has applied
it too, so it compares settled records. It compares holders only (a departure changes nothing
else; subscribers and failed holders are agreed by vote) and counts a peer's holders only if
its record reflects every action on the copy we committed (one behind on a vote is no
majority to follow). Adopting holders is applying the same change: a holder we did not have is
sent the copy with the id every member's replacement put has (`DataManager.replicate`), so the
put still reaches a quorum at its PmidManagers.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from vaultnet.group.sync import SYNC_TTL, Sync
from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.bodies import RecordCheckBody
from vaultnet.personas.context import Context
from vaultnet.personas.effects import Outbox
from vaultnet.protocol import Action, EventKind
from vaultnet.wire import FrameError
from vaultnet.xor import Name

CHECK_AFTER = SYNC_TTL + 5.0
"""Seconds after we applied a departure that we compare the copy's holders with our peers':
past SYNC_TTL (the latest a vote on the copy may still commit at a lagging member) and past
LEFT_AFTER plus a liveness timeout (the latest a peer that saw the holder leave after us
applies it too)."""
CHECKS_PENDING = 10_000
"""Copies waiting for their check: at most this many (the oldest is dropped first; a copy
whose departure was applied by every member needs no check)."""
CHECKS_PER_TICK = 32
"""Checks started per tick: each asks every other member, so a departed holder of thousands of
copies must not turn into one burst of messages."""
PEER_COPIES = 10_000
"""Copies whose peers' holders we keep while a check runs: at most this many, the oldest
dropped first (as many as checks may be scheduled)."""
PEER_COPY_TTL = 60.0
"""Seconds we keep peers' holders of a copy: a check's answers come within a round trip, and
pushes from peers that applied the same departure within a few seconds of each other."""


class CheckingPersona(Protocol):
    """What the departure checks need from the DataManager they work for."""

    persona: Persona
    sync: Sync | None

    def current_holders(self, copy: Name) -> tuple[Name, ...] | None:
        """Our record's holders of `copy`, or None without a record."""
        ...

    def adopt_holders(self, copy: Name, holders: tuple[Name, ...], ctx: Context,
                      out: Outbox) -> None:
        """Take the group's `holders` for `copy` as ours (and put the copy to new ones)."""
        ...


@dataclass
class _PeerCopy:
    holders: tuple[Name, ...]
    reflects: frozenset[bytes]


@dataclass
class _PeerCopies:
    first: float
    copies: dict[Name, _PeerCopy] = field(default_factory=dict)


class DepartureChecks:
    """One DataManager's scheduled checks (bounded by CHECKS_PENDING) and the peers' holders
    collected for them (bounded by PEER_COPIES and PEER_COPY_TTL)."""

    def __init__(self, owner: CheckingPersona) -> None:
        self._owner = owner
        self._due: OrderedDict[Name, float] = OrderedDict()
        self._peers: OrderedDict[Name, _PeerCopies] = OrderedDict()

    def pending(self) -> int:
        """Checks scheduled and not yet run (bounded)."""
        return len(self._due)

    def departure_applied(self, copy: Name, ctx: Context) -> None:
        """We removed a departed holder of `copy` without a vote: check it CHECK_AFTER later."""
        self._due.pop(copy, None)
        self._due[copy] = ctx.now() + CHECK_AFTER
        while len(self._due) > CHECKS_PENDING:
            self._due.popitem(last=False)

    def tick(self, ctx: Context, out: Outbox) -> None:
        """Run up to CHECKS_PER_TICK due checks: send our holders to every other member of
        the copy's group, asking for theirs; forget peers' copies older than PEER_COPY_TTL."""
        now = ctx.now()
        while self._peers and now - next(iter(self._peers.values())).first > PEER_COPY_TTL:
            self._peers.popitem(last=False)
        started = 0
        while self._due and started < CHECKS_PER_TICK:
            copy, due = next(iter(self._due.items()))
            if now < due:
                return
            del self._due[copy]
            holders = self._owner.current_holders(copy)
            if holders is None or not ctx.is_responsible(copy):
                continue
            started += 1
            for member in ctx.close_group(copy):
                if member != ctx.own:
                    out.send(self._check(ctx, copy, member, holders, True))

    def on_check(self, msg: Message, ctx: Context, out: Outbox) -> None:
        """A member's holders of a copy we are responsible for: answer with ours when asked,
        count theirs, and take the group's holders if most of it differs from us."""
        check = msg.typed(RecordCheckBody)
        copy = check.copy
        if not ctx.could_be_member(msg.sender, copy):
            raise FrameError("record check from outside the copy's group")
        holders = self._owner.current_holders(copy)
        if holders is None or not ctx.is_responsible(copy):
            return
        if check.ask:
            out.send(self._check(ctx, copy, msg.sender, holders, False))
        peers = self._peers.get(copy)
        if peers is None:
            peers = self._peers[copy] = _PeerCopies(ctx.now())
            while len(self._peers) > PEER_COPIES:
                self._peers.popitem(last=False)
        peers.copies[msg.sender] = _PeerCopy(tuple(check.holders), frozenset(check.reflects))
        agreed = self._agreed(copy, holders, peers, ctx)
        if agreed is not None:
            del self._peers[copy]
            out.note(EventKind.HOLDERS_ADOPTED, copy, bytes(16), before=list(holders),
                     after=list(agreed), persona=self._owner.persona.value)
            self._owner.adopt_holders(copy, agreed, ctx, out)

    def _agreed(self, copy: Name, ours: tuple[Name, ...], peers: _PeerCopies,
                ctx: Context) -> tuple[Name, ...] | None:
        """Holders other than ours that more members hold than ours (we count ourselves), and
        at least two peers: only peers still in the group by our view, and only those whose
        record reflects every action on the copy we committed."""
        sync = self._owner.sync
        committed = frozenset(sync.committed(copy)) if sync is not None else frozenset()
        group = set(ctx.close_group(copy))
        counts: dict[tuple[Name, ...], int] = {}
        for sender, peer in peers.copies.items():
            if sender in group and committed <= peer.reflects:
                counts[peer.holders] = counts.get(peer.holders, 0) + 1
        same = 1 + counts.pop(ours, 0)
        best = max(counts.items(), key=lambda item: (item[1], item[0]), default=None)
        if best is None or best[1] < 2 or best[1] <= same:
            return None
        return best[0]

    def _check(self, ctx: Context, copy: Name, member: Name, holders: tuple[Name, ...],
               ask: bool) -> Message:
        """Our holders of `copy` for `member`, with the actions our record reflects."""
        sync, persona = self._owner.sync, self._owner.persona
        reflects = sync.committed(copy) if sync is not None else []
        return Message(src=Authority(ctx.own, persona), dst=Authority(member, persona),
                       action=Action.RECORD_CHECK,
                       msg_id=new_id("record_check", copy, member, repr(ctx.now()), str(ask)),
                       trace_id=bytes(16), sender=b"",
                       body=RecordCheckBody(copy, list(holders), reflects, ask).encode())

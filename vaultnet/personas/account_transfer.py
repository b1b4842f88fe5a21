"""Account transfer (docs/origins.md): when a close group changes, its remaining members send
each record to the vaults newly responsible for it, and a newcomer accepts a record once enough
members' copies agree. A restarted vault reconciles the records it kept the same way.

`AccountTransfer` is the component every group persona holds for this; what it needs from its
persona is the `TransferringPersona` protocol."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from vaultnet.group import Sync
from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.applied import AppliedActions
from vaultnet.personas.bodies import (
    TRANSFER_BATCH,
    TRANSFER_BATCH_BYTES,
    GroupReflects,
    TransferBody,
    TransferItem,
    TransferQueryBody,
)
from vaultnet.personas.context import Context, knows_a_group
from vaultnet.personas.effects import Outbox
from vaultnet.personas.record_codec import decode_record
from vaultnet.protocol import Action, EventKind
from vaultnet.routing import Parameters
from vaultnet.storage.records import Records, encode
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name, closest, distance

TRANSFER_QUORUM = 2
TRANSFERS_PENDING = 10_000
TRANSFER_TTL = 60.0
"""Records whose transferred copies are still being collected, per persona: at most this many
(the oldest is dropped first: a newcomer taking over a group's whole share of records), each
for at most this many seconds (well past LONE_TRANSFER_WAIT and the last dispute round); a
record dropped unaccepted is sent again at the next churn of its group."""
LONE_TRANSFER_WAIT = 10.0
"""Seconds after which a record only one member sent is accepted: when most of a group left at
once, the lone survivor's copy is all there is (a contradicting copy in the meantime wins)."""
TRANSFER_ASK_INTERVAL = 2.0
TRANSFER_ASK_ROUNDS = 3
"""When members' copies of a record disagree (one was sent before a change committed, another
after), the newcomer asks the whole group for its current copy, at most this many times, this
many seconds apart; each answer replaces that member's earlier copy."""
DELETED_KEPT = 10_000
DELETED_TTL = 300.0
"""Records this vault deleted by agreement and whose keys are never used again (a message in
an inbox or outbox): a transferred copy of one is refused. A member that missed the deletion
still holds the record and sends it at the next churn of its group; taken as a lone copy, it
came back to life in members that had deleted it (seed sweep, seed 909: a message delivered
and acknowledged returned to the inbox, and the members' answers to the node never agreed
again). At most this many keys per persona (oldest dropped first), each for this many seconds:
the stale copy comes with a churn of the group, within seconds to minutes."""
ABSENT = b""
"""The value a member answers a transfer query with when it holds no such record (a record's
canonical bytes are never empty): a vault that kept a record across a restart drops it when
TRANSFER_QUORUM members say so and none holds it (it was deleted while the vault was away;
taken as a lone copy, it came back to life: a chunk deleted while one of its DataManagers was
down was listed again, naming that vault as a holder)."""
OFFER_REACH = 4
"""How far past the next in line (group size + 1 nearest live vaults to a group, by our view) a
member's copy of a record is still collected: several members leaving at once make vaults
that far down the line newcomers, and a newcomer may not have noticed every departure yet
when the survivors' copies arrive (three of a group's four members killed, sim seed 6: the
third newcomer refused the lone survivor's copy a millisecond before it saw the last
departure, and never got the record). A copy collected from there is accepted only once we
are next in line (`tick` looks again); one that never is leaves at TRANSFER_TTL."""
RECONCILE_PER_TICK = 32
"""Records a restarted vault starts reconciling per tick: each one asks every other member of
its group, so thousands of kept records must not turn into one burst of queries."""


class TransferringPersona(Protocol):
    """What account transfer needs from the persona it works for."""

    persona: Persona
    params: Parameters
    sync: Sync | None
    applied: AppliedActions

    def transfer_stores(self) -> list[Records]:
        """The stores whose records move with churn (keys start with their group's name)."""
        ...

    def record_arrived(self, store: Records, key: bytes, record: dict[str, Any],
                       ctx: Context, out: Outbox) -> None:
        """A transferred record was accepted (the persona may act on churn it missed)."""
        ...


def agreed_record(copies: list[bytes]) -> dict[str, Any] | None:
    """The record a newcomer accepts from members' copies, or None while undecided: one held
    by TRANSFER_QUORUM members, else (three or more copies of a counters-only record, e.g. a
    PmidManager account) the per-field median."""
    for data in set(copies):
        if copies.count(data) >= TRANSFER_QUORUM:
            return decode_record(data)
    if len(copies) < 3:
        return None
    records = [decode_record(data) for data in copies]
    fields = set(records[0])
    if any(set(r) != fields or not all(isinstance(v, int) for v in r.values())
           for r in records):
        return None
    return {f: sorted(r[f] for r in records)[len(records) // 2] for f in sorted(fields)}


@dataclass
class _PendingTransfer:
    first: float
    copies: dict[Name, bytes] = field(default_factory=dict)
    reflects: dict[Name, frozenset[bytes]] = field(default_factory=dict)
    asked: float | None = None
    rounds: int = 0

    def agreed(self) -> dict[str, Any] | None:
        """The record the copies collected so far agree on (`agreed_record`; a kept record's
        ABSENT answers aside), or None while undecided."""
        return agreed_record([copy for copy in self.copies.values() if copy != ABSENT])

    def disputed(self) -> bool:
        """Whether members sent different copies (then the group is asked again)."""
        return len(set(self.copies.values())) > 1

    def reflected_by(self, record: dict[str, Any]) -> frozenset[bytes]:
        """What the accepted `record` surely holds: every action a member whose copy equals it
        says its copy reflects (equal copies hold the same effects, and a member that took
        the record by transfer lists none of the actions it reflects, so one sender that
        committed an action is enough: seed sweep, seed 1625, where a newcomer counted a put
        a second time); for a per-field median, only what every copy reflects."""
        data = encode(record)
        equal = [s for s, copy in self.copies.items() if copy == data]
        if equal:
            return frozenset().union(*(self.reflects.get(s, frozenset()) for s in equal))
        return frozenset.intersection(*(self.reflects.get(s, frozenset()) for s in self.copies))


class AccountTransfer:
    """One persona's records in transit: the copies collected per record (bounded by
    TRANSFERS_PENDING and TRANSFER_TTL), and the records kept across a restart that their
    group has not confirmed yet."""

    def __init__(self, owner: TransferringPersona) -> None:
        self._owner = owner
        self._transfers: OrderedDict[tuple[str, bytes], _PendingTransfer] = OrderedDict()
        # Records kept across a restart and not yet reconciled with their group (at most one
        # entry per stored record), and those of them not yet asked about.
        self._unconfirmed: set[tuple[str, bytes]] = set()
        self._to_reconcile: deque[tuple[str, bytes]] = deque()
        self._deleted: OrderedDict[tuple[str, bytes], float] = OrderedDict()

    def pending(self) -> int:
        """Records whose transferred copies are still being collected (bounded)."""
        return len(self._transfers)

    def restarted(self) -> None:
        """The vault (re)started on the records it kept: each stays in use but is unconfirmed
        until its group's current copy confirms or replaces it (asked by `tick`).
        An unconfirmed record is never a reason to tell anyone to delete anything."""
        for store in self._owner.transfer_stores():
            for key in store.keys():  # noqa: SIM118 (Records, not a dict)
                self._unconfirmed.add((store.table, key))
                self._to_reconcile.append((store.table, key))

    def delete_for_good(self, store: Records, key: bytes, ctx: Context) -> bool:
        """Delete the record under `key`, whose key is never used again, by agreement: for
        DELETED_TTL a transferred copy of it is refused (DELETED_KEPT). True if we held it."""
        held = store.delete(key)
        self._deleted[(store.table, key)] = ctx.now()
        self._deleted.move_to_end((store.table, key))
        while len(self._deleted) > DELETED_KEPT:
            self._deleted.popitem(last=False)
        return held

    def _deleted_here(self, table: str, key: bytes, now: float) -> bool:
        """Whether we deleted `key` for good less than DELETED_TTL ago."""
        while self._deleted and now - next(iter(self._deleted.values())) > DELETED_TTL:
            self._deleted.popitem(last=False)
        return (table, key) in self._deleted

    def collecting(self, store: Records, key: bytes) -> bool:
        """Whether members' copies of the record `key` are being collected here (we may be
        about to hold it)."""
        return (store.table, key) in self._transfers

    def is_confirmed(self, store: Records, key: bytes) -> bool:
        """Whether our record for `key` is current: not one kept across a restart that the
        group has not confirmed yet."""
        return (store.table, key) not in self._unconfirmed

    def settled(self, group: Name) -> bool:
        """Whether every record of `group` we hold is current: none is still being collected
        from members or waiting to be confirmed after a restart (what we would tell about it
        is the group's, not a partial copy)."""
        return not any(key[:NAME_SIZE] == group
                       for _, key in (*self._transfers, *self._unconfirmed))

    def churned(self, ctx: Context, lost: Name | None, added: Name | None) -> Outbox:
        """After a change in our close set: send each record we still hold to every vault that
        has just become responsible for it, and drop those a newcomer has taken from us.

        Every remaining member sends, so the receiver can accept at TRANSFER_QUORUM equal
        copies. The message id names the churn event: a vault that left a group and comes back
        into it must not have the second transfer answered by its firewall as a duplicate.
        A record is dropped only when `added` pushed us out of its group (not when our view
        merely shrank), so a vault never throws away the last copy on a partial view.
        """
        out = Outbox()
        batches = _Batches(lambda member, items: out.send(self._transfer(
            ctx, member, items, new_id("transfer", member, lost or b"", added or b"",
                                       *(i.store.encode() + i.key + i.value for i in items)))))
        newcomers_of: dict[Name, list[Name]] = {}  # a PmidManager holds many records a node
        for store in self._owner.transfer_stores():
            dropped = []
            for key, value in store.raw_items():
                group = key[:NAME_SIZE]
                members = ctx.close_group(group)
                if ctx.own not in members:
                    if added is not None and added in members:
                        dropped.append(key)
                    continue
                if not self.is_confirmed(store, key):
                    continue  # kept across a restart, not reconciled: perhaps deleted since
                newcomers = newcomers_of.get(group)
                if newcomers is None:
                    newcomers = newcomers_of[group] = self._newcomers(group, members, ctx, lost,
                                                                      added)
                if newcomers:
                    item = TransferItem(store.table, key, value)
                    for member in newcomers:
                        batches.add(member, item)
            for key in dropped:
                store.delete(key)
        batches.flush()
        return out

    def _newcomers(self, group: Name, members: list[Name], ctx: Context, lost: Name | None,
                   added: Name | None) -> list[Name]:
        """The members of `group` (`members`, our view now) it did not have before `lost` left
        and `added` came: whom our copies of its records go to. A churn event changes few
        groups: when `added` is not a member and `lost` (if any) was farther from `group`
        than its farthest member now, nobody is new: found without `group_before`'s look over
        the whole table, which otherwise ran for every record held on every churn event."""
        if added not in members and (
                lost is None or lost == group or len(members) < self._owner.params.group_size
                or distance(group, lost) > distance(group, members[-1])):
            return []
        before = self.group_before(group, ctx, lost, added)
        return [member for member in members if member != ctx.own and member not in before]

    def group_before(self, group: Name, ctx: Context, lost: Name | None,
                     added: Name | None) -> list[Name]:
        """The close group of `group` as we saw it before `lost` left and `added` came."""
        size = self._owner.params.group_size
        candidates = set(ctx.closest_live(group, size + 1, {group}))
        candidates.discard(added)
        if lost is not None and lost != group:
            candidates.add(lost)
        return closest(group, candidates, size)

    def on_transfer(self, msg: Message, ctx: Context, out: Outbox) -> None:
        """A member's copies of records we are newly responsible for, each taken on its own
        (`_offered`); a transfer naming a table we do not have is dropped whole."""
        stores = {store.table: store for store in self._owner.transfer_stores()}
        transfer = msg.typed(TransferBody)
        if any(item.store not in stores or len(item.key) < NAME_SIZE
               for item in transfer.records):
            raise FrameError("transfer of an unknown record")
        reflects = {g.group: frozenset(g.reflects) for g in transfer.reflects}
        places: dict[Name, int | None] = {}  # per group: a node's account is many records
        for item in transfer.records:
            group = item.key[:NAME_SIZE]
            if group not in places:
                places[group] = self._place_in_line(group, ctx)
            self._offered(stores[item.store], item.key, item.value,
                          reflects.get(group, frozenset()), msg.sender, places[group], ctx, out)

    def _offered(self, store: Records, key: bytes, data: bytes, reflects: frozenset[bytes],
                 sender: Name, place: int | None, ctx: Context, out: Outbox) -> None:
        """One member's copy of a record, for whose group we are at `place` in line
        (`_place_in_line`). What we already hold wins; otherwise TRANSFER_QUORUM equal copies
        from distinct members are accepted, or, once three members disagree about counters,
        their per-field median."""
        group = key[:NAME_SIZE]
        if ((key in store and self.is_confirmed(store, key)) or place is None
                or not ctx.could_be_member(sender, group)
                or self._deleted_here(store.table, key, ctx.now())):
            return
        collected = self._transfers.get((store.table, key))
        if data == ABSENT and (collected is None or ctx.own not in collected.copies):
            return  # only the reconciliation of a record we kept asks about its absence
        pending = self._pending(store, key, ctx)
        pending.copies[sender] = data
        pending.reflects[sender] = reflects
        others = [copy for member, copy in pending.copies.items() if member != ctx.own]
        if others.count(ABSENT) >= TRANSFER_QUORUM and set(others) == {ABSENT}:
            self._drop_kept(store, key)
            return
        if place > self._owner.params.group_size:
            return  # collected only: `tick` accepts or asks once we are in line
        accepted = pending.agreed()
        if accepted is not None:
            self._accept(store, key, accepted, ctx, out)
        elif pending.disputed() and pending.asked is None:
            self._ask_group(store.table, key, pending, ctx, out)

    def _place_in_line(self, group: Name, ctx: Context) -> int | None:
        """Our place (0 first) among the live vaults nearest `group` by our view, as far down
        as a member's copy of its records is still collected (group size + 1 + OFFER_REACH),
        None past that. Places up to group size are next in line: we may not have noticed the
        departure that made us a member yet."""
        line = ctx.closest_live(group, self._owner.params.group_size + 1 + OFFER_REACH, {group})
        return line.index(ctx.own) if ctx.own in line else None

    def _in_line(self, group: Name, ctx: Context) -> bool:
        """Whether we are next in line for `group`'s records (`_place_in_line`)."""
        place = self._place_in_line(group, ctx)
        return place is not None and place <= self._owner.params.group_size

    def _pending(self, store: Records, key: bytes, ctx: Context) -> _PendingTransfer:
        """The copies collected for `key`; a record we kept across a restart counts as our own
        copy, so one member's equal copy confirms it."""
        pending = self._transfers.get((store.table, key))
        if pending is None:
            pending = self._transfers[(store.table, key)] = _PendingTransfer(ctx.now())
            value = store.get(key) if not self.is_confirmed(store, key) else None
            if value is not None:
                pending.copies[ctx.own] = encode(value)
            while len(self._transfers) > TRANSFERS_PENDING:
                self._transfers.popitem(last=False)
        return pending

    def _ask_group(self, table: str, key: bytes, pending: _PendingTransfer, ctx: Context,
                   out: Outbox) -> None:
        """Members sent different copies, or we reconcile a record kept across a restart: ask
        every member for its current one."""
        persona = self._owner.persona
        pending.asked, pending.rounds = ctx.now(), pending.rounds + 1
        if pending.disputed():
            out.note(EventKind.TRANSFER_DISPUTED, key, bytes(16), store=table,
                     round=pending.rounds, copies=len(pending.copies), persona=persona.value)
        for member in ctx.close_group(key[:NAME_SIZE]):
            if member != ctx.own:
                out.send(Message(
                    src=Authority(ctx.own, persona), dst=Authority(member, persona),
                    action=Action.TRANSFER_QUERY,
                    msg_id=new_id("transfer_query", table, key, member, repr(ctx.now())),
                    trace_id=bytes(16), sender=b"", body=TransferQueryBody(table, key).encode()))

    def on_transfer_query(self, msg: Message, ctx: Context, out: Outbox) -> None:
        """A newcomer asks for our current copy of a record whose transferred copies disagreed.
        Only a vault that could be in the record's group is answered, and only by members."""
        stores = {store.table: store for store in self._owner.transfer_stores()}
        query = msg.typed(TransferQueryBody)
        table, key = query.store, query.key
        if table not in stores:
            raise FrameError(f"body field 'store' names no table of ours: {table!r}")
        group = key[:NAME_SIZE]
        if len(key) < NAME_SIZE or not ctx.could_be_member(msg.sender, group):
            raise FrameError("transfer query from outside the record's group")
        value = stores[table].get(key)
        if not ctx.is_responsible(group) or (value is None and (table, key) in self._transfers):
            return  # not ours to answer, or we are still collecting it ourselves
        data = ABSENT if value is None else encode(value)
        out.send(self._transfer(ctx, msg.sender, [TransferItem(table, key, data)],
                                new_id("transfer_answer", table, key, data, msg.msg_id)))

    def _transfer(self, ctx: Context, member: Name, items: list[TransferItem],
                  msg_id: bytes) -> Message:
        """Our copies of records for `member`, with the actions each group of them already
        reflects."""
        sync, persona = self._owner.sync, self._owner.persona
        groups = dict.fromkeys(item.key[:NAME_SIZE] for item in items)
        reflects = [GroupReflects(group, sync.committed(group)) for group in groups
                    ] if sync is not None else []
        return Message(src=Authority(ctx.own, persona),
                       dst=Authority(member, persona), action=Action.TRANSFER,
                       msg_id=msg_id,
                       trace_id=bytes(16), sender=b"",
                       body=TransferBody(items, reflects).encode())

    def _drop_kept(self, store: Records, key: bytes) -> None:
        """The group holds no such record: the one we kept across a restart was deleted while
        we were away."""
        self._transfers.pop((store.table, key), None)
        self._unconfirmed.discard((store.table, key))
        store.delete(key)

    def _accept(self, store: Records, key: bytes, record: dict[str, Any], ctx: Context,
                out: Outbox) -> None:
        """Take `record` as ours for `key` (unless a confirmed one came meanwhile) and tell the
        persona if it changed what we held."""
        pending = self._transfers.pop((store.table, key))
        kept = store.get(key)
        if kept is not None and self.is_confirmed(store, key):
            return
        sync, reflected = self._owner.sync, pending.reflected_by(record)
        if sync is not None:
            sync.mark_reflected(key[:NAME_SIZE], reflected, ctx.now())
        # On disk too: restarted within the resend window, we must still not apply them.
        self._owner.applied.add(key[:NAME_SIZE], reflected, ctx.network_time())
        self._unconfirmed.discard((store.table, key))
        if kept is None and ctx.own in pending.copies:
            return  # a record we kept, deleted meanwhile (by agreement, or we left its group)
        if kept is None or encode(kept) != encode(record):
            store.put(key, record)
            out.note(EventKind.ACCOUNT_TRANSFERRED, key, bytes(16), store=store.table,
                     copies=len(pending.copies), replaced=kept is not None)
            self._owner.record_arrived(store, key, record, ctx, out)

    def tick(self, ctx: Context) -> Outbox:
        """Accept records only one member sent, once LONE_TRANSFER_WAIT has passed; ask the
        group again about records still disputed (at most TRANSFER_ASK_ROUNDS times); start
        reconciling up to RECONCILE_PER_TICK records kept across a restart.

        A kept record is reconciled like a transfer in which we sent our own copy: the group's
        agreed copy replaces it; with no member answering within LONE_TRANSFER_WAIT (the whole
        group restarted, or we are all that is left of it) our own copy is accepted."""
        out = Outbox()
        stores = {store.table: store for store in self._owner.transfer_stores()}
        now = ctx.now()
        while self._transfers and now - next(iter(self._transfers.values())).first > TRANSFER_TTL:
            self._transfers.popitem(last=False)
        started = 0
        while self._to_reconcile and started < RECONCILE_PER_TICK and knows_a_group(ctx):
            table, key = self._to_reconcile.popleft()
            store = stores[table]
            if (table, key) not in self._unconfirmed or (table, key) in self._transfers:
                continue
            if key not in store:
                self._unconfirmed.discard((table, key))
                continue
            started += 1
            self._ask_group(table, key, self._pending(store, key, ctx), ctx, out)
        in_line: dict[Name, bool] = {}  # per group: a PmidManager's node has many records
        for (table, key), pending in list(self._transfers.items()):
            kept = ctx.own in pending.copies  # reconciling our own copy, not a transfer
            if not kept:
                group = key[:NAME_SIZE]
                if group not in in_line:
                    in_line[group] = self._in_line(group, ctx)
                if not in_line[group]:
                    continue  # collected from further down the line: we may still move up
            agreed = None if kept else pending.agreed()
            if agreed is not None:
                self._accept(stores[table], key, agreed, ctx, out)
            elif len(pending.copies) == 1 and now - pending.first > LONE_TRANSFER_WAIT:
                (data,) = pending.copies.values()
                self._accept(stores[table], key, decode_record(data), ctx, out)
            elif pending.disputed() and pending.asked is None:
                self._ask_group(table, key, pending, ctx, out)  # disputed down the line
            elif ((pending.disputed() or set(pending.copies) == {ctx.own})
                  and pending.asked is not None
                  and pending.rounds < TRANSFER_ASK_ROUNDS
                  and now - pending.asked >= TRANSFER_ASK_INTERVAL):
                self._ask_group(table, key, pending, ctx, out)
        return out


class _Batches:
    """Records bound for each member, handed to `send` in batches of at most TRANSFER_BATCH
    records and TRANSFER_BATCH_BYTES (a record over that goes alone)."""

    def __init__(self, send: Callable[[Name, list[TransferItem]], object]) -> None:
        self._send = send
        self._items: dict[Name, list[TransferItem]] = {}
        self._bytes: dict[Name, int] = {}

    def add(self, member: Name, item: TransferItem) -> None:
        """Queue `item` for `member`, sending the member's batch first if it is full."""
        size = len(item.key) + len(item.value)
        held = self._items.get(member)
        if held and (len(held) >= TRANSFER_BATCH
                     or self._bytes[member] + size > TRANSFER_BATCH_BYTES):
            self._send(member, self._items.pop(member))
            held = None
        if held is None:
            self._items[member], self._bytes[member] = [], 0
        self._items[member].append(item)
        self._bytes[member] += size

    def flush(self) -> None:
        """Send every batch still held."""
        for member, items in self._items.items():
            self._send(member, items)
        self._items.clear()

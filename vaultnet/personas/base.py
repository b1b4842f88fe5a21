"""What every persona shares: the read-only view it is given, the effects it returns, and the
group plumbing (accumulate, firewall, sync) the original design (docs/origins.md) describes
as "Ac, Fw, Sy".

A persona never does I/O: `handle` takes a message and a `Context` and returns an `Outbox` of
messages to send and events to emit. The vault runtime (`vaultnet.runtime.host`) delivers them.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import FunctionType, MappingProxyType
from typing import Any, ClassVar, Protocol, TypeVar

import msgpack

from vaultnet.group import Accumulation, Accumulator, Firewall, Sync
from vaultnet.group.firewall import SYNCHRONISING, is_fresh
from vaultnet.group.sync import DIGEST_SIZE, REFLECTED_PER_KEY
from vaultnet.messages import CLIENT_PERSONAS, ID_SIZE, Authority, Message, Persona, derived_id
from vaultnet.protocol import Action, EventKind, Op
from vaultnet.routing import Parameters
from vaultnet.storage.records import Records, encode
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name, closest

PENDING_LIMIT = 10_000
"""Entries in each of a DataManager's small bookkeeping tables (awaited Primary stores,
outstanding fetches, removals that came before their record): a table never holds more, the
oldest is dropped first."""
PAYLOAD_WAIT = 5.0
PAYLOAD_ASKS = 3
"""An agreed request that needs content and arrived without it (the sending group's lead, who
attaches content, changed or died on the way) waits this long before we ask the sending group
for it again, at most this many times."""
WAITING_TTL = 60.0
WAITING_LIMIT = 1_000
"""Agreed requests waiting for their content, per persona: one is forgotten this many seconds
after it was agreed (the last ask goes out after PAYLOAD_WAIT * PAYLOAD_ASKS = 15 s, and its
answer may wait for the sender to fetch the content from a holder or a sibling copy's group,
up to 20 s more), and at most this many wait at once (the oldest is dropped first). Each
holds the message without content: a few hundred bytes."""
STASH_BYTES = 16 * 1024 * 1024
STASH_ENTRIES = 4_096
STASH_TTL = 30.0
"""The content one vault holds for its personas (every persona of a vault shares one stash):
at most this many bytes and entries (the oldest is dropped first), each for at most this many
seconds. Content is released as soon as its use is over (see `PayloadStash`); the time window
outlives the last ask for content again (PAYLOAD_WAIT * PAYLOAD_ASKS) with a margin, and the
byte budget holds the content of a burst of 1 MiB puts this vault is a manager for."""

# PersonaEvent.what values: names for members of `vaultnet.protocol.EventKind` (the one list of
# event kinds), kept for the readers (dashboard, tests) that import them from here.
CHUNK_STORED = EventKind.CHUNK_STORED
CHUNK_DELETED = EventKind.CHUNK_DELETED
SACRIFICIAL_EVICTED = EventKind.SACRIFICIAL_EVICTED
PUT_FAILURE = EventKind.PUT_FAILURE
HOLDER_ADDED = EventKind.HOLDER_ADDED
HOLDER_REMOVED = EventKind.HOLDER_REMOVED
REPLICATED = EventKind.REPLICATED
SYNC_COMMITTED = EventKind.SYNC_COMMITTED
RANK_CHANGED = EventKind.RANK_CHANGED
ACCUMULATED = EventKind.ACCUMULATED
FIREWALL_ANSWERED = EventKind.FIREWALL_ANSWERED
CACHE_HIT = EventKind.CACHE_HIT
ACCOUNT_TRANSFERRED = EventKind.ACCOUNT_TRANSFERRED
TRANSFER_DISPUTED = EventKind.TRANSFER_DISPUTED
REQUEST_EXPIRED = EventKind.REQUEST_EXPIRED

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
RECONCILE_PER_TICK = 32
"""Records a restarted vault starts reconciling per tick: each one asks every other member of
its group, so thousands of kept records must not turn into one burst of queries."""


class Context(Protocol):
    """The read-only view of the vault a persona decides with."""

    own: Name
    params: Parameters

    def now(self) -> float:
        """The vault's clock: what persona timeouts are measured on (virtual on the simulator)."""
        ...

    def network_time(self) -> float:
        """The wall clock the network agrees on, for request windows other vaults check too."""
        ...

    def close_group(self, name: Name) -> list[Name]:
        """The close group of `name` by our routing table (whom a group message goes to)."""
        ...

    def is_responsible(self, name: Name) -> bool:
        """Whether we are in the close group of `name`, i.e. must act for it."""
        ...

    def is_live(self, name: Name) -> bool:
        """Whether `name` is us or a peer in our table, i.e. worth sending to now."""
        ...

    def could_be_member(self, sender: Name, group: Name) -> bool:
        """Whether `sender` is a vault we know (or learnt of by looking the group up) and is
        in the group for `group` by our own view: never the benefit of the doubt."""
        ...

    def closest_live(self, target: Name, k: int, exclude: set[Name]) -> list[Name]:
        """The `k` live vaults (us included) closest to `target` but `exclude`, to pick holders."""
        ...

    def nonce(self) -> bytes:
        """16 bytes nobody else can predict (on the simulator: from the vault's seeded
        generator, so a seed still reproduces its run)."""
        ...


@dataclass(frozen=True)
class Note:
    """An event a persona wants emitted (turned into a PersonaEvent by the host)."""

    what: EventKind
    subject: Name
    trace: bytes
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outbox:
    """What a persona decided: messages for the host to send, events for it to emit."""

    messages: list[Message] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def send(self, msg: Message) -> None:
        """Queue `msg` for sending (the host sends it once the handler's transaction commits)."""
        self.messages.append(msg)

    def note(self, what: EventKind, subject: Name, trace: bytes, **detail: Any) -> None:
        """Queue a `what` event about `subject`, so the dashboard and tests can see it."""
        self.notes.append(Note(what, subject, trace, detail))

    def extend(self, other: Outbox) -> None:
        """Add `other`'s messages and notes to ours (the host delivers several at once)."""
        self.messages.extend(other.messages)
        self.notes.extend(other.notes)


def canonical(obj: dict[str, Any]) -> bytes:
    """Canonical bytes of an action or record, so members' votes and copies compare equal: the
    one canonical encoding the record stores use (`vaultnet.storage.records.encode`)."""
    return encode(obj)


def decode_record(data: bytes) -> dict[str, Any]:
    """A record (or action) map from its msgpack bytes; FrameError if it is not one."""
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=False, max_bin_len=1 << 20)
    except Exception as exc:
        raise FrameError("undecodable record") from exc
    if not isinstance(value, dict):
        raise FrameError("a record must be a map")
    return value


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


def decode_action(data: bytes) -> dict[str, Any]:
    """An agreed action record from its canonical bytes, its `op` as an `Op`: FrameError if
    it is not a map or names no op (a malformed vote never reaches a commit)."""
    value = decode_record(data)
    value["op"] = Op.decode(value.get("op"))
    return value


Handler = Callable[[Any, Message, bytes, Context, Outbox], None]
"""A persona's handler for one `Action`: `(persona, msg, payload, ctx, out)`."""
Commit = Callable[[Any, Name, dict[str, Any], Context, Outbox, bytes], None]
"""A persona's commit of one agreed `Op`: `(persona, key, action, ctx, out, trace)`."""
HandlerT = TypeVar("HandlerT", bound=Handler)
CommitT = TypeVar("CommitT", bound=Commit)
_HANDLES: dict[Callable[..., None], Action] = {}
_COMMITS: dict[Callable[..., None], Op] = {}


def handles(action: Action) -> Callable[[HandlerT], HandlerT]:
    """Register the decorated method as its persona's one handler for `action`: the class's
    `HANDLERS` table is built from these when the class is created."""

    def register(fn: HandlerT) -> HandlerT:
        _HANDLES[fn] = action
        return fn

    return register


def commits(op: Op) -> Callable[[CommitT], CommitT]:
    """Register the decorated method as its persona's one commit of `op` (the `COMMITS`
    table), run by every member once the group agreed on an action with that op."""

    def register(fn: CommitT) -> CommitT:
        _COMMITS[fn] = op
        return fn

    return register


def dispatch_tables(cls: type) -> tuple[Mapping[Action, Handler], Mapping[Op, Commit]]:
    """`cls`'s handler and commit tables, from the methods registered with `handles` and
    `commits` along its MRO (a subclass's registration for an action replaces its base's).
    TypeError if one class registers two methods for the same action or op: each is handled
    exactly once."""
    handlers: dict[Action, Handler] = {}
    commit_table: dict[Op, Commit] = {}
    for klass in reversed(cls.__mro__):
        own_handlers: dict[Action, Handler] = {}
        own_commits: dict[Op, Commit] = {}
        for fn in vars(klass).values():
            if not isinstance(fn, FunctionType):
                continue
            action, op = _HANDLES.get(fn), _COMMITS.get(fn)
            if action is not None:
                if action in own_handlers:
                    raise TypeError(f"{klass.__qualname__} has two handlers for {action!r}")
                own_handlers[action] = fn
            if op is not None:
                if op in own_commits:
                    raise TypeError(f"{klass.__qualname__} has two commits of {op!r}")
                own_commits[op] = fn
        handlers.update(own_handlers)
        commit_table.update(own_commits)
    return MappingProxyType(handlers), MappingProxyType(commit_table)


def body_bytes(msg: Message, key: str, size: int | None = 64) -> bytes:
    """`msg.body[key]` as bytes of `size` (any size if None); FrameError otherwise."""
    value = msg.body.get(key)
    if not isinstance(value, bytes) or (size is not None and len(value) != size):
        raise FrameError(f"body field {key!r} missing or malformed")
    return value


def body_int(msg: Message, key: str) -> int:
    """`msg.body[key]` as a non-negative int; FrameError otherwise."""
    value = msg.body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError(f"body field {key!r} missing or not a non-negative int")
    return value


def body_str(msg: Message, key: str, choices: tuple[str, ...] | None = None) -> str:
    """`msg.body[key]` as a str (one of `choices`, if given); FrameError otherwise."""
    value = msg.body.get(key)
    if not isinstance(value, str) or (choices is not None and value not in choices):
        raise FrameError(f"body field {key!r} missing or not one of {choices}")
    return value


@dataclass(slots=True)
class _Held:
    stamp: float | None  # None: put before the store was given any time
    data: bytes
    holds: int = 1


class StashStore:
    """The content one vault holds for its personas, bounded by bytes, entries and time.

    Each `put` of a key is a hold on its content, each `release` gives one back: the content
    leaves with the last hold (two agreed requests may need the same copy's content, e.g. a
    vault managing both holders of a copy). `pop` drops it whatever the holds.
    Whatever is not released leaves after `ttl` seconds, the oldest first when a budget is
    full. Sans-IO: `expire(now)` is called with the time on every message and timer tick;
    entries are stamped with the latest time it was given.
    """

    def __init__(self, max_bytes: int = STASH_BYTES, max_entries: int = STASH_ENTRIES,
                 ttl: float = STASH_TTL) -> None:
        self._items: OrderedDict[bytes, _Held] = OrderedDict()
        self._bytes = 0
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.ttl = ttl
        self._now: float | None = None

    def put(self, key: bytes, data: bytes) -> None:
        """Hold `data` under `key` for another `ttl` (an existing entry keeps its content)."""
        if len(data) > self.max_bytes:
            return
        held = self._items.pop(key, None)
        if held is None:
            held = _Held(self._now, data, 0)
            self._bytes += len(data)
        held.stamp, held.holds = self._now, held.holds + 1
        self._items[key] = held
        while self._bytes > self.max_bytes or len(self._items) > self.max_entries:
            self._drop(next(iter(self._items)))

    def get(self, key: bytes) -> bytes | None:
        """The content under `key`, if it is still held."""
        held = self._items.get(key)
        return held.data if held is not None and not self._expired(held) else None

    def release(self, key: bytes) -> None:
        """Give back one hold on `key`'s content; the last one releases it."""
        held = self._items.get(key)
        if held is not None:
            held.holds -= 1
            if held.holds <= 0:
                self._drop(key)

    def pop(self, key: bytes) -> bytes | None:
        """Take `key`'s content out: its use is over."""
        held = self._items.get(key)
        if held is None:
            return None
        self._drop(key)
        return None if self._expired(held) else held.data

    def expire(self, now: float) -> None:
        """Advance the clock to `now` and drop the entries older than `ttl`. Entries put
        before the first time was given count from that time."""
        if self._now is None:
            for held in self._items.values():
                held.stamp = now
        self._now = now if self._now is None else max(self._now, now)
        while self._items:
            key, held = next(iter(self._items.items()))
            if not self._expired(held):
                break
            self._drop(key)

    def _expired(self, held: _Held) -> bool:
        return (held.stamp is not None and self._now is not None
                and held.stamp + self.ttl <= self._now)

    def _drop(self, key: bytes) -> None:
        self._bytes -= len(self._items.pop(key).data)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def bytes(self) -> int:
        """Content bytes held (what the byte budget counts)."""
        return self._bytes


class PayloadStash:
    """One persona's view of its vault's `StashStore` (its keys kept apart from the others').

    Only one member of a sending group attaches the content; the others' copies are matched with
    it here (keyed by the message's content key, released once the message is agreed). Personas
    also keep a chunk's content here between agreeing on a request and sending it on (keyed by
    the copy name; the DataManager also uses it for replication and Gets), and release it once
    the copy is confirmed stored or, at members that do not attach content, once the agreed
    request was handled (a hold per request: see `StashStore`). A persona that finds the
    content gone fetches it or asks for it again.
    """

    def __init__(self, store: StashStore | None = None, prefix: bytes = b"") -> None:
        self.store = store if store is not None else StashStore()
        self._prefix = prefix

    def put(self, key: bytes, data: bytes) -> None:
        """Keep `data` under `key` until released (namespaced by this stash's prefix)."""
        self.store.put(self._prefix + key, data)

    def get(self, key: bytes) -> bytes | None:
        """The content held under `key`, or None if it was released or never held."""
        return self.store.get(self._prefix + key)

    def pop(self, key: bytes) -> bytes | None:
        """Take `key`'s content out: its use is over."""
        return self.store.pop(self._prefix + key)

    def release(self, key: bytes) -> None:
        """One agreed request no longer needs `key`'s content (see `StashStore.release`)."""
        self.store.release(self._prefix + key)

    def discard(self, key: bytes) -> None:
        """Nobody here needs `key`'s content any more (the copy is confirmed stored)."""
        self.store.pop(self._prefix + key)

    def expire(self, now: float) -> None:
        """Pass the time on to the store (see `StashStore.expire`)."""
        self.store.expire(now)


def share_stash(personas: Iterable[GroupPersona]) -> StashStore:
    """Give every persona of one vault a view of the same store, so the budget is per vault."""
    store = StashStore()
    for persona in personas:
        persona.stash = PayloadStash(store, persona.persona.value.encode() + b":")
    return store


class GroupPersona:
    """A manager persona: acts on requests only after accumulation, agrees on state changes by
    sync before committing them, and answers duplicate requests from its firewall.

    Subclasses register a handler per action they receive (`@handles(Action.FOO)` on
    `on_foo(msg, payload, ctx, out)`) and a commit per op they agree on (`@commits(Op.BAR)` on
    `commit_bar(key, action, ctx, out, trace)`); the class's `HANDLERS` and `COMMITS` tables are
    built from those when the class is created, and dispatch is a lookup in them.
    `needs_payload` lists actions that cannot run without content.
    """

    persona: Persona
    HANDLERS: ClassVar[Mapping[Action, Handler]]
    """Action -> its one handler (see `handles`). `Action.SYNC` is not in it: votes are
    taken by `handle` itself, before accumulation."""
    COMMITS: ClassVar[Mapping[Op, Commit]]
    """Op -> its one commit (see `commits`)."""
    needs_payload: frozenset[Action] = frozenset()
    resendable: frozenset[Action] = frozenset()
    """Content-carrying group messages we send whose content a recipient may ask for again."""
    unguarded: frozenset[Action] = frozenset()
    """Single-source actions handled afresh every time instead of through the firewall: reads
    and answers to our own requests, where a duplicate costs one more answer and never a
    second change. Their answers (a get's carries up to 1 MiB) are not worth keeping, and
    the periodic integrity checks would otherwise keep every firewall full of them."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Build the subclass's dispatch tables from its registered methods."""
        super().__init_subclass__(**kwargs)
        cls.HANDLERS, cls.COMMITS = dispatch_tables(cls)

    def __init__(self, params: Parameters) -> None:
        self.params = params
        self.accumulator = Accumulator(quorum=params.accumulation_quorum)
        self.firewall = Firewall()
        self.sync: Sync | None = None
        self.stash = PayloadStash()
        self._waiting_payload: OrderedDict[bytes, _WaitingPayload] = OrderedDict()
        self._transfers: OrderedDict[tuple[str, bytes], _PendingTransfer] = OrderedDict()
        # Records kept across a restart and not yet reconciled with their group (at most one
        # entry per stored record), and those of them not yet asked about.
        self._unconfirmed: set[tuple[str, bytes]] = set()
        self._to_reconcile: deque[tuple[str, bytes]] = deque()

    def waiting_payloads(self) -> int:
        """Agreed requests waiting for their content (a bounded table; see docs/budgets.md)."""
        return len(self._waiting_payload)

    def pending_transfers(self) -> int:
        """Records whose transferred copies are still being collected (bounded)."""
        return len(self._transfers)

    def attach(self, own: Name) -> None:
        """Start agreeing (sync) as the vault named `own`."""
        self.sync = Sync(own, quorum=self.params.sync_quorum, group_size=self.params.group_size)

    # -- entry point --------------------------------------------------------------------

    def handle(self, msg: Message, ctx: Context) -> Outbox:
        """Decide on one message: a sync vote is counted; a group's message is accumulated,
        then dispatched; a single source's is answered from the firewall if it is a
        duplicate, else dispatched (`_dispatch`: the `HANDLERS` table)."""
        out = Outbox()
        self.stash.expire(ctx.now())
        if msg.action == Action.SYNC and msg.src.persona == self.persona and msg.src.group:
            self._on_vote(msg, ctx, out)
            return out
        if msg.src.group:
            if not ctx.could_be_member(msg.sender, msg.src.name):
                raise FrameError("sender is not a member of the group it speaks for")
            key = msg.content_key()
            state = self.accumulator.add(key, msg.sender, ctx.now())
            if state is Accumulation.WAITING:
                if msg.payload:  # the lead's copy came first: match the others with it
                    self.stash.put(key, msg.payload)
                return out
            if state is Accumulation.HANDLED:
                waiting = self._waiting_payload.pop(key, None) if msg.payload else None
                if waiting is not None:
                    self._dispatch(waiting.msg, msg.payload, ctx, out)
                return out
            payload = self.stash.pop(key) or msg.payload
            if msg.action in self.needs_payload and not payload:
                self._waiting_payload[key] = _WaitingPayload(msg, ctx.now())
                while len(self._waiting_payload) > WAITING_LIMIT:
                    self._waiting_payload.popitem(last=False)
                return out
            out.note(ACCUMULATED, msg.dst.name, msg.trace_id, action=msg.action,
                     persona=self.persona.value)
            self._dispatch(msg, payload, ctx, out)
            return out
        if msg.sender != msg.src.name:
            raise FrameError("a single source must send its own messages")
        client = msg.src.persona in CLIENT_PERSONAS
        if client and not (is_fresh(msg.sent_at, ctx.network_time())
                           and self.firewall.is_past_horizon(msg.sent_at)):
            self._refuse_expired(msg, ctx, out)
            return out
        if msg.action in self.unguarded:
            self._dispatch(msg, msg.payload, ctx, out)
            return out
        fw_key = msg.sender + msg.msg_id
        entry = self.firewall.lookup(fw_key, ctx.now())
        if entry is not None:
            out.note(FIREWALL_ANSWERED, msg.dst.name, msg.trace_id, action=msg.action)
            if isinstance(entry.result, Message):
                out.send(entry.result)
            elif client:
                out.send(self._synchronising(msg))
            return out
        self.firewall.record(fw_key, SYNCHRONISING, ctx.now(),
                             origin=msg.sent_at if client else None)
        self._dispatch(msg, msg.payload, ctx, out)
        return out

    def _synchronising(self, msg: Message) -> Message:
        """The answer to a client's duplicate that arrives while the group is still agreeing
        on the original (the firewall's "synchronising"): the request was accepted, its
        answer is on its way, and re-sending it will not help."""
        return self.group_message(msg.dst.name, msg.src.name, Action.SYNCHRONISING,
                                  {"action": msg.action}, msg.trace_id,
                                  new_id(SYNCHRONISING.value, msg.msg_id),
                                  dst_persona=msg.src.persona, dst_group=False,
                                  relay=msg.src.relay)

    def _refuse_expired(self, msg: Message, ctx: Context, out: Outbox) -> None:
        """A client request dated outside the replay window (a replay, or a badly wrong
        clock): answer with a refusal the client raises, never act on it."""
        age = ctx.network_time() - msg.sent_at
        out.note(REQUEST_EXPIRED, msg.dst.name, msg.trace_id, action=msg.action,
                 age=round(age, 1))
        out.send(self.group_message(
            msg.dst.name, msg.src.name, Action.REQUEST_EXPIRED,
            {"action": msg.action, "reason": f"request dated {age:.0f} s ago is outside the "
             "replay window"}, msg.trace_id, new_id(REQUEST_EXPIRED, msg.msg_id),
            dst_persona=msg.src.persona, dst_group=False, relay=msg.src.relay))

    def _dispatch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """Run the handler our `HANDLERS` table has for `msg.action`; FrameError if none."""
        handler = self.HANDLERS.get(msg.action)
        if handler is None:
            raise FrameError(f"{self.persona.value} has no action {str(msg.action)!r}")
        handler(self, msg, payload, ctx, out)

    # -- sync -------------------------------------------------------------------------

    def propose(self, key: Name, action: dict[str, Any], ctx: Context, out: Outbox,
                trace: bytes) -> None:
        """Vote for `action` on record `key` and tell the group; commit if that completes it.
        `action["op"]` is the `Op` every member will commit it with (TypeError otherwise)."""
        assert self.sync is not None
        if not isinstance(action.get("op"), Op):
            raise TypeError(f"a proposal's op is an Op, not {action.get('op')!r}")
        data = canonical(action)
        resolved = self.sync.add_local(key, data, ctx.now())
        out.send(self.group_message(key, key, Action.SYNC, {"k": key, "a": data}, trace,
                                    derived_id("sync", self.persona.value, key, data, ctx.own)))
        if resolved is not None:
            self._commit(key, data, ctx, out, trace)

    def _on_vote(self, msg: Message, ctx: Context, out: Outbox) -> None:
        assert self.sync is not None
        key = body_bytes(msg, "k")
        data = body_bytes(msg, "a", None)
        if not ctx.could_be_member(msg.sender, key):
            raise FrameError("sync vote from outside the group")
        if not ctx.is_responsible(key):
            return
        resolved = self.sync.add_peer(msg.sender, key, data, ctx.now())
        if resolved is not None:
            self._commit(key, data, ctx, out, msg.trace_id)

    def _commit(self, key: Name, data: bytes, ctx: Context, out: Outbox, trace: bytes) -> None:
        """Run the agreed action: the commit our `COMMITS` table has for its op."""
        action = decode_action(data)
        op: Op = action["op"]
        out.note(SYNC_COMMITTED, key, trace, persona=self.persona.value, op=op)
        commit = self.COMMITS.get(op)
        if commit is None:
            raise FrameError(f"{self.persona.value} cannot commit {op.value!r}")
        commit(self, key, action, ctx, out, trace)

    def resend(self, ctx: Context) -> Outbox:
        """Re-send our votes that have not reached every member, and ask again for content we
        still wait for (called on a timer, which also lets every table forget by time when no
        traffic comes)."""
        out = Outbox()
        self.stash.expire(ctx.now())
        self.accumulator.expire(ctx.now())
        self.firewall.prune(ctx.now())
        self._expire_waiting(ctx.now())
        if self.sync is None:
            return out
        for key, data in self.sync.to_resend(ctx.now()):
            if ctx.is_responsible(key):
                out.send(self.group_message(key, key, Action.SYNC, {"k": key, "a": data},
                                            bytes(16),
                                            derived_id("sync", self.persona.value, key, data,
                                                       ctx.own)))
        for key, waiting in self._waiting_payload.items():
            if (waiting.asks < PAYLOAD_ASKS
                    and ctx.now() - waiting.since >= PAYLOAD_WAIT * (waiting.asks + 1)):
                waiting.asks += 1
                msg = waiting.msg
                out.send(Message(
                    src=Authority(ctx.own, self.persona),
                    dst=Authority(msg.src.name, msg.src.persona, group=True),
                    action=Action.PAYLOAD_WANTED,
                    msg_id=new_id("payload_wanted", key, ctx.own, str(waiting.asks)),
                    trace_id=msg.trace_id, sender=b"",
                    body={"action": msg.action, "id": msg.msg_id, "to": msg.dst.name,
                          "persona": msg.dst.persona.value, "group": msg.dst.group,
                          "body": msg.body}))
        return out

    def _expire_waiting(self, now: float) -> None:
        """Forget requests whose last ask for content had its time (WAITING_TTL)."""
        while self._waiting_payload:
            oldest = next(iter(self._waiting_payload.values()))
            if now - oldest.since < WAITING_TTL:
                break
            self._waiting_payload.popitem(last=False)

    def release_unless_lead(self, key: bytes, group_name: Name, ctx: Context) -> None:
        """An agreed request was handled: a member that does not attach content for the group
        of `group_name` has no further use for the content under `key`. The lead keeps it
        (for STASH_TTL) to answer asks for it again."""
        if not self.is_lead(group_name, ctx):
            self.stash.release(key)

    @handles(Action.PAYLOAD_WANTED)
    def on_payload_wanted(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """A recipient agreed on a message our group sent but never got its content (our lead
        changed, died, or committed before its own copy of the content arrived): the lead by
        our view sends the message again with the content. Harmless if forged: the recipient
        still needs the message from a quorum of us, and the content is checked against its
        name where it is stored."""
        action = Action.decode(body_str(msg, "action", tuple(self.resendable)))
        to, wanted = body_bytes(msg, "to"), msg.body.get("body")
        if not isinstance(wanted, dict):
            raise FrameError("payload_wanted without the message body")
        if msg.sender != to and not ctx.could_be_member(msg.sender, to):
            raise FrameError("payload_wanted from outside the recipient")
        if not self.is_lead(msg.dst.name, ctx):
            return
        resend = self.group_message(
            msg.dst.name, to, action, wanted, msg.trace_id, body_bytes(msg, "id", ID_SIZE),
            dst_persona=Persona(body_str(msg, "persona", tuple(p.value for p in Persona))),
            dst_group=msg.body.get("group") is True)
        content = self.wanted_content(wanted)
        if content is not None:
            out.send(replace(resend, payload=content))
        else:
            self.content_missing(resend, ctx, out)

    def wanted_content(self, body: dict[str, Any]) -> bytes | None:
        """The content a resendable message with `body` carries, if we still have it."""
        copy = body.get("copy")
        return self.stash.get(copy) if isinstance(copy, bytes) else None

    def content_missing(self, resend: Message, ctx: Context, out: Outbox) -> None:
        """Hook: asked to resend `resend` with content we no longer have."""

    def on_churn(self, lost: Name | None, added: Name | None) -> None:
        """Our close set changed: sync forgets votes of a member that left (not a message
        handler: the host calls it on churn)."""
        if self.sync is not None:
            self.sync.on_churn(lost, added)

    # -- account transfer (docs/origins.md) ----------------------------------------------------

    def transfer_stores(self) -> list[Records]:
        """The stores whose records move with churn. Convention: the first 64 bytes of a
        record's key are the name whose close group holds the record."""
        return []

    def restarted(self) -> None:
        """The vault (re)started on the records it kept: each stays in use but is unconfirmed
        until its group's current copy confirms or replaces it (asked by `tick_transfers`).
        An unconfirmed record is never a reason to tell anyone to delete anything."""
        for store in self.transfer_stores():
            for key in store.keys():  # noqa: SIM118 (Records, not a dict)
                self._unconfirmed.add((store.table, key))
                self._to_reconcile.append((store.table, key))

    def is_confirmed(self, store: Records, key: bytes) -> bool:
        """Whether our record for `key` is current: not one kept across a restart that the
        group has not confirmed yet."""
        return (store.table, key) not in self._unconfirmed

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
        for store in self.transfer_stores():
            dropped = []
            for key, value in store.items():
                group = key[:NAME_SIZE]
                members = ctx.close_group(group)
                if ctx.own not in members:
                    if added is not None and added in members:
                        dropped.append(key)
                    continue
                before = self._group_before(group, ctx, lost, added)
                data = canonical(value)
                for member in members:
                    if member != ctx.own and member not in before:
                        out.send(self._transfer(ctx, member, store.table, key, data,
                                                new_id("transfer", store.table, key, data,
                                                       member, lost or b"", added or b"")))
            for key in dropped:
                store.delete(key)
        return out

    def _group_before(self, group: Name, ctx: Context, lost: Name | None,
                      added: Name | None) -> list[Name]:
        """The close group of `group` as we saw it before `lost` left and `added` came."""
        size = self.params.group_size
        candidates = set(ctx.closest_live(group, size + 1, {group}))
        candidates.discard(added)
        if lost is not None and lost != group:
            candidates.add(lost)
        return closest(group, candidates, size)

    @handles(Action.TRANSFER)
    def on_transfer(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A member's copy of a record we are newly responsible for. What we already hold wins;
        otherwise TRANSFER_QUORUM equal copies from distinct members are accepted, or, once
        three members disagree about counters, their per-field median."""
        stores = {store.table: store for store in self.transfer_stores()}
        store = stores.get(body_str(msg, "store", tuple(stores)))
        key = body_bytes(msg, "key", None)
        data = body_bytes(msg, "value", None)
        reflects = _reflects(msg)
        if store is None or len(key) < NAME_SIZE:
            raise FrameError("transfer of an unknown record")
        group = key[:NAME_SIZE]
        # We may not have noticed the departure that made us a member yet: being next in line
        # (within group size + 1 in our view) is enough when members send us the record.
        next_in_line = ctx.own in ctx.closest_live(group, self.params.group_size + 1, {group})
        if ((key in store and self.is_confirmed(store, key)) or not next_in_line
                or not ctx.could_be_member(msg.sender, group)):
            return
        pending = self._pending(store, key, ctx)
        pending.copies[msg.sender] = data
        pending.reflects[msg.sender] = reflects
        accepted = agreed_record(list(pending.copies.values()))
        if accepted is not None:
            self._accept_transfer(store, key, accepted, ctx, out)
        elif pending.disputed() and pending.asked is None:
            self._ask_group(store.table, key, pending, ctx, out)

    def _pending(self, store: Records, key: bytes, ctx: Context) -> _PendingTransfer:
        """The copies collected for `key`; a record we kept across a restart counts as our own
        copy, so one member's equal copy confirms it."""
        pending = self._transfers.get((store.table, key))
        if pending is None:
            pending = self._transfers[(store.table, key)] = _PendingTransfer(ctx.now())
            value = store.get(key) if not self.is_confirmed(store, key) else None
            if value is not None:
                pending.copies[ctx.own] = canonical(value)
            while len(self._transfers) > TRANSFERS_PENDING:
                self._transfers.popitem(last=False)
        return pending

    def _ask_group(self, table: str, key: bytes, pending: _PendingTransfer, ctx: Context,
                   out: Outbox) -> None:
        """Members sent different copies, or we reconcile a record kept across a restart: ask
        every member for its current one."""
        pending.asked, pending.rounds = ctx.now(), pending.rounds + 1
        if pending.disputed():
            out.note(TRANSFER_DISPUTED, key, bytes(16), store=table, round=pending.rounds,
                     copies=len(pending.copies), persona=self.persona.value)
        for member in ctx.close_group(key[:NAME_SIZE]):
            if member != ctx.own:
                out.send(Message(
                    src=Authority(ctx.own, self.persona), dst=Authority(member, self.persona),
                    action=Action.TRANSFER_QUERY,
                    msg_id=new_id("transfer_query", table, key, member, repr(ctx.now())),
                    trace_id=bytes(16), sender=b"", body={"store": table, "key": key}))

    @handles(Action.TRANSFER_QUERY)
    def on_transfer_query(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """A newcomer asks for our current copy of a record whose transferred copies disagreed.
        Only a vault that could be in the record's group is answered, and only by members."""
        stores = {store.table: store for store in self.transfer_stores()}
        table = body_str(msg, "store", tuple(stores))
        key = body_bytes(msg, "key", None)
        group = key[:NAME_SIZE]
        if len(key) < NAME_SIZE or not ctx.could_be_member(msg.sender, group):
            raise FrameError("transfer query from outside the record's group")
        value = stores[table].get(key)
        if value is not None and ctx.is_responsible(group):
            data = canonical(value)
            out.send(self._transfer(ctx, msg.sender, table, key, data,
                                    new_id("transfer_answer", table, key, data, msg.msg_id)))

    def _transfer(self, ctx: Context, member: Name, table: str, key: bytes, data: bytes,
                  msg_id: bytes) -> Message:
        """Our copy of a record for `member`, with the actions it already reflects."""
        reflects = self.sync.committed(key[:NAME_SIZE]) if self.sync is not None else []
        return Message(src=Authority(ctx.own, self.persona),
                       dst=Authority(member, self.persona), action=Action.TRANSFER,
                       msg_id=msg_id,
                       trace_id=bytes(16), sender=b"",
                       body={"store": table, "key": key, "value": data, "reflects": reflects})

    def _accept_transfer(self, store: Records, key: bytes, record: dict[str, Any],
                         ctx: Context, out: Outbox) -> None:
        pending = self._transfers.pop((store.table, key))
        kept = store.get(key)
        if kept is not None and self.is_confirmed(store, key):
            return
        if self.sync is not None:
            self.sync.mark_reflected(key[:NAME_SIZE], pending.reflected_by(record), ctx.now())
        self._unconfirmed.discard((store.table, key))
        if kept is None and ctx.own in pending.copies:
            return  # a record we kept, deleted meanwhile (by agreement, or we left its group)
        if kept is None or canonical(kept) != canonical(record):
            store.put(key, record)
            out.note(ACCOUNT_TRANSFERRED, key, bytes(16), store=store.table,
                     copies=len(pending.copies), replaced=kept is not None)
            self.record_arrived(store, key, record, ctx, out)

    def record_arrived(self, store: Records, key: bytes, record: dict[str, Any],
                       ctx: Context, out: Outbox) -> None:
        """Hook: a transferred record was accepted (a persona may act on churn it missed)."""

    def tick_transfers(self, ctx: Context) -> Outbox:
        """Accept records only one member sent, once LONE_TRANSFER_WAIT has passed; ask the
        group again about records still disputed (at most TRANSFER_ASK_ROUNDS times); start
        reconciling up to RECONCILE_PER_TICK records kept across a restart.

        A kept record is reconciled like a transfer in which we sent our own copy: the group's
        agreed copy replaces it; with no member answering within LONE_TRANSFER_WAIT (the whole
        group restarted, or we are all that is left of it) our own copy is accepted."""
        out = Outbox()
        stores = {store.table: store for store in self.transfer_stores()}
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
        for (table, key), pending in list(self._transfers.items()):
            if len(pending.copies) == 1 and now - pending.first > LONE_TRANSFER_WAIT:
                (data,) = pending.copies.values()
                self._accept_transfer(stores[table], key, decode_record(data), ctx, out)
            elif ((pending.disputed() or set(pending.copies) == {ctx.own})
                  and pending.asked is not None
                  and pending.rounds < TRANSFER_ASK_ROUNDS
                  and now - pending.asked >= TRANSFER_ASK_INTERVAL):
                self._ask_group(table, key, pending, ctx, out)
        return out

    # -- building messages -------------------------------------------------------------

    def group_message(self, src_name: Name, dst_name: Name, action: Action, body: dict[str, Any],
                      trace: bytes, msg_id: bytes, dst_persona: Persona | None = None,
                      dst_group: bool = True, payload: bytes = b"",
                      relay: Name | None = None) -> Message:
        """A message from our group (for `src_name`) to a group or node."""
        return Message(
            src=Authority(src_name, self.persona, group=True),
            dst=Authority(dst_name, dst_persona or self.persona, group=dst_group, relay=relay),
            action=action, msg_id=msg_id, trace_id=trace, body=body, sender=b"",
            payload=payload,
        )

    def is_lead(self, group_name: Name, ctx: Context) -> bool:
        """Whether we attach content for our group: the member closest to the group's name."""
        group = ctx.close_group(group_name)
        return bool(group) and group[0] == ctx.own


GroupPersona.HANDLERS, GroupPersona.COMMITS = dispatch_tables(GroupPersona)


def knows_a_group(ctx: Context) -> bool:
    """Whether we know more than a close group's worth of vaults around us: before that, a
    (re)started vault cannot tell who its groups are, so it does not reconcile yet."""
    size = ctx.params.group_size
    return len(ctx.closest_live(ctx.own, size + 1, set())) > size


@dataclass
class _WaitingPayload:
    msg: Message
    since: float
    asks: int = 0


@dataclass
class _PendingTransfer:
    first: float
    copies: dict[Name, bytes] = field(default_factory=dict)
    reflects: dict[Name, frozenset[bytes]] = field(default_factory=dict)
    asked: float | None = None
    rounds: int = 0

    def disputed(self) -> bool:
        return len(set(self.copies.values())) > 1

    def reflected_by(self, record: dict[str, Any]) -> frozenset[bytes]:
        """The actions every copy equal to the accepted `record` says it reflects (all copies
        when none is equal, a per-field median): what the accepted record surely holds."""
        data = canonical(record)
        senders = [s for s, copy in self.copies.items() if copy == data] or list(self.copies)
        return frozenset.intersection(*(self.reflects.get(s, frozenset()) for s in senders))


def _reflects(msg: Message) -> frozenset[bytes]:
    """The action digests a transfer says its record reflects (checked: a bounded list)."""
    value = msg.body.get("reflects", [])
    if (not isinstance(value, list) or len(value) > REFLECTED_PER_KEY
            or not all(isinstance(d, bytes) and len(d) == DIGEST_SIZE for d in value)):
        raise FrameError("transfer lists malformed reflected actions")
    return frozenset(value)


def new_id(*parts: bytes | str) -> bytes:
    """A message id derived from `parts`, so every member sends the same one."""
    return derived_id(*parts)[:ID_SIZE]



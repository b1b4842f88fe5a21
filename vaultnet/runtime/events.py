"""The one event stream: typed records of everything interesting a vault does.

The dashboard, the trace recorder, the CLI's progress line and the tests all read this stream.
Emitting never blocks the network: every subscriber has a bounded buffer and drops are counted.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import msgpack
import trio

from vaultnet.protocol import EventKind
from vaultnet.xor import Name

SUBSCRIPTION_BUFFER = 100_000
"""Events a subscription holds for a reader that has fallen behind (newer ones are dropped and
counted): a few seconds of a busy 16-vault testnet, some 30 MiB at ~300 bytes an event. The
buffer has no time window: it empties as its reader reads, and is freed when it is closed."""
SUBSCRIPTION_LIMIT = 1_000_000
"""The largest buffer a subscription may ask for (about 300 MiB held should its reader stop)."""


class SubscriptionError(ValueError):
    """A subscription was asked for with a buffer outside 1..SUBSCRIPTION_LIMIT."""


@dataclass(frozen=True, slots=True)
class Event:
    """Base record. `vault` is where it happened; `trace` ties it to a client operation."""

    time: float
    vault: Name
    kind: ClassVar[str] = "event"
    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {}
    """Per field, how `from_record` turns its recorded value back into the field's type
    (a `PersonaEvent.what` is recorded as its string, read back as its `EventKind`)."""

    def to_record(self) -> dict[str, Any]:
        """The event as a plain msgpack-able map (with its kind), for traces and subscribers."""
        record: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            record[f.name] = value
        return record


_REGISTRY: dict[str, type[Event]] = {}


def event(kind: str) -> Callable[[type[Event]], type[Event]]:
    """Register an event class under `kind` so recorded traces can be read back."""

    def register(cls: type[Event]) -> type[Event]:
        cls.kind = kind
        _REGISTRY[kind] = cls
        return cls

    return register


def is_event_kind(kind: str) -> bool:
    """Whether `kind` names an event (so a reader can tell a trace from other msgpack)."""
    return kind in _REGISTRY


def is_annotation(kind: str) -> bool:
    """Whether a trace record of `kind` annotates the events rather than being one: its kind
    has a dot in it (the dashboard's `tui.sample`, ...)."""
    return "." in kind


def from_record(record: dict[str, Any]) -> Event:
    """The event a `to_record` record describes (KeyError or ValueError for an unknown kind)."""
    cls = _REGISTRY[record["kind"]]
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in record:  # a field added after the trace was recorded: its default
            continue
        value = record[f.name]
        decode = cls.decoders.get(f.name)
        if decode is not None:
            value = decode(value)
        kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


@event("vault_up")
@dataclass(frozen=True, slots=True)
class VaultUp(Event):
    """A vault started and is listening at `address`."""
    address: str = ""


@event("vault_down")
@dataclass(frozen=True, slots=True)
class VaultDown(Event):
    """A vault stopped; `reason` says why (killed, crashed, shut down)."""
    reason: str = ""


@event("peer_added")
@dataclass(frozen=True, slots=True)
class PeerAdded(Event):
    """A peer joined this vault's routing table."""
    peer: Name = b""


@event("peer_lost")
@dataclass(frozen=True, slots=True)
class PeerLost(Event):
    """A peer left this vault's routing table; `reason` says why."""
    peer: Name = b""
    reason: str = ""


@event("churn")
@dataclass(frozen=True, slots=True)
class Churn(Event):
    """The vault's close (proximity) set changed: the original design's "matrix change"
    (docs/origins.md)."""

    old: tuple[Name, ...] = ()
    new: tuple[Name, ...] = ()
    lost: Name | None = None
    added: Name | None = None


@event("sent")
@dataclass(frozen=True, slots=True)
class MessageSent(Event):
    """A vault sent a persona message (one hop), with enough to follow it across vaults."""
    to: Name = b""
    src_persona: str = ""
    dst_persona: str = ""
    dst_name: Name = b""
    group: bool = False
    action: str = ""
    msg_id: bytes = b""
    trace: bytes = b""
    src_name: Name = b""  # the sending authority's name (a group's key, a node's name)


@event("received")
@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    """A vault received a persona message; `hops` is how far it travelled."""
    sender: Name = b""
    src_persona: str = ""
    dst_persona: str = ""
    dst_name: Name = b""
    group: bool = False
    action: str = ""
    msg_id: bytes = b""
    trace: bytes = b""
    hops: int = 0
    src_name: Name = b""  # the sending authority's name (a group's key, a node's name)


@event("dropped")
@dataclass(frozen=True, slots=True)
class MessageDropped(Event):
    """A vault dropped a message without handling it; `reason` says why."""
    action: str = ""
    msg_id: bytes = b""
    reason: str = ""
    trace: bytes = b""


@event("frame_rejected")
@dataclass(frozen=True, slots=True)
class FrameRejected(Event):
    """A frame from `peer` was refused before decoding (malformed, too large, unsealed)."""
    peer: str = ""
    reason: str = ""


@event("fault")
@dataclass(frozen=True, slots=True)
class FaultInjected(Event):
    """A fault was injected into (or, with `fault == "heal"`, cleared from) this vault."""

    fault: str = ""


@event("note")
@dataclass(frozen=True, slots=True)
class PersonaEvent(Event):
    """A persona's state change (chunk stored, eviction, sync commit, rank change, ...).

    `what` names it (an `EventKind`: every kind is listed there), `subject` is the name it is
    about (a chunk, a copy, a node), `detail` carries small extra fields.
    """

    decoders: ClassVar[dict[str, Callable[[Any], Any]]] = {"what": EventKind}
    what: EventKind
    persona: str = ""
    subject: Name = b""
    trace: bytes = b""
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


class Subscription:
    """A bounded view of the stream: when the reader falls behind, new events are dropped and
    counted in `dropped` rather than slowing the network down."""

    def __init__(self, bus: EventBus, max_buffer: int) -> None:
        self._bus = bus
        self._send, self._receive = trio.open_memory_channel[Event](max_buffer)
        self.dropped = 0

    def _offer(self, ev: Event) -> None:
        try:
            self._send.send_nowait(ev)
        except trio.WouldBlock:
            self.dropped += 1
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    def close(self) -> None:
        """Stop receiving: detach from the bus so the buffer can be freed."""
        self._bus._subscriptions.discard(self)
        self._send.close()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        try:
            async for ev in self._receive:
                yield ev
        finally:
            self.close()

    async def receive(self) -> Event:
        """Wait for the next event (an error once the subscription is closed)."""
        return await self._receive.receive()

    def receive_nowait(self) -> Event:
        """The next buffered event without waiting; trio.WouldBlock if none is buffered."""
        return self._receive.receive_nowait()

    def drain(self, limit: int) -> list[Event]:
        """Up to `limit` buffered events, without waiting (none if none is buffered)."""
        batch: list[Event] = []
        while len(batch) < limit:
            try:
                batch.append(self._receive.receive_nowait())
            except trio.WouldBlock:
                break
        return batch

    async def receive_batch(self, limit: int) -> list[Event]:
        """Wait for the next event, then take up to `limit` in all of those already buffered:
        what a reader forwarding events in frames sends at once."""
        first = await self._receive.receive()
        return [first, *self.drain(limit - 1)]


class EventBus:
    """Fan-out of events to sinks (plain callables, must not block) and subscriptions."""

    def __init__(self) -> None:
        self._sinks: list[Callable[[Event], None]] = []
        self._subscriptions: set[Subscription] = set()
        self.emitted = 0

    @property
    def observed(self) -> bool:
        """Whether any sink or subscription would see an event: the per-message events (a
        message received, sent, a persona's note) are built only then."""
        return bool(self._sinks or self._subscriptions)

    def emit(self, ev: Event) -> None:
        """Hand `ev` to every sink and subscription; never blocks (full buffers drop)."""
        self.emitted += 1
        for sink in self._sinks:
            sink(ev)
        for sub in list(self._subscriptions):
            sub._offer(ev)

    def add_sink(self, sink: Callable[[Event], None]) -> None:
        """Call `sink` with every later event; it runs inline, so it must not block."""
        self._sinks.append(sink)

    def remove_sink(self, sink: Callable[[Event], None]) -> None:
        """Stop calling `sink` (a no-op if it was not added)."""
        if sink in self._sinks:
            self._sinks.remove(sink)

    def subscribe(self, max_buffer: int = SUBSCRIPTION_BUFFER) -> Subscription:
        """A bounded view of the stream from now on (close it, or read it, to free it)."""
        if not 1 <= max_buffer <= SUBSCRIPTION_LIMIT:
            raise SubscriptionError(
                f"a subscription buffer holds 1..{SUBSCRIPTION_LIMIT} events, not {max_buffer}")
        sub = Subscription(self, max_buffer)
        self._subscriptions.add(sub)
        return sub


class TraceRecorder:
    """Writes every event as a msgpack record; `digest` hashes the same bytes, so two runs can be
    compared byte for byte (the simulator's reproducibility check)."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.count = 0

    def __call__(self, ev: Event) -> None:
        """Append `ev` to the trace and the running hash."""
        data = msgpack.packb(ev.to_record(), use_bin_type=True)
        self._hash.update(data)
        self.count += 1
        if self._out is not None:
            self._out.write(data)

    @property
    def digest(self) -> str:
        """SHA-256 hex of every record so far: equal digests mean byte-identical runs."""
        return self._hash.hexdigest()


def read_trace(path: Path) -> list[Event]:
    """Events from a file written by TraceRecorder (for replay and offline analysis); records
    that annotate them (`is_annotation`) are skipped."""
    with path.open("rb") as f:
        unpacker = msgpack.Unpacker(f, raw=False, strict_map_key=False)
        return [from_record(rec) for rec in unpacker if not is_annotation(rec["kind"])]

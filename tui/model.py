"""What the dashboard shows, as plain records.

`NetworkModel.ingest` folds batches of events (drained on a timer, never one message per event) into
bounded logs, view 4's `EventLog` and counters; `NetworkModel.observe` turns a reading of the
network (`vaultnet.control.reading`: vault stores, PmidManager accounts, routing, taken in process
or by an attached testnet) into `VaultRow`s, chunk holdings and rank history. The widgets render the
model and nothing else, so a frozen model renders the same screen every time (the snapshot tests use
that).
"""

from __future__ import annotations

import functools
import math
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any, Concatenate, ParamSpec, TypeVar

from vaultnet.control.reading import (
    MESSAGE_KEY_SIZE,
    GroupMember,
    NetworkReading,
    Query,
    VersionedState,
)
from vaultnet.personas import base
from vaultnet.personas import mpid_manager as mpid
from vaultnet.personas import version_manager as vm
from vaultnet.personas.integrity import FAILED_CHECK, INTEGRITY_FAILED
from vaultnet.personas.pmid_manager import rank
from vaultnet.personas.pmid_node import EVICTED
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime import events as ev
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import Name, distance, short

LOG_LINES = 5000
EVENT_ROWS = 1000
"""Rows of view 4 kept (the oldest dropped first): a group's reports fold into one row, so
some 50 puts' worth on a full network (one run of scripts/screenshots.py: 170 rows from 851
reports). `EventLog.counts` counts every row ever made."""
FOLD_SECONDS = 10.0
"""A report folds into the kept row with its key only if that row began at most this long
before it: a group's members report within moments of each other, and a vault seen leaving
again later (a restart) gets a row of its own."""
TRACES_KEPT = 32
EVENTS_PER_TRACE = 4000
RANK_HISTORY = 60
XOR_ROWS = 12
CHUNKS_KEPT = 500
VERSIONED_KEPT = 64
MESSAGES_KEPT = 200
MESSAGES_SAMPLED = 50
FOLD_WINDOW = 6

FLOW_EVENTS = (ev.MessageReceived,)
EVICTION, PUT_FAILED, REMOVED, REPLICATED, RANK, INTEGRITY, CHURN, VAULT, FAULT = EVENT_KINDS = (
    "eviction", "put failure", "holder removed", "replicated", "rank change", "integrity",
    "churn", "vault", "fault")
"""View 4's kinds of event, in the order its kind filter cycles through them."""


def _name_or(detail: dict[str, Any], key: str, default: Name) -> Name:
    """`detail[key]` if it is a name (bytes), else `default`."""
    value = detail.get(key)
    return value if isinstance(value, bytes) else default


@dataclass
class EventRow:
    """One row of view 4: something that happened, with the same report from other vaults (a
    group's members, every vault that saw a peer go) folded in, so it is one row, not five."""

    seq: int  # the how-manyth row ever made: the table's row key
    time: float  # seconds since the first event the dashboard saw
    kind: str  # one of EVENT_KINDS
    vault: Name  # the vault it is about: evicting / refusing node, holder, ranked node, ...
    subject: Name  # the copy it is about, or b""
    trace: bytes  # the operation that caused it, or b""
    detail: str
    key: tuple[object, ...] = ()  # reports with the same kind and key fold together; () never
    reporters: set[Name] = field(default_factory=set)  # the vaults that reported it
    changed: int = 0  # the log's stamp when it last changed: a view updates only newer rows


class EventLog:
    """View 4's rows: the last `maxlen` (EVENT_ROWS), and per kind how many rows were ever made,
    so the counts cover everything seen, not only what is kept. Memory: `maxlen` rows, each
    with the set of vaults that reported it (at most the network's size)."""

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self.rows: deque[EventRow] = deque()
        self.counts: Counter[str] = Counter()
        self.made = 0
        self.reports = 0  # events folded into rows, all told
        self.stamp = 0  # bumped by every report
        self._open: dict[tuple[object, ...], EventRow] = {}  # kept rows by (kind, *key)

    def add(self, time: float, kind: str, vault: Name, reporter: Name, subject: Name = b"",
            trace: bytes = b"", detail: str = "", key: tuple[object, ...] = ()) -> None:
        """A report: folded into the kept row of the same kind and key begun at most
        FOLD_SECONDS ago, else a new row (the oldest dropped past `maxlen`)."""
        self.reports += 1
        self.stamp += 1
        full = (kind, *key)
        row = self._open.get(full) if key else None
        if row is not None and time - row.time <= FOLD_SECONDS:
            row.reporters.add(reporter)
            row.changed = self.stamp
            return
        row = EventRow(self.made, time, kind, vault, subject, trace if any(trace) else b"",
                       detail, key, {reporter}, self.stamp)
        self.made += 1
        self.counts[kind] += 1
        if len(self.rows) == self.maxlen:
            old = self.rows.popleft()
            if self._open.get((old.kind, *old.key)) is old:
                del self._open[(old.kind, *old.key)]
        self.rows.append(row)
        if key:
            self._open[full] = row


class BoundedLog:
    """The last `maxlen` lines, and how many were ever added (so a view can append only the
    lines it has not shown)."""

    def __init__(self, maxlen: int) -> None:
        self.lines: deque[str] = deque(maxlen=maxlen)
        self.total = 0

    def append(self, line: str) -> None:
        self.lines.append(line)
        self.total += 1

    def since(self, seen: int) -> list[str]:
        new = min(self.total - seen, len(self.lines))
        return list(islice(self.lines, len(self.lines) - new, None)) if new > 0 else []


@dataclass(frozen=True)
class VaultRow:
    name: Name
    state: str  # "up", "down", or the faults it carries ("lie", "silent", ...)
    stored: int
    capacity: int
    copies: dict[str, int]  # "P" / "B" / "S" -> count
    rank: float | None  # from its PmidManagers' account; None before it held anything
    rate_in: float
    rate_out: float
    peers: int
    close_group: tuple[Name, ...] = ()  # its own view of the group of its name
    account: dict[str, int] = field(default_factory=dict)  # what its PmidManagers record
    holds: tuple[tuple[Name, str, int], ...] = ()  # (copy, kind, size), first reading.HOLDS_SHOWN


@dataclass
class ChunkInfo:
    name: Name
    size: int
    trace: bytes
    deleted: bool = False
    holders: dict[str, list[Name]] = field(default_factory=dict)  # kind -> vaults holding it

    @property
    def lost(self) -> bool:
        return not self.deleted and bool(self.holders) and not any(self.holders.values())


@dataclass(frozen=True)
class XorRow:
    """One vault near the focused name: how many leading bits it shares with it, what it holds."""

    name: Name
    shared_bits: int
    log2_distance: float
    holds: str  # the kind of the copy it holds ("P", "B", "S"), or ""


@dataclass(frozen=True)
class XorBlock:
    """A target name (a copy of the focused chunk, or a vault) and the vaults nearest it."""

    label: str
    target: Name
    rows: list[XorRow]


@dataclass(frozen=True)
class FlowStep:
    """One row of the space-time view: a message between persona lanes, or a mark on a lane.

    A lane is a persona and, for the messaging personas, a side: whose MpidNode or MpidManager
    group it is ("alice", "bob", or a name prefix), so a message crosses from the sender's
    managers to the recipient's."""

    time: float
    src: str
    dst: str  # == src (and dst_side == src_side) for a mark (accumulated, sync, stored ...)
    label: str
    count: int = 1
    src_side: str = ""
    dst_side: str = ""

    @property
    def src_lane(self) -> tuple[str, str]:
        return self.src, self.src_side

    @property
    def dst_lane(self) -> tuple[str, str]:
        return self.dst, self.dst_side


@dataclass
class VersionedItem:
    """A version tree the dashboard has seen, as most of its VersionManager group holds it."""

    key: Name
    label: str
    trace: bytes | None = None  # the latest operation on it
    parents: dict[VersionName, VersionName | None] = field(default_factory=dict)
    root: VersionName | None = None
    tips: frozenset[VersionName] = frozenset()
    group: tuple[GroupMember, ...] = ()
    strays: tuple[Name, ...] = ()  # vaults outside the group still holding a copy of it
    sampled: bool = False

    @property
    def agreeing(self) -> int:
        return sum(1 for m in self.group if m.state == "agrees")

    def children(self, version: VersionName) -> list[VersionName]:
        return sorted(v for v, p in self.parents.items() if p == version)

    def starts(self) -> list[VersionName]:
        """The root, then the orphans (versions whose parent is not in the tree)."""
        orphans = sorted(v for v, p in self.parents.items()
                         if v != self.root and (p is None or p not in self.parents))
        return ([self.root] if self.root is not None else []) + orphans

    def newest_tip(self) -> VersionName | None:
        return max(self.tips, default=None)


@dataclass
class MessageInfo:
    """A message between two MPIDs: sent from the dashboard, or seen in the managers' events."""

    trace: bytes  # the send operation
    sender: Name
    recipient: Name
    text: str
    mid: bytes | None = None
    state: str = "sending"  # sending, held, delivered, refused, failed
    reason: str = ""
    held_by: tuple[Name, ...] = ()  # the MpidManagers holding it, as last sampled
    received: bool = False  # the dashboard's MpidNode for the recipient got it
    delivery_trace: bytes | None = None  # the operation that delivered it (a push on return)


@dataclass
class Summary:
    vaults_up: int = 0
    vaults_down: int = 0
    chunks: int = 0
    msgs_per_s: float = 0.0
    evictions: int = 0
    lost: int = 0
    churn: int = 0
    events: int = 0


@dataclass(frozen=True)
class Sample:
    """What one `observe` read off the live network, already reduced to what the views show,
    so a recording can keep it and a replay can apply it without a network. Bounded: a row
    per vault (`vaultnet.control.reading.HOLDS_SHOWN` copies each), holders of the tracked chunks
    (CHUNKS_KEPT), the tracked trees (VERSIONED_KEPT) and the newest MESSAGES_SAMPLED
    messages."""

    live: tuple[Name, ...]  # the vaults up, in the testnet's order
    rows: tuple[VaultRow, ...]  # one per live vault
    ranks: tuple[tuple[Name, float], ...]  # every node with a PmidManager account
    holders: tuple[tuple[Name, dict[str, list[Name]]], ...]  # tracked chunk -> kind -> vaults
    msgs_per_s: float | None  # None on the first sample (no span to divide by)
    versioned: tuple[tuple[Name, VersionedState], ...] = ()
    held_by: tuple[tuple[bytes, tuple[Name, ...]], ...] = ()  # message trace -> managers


Journal = Callable[[str, tuple[Any, ...], dict[str, Any]], None]
"""Told every change the dashboard makes to the model (method name, args, kwargs), before it
is made: `tui.recording` writes them down so a replay can make the same changes."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def journaled(method: Callable[Concatenate[NetworkModel, _P], _R]
              ) -> Callable[Concatenate[NetworkModel, _P], _R]:
    """Tell the model's journal about a call from outside (calls the model makes to itself
    while handling one are part of it, and are not told again)."""

    def wrapper(self: NetworkModel, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Journal the call if it is the outermost, then make it."""
        if self.journal is not None and not self._depth:
            self.journal(method.__name__, args, kwargs)
        self._depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._depth -= 1

    functools.update_wrapper(wrapper, method)
    return wrapper


class NetworkModel:
    """Everything the views draw. Changes come from events (`ingest`), samples of the network
    (`observe` = `sample` + `apply`) and the dashboard's own operations (`add_chunk`, ...);
    those are `journaled`, so a recording holds every change and a replay can redo it."""

    def __init__(self, capacity: int, group_size: int = 4) -> None:
        self.capacity = capacity
        self.group_size = group_size
        self.flow = BoundedLog(LOG_LINES)
        self.events = EventLog(EVENT_ROWS)
        self.traces: OrderedDict[bytes, list[ev.Event]] = OrderedDict()
        self.chunks: OrderedDict[Name, ChunkInfo] = OrderedDict()
        self.vaults: dict[Name, VaultRow] = {}
        self.rank_history: dict[Name, deque[float]] = {}
        self.faults: dict[Name, set[str]] = {}
        self.summary = Summary()
        self.focus: Name | None = None  # a chunk or vault name for the XOR view
        self.xor_blocks: list[XorBlock] = []
        self.followed_trace: bytes | None = None
        self.versioned: OrderedDict[Name, VersionedItem] = OrderedDict()
        self.messages: OrderedDict[bytes, MessageInfo] = OrderedDict()  # by send trace
        self._message_keys: dict[tuple[Name, Name, bytes], bytes] = {}  # (to, from, mid)
        self.identities: dict[Name, str] = {}  # MPID name -> "alice", "bob"
        self.identity_state: dict[Name, str] = {}  # "online", "offline", "connecting" ...
        self._start: float | None = None
        self._last_sample: tuple[float, int, dict[Name, tuple[int, int]]] | None = None
        self._live: tuple[Name, ...] = ()  # the vaults up at the last sample applied
        self.journal: Journal | None = None
        self._depth = 0  # journaled calls under way (only the outermost is journaled)

    # -- events ------------------------------------------------------------------------------

    @journaled
    def ingest(self, batch: list[ev.Event]) -> None:
        """Fold a batch of events into the logs, counters and traces."""
        for event in batch:
            if self._start is None:
                self._start = event.time
            self.summary.events += 1
            trace = getattr(event, "trace", b"")
            if trace:
                self._remember(trace, event)
            if isinstance(event, FLOW_EVENTS):
                self.flow.append(self._flow_line(event))
            elif isinstance(event, ev.PersonaEvent):
                self._persona_event(event)
            elif isinstance(event, ev.Churn):
                self.summary.churn += 1
                self._churn_row(event)
            elif isinstance(event, ev.FaultInjected):
                faults = self.faults.setdefault(event.vault, set())
                if event.fault == "heal":
                    faults.clear()
                else:
                    faults.add(event.fault)
                self.events.add(self._since(event), FAULT, event.vault, event.vault,
                                detail="healed" if event.fault == "heal" else event.fault)
            elif isinstance(event, ev.VaultUp):
                self.events.add(self._since(event), VAULT, event.vault, event.vault, detail="up")
            elif isinstance(event, ev.VaultDown):
                self.events.add(self._since(event), VAULT, event.vault, event.vault,
                                detail=f"down: {event.reason}" if event.reason else "down")

    def _since(self, event: ev.Event) -> float:
        return event.time - (event.time if self._start is None else self._start)

    def _t(self, event: ev.Event) -> str:
        return f"{self._since(event):8.2f}s"

    def _churn_row(self, e: ev.Churn) -> None:
        """A vault gone from (or new in) the close group of the vault reporting it: one row
        per vault that left or joined, the vaults that saw it folded in."""
        name, how = (e.lost, "left") if e.lost else (e.added, "joined")
        if name:
            self.events.add(self._since(e), CHURN, name, e.vault, detail=f"{how} close groups",
                            key=(name, how))

    def _flow_line(self, e: ev.MessageReceived) -> str:
        group = "group " if e.group else ""
        return (f"{self._t(e)} {short(e.vault)} {e.src_persona:>11} → {e.dst_persona:<11} "
                f"{e.action:<16} {group}{short(e.dst_name)} trace {short(e.trace, 6)}")

    def _persona_event(self, e: ev.PersonaEvent) -> None:
        if e.what == base.SACRIFICIAL_EVICTED:
            self.summary.evictions += 1
        elif e.what in (vm.VERSION_PUT, vm.VERSION_DELETED):
            self.track_versioned(e.subject, trace=e.trace)
        elif e.what in (mpid.MESSAGE_HELD, mpid.MESSAGE_DELIVERED, mpid.MESSAGE_REFUSED):
            self._message_event(e)
        self._note_row(e)

    def _note_row(self, e: ev.PersonaEvent) -> None:
        """A persona's note as a row of view 4, if it is one of its kinds. A PmidNode's
        eviction and its PmidManagers' record of it (a put failure giving EVICTED as reason)
        are one eviction row."""
        d, at, subject, trace = e.detail, self._since(e), e.subject, e.trace
        holder = _name_or(d, "holder", e.vault)
        kind = f"{d['kind']} copy" if "kind" in d else "copy"
        reason = str(d.get("reason", ""))
        if e.what == base.SACRIFICIAL_EVICTED or (e.what == base.PUT_FAILURE
                                                   and reason == EVICTED):
            node = _name_or(d, "node", e.vault)
            size = f", {d['size']} B" if "size" in d else ""
            primary = (f" for primary {short(d['for_copy'])}"
                       if isinstance(d.get("for_copy"), bytes) else " for a primary")
            self.events.add(at, EVICTION, node, e.vault, subject, trace,
                            f"S copy{size} evicted{primary}", key=(subject, trace, node))
        elif e.what == base.PUT_FAILURE:
            node = _name_or(d, "node", e.vault)
            self.events.add(at, PUT_FAILED, node, e.vault, subject, trace,
                            f"{kind} refused: {reason}", key=(subject, trace, node))
        elif e.what == base.HOLDER_REMOVED:
            self.events.add(at, REMOVED, holder, e.vault, subject, trace, f"{kind}: {reason}",
                            key=(subject, trace, holder))
        elif e.what == base.REPLICATED:
            self.events.add(at, REPLICATED, holder, e.vault, subject, trace,
                            f"{kind} put on a new holder", key=(subject, trace, holder))
        elif e.what == base.RANK_CHANGED:
            before, after = d.get("before"), d.get("rank")
            change = (f"{before:.2f} → {after:.2f}" if isinstance(before, float | int)
                      and isinstance(after, float | int) else "changed")
            self.events.add(at, RANK, subject, e.vault, b"", trace, f"{change}: {reason}",
                            key=(subject, trace, reason, after))
        elif e.what == INTEGRITY_FAILED:
            self.events.add(at, INTEGRITY, holder, e.vault, subject, trace,
                            f"{FAILED_CHECK}: holder removed", key=(subject, holder))

    def _remember(self, trace: bytes, event: ev.Event) -> None:
        events = self.traces.get(trace)
        if events is None:
            events = self.traces[trace] = []
            while len(self.traces) > TRACES_KEPT:
                oldest = next(iter(self.traces))
                if oldest == self.followed_trace:
                    self.traces.move_to_end(oldest)
                    oldest = next(iter(self.traces))
                del self.traces[oldest]
        if len(events) < EVENTS_PER_TRACE:
            events.append(event)

    # -- chunks the user put -----------------------------------------------------------------

    @journaled
    def add_chunk(self, name: Name, size: int, trace: bytes, follow: bool = True) -> None:
        """A chunk the user put; `follow` makes it the focus and its put the followed trace."""
        self.chunks[name] = ChunkInfo(name, size, trace)
        self.chunks.move_to_end(name)
        while len(self.chunks) > CHUNKS_KEPT:
            self.chunks.popitem(last=False)
        if follow:
            self.focus = name
            self.followed_trace = trace

    @journaled
    def mark_deleted(self, name: Name) -> None:
        """A chunk the user deleted: shown as deleted, not lost."""
        if name in self.chunks:
            self.chunks[name].deleted = True

    # -- versioned data and messages -----------------------------------------------------------

    @journaled
    def track_versioned(self, key: Name, label: str | None = None,
                        trace: bytes | None = None) -> VersionedItem:
        """The item at `key`, tracked from now on (the oldest dropped past VERSIONED_KEPT);
        `trace`, if given, becomes its latest operation."""
        item = self.versioned.get(key)
        if item is None:
            item = self.versioned[key] = VersionedItem(key, label or short(key))
            while len(self.versioned) > VERSIONED_KEPT:
                self.versioned.popitem(last=False)
        elif label:
            item.label = label
        if trace is not None:
            item.trace = trace
        return item

    @journaled
    def add_identity(self, name: Name, label: str, state: str) -> None:
        """One of the dashboard's MPIDs and its connection state, for view 6 and the lanes."""
        self.identities[name] = label
        self.identity_state[name] = state

    def label(self, name: Name) -> str:
        """An MPID's dashboard name ("alice"), or its name's prefix."""
        return self.identities.get(name) or short(name, 6)

    @journaled
    def add_message(self, trace: bytes, sender: Name, recipient: Name, text: str) -> None:
        """A message sent (or first seen) under `trace`; the oldest dropped past the limit."""
        self.messages[trace] = MessageInfo(trace, sender, recipient, text)
        while len(self.messages) > MESSAGES_KEPT:
            old = self.messages.popitem(last=False)[1]
            if old.mid is not None:
                self._message_keys.pop((old.recipient, old.sender, old.mid), None)

    @journaled
    def message_failed(self, trace: bytes, reason: str) -> None:
        """The send under `trace` failed before any manager answered: say why."""
        message = self.messages.get(trace)
        if message is not None and message.state == "sending":
            message.state, message.reason = "failed", reason

    @journaled
    def message_received(self, recipient: Name, sender: Name, mid: bytes) -> None:
        """The recipient's MpidNode got the message: the end of its journey."""
        trace = self._message_keys.get((recipient, sender, mid))
        if trace is not None and trace in self.messages:
            self.messages[trace].received = True

    def _message_event(self, e: ev.PersonaEvent) -> None:
        sender, mid = e.detail.get("sender"), e.detail.get("mid")
        if not isinstance(sender, bytes) or not isinstance(mid, bytes):
            return
        key = (e.subject, sender, mid)
        trace = self._message_keys.get(key)
        if trace is None:  # the first event of a send: held or refused, under the send's trace
            if e.what == mpid.MESSAGE_DELIVERED:
                return  # a message from before the dashboard looked
            if e.trace not in self.messages:
                self.add_message(e.trace, sender, e.subject, "")
            trace = e.trace
            self._message_keys[key] = trace
            self.messages[trace].mid = mid
        message = self.messages.get(trace)
        if message is None:
            return
        if e.what == mpid.MESSAGE_HELD and message.state in ("sending", "failed"):
            message.state, message.reason = "held", ""
        elif e.what == mpid.MESSAGE_REFUSED and message.state in ("sending", "failed"):
            message.state = "refused"
            message.reason = str(e.detail.get("reason") or e.detail.get("error", ""))
        elif e.what == mpid.MESSAGE_DELIVERED:
            message.state, message.delivery_trace = "delivered", e.trace

    # -- sampling the live network -----------------------------------------------------------

    def query(self) -> Query:
        """What a reading must report on besides the vaults: the tracked chunks and trees,
        and the newest MESSAGES_SAMPLED messages that managers may hold."""
        recent = list(self.messages.values())[-MESSAGES_SAMPLED:]
        keys = (m.recipient + m.sender + m.mid for m in recent
                if m.mid is not None and m.state != "refused")
        return Query(tuple(self.chunks), tuple(self.versioned),
                     tuple(key for key in keys if len(key) == MESSAGE_KEY_SIZE))

    def observe(self, reading: NetworkReading, now: float) -> None:
        """Show a reading of the network: vault rows, holdings of tracked chunks, ranks,
        rates (`sample`, then `apply`: a recording keeps the sample)."""
        self.apply(self.sample(reading, now))

    def sample(self, reading: NetworkReading, now: float) -> Sample:
        """A reading reduced to what the views show (the rates' baseline moves to `now`).
        Names the reading does not answer for (asked for before they were tracked) are left
        as they were."""
        counters = {v.name: (v.messages_in, v.messages_out) for v in reading.vaults}
        total_in = sum(v.messages_in for v in reading.vaults)
        accounts = dict(reading.accounts)
        ranks = {node: rank(account) for node, account in accounts.items()}
        span, previous = 0.0, {}
        msgs_per_s = None
        if self._last_sample is not None:
            span = max(now - self._last_sample[0], 1e-6)
            previous = self._last_sample[2]
            msgs_per_s = max(0, total_in - self._last_sample[1]) / span
        self._last_sample = (now, total_in, counters)

        rows = []
        for vault in reading.vaults:
            name = vault.name
            before = previous.get(name, counters[name])
            rows.append(VaultRow(
                name=name, state=",".join(sorted(self.faults.get(name, ()))) or "up",
                stored=vault.stored, capacity=self.capacity, copies=dict(vault.copies),
                rank=ranks.get(name),
                rate_in=(counters[name][0] - before[0]) / span if span else 0.0,
                rate_out=(counters[name][1] - before[1]) / span if span else 0.0,
                peers=vault.peers, close_group=vault.close_group,
                account=dict(accounts.get(name, {})), holds=vault.holds))
        holders = dict(reading.holders)
        trees = dict(reading.trees)
        inboxes = dict(reading.inboxes)
        held_by: list[tuple[bytes, tuple[Name, ...]]] = []
        for message in list(self.messages.values())[-MESSAGES_SAMPLED:]:
            if message.mid is None or message.state == "refused":
                held_by.append((message.trace, ()))
            elif (key := message.recipient + message.sender + message.mid) in inboxes:
                held_by.append((message.trace, inboxes[key]))
        return Sample(tuple(v.name for v in reading.vaults), tuple(rows), tuple(ranks.items()),
                      tuple((name, holders[name]) for name in self.chunks if name in holders),
                      msgs_per_s,
                      tuple((key, trees[key]) for key in self.versioned if key in trees),
                      tuple(held_by))

    @journaled
    def apply(self, sample: Sample) -> None:
        """Show a sample: the vault rows (a vault gone stays, as down), rank history, chunk
        holders, the summary, the XOR view, version trees and who holds each message."""
        rows = {row.name: row for row in sample.rows}
        for name, old in self.vaults.items():
            if name not in rows:
                rows[name] = VaultRow(name, "down", old.stored, old.capacity, old.copies,
                                      old.rank, 0.0, 0.0, 0, (), old.account, old.holds)
        self.vaults = rows
        if sample.msgs_per_s is not None:
            self.summary.msgs_per_s = sample.msgs_per_s
        for name, value in sample.ranks:
            self.rank_history.setdefault(name, deque(maxlen=RANK_HISTORY)).append(value)
        for name, holders in sample.holders:
            if name in self.chunks:
                self.chunks[name].holders = holders
        self._live = sample.live
        self.summary.vaults_up = len(sample.live)
        self.summary.vaults_down = len(rows) - len(sample.live)
        self.summary.chunks = sum(1 for c in self.chunks.values() if not c.deleted)
        self.summary.lost = sum(1 for c in self.chunks.values() if c.lost)
        self.refocus()
        for key, state in sample.versioned:
            item = self.versioned.get(key)
            if item is not None:
                item.parents = dict(state.parents)
                item.root, item.tips = state.root, state.tips
                item.group, item.strays = state.group, state.strays
                item.sampled = True
        for trace, managers in sample.held_by:
            if trace in self.messages:
                self.messages[trace].held_by = managers

    def refocus(self) -> None:
        """Redraw the XOR view around `focus` from the last sample (no network needed)."""
        self.xor_blocks = self._xor_blocks(list(self._live)) if self.focus else []

    def _xor_blocks(self, names: list[Name]) -> list[XorBlock]:
        """The focused chunk's three copy names (holders sit near those, not near the chunk's
        own name), or the focused vault's name, each with its nearest vaults."""
        assert self.focus is not None
        if self.focus not in self.chunks:
            return [XorBlock("name", self.focus, self._nearest(self.focus, names, {}, XOR_ROWS))]
        blocks = []
        chunk = self.chunks[self.focus]
        for kind in CopyKind:
            copy = copy_name(self.focus, kind)
            holders = {vault: kind.value for vault in chunk.holders.get(kind.value, [])}
            blocks.append(XorBlock(f"{kind.name.lower()} copy", copy,
                                   self._nearest(copy, names, holders, XOR_ROWS // 2)))
        return blocks

    @staticmethod
    def _nearest(target: Name, names: list[Name], holds: dict[Name, str],
                 count: int) -> list[XorRow]:
        rows = []
        for name in sorted(names, key=lambda n: distance(n, target))[:count]:
            d = distance(name, target)
            rows.append(XorRow(name, len(name) * 8 - d.bit_length(),
                               math.log2(d) if d else 0.0, holds.get(name, "")))
        return rows

    # -- the space-time view -----------------------------------------------------------------

    def flow_steps(self, trace: bytes) -> list[FlowStep]:
        """The operation `trace` as lane-to-lane steps, a group's identical steps folded.

        A group's members act at once, so their identical steps interleave (send, sync, send,
        sync ...): a step folds into the nearest identical one among the last FOLD_WINDOW
        steps, unless its vault made one of the steps after that one (a vault's own steps stay
        in the order it made them)."""
        steps: list[FlowStep] = []
        makers: list[set[Name]] = []  # the vaults folded into each step
        events = self.traces.get(trace, [])
        start = events[0].time if events else 0.0
        for event in events:
            if isinstance(event, ev.MessageSent) or (
                    isinstance(event, ev.MessageReceived) and event.src_persona in CLIENTS):
                step = FlowStep(event.time - start, event.src_persona, event.dst_persona,
                                event.action, src_side=self._side(event.src_persona,
                                                                  event.src_name),
                                dst_side=self._side(event.dst_persona, event.dst_name))
            elif isinstance(event, ev.PersonaEvent) and event.what in MARKS:
                side = self._side(event.persona, event.subject)
                step = FlowStep(event.time - start, event.persona, event.persona,
                                MARKS[event.what], src_side=side, dst_side=side)
            else:
                continue
            recent = range(len(steps) - 1, max(-1, len(steps) - 1 - FOLD_WINDOW), -1)
            same = next((i for i in recent
                         if replace(steps[i], time=step.time, count=1) == step), None)
            if same is not None and not any(event.vault in m for m in makers[same + 1:]):
                steps[same] = replace(steps[same], count=steps[same].count + 1)
                makers[same].add(event.vault)
            else:
                steps.append(step)
                makers.append({event.vault})
        return steps

    def _side(self, persona: str, name: Name) -> str:
        """Whose lane a messaging persona's message is on (the other personas have one)."""
        return self.label(name) if persona in SIDED and name else ""


CLIENTS = ("MaidNode", "MpidNode")
SIDED = ("MpidNode", "MpidManager")
MARKS = {base.ACCUMULATED: "accumulated", base.SYNC_COMMITTED: "committed",
         base.CHUNK_STORED: "stored", base.SACRIFICIAL_EVICTED: "evicted",
         base.PUT_FAILURE: "put failure", base.CHUNK_DELETED: "deleted",
         base.CACHE_HIT: "cache hit",
         vm.VERSION_PUT: "version put", vm.VERSION_DELETED: "branch deleted",
         mpid.MESSAGE_HELD: "held", mpid.MESSAGE_DELIVERED: "delivered",
         mpid.MESSAGE_REFUSED: "refused"}

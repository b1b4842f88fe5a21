"""What the dashboard shows, as plain records: the only module that reads network internals.

`NetworkModel.ingest` folds batches of events (drained on a timer, never one message per
event) into bounded logs and counters; `NetworkModel.observe` samples the live network (vault
stores, PmidManager accounts, routing) into `VaultRow`s, chunk holdings and rank history. The
widgets render the model and nothing else, so a frozen model renders the same screen every
time (the snapshot tests use that).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

from vaultnet import events as ev
from vaultnet.personas import base
from vaultnet.personas.pmid_manager import rank
from vaultnet.store import CopyKind, copy_name
from vaultnet.xor import Name, distance, short

if TYPE_CHECKING:
    from vaultnet.testnet import Testnet

LOG_LINES = 5000
NOTABLE_LINES = 1000
TRACES_KEPT = 32
EVENTS_PER_TRACE = 4000
RANK_HISTORY = 60
XOR_ROWS = 12
CHUNKS_KEPT = 500
HOLDS_SHOWN = 20

FLOW_EVENTS = (ev.MessageReceived,)
NOTABLE = {base.SACRIFICIAL_EVICTED, base.PUT_FAILURE, base.HOLDER_REMOVED, base.HOLDER_ADDED,
           base.REPLICATED, base.RANK_CHANGED, base.CHUNK_DELETED}


def _brief(value: object) -> str:
    if isinstance(value, bytes):
        return short(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


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
    holds: tuple[tuple[Name, str, int], ...] = ()  # (copy, kind, size), first HOLDS_SHOWN


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
    """One row of the space-time view: a message between persona lanes, or a mark on a lane."""

    time: float
    src: str
    dst: str  # == src for a mark (accumulated, sync committed, stored ...)
    label: str
    count: int = 1


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


class NetworkModel:
    def __init__(self, capacity: int, group_size: int = 4) -> None:
        self.capacity = capacity
        self.group_size = group_size
        self.flow = BoundedLog(LOG_LINES)
        self.notable = BoundedLog(NOTABLE_LINES)
        self.traces: OrderedDict[bytes, list[ev.Event]] = OrderedDict()
        self.chunks: OrderedDict[Name, ChunkInfo] = OrderedDict()
        self.vaults: dict[Name, VaultRow] = {}
        self.rank_history: dict[Name, deque[float]] = {}
        self.faults: dict[Name, set[str]] = {}
        self.summary = Summary()
        self.focus: Name | None = None  # a chunk or vault name for the XOR view
        self.xor_blocks: list[XorBlock] = []
        self.followed_trace: bytes | None = None
        self._start: float | None = None
        self._last_sample: tuple[float, int, dict[Name, tuple[int, int]]] | None = None

    # -- events ------------------------------------------------------------------------------

    def ingest(self, batch: list[ev.Event]) -> None:
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
            elif isinstance(event, ev.FaultInjected):
                faults = self.faults.setdefault(event.vault, set())
                if event.fault == "heal":
                    faults.clear()
                else:
                    faults.add(event.fault)
                self.notable.append(f"{self._t(event)} fault    {short(event.vault)} "
                                    f"{event.fault}")
            elif isinstance(event, ev.VaultUp | ev.VaultDown):
                what = "up  " if isinstance(event, ev.VaultUp) else "down"
                self.notable.append(f"{self._t(event)} vault    {short(event.vault)} {what}")

    def _t(self, event: ev.Event) -> str:
        start = event.time if self._start is None else self._start
        return f"{event.time - start:8.2f}s"

    def _flow_line(self, e: ev.MessageReceived) -> str:
        group = "group " if e.group else ""
        return (f"{self._t(e)} {short(e.vault)} {e.src_persona:>11} → {e.dst_persona:<11} "
                f"{e.action:<16} {group}{short(e.dst_name)} trace {short(e.trace, 6)}")

    def _persona_event(self, e: ev.PersonaEvent) -> None:
        if e.what == base.SACRIFICIAL_EVICTED:
            self.summary.evictions += 1
        if e.what in NOTABLE:
            extra = " ".join(f"{k}={_brief(v)}" for k, v in sorted(e.detail.items()))
            self.notable.append(f"{self._t(e)} {e.what:<19} {short(e.vault)} {e.persona:<11} "
                                f"{short(e.subject)} trace {short(e.trace, 6)} {extra}".rstrip())

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

    def add_chunk(self, name: Name, size: int, trace: bytes) -> None:
        self.chunks[name] = ChunkInfo(name, size, trace)
        self.chunks.move_to_end(name)
        while len(self.chunks) > CHUNKS_KEPT:
            self.chunks.popitem(last=False)
        self.focus = name
        self.followed_trace = trace

    def mark_deleted(self, name: Name) -> None:
        if name in self.chunks:
            self.chunks[name].deleted = True

    # -- sampling the live network -----------------------------------------------------------

    def observe(self, net: Testnet, now: float) -> None:
        """Sample the live network: vault rows, holdings of tracked chunks, ranks, rates."""
        live = {v.name: v for v in net.vaults}
        held: dict[Name, list[tuple[Name, str]]] = {}
        counters: dict[Name, tuple[int, int]] = {}
        total_in = 0
        for vault in live.values():
            for copy, kind, _ in vault.stored():
                held.setdefault(copy, []).append((vault.name, kind))
            counters[vault.name] = (vault.messages_in, vault.messages_out)
            total_in += vault.messages_in
        accounts = self._accounts(net)
        ranks = {node: rank(account) for node, account in accounts.items()}
        span, previous = 0.0, {}
        if self._last_sample is not None:
            span = max(now - self._last_sample[0], 1e-6)
            previous = self._last_sample[2]
            self.summary.msgs_per_s = max(0, total_in - self._last_sample[1]) / span
        self._last_sample = (now, total_in, counters)

        rows: dict[Name, VaultRow] = {}
        for name, vault in live.items():
            entries = vault.stored()
            before = previous.get(name, counters[name])
            rows[name] = VaultRow(
                name=name, state=",".join(sorted(self.faults.get(name, ()))) or "up",
                stored=sum(size for _, _, size in entries), capacity=self.capacity,
                copies=dict(Counter(kind for _, kind, _ in entries)), rank=ranks.get(name),
                rate_in=(counters[name][0] - before[0]) / span if span else 0.0,
                rate_out=(counters[name][1] - before[1]) / span if span else 0.0,
                peers=len(vault.routing), close_group=tuple(vault.close_group(name)),
                account=dict(accounts.get(name, {})), holds=tuple(entries[:HOLDS_SHOWN]))
        for name, old in self.vaults.items():
            if name not in rows:
                rows[name] = VaultRow(name, "down", old.stored, old.capacity, old.copies,
                                      old.rank, 0.0, 0.0, 0, (), old.account, old.holds)
        self.vaults = rows
        for name, value in ranks.items():
            self.rank_history.setdefault(name, deque(maxlen=RANK_HISTORY)).append(value)

        for chunk in self.chunks.values():
            chunk.holders = {kind.value: [v for v, _ in held.get(copy_name(chunk.name, kind), [])]
                             for kind in CopyKind}
        self.summary.vaults_up = len(live)
        self.summary.vaults_down = len(rows) - len(live)
        self.summary.chunks = sum(1 for c in self.chunks.values() if not c.deleted)
        self.summary.lost = sum(1 for c in self.chunks.values() if c.lost)
        self.xor_blocks = self._xor_blocks(list(live), held) if self.focus else []

    @staticmethod
    def _accounts(net: Testnet) -> dict[Name, dict]:
        """Each node's account as its PmidManager group keeps it (the first member that has
        one; members agree through sync)."""
        accounts: dict[Name, dict] = {}
        for vault in net.vaults:
            if vault.host is None:
                continue
            for node, account in vault.host.pmid_manager.accounts.items():
                accounts.setdefault(node, account)
        return accounts

    def _xor_blocks(self, names: list[Name], held: dict[Name, list[tuple[Name, str]]]
                    ) -> list[XorBlock]:
        """The focused chunk's three copy names (holders sit near those, not near the chunk's
        own name), or the focused vault's name, each with its nearest vaults."""
        assert self.focus is not None
        if self.focus not in self.chunks:
            return [XorBlock("name", self.focus, self._nearest(self.focus, names, {}, XOR_ROWS))]
        blocks = []
        for kind in CopyKind:
            copy = copy_name(self.focus, kind)
            holders = {vault: kind.value for vault, _ in held.get(copy, [])}
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
        """The operation `trace` as lane-to-lane steps, runs of identical steps folded."""
        steps: list[FlowStep] = []
        events = self.traces.get(trace, [])
        start = events[0].time if events else 0.0
        for event in events:
            if isinstance(event, ev.MessageSent) or (
                    isinstance(event, ev.MessageReceived) and event.src_persona == CLIENT):
                step = FlowStep(event.time - start, event.src_persona, event.dst_persona,
                                event.action)
            elif isinstance(event, ev.PersonaEvent) and event.what in MARKS:
                step = FlowStep(event.time - start, event.persona, event.persona,
                                MARKS[event.what])
            else:
                continue
            last = steps[-1] if steps else None
            if last and (last.src, last.dst, last.label) == (step.src, step.dst, step.label):
                steps[-1] = FlowStep(last.time, last.src, last.dst, last.label, last.count + 1)
            else:
                steps.append(step)
        return steps


CLIENT = "MaidNode"
MARKS = {base.ACCUMULATED: "accumulated", base.SYNC_COMMITTED: "sync", base.CHUNK_STORED: "stored",
         base.SACRIFICIAL_EVICTED: "evicted", base.PUT_FAILURE: "put failure",
         base.CHUNK_DELETED: "deleted", base.CACHE_HIT: "cache hit"}

"""Replaying a recording: a timeline with a cursor, and the dashboard's model at the cursor.

Sans-IO apart from reading the file through its `TraceIndex`: no Textual, no timers. The
dashboard's timeline widget calls `advance` with the wall time that passed while playing.

The state at time T is the model after every record at or before T: events are folded in
with `NetworkModel.ingest`, samples applied with `apply`, the dashboard's calls redone. Seeking
forward applies the records in between; seeking back starts again from the nearest checkpoint
at or before the target (a pickled model, made every `CHECKPOINT_EVERY` records as the cursor
first passes them) or from the start. Memory: the index (17 bytes a record), one model, and
checkpoints of at most CHECKPOINT_BYTES all told: they are spaced so that checkpoints of the
model's size over the whole recording fit, and past it every other one is dropped and they are
made half as often.

The cursor's times count from the recording's first event (or its first record, if earlier):
the model counts view 4's and the logs' times from its first event too. A dashboard recording
begins once its network is up, with the events of its start-up written in its first batch at
their own, earlier times; the index clamps them to the first record's time, so they are shown
from there on, never before the cursor reaches them, and no row is later than the cursor.

A trace from `vaultnet testnet --record` has no samples: the vault list (up, down, faults) is
made from its vault_up / vault_down / fault events; what only a sample tells (stored bytes,
copies, ranks, holders, accounts, routing, version trees, held messages) stays empty.
"""

from __future__ import annotations

import dataclasses
import io
import pickle
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from tui.model import NetworkModel, Sample, VaultRow
from tui.recording import (
    CALL,
    EVENT,
    HEADER,
    REPLAYED,
    SAMPLE,
    TraceError,
    TraceIndex,
    decode_sample,
)
from vaultnet.runtime import events as ev
from vaultnet.xor import Name

SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
"""Play speeds, slowest first (x the recorded pace)."""
BATCH_SECONDS = 0.1
"""One batch: the records of this much recorded time (the dashboard drains every 0.1 s)."""
CHECKPOINT_EVERY = 2_000
CHECKPOINT_BYTES = 64 * 1024 * 1024
INGEST_CHUNK = 1_000
"""Events folded in one `ingest` call while applying (bounds the list of decoded events)."""


def _event_classes(cls: type[ev.Event] = ev.Event) -> list[type[ev.Event]]:
    """`cls` and every event class derived from it."""
    return [cls] + [c for sub in cls.__subclasses__() for c in _event_classes(sub)]


def _reducer(cls: type[ev.Event]) -> Callable[[ev.Event], tuple[Any, ...]]:
    fields = attrgetter(*(f.name for f in dataclasses.fields(cls)))  # >= 2: a tuple

    def reduce(event: ev.Event) -> tuple[Any, ...]:
        """The class and its fields: what unpickling calls it with."""
        return cls, fields(event)

    return reduce


_REDUCERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
"""How a checkpoint pickles each event class: its fields in order (the dataclass default
asks `dataclasses.fields` for every event, which made checkpoints 3x slower)."""


def _pickle(state: object) -> bytes:
    if not _REDUCERS:
        _REDUCERS.update({cls: _reducer(cls) for cls in _event_classes()})
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _REDUCERS
    pickler.dump(state)
    return out.getvalue()


class Replay:
    """A recording as a timeline: `position` records applied, `model` the state there, `time`
    the cursor's time (between two records while playing); play, pause, step, seek, speed."""

    def __init__(self, index: TraceIndex) -> None:
        """At the start, paused, at 1x."""
        self.index = index
        self.playing = False
        self.speed = 1.0
        self.position = 0
        self.time = self.start
        self.model = self._new_model()
        self._up: dict[Name, bool] = {}  # event-only traces: each vault seen, and if it is up
        self._checkpoints: dict[int, bytes] = {}
        self._every = CHECKPOINT_EVERY
        self.checkpoint_bytes = 0
        self.rebuilds = 0  # times a seek went back (tests and the docs' budget use it)
        self._sync_vaults()

    def _new_model(self) -> NetworkModel:
        return NetworkModel(self.index.capacity, self.index.group_size)

    # -- the timeline -----------------------------------------------------------------------

    @property
    def start(self) -> float:
        """Time of the first record, or of the first event if that is earlier: the model
        counts view 4's and the logs' times from its first event, so the cursor counts from
        no later, and no row shown is later than the cursor."""
        first = self.index.times[0]
        return first if self.index.first_event is None else min(first, self.index.first_event)

    @property
    def end(self) -> float:
        """Time of the last record."""
        return self.index.times[-1]

    @property
    def at_end(self) -> bool:
        """Whether every record has been applied."""
        return self.position == len(self.index)

    def time_of(self, position: int) -> float:
        """The cursor's time with `position` records applied."""
        return self.start if position == 0 else self.index.times[position - 1]

    # -- moving the cursor --------------------------------------------------------------------

    def seek(self, time: float) -> None:
        """The state at `time` (clamped to the recording): every record at or before it."""
        time = min(max(time, self.start), self.end)
        self._goto(bisect_right(self.index.times, time))
        self.time = time

    def seek_position(self, position: int) -> None:
        """The state after `position` records (clamped), the cursor at the last one's time."""
        self._goto(min(max(position, 0), len(self.index)))
        self.time = self.time_of(self.position)

    def step(self, records: int = 1) -> None:
        """Forward (or back, if negative) this many records; pauses."""
        self.playing = False
        self.seek_position(self.position + records)

    def step_batch(self, forward: bool = True) -> None:
        """Forward over the next record and those within BATCH_SECONDS after it, or back
        before the last one applied and those within BATCH_SECONDS before it; pauses."""
        self.playing = False
        times = self.index.times
        if forward and not self.at_end:
            self.seek(times[self.position] + BATCH_SECONDS)
        elif not forward and self.position:
            self.seek_position(bisect_left(times, times[self.position - 1] - BATCH_SECONDS))

    def advance(self, seconds: float) -> bool:
        """While playing: `seconds` of wall time at `speed`; stops at the end. True if moved."""
        if not self.playing:
            return False
        before = self.time
        self.seek(self.time + seconds * self.speed)
        if self.time >= self.end:
            self.playing = False
        return self.time != before

    def toggle(self) -> None:
        """Play, or pause; playing at the end starts again from the beginning."""
        if not self.playing and self.at_end:
            self.seek_position(0)
        self.playing = not self.playing

    def faster(self) -> None:
        """The next speed up (16x at most)."""
        self.speed = next((s for s in SPEEDS if s > self.speed), SPEEDS[-1])

    def slower(self) -> None:
        """The next speed down (0.5x at least)."""
        self.speed = next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0])

    # -- applying records ---------------------------------------------------------------------

    def _goto(self, target: int) -> None:
        if target < self.position:
            self.rebuilds += 1
            base = max((p for p in self._checkpoints if p <= target), default=0)
            if base:
                self.model, self._up = pickle.loads(self._checkpoints[base])
            else:
                self.model, self._up = self._new_model(), {}
            self.position = base
        if target > self.position:
            self._apply(target)
        self._sync_vaults()

    def _apply(self, target: int) -> None:
        """Apply records position..target-1, checkpointing on the way."""
        while self.position < target:
            stop = min(target, (self.position // self._every + 1) * self._every)
            self._apply_run(self.position, stop)
            self.position = stop
            if stop % self._every == 0:
                self._checkpoint()

    def _apply_run(self, start: int, stop: int) -> None:
        events: list[ev.Event] = []
        kinds = self.index.kinds
        for i, record in enumerate(self.index.read(start, stop), start):
            if kinds[i] == EVENT:
                events.append(self._event(record, i))
                if len(events) >= INGEST_CHUNK:
                    self._ingest(events)
                    events = []
                continue
            self._ingest(events)
            events = []
            self._annotation(record, i)
        self._ingest(events)

    def _event(self, record: dict[str, Any], i: int) -> ev.Event:
        try:
            return ev.from_record(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise TraceError(f"{self.index.path}: record {i + 1} is not a well-formed "
                             f"{record.get('kind')!r} event ({exc})") from None

    def _ingest(self, events: list[ev.Event]) -> None:
        if not events:
            return
        self.model.ingest(events)
        if not self.index.samples:
            for event in events:
                if isinstance(event, ev.VaultUp):
                    self._up[event.vault] = True
                elif isinstance(event, ev.VaultDown):
                    self._up[event.vault] = False

    def _annotation(self, record: dict[str, Any], i: int) -> None:
        kind = record.get("kind")
        try:
            if kind == SAMPLE:
                self.model.apply(decode_sample(record["sample"]))
            elif kind == CALL and record.get("op") in REPLAYED:
                getattr(self.model, record["op"])(*record["args"], **record.get("kwargs", {}))
            elif kind not in (HEADER, CALL):
                pass  # a later version's annotation: skipped
        except (KeyError, TypeError, ValueError) as exc:
            raise TraceError(f"{self.index.path}: record {i + 1} is not a well-formed {kind} "
                             f"record ({exc})") from None

    def _checkpoint(self) -> None:
        """Keep the model here, spaced so that checkpoints of its size over the whole
        recording fit CHECKPOINT_BYTES (pickling is most of a first pass's time), and
        thinned to every other one whenever they do not."""
        if self.position not in self._checkpoints:
            data = _pickle((self.model, self._up))
            self._checkpoints[self.position] = data
            self.checkpoint_bytes += len(data)
            while len(self.index) // self._every * len(data) > CHECKPOINT_BYTES:
                self._every *= 2
        while self.checkpoint_bytes > CHECKPOINT_BYTES and len(self._checkpoints) > 1:
            self._every *= 2
            self._thin()
        self._thin()

    def _thin(self) -> None:
        for p in [p for p in self._checkpoints if p % self._every]:
            self.checkpoint_bytes -= len(self._checkpoints.pop(p))

    def _sync_vaults(self) -> None:
        """An event-only trace: the vault rows from vault_up / vault_down (and faults)."""
        if self.index.samples:
            return
        model = self.model
        live = tuple(name for name, up in self._up.items() if up)
        model.vaults = {name: VaultRow(name, "down", 0, model.capacity, {}, None, 0.0, 0.0, 0)
                        for name in self._up}
        rows = tuple(VaultRow(name, ",".join(sorted(model.faults.get(name, ()))) or "up", 0,
                              model.capacity, {}, None, 0.0, 0.0, 0) for name in live)
        model.apply(Sample(live, rows, (), (), None))

    @property
    def checkpoints(self) -> int:
        """Checkpoints kept now."""
        return len(self._checkpoints)

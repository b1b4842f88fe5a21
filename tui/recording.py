"""Dashboard recordings: the model's journal written as a trace, and traces read back by index.

A recording is the same stream of msgpack maps that `vaultnet testnet --record` writes (one
per event, `kind` = the event's kind), so every tool that reads a trace reads it. The
dashboard (`vaultnet tui --record FILE`) adds three kinds of its own, all named `tui.*`
(`vaultnet.runtime.events.read_trace` skips a kind with a dot in it):

- `tui.header` (first): `format` (= FORMAT), `capacity`, `group_size` of the recorded model;
- `tui.sample`: what one `NetworkModel.observe` read off the network (`Sample`, encoded by
  `encode_sample`), once a second: vault rows, ranks, holders, version trees, held messages;
- `tui.call`: one of the dashboard's own changes to the model (`op` = a `REPLAYED` method,
  `args`, `kwargs`): a chunk put, deleted, a message sent, an MPID's state, ...

Each `tui.*` record carries `at`, the time on the events' clock (trio's) when it was made. The
events written are the ones the dashboard's model folded in, in that order (an event the
dashboard's bounded subscription dropped is in neither). Everything is written as it happens
(nothing is held back in memory); a sample is up to some 2 KiB a vault (5 KiB for 8 vaults
holding a few copies each).
"""

from __future__ import annotations

import contextlib
import os
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

from tui.model import Sample, StructuredRow, VaultRow
from vaultnet.control.reading import state_from_record, state_record
from vaultnet.runtime import events as ev

FORMAT = 1
HEADER, SAMPLE, CALL = "tui.header", "tui.sample", "tui.call"
REPLAYED = frozenset({"add_chunk", "mark_deleted", "track_versioned", "add_identity",
                      "add_message", "message_failed", "message_received"})
"""The model's journaled methods a replay redoes from `tui.call` records (others are skipped,
so a newer recording still opens)."""
MAX_RECORDS = 5_000_000
"""The longest recording a replay opens: its index costs 17 bytes a record (85 MiB here)."""
EVENT, SAMPLED, CALLED = 0, 1, 2
"""What a record is, in `TraceIndex.kinds`."""


class TraceError(ValueError):
    """A file is not a recording that can be replayed: missing, empty, truncated, too long,
    or not msgpack trace records. Its message is one line naming the file."""


# -- samples as msgpack-friendly lists ----------------------------------------------------


def encode_sample(s: Sample) -> dict[str, Any]:
    """A sample as plain msgpack values (lists, dicts, bytes, numbers)."""
    return {
        "live": list(s.live),
        "rows": [[r.name, r.state, r.stored, r.capacity, r.copies, r.rank, r.rate_in,
                  r.rate_out, r.peers, list(r.close_group), r.account,
                  [list(h) for h in r.holds]] for r in s.rows],
        "ranks": [list(r) for r in s.ranks],
        "holders": [[name, holders] for name, holders in s.holders],
        "msgs_per_s": s.msgs_per_s,
        "versioned": [[key, *state_record(st)] for key, st in s.versioned],
        "held_by": [[trace, list(managers)] for trace, managers in s.held_by],
        "structured": [[r.name, r.owner, r.mine, r.version, r.size, list(r.group), r.holding]
                       for r in s.structured],
    }


def decode_sample(d: dict[str, Any]) -> Sample:
    """The sample `encode_sample` wrote (KeyError / TypeError / ValueError if it is not one)."""
    rows = tuple(VaultRow(name, state, stored, capacity, dict(copies), rank, rate_in, rate_out,
                          peers, tuple(group), dict(account), tuple(tuple(h) for h in holds))
                 for name, state, stored, capacity, copies, rank, rate_in, rate_out, peers,
                 group, account, holds in d["rows"])
    versioned = tuple((key, state_from_record(state)) for key, *state in d["versioned"])
    return Sample(tuple(d["live"]), rows, tuple((n, float(r)) for n, r in d["ranks"]),
                  tuple((name, {k: list(v) for k, v in holders.items()})
                        for name, holders in d["holders"]),
                  d["msgs_per_s"], versioned,
                  tuple((trace, tuple(managers)) for trace, managers in d["held_by"]),
                  tuple(StructuredRow(name, owner, mine, version, size, tuple(group), holding)
                        for name, owner, mine, version, size, group, holding
                        in d.get("structured", ())))


# -- writing ------------------------------------------------------------------------------


class Recorder:
    """The model's journal (`NetworkModel.journal`), written to `out` as it happens. A write
    that fails (a full disk) stops the recording and is kept in `error`; the dashboard runs on."""

    def __init__(self, out: BinaryIO, clock: Callable[[], float]) -> None:
        """Write to `out` once started; `clock` reads the events' clock (trio's)."""
        self._out: BinaryIO | None = out
        self._clock = clock
        self._last = float("-inf")
        self.records = 0
        self.error: OSError | None = None

    def start(self, capacity: int, group_size: int) -> None:
        """Write the header: the recorded model's vault capacity and group size."""
        self._write({"kind": HEADER, "format": FORMAT, "capacity": capacity,
                     "group_size": group_size, "at": self._at()})

    def _at(self) -> float:
        """Now on the events' clock, never before an event already written."""
        with contextlib.suppress(RuntimeError):  # the clock's owner (trio) has stopped
            self._last = max(self._last, self._clock())
        return self._last if self._last != float("-inf") else 0.0

    def _write(self, record: dict[str, Any]) -> None:
        if self._out is None:
            return
        try:
            self._out.write(msgpack.packb(record, use_bin_type=True))
            self.records += 1
        except OSError as exc:
            self.error, self._out = exc, None

    def __call__(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """One journaled change: events as themselves, a sample, or a call."""
        if op == "ingest":
            for event in args[0]:
                self._last = max(self._last, event.time)
                self._write(event.to_record())
        elif op == "apply":
            self._write({"kind": SAMPLE, "at": self._at(), "sample": encode_sample(args[0])})
        elif op in REPLAYED:
            self._write({"kind": CALL, "at": self._at(), "op": op, "args": list(args),
                         "kwargs": kwargs})

    def close(self) -> None:
        """Flush and close the file (once; later changes are not written)."""
        if self._out is not None:
            out, self._out = self._out, None
            try:
                out.close()
            except OSError as exc:
                self.error = exc


# -- reading ------------------------------------------------------------------------------


@dataclass
class TraceIndex:
    """Where each record of a trace file starts and its time (clamped so times never go
    back), read in one pass; records are decoded again from the file when applied, so only
    the index (17 bytes a record) is held."""

    path: Path
    offsets: array[int] = field(default_factory=lambda: array("q"))
    times: array[float] = field(default_factory=lambda: array("d"))
    kinds: array[int] = field(default_factory=lambda: array("b"))
    capacity: int = 0
    group_size: int = 4
    samples: int = 0
    first_event: float | None = None
    """The time written on the first event record (unclamped): where a model that replays the
    file counts its rows' and lines' times from (`NetworkModel.ingest`)."""

    @classmethod
    def open(cls, path: Path) -> TraceIndex:
        """Index `path`; TraceError (one line) if it cannot be replayed."""
        index = cls(path)
        try:
            size = path.stat().st_size
            with path.open("rb") as f:
                index._scan(f, size)
        except OSError as exc:
            raise TraceError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not index.offsets:
            raise TraceError(f"{path} is empty: no events were recorded")
        return index

    def _scan(self, f: BinaryIO, size: int) -> None:
        unpacker = msgpack.Unpacker(f, raw=False, strict_map_key=False)
        last = float("-inf")
        offset = 0
        while True:
            try:
                record = unpacker.unpack()
            except msgpack.OutOfData:
                break
            except (ValueError, msgpack.UnpackException) as exc:
                raise TraceError(f"{self.path} is not a trace: record {len(self.offsets) + 1} "
                                 f"is unreadable ({exc})") from None
            kind, at = self._check(record, len(self.offsets) + 1)
            if kind == HEADER:
                self.capacity = int(record.get("capacity", 0))
                self.group_size = int(record.get("group_size", 4))
            if len(self.offsets) >= MAX_RECORDS:
                raise TraceError(f"{self.path} is too long to replay: more than "
                                 f"{MAX_RECORDS:,} records")
            if self.first_event is None and kind not in (HEADER, SAMPLE, CALL):
                self.first_event = at
            last = max(last, at)  # the header (at -inf) takes the first record's time
            self.offsets.append(offset)
            self.times.append(last)
            self.kinds.append(EVENT if kind not in (HEADER, SAMPLE, CALL)
                              else SAMPLED if kind == SAMPLE else CALLED)
            self.samples += kind == SAMPLE
            offset = unpacker.tell()
        if offset != size:
            raise TraceError(f"{self.path} is truncated: {size - offset} bytes after record "
                             f"{len(self.offsets):,} are not a whole record")
        first = next((t for t in self.times if t != float("-inf")), 0.0)
        for i in range(min(2, len(self.times))):
            self.times[i] = max(self.times[i], first)

    def _check(self, record: Any, number: int) -> tuple[str, float]:
        """The record's kind and time, or TraceError if it is not a trace record."""
        if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
            raise TraceError(f"{self.path} is not a trace: record {number} is not a map with a "
                             "kind (was it written by --record?)")
        kind: str = record["kind"]
        annotation = kind.startswith("tui.")  # ours; any other kind must be an event
        at = float("-inf") if kind == HEADER else record.get("at" if annotation else "time")
        if not annotation and not ev.is_event_kind(kind):
            raise TraceError(f"{self.path} is not a trace: record {number} has unknown kind "
                             f"{kind[:40]!r}")
        if not isinstance(at, float | int):
            raise TraceError(f"{self.path} is not a trace: record {number} ({kind}) has no time")
        return kind, float(at)

    def __len__(self) -> int:
        return len(self.offsets)

    def read(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        """Records start..stop-1, decoded from the file (TraceError if it changed since)."""
        if start >= stop:
            return
        try:
            with self.path.open("rb") as f:
                f.seek(self.offsets[start])
                unpacker = msgpack.Unpacker(f, raw=False, strict_map_key=False)
                for _ in range(stop - start):
                    yield unpacker.unpack()
        except (OSError, ValueError, msgpack.UnpackException) as exc:
            raise TraceError(f"{self.path} changed while it was replayed: {exc}") from None


def open_recording(path: Path, clock: Callable[[], float]) -> Recorder:
    """A Recorder writing a new private file at `path` (OSError if it cannot be created)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return Recorder(os.fdopen(fd, "wb"), clock)

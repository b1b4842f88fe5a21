"""View 4's rows and the message log: bounded, folding a group's identical reports into one
row, counting every row ever made."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import islice

from vaultnet.xor import Name

EVENT_ROWS = 1000
"""Rows of view 4 kept (the oldest dropped first): a group's reports fold into one row, so
some 50 puts' worth on a full network (one run of scripts/screenshots.py: 170 rows from 851
reports). `EventLog.counts` counts every row ever made."""
FOLD_SECONDS = 10.0
"""A report folds into the kept row with its key only if that row began at most this long
before it: a group's members report within moments of each other, and a vault seen leaving
again later (a restart) gets a row of its own."""

EVICTION, PUT_FAILED, REMOVED, REPLICATED, RANK, INTEGRITY, CHURN, VAULT, FAULT = EVENT_KINDS = (
    "eviction", "put failure", "holder removed", "replicated", "rank change", "integrity",
    "churn", "vault", "fault")
"""View 4's kinds of event, in the order its kind filter cycles through them."""



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
        """Add a line (the oldest dropped past `maxlen`)."""
        self.lines.append(line)
        self.total += 1

    def since(self, seen: int) -> list[str]:
        """The lines added after the first `seen` (those still kept)."""
        new = min(self.total - seen, len(self.lines))
        return list(islice(self.lines, len(self.lines) - new, None)) if new > 0 else []


"""The firewall: answer a duplicate request with the result already computed, never re-run it.

Seed 002 "Fw"/"Uf": once a message was accepted, its (source, message id) pair is remembered with
the result; a duplicate gets that result back — which may be `SYNCHRONISING` while the group is
still agreeing — and "update firewall" replaces it with the final answer.

The C++ original (R1 `firewall.cc`) pruned only when the size was a multiple of 5000, and the same
pattern elsewhere never removed anything. Here the table is kept in time order and every call
drops the expired front, so memory follows the traffic of the last `ttl` seconds, capped at
`max_entries`.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass

from vaultnet.group.accumulator import check_positive
from vaultnet.group.ordered import drop_expired

FIREWALL_ENTRIES = 5_000
"""Entries per firewall (one per persona, six per vault). At about 20 puts/s a vault records
about 3 requests per put, some 3,600 a minute; past the cap the oldest entry goes and the
firewall's horizon (below) keeps its replay unanswerable."""


class FirewallState(enum.Enum):
    """Results that are states rather than answers."""

    SYNCHRONISING = "synchronising"  # accepted; the group has not agreed on the outcome yet


SYNCHRONISING = FirewallState.SYNCHRONISING

REQUEST_WINDOW = 300.0
"""Seconds a handled request is remembered (the firewall's default ttl), and so the oldest a
client request may be: a replay older than this is no longer in the firewall, so it is refused
by its age instead."""
FIREWALL_TTL = REQUEST_WINDOW
"""Seconds a handled request is remembered after its last write: the whole replay window, so a
replay young enough to be accepted by its age still meets the firewall."""
CLOCK_SKEW = 30.0
"""How far in the future a client request's time may be: clocks of separate machines differ a
little, but a request dated far ahead would outlive the window above."""


def is_fresh(sent_at: float, now: float, window: float = REQUEST_WINDOW,
             skew: float = CLOCK_SKEW) -> bool:
    """Whether a request made at `sent_at` may still be acted on at `now` (both wall-clock
    seconds): not older than the firewall remembers, not further ahead than clock skew."""
    return now - window <= sent_at <= now + skew


@dataclass(frozen=True, slots=True)
class FirewallEntry:
    """A handled request: its result and when it was first recorded / last updated."""

    result: object
    recorded_at: float
    updated_at: float
    origin: float | None = None


class Firewall:
    """Remembers handled (source, message id) pairs and the recorded result.

    The caller builds `key` from the source and message id (e.g. a digest of both). An entry lives
    `ttl` seconds from its last write (`record` or `update`), so a final result that arrives late
    is still offered for a full window. Bounded: at most `max_entries`; when full the oldest entry
    is evicted and counted in `evicted` (ttl expiries in `expired`). `now` should come from a
    monotonic clock; each entry is still checked individually on lookup.
    """

    def __init__(self, ttl: float = FIREWALL_TTL, max_entries: int = FIREWALL_ENTRIES) -> None:
        check_positive(ttl=ttl, max_entries=max_entries)
        self.ttl = ttl
        self.max_entries = max_entries
        self.evicted = 0
        self.expired = 0
        self.horizon = float("-inf")
        """The latest origin time of an entry evicted for room before its window passed: a
        request made at or before it might be one we forgot, so `is_past_horizon` refuses it."""
        self._entries: OrderedDict[bytes, FirewallEntry] = OrderedDict()

    def seen(self, key: bytes, now: float) -> bool:
        """True if `key` was handled within the window: the caller must not run it again."""
        return self.lookup(key, now) is not None

    def lookup(self, key: bytes, now: float) -> FirewallEntry | None:
        """The recorded entry for `key`, or None if it is unknown or expired."""
        self.prune(now)
        entry = self._entries.get(key)
        if entry is not None and self._is_expired(entry, now):
            del self._entries[key]
            self.expired += 1
            return None
        return entry

    def is_past_horizon(self, origin: float) -> bool:
        """Whether a request made at `origin` is newer than every entry evicted early, so the
        firewall can still tell whether it was handled."""
        return origin > self.horizon

    def record(self, key: bytes, result: object, now: float, origin: float | None = None) -> None:
        """Remember that `key` was handled with `result`; `origin` is the request's own signed
        time, if it has one (see `horizon`).

        The first record wins: recording a key that is already live changes nothing, so a racing
        duplicate can never overwrite the answer. Use `update` to change a result.
        """
        if self.lookup(key, now) is not None:
            return
        self._insert(key, FirewallEntry(result=result, recorded_at=now, updated_at=now,
                                        origin=origin))

    def update(self, key: bytes, result: object, now: float) -> None:
        """Uf, "update firewall": replace the result of `key` (`SYNCHRONISING` -> final answer).

        The window restarts at `now`. If the entry was already evicted or expired, the update
        records it afresh: the final answer is still worth giving to later duplicates.
        """
        old = self.lookup(key, now)
        if old is None:
            self._insert(key, FirewallEntry(result=result, recorded_at=now, updated_at=now))
            return
        self._entries[key] = FirewallEntry(
            result=result, recorded_at=old.recorded_at, updated_at=now, origin=old.origin
        )
        self._entries.move_to_end(key)

    def prune(self, now: float) -> None:
        """Drop every entry whose window has passed (they sit at the front), counting them."""
        self.expired += drop_expired(self._entries, lambda entry: self._is_expired(entry, now))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def _insert(self, key: bytes, entry: FirewallEntry) -> None:
        while len(self._entries) >= self.max_entries:
            _, old = self._entries.popitem(last=False)
            self.evicted += 1
            if old.origin is not None:
                self.horizon = max(self.horizon, old.origin)
        self._entries[key] = entry

    def _is_expired(self, entry: FirewallEntry, now: float) -> bool:
        return now >= entry.updated_at + self.ttl

"""Group-message accumulation: act on a message from a group only once a quorum of members sent it.

A message *from* a close group is trustworthy only when enough distinct members of that group
sent identical copies (the accumulation quorum is group size - 1 = 3). This module is
sans-IO: the caller passes the current time and decides who counts as a group member.

The C++ original (V1 `accumulator.h`) returned "success" again when a member that had already been
counted re-sent its copy after the quorum was reached, so the operation could run twice. Here a
key fires exactly once: every later copy, duplicate or not, answers `HANDLED`.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field

from vaultnet.group.ordered import drop_expired

ACCUMULATOR_TTL = 60.0
"""Seconds an entry lives (from its first copy, and again from the moment it fired). Copies of
one group message arrive within a second or two; the latest one that matters is the lead's
copy with the content, sent again when a member asks for it: it must still find the entry
fired, or it would start a round that never fires. So this is at least as long as a persona
waits for content (`vaultnet.personas.payload_wanted.WAITING_TTL`)."""
ACCUMULATOR_ENTRIES = 5_000
"""Entries per accumulator (one per persona, six per vault). At the rate a 16-vault testnet
puts 4 KiB chunks (about 20 puts/s, 3 new keys per put per vault) a vault holds about 1,800
within 30 s, 3,600 within the window; the cap leaves room for bursts before the oldest are
dropped. A fired entry keeps no sender set: about 250 bytes."""


class GroupConfigError(ValueError):
    """A group mechanism was constructed with parameters that could never work."""


class Accumulation(enum.Enum):
    """What the caller should do with a copy it just added."""

    WAITING = "waiting"  # not enough distinct senders yet: do nothing
    READY = "ready"  # the quorum was just reached: act on the message now (once)
    HANDLED = "handled"  # already acted on: ignore this copy


_NO_SENDERS: frozenset[bytes] = frozenset()


@dataclass(slots=True)
class _Pending:
    stamp: float  # first copy, or the moment the entry fired; expiry is measured from here
    senders: set[bytes] | frozenset[bytes] = field(default_factory=set)
    fired: bool = False


def check_positive(**params: float) -> None:
    """Raise `GroupConfigError` for a parameter that is not strictly positive."""
    for name, value in params.items():
        if not value > 0:
            raise GroupConfigError(f"{name} must be > 0, got {value!r}")


def check_voting(self_name: bytes, quorum: int, group_size: int) -> None:
    """Raise `GroupConfigError` unless a member named `self_name` can vote to a `quorum` in a
    group of `group_size` (what Sync and Contests both need)."""
    if not self_name:
        raise GroupConfigError("self_name must be a non-empty name")
    check_positive(quorum=quorum, group_size=group_size)
    if quorum > group_size:
        raise GroupConfigError(
            f"quorum {quorum} can never be reached in a group of {group_size}")


class Accumulator:
    """Acts on a group message once `quorum` identical copies from distinct senders arrived.

    It fires exactly once per key: `READY` comes with the quorum-th distinct sender, never again.

    Identity is the `key`: a digest of the whole message content (message id, action, body, source
    group name), so copies whose contents differ never accumulate together — disagreement is
    exactly what the quorum is there to catch.

    Entries live `ttl` seconds from their first copy. An entry that fired is kept for another `ttl`
    from the moment it fired, so late copies from slow members answer `HANDLED` rather than
    starting a fresh round. Once an entry expired, a new copy starts over from zero.

    Bounded: at most `max_entries` keys; when full, the oldest entry is evicted and counted in
    `evicted` (ttl expiries are counted in `expired`). Entries are kept in time order, so `now`
    should come from a monotonic clock; each entry is still checked individually on access.
    """

    def __init__(self, quorum: int = 3, ttl: float = ACCUMULATOR_TTL,
                 max_entries: int = ACCUMULATOR_ENTRIES) -> None:
        check_positive(quorum=quorum, ttl=ttl, max_entries=max_entries)
        self.quorum = quorum
        self.ttl = ttl
        self.max_entries = max_entries
        self.evicted = 0
        self.expired = 0
        self._entries: OrderedDict[bytes, _Pending] = OrderedDict()

    def add(self, key: bytes, sender: bytes, now: float) -> Accumulation:
        """Record `sender`'s copy of message `key`; `READY` means "act now", and comes once."""
        self.expire(now)
        entry = self._entries.get(key)
        if entry is not None and self._is_expired(entry, now):
            del self._entries[key]
            self.expired += 1
            entry = None
        if entry is None:
            while len(self._entries) >= self.max_entries:
                self._entries.popitem(last=False)
                self.evicted += 1
            entry = self._entries[key] = _Pending(stamp=now)
        if entry.fired:
            return Accumulation.HANDLED
        if sender in entry.senders:
            return Accumulation.WAITING  # a repeated copy before the quorum adds nothing
        assert isinstance(entry.senders, set)  # only a fired entry has none
        entry.senders.add(sender)
        if len(entry.senders) < self.quorum:
            return Accumulation.WAITING
        # Fired: the sender set is no longer needed (every later copy is HANDLED), and the entry
        # is re-stamped and moved to the back so late copies are recognised for a full ttl.
        entry.fired = True
        entry.senders = _NO_SENDERS
        entry.stamp = now
        self._entries.move_to_end(key)
        return Accumulation.READY

    def count(self, key: bytes, now: float) -> int:
        """Distinct senders counted so far for a live, unfired `key` (0 if unknown or fired)."""
        entry = self._entries.get(key)
        if entry is None or entry.fired or self._is_expired(entry, now):
            return 0
        return len(entry.senders)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def expire(self, now: float) -> None:
        """Drop entries older than `ttl` (front of the time-ordered table), counting them."""
        self.expired += drop_expired(self._entries, lambda entry: self._is_expired(entry, now))

    def _is_expired(self, entry: _Pending, now: float) -> bool:
        return now >= entry.stamp + self.ttl

"""The content one vault holds for its personas between agreeing on a request and passing its
content on: a `StashStore` per vault, bounded by bytes, entries and time, and a `PayloadStash`
view of it per persona."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

STASH_BYTES = 64 * 1024 * 1024
STASH_ENTRIES = 4_096
STASH_TTL = 30.0
"""The content one vault holds for its personas (every persona of a vault shares one stash):
at most this many bytes and entries (the oldest is dropped first), each for at most this many
seconds. Content is released as soon as its use is over (see `PayloadStash`); the time window
outlives the last ask for content again (PAYLOAD_WAIT * PAYLOAD_ASKS) with a margin.

The byte budget is twice the peak measured for a client's 16 puts in flight of up to 1 MiB on
16 vaults (about 31 MiB on the busiest vault: a MaidManager keeps each chunk until its three
copies are confirmed, and the vault is also a DataManager and PmidManager for others). Content
dropped for the budget is content a put still needs; the group gets it back from a holder or
by asking again, and failing that the holder that never got it is challenged and replaced
(`integrity.UNSTORED_WAIT`), so a burst past the budget costs time and placement, not data.
At 16 MiB that burst dropped about 500 entries and left a copy on one holder of two."""


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

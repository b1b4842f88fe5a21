"""The relay cache: a bounded FIFO of chunk copies that passed through this vault (docs/origins.md,
"Opportunistic Caching"), and the answers a vault gives from it to Gets passing by
(`cached_answer`). Content is self-validating, so answering from it is safe: the client checks
every answer against the name it asked for.

Entries also expire after `CACHE_TTL` seconds: a deleted chunk can still be served from a cache
for that long, and no longer (deletes do not travel the paths Gets took).
"""

from __future__ import annotations

from collections import OrderedDict

from vaultnet.messages import Authority, Message, Persona, derived_id
from vaultnet.personas.bodies import GetResponseBody
from vaultnet.protocol import Action
from vaultnet.storage.store import CopyKind, chunk_name_of
from vaultnet.wire import FrameError
from vaultnet.xor import Name, name_of

CACHE_ENTRIES = 100
CACHE_BYTES = 8 * 1024 * 1024
"""A vault caches at most this many copies and bytes (the oldest leaves first): enough for the
chunks being read around it right now (100 small ones, or 8 of the largest, 1 MiB), without a
vault that relays many Gets holding a store's worth of content."""
CACHE_TTL = 30.0
"""Seconds an entry is served and kept (dropped as entries come and on the vault's maintenance
tick, so an idle cache empties)."""


def matches(copy: bytes, data: bytes) -> bool:
    """Whether `data` is the content of copy name `copy` (of any kind)."""
    h = name_of(data)
    return any(chunk_name_of(copy, kind) == h for kind in CopyKind)


class RelayCache:
    """Chunk copies that passed through this vault, bounded by entries, bytes and time."""

    def __init__(self, max_entries: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES) -> None:
        self._items: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self._max_entries = max_entries
        self._max_bytes = max_bytes

    def offer(self, copy: bytes, data: bytes, now: float) -> None:
        """Keep `data` as copy `copy`, if it is that copy's content and fits."""
        if copy in self._items or len(data) > self._max_bytes or not matches(copy, data):
            return
        self._items[copy] = (now, data)
        self._bytes += len(data)
        while len(self._items) > self._max_entries or self._bytes > self._max_bytes:
            self._pop_oldest()
        self.expire(now)

    def expire(self, now: float) -> None:
        """Drop the entries older than CACHE_TTL (they are in arrival order)."""
        while self._items and next(iter(self._items.values()))[0] < now - CACHE_TTL:
            self._pop_oldest()

    def _pop_oldest(self) -> None:
        _, (_, old) = self._items.popitem(last=False)
        self._bytes -= len(old)

    def get(self, copy: bytes, now: float) -> bytes | None:
        """The content of `copy` if held and fresh (counted as a hit)."""
        entry = self._items.get(copy)
        if entry is None or entry[0] < now - CACHE_TTL:
            return None
        return entry[1]

    def __len__(self) -> int:
        """Entries held."""
        return len(self._items)

    @property
    def bytes(self) -> int:
        """Content bytes held (what CACHE_BYTES bounds)."""
        return self._bytes


def cached_answer(cache: RelayCache, msg: Message, own: Name, now: float) -> Message | None:
    """Opportunistic caching for a message passing through: keep the content a `get_response`
    carries, and answer a `get` for a copy we hold with our own `get_response` (None: route
    `msg` on as usual)."""
    if msg.action is Action.GET_RESPONSE and msg.payload:
        try:
            copy = msg.typed(GetResponseBody).copy
        except FrameError:
            return None  # names no copy to check the content against: not kept
        cache.offer(copy, msg.payload, now)
        return None
    if msg.action is not Action.GET or msg.dst.persona is not Persona.DATA_MANAGER:
        return None
    data = cache.get(msg.dst.name, now)
    if data is None:
        return None
    return Message(src=Authority(own, Persona.ROUTING), dst=msg.src, action=Action.GET_RESPONSE,
                   msg_id=derived_id("get_response", msg.msg_id), trace_id=msg.trace_id,
                   body=GetResponseBody(msg.dst.name, True, "cached").encode(), sender=own,
                   payload=data)

"""Persona records: the interface every persona stores its records through, the one canonical
codec, and an in-memory implementation.

Personas see only `Records`, so the same persona code runs on a vault's sqlite table
(`vaultnet.storage.store.RecordStore`) and, in sans-IO tests, on `MemoryRecords`, which needs
no file. Both encode values the same canonical way (maps ordered by encoded key, tuples as
lists), so equal records give equal digests whichever store holds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import msgpack

KEY_BYTES_KEPT = 1024
"""Map keys (strings, as record fields are) whose encoding `_canonical` remembers for sorting:
records reuse a few field names, so each is packed once instead of once per record written."""
_key_bytes: dict[str, bytes] = {}


def _sort_key(key: Any) -> bytes:
    """The encoded bytes a map key sorts by (remembered for strings: `KEY_BYTES_KEPT`)."""
    if isinstance(key, str):
        packed = _key_bytes.get(key)
        if packed is None:
            packed = msgpack.packb(key, use_bin_type=True)
            if len(_key_bytes) < KEY_BYTES_KEPT:
                _key_bytes[key] = packed
        return packed
    encoded: bytes = msgpack.packb(key, use_bin_type=True)
    return encoded


_SCALARS = frozenset({bytes, str, int, float, bool, type(None)})
"""Types `_canonical` returns as they are (most of a record's values): checked by exact type
first, since a record of a dozen fields used to cost a call per field."""


def _canonical(obj: Any) -> Any:
    """`obj` with every map's entries ordered by their encoded key, so that equal values
    encode to equal bytes whatever order they were built in."""
    if type(obj) in _SCALARS:
        return obj
    if isinstance(obj, dict):
        pairs = [(k if type(k) in _SCALARS else _canonical(k),
                  v if type(v) in _SCALARS else _canonical(v)) for k, v in obj.items()]
        pairs.sort(key=lambda kv: _sort_key(kv[0]))
        return dict(pairs)
    if isinstance(obj, list | tuple):
        return [v if type(v) in _SCALARS else _canonical(v) for v in obj]
    return obj


_PACKER = msgpack.Packer(use_bin_type=True)
"""One packer for every record written, reused (as `vaultnet.wire.pack`'s, which says why)."""


def encode(value: Any) -> bytes:
    """A record value as canonical msgpack bytes (raises before anything is stored if it
    cannot be encoded)."""
    packed: bytes = _PACKER.pack(_canonical(value))
    return packed


def decode(data: bytes) -> Any:
    """A record value back from `encode`'s bytes (tuples come back as lists)."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def digest_of(raw_items: Iterable[tuple[bytes, bytes]]) -> bytes:
    """SHA-512 over sorted (key, canonical value bytes), each field length-prefixed so that
    different splits of the same bytes differ: equal records give equal digests."""
    h = hashlib.sha512()
    for key, data in raw_items:
        h.update(len(key).to_bytes(8, "big"))
        h.update(key)
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.digest()


class Records(Protocol):
    """One persona table: key (bytes) -> value (msgpack-able), iterated in key order."""

    table: str
    """The table's name: account transfer says which table a record belongs to by it."""

    def get(self, key: bytes) -> Any | None:
        """The value under `key`, or None."""
        ...

    def put(self, key: bytes, value: Any) -> None:
        """Store `value` under `key`, replacing what was there."""
        ...

    def put_many(self, items: Iterable[tuple[bytes, Any]]) -> None:
        """`put` of each (key, value): many rows for the cost of about one."""
        ...

    def delete(self, key: bytes) -> bool:
        """Remove `key`; whether it was there."""
        ...

    def clear(self) -> None:
        """Remove every record."""
        ...

    def keys(self) -> list[bytes]:
        """Every key, in order."""
        ...

    def keys_after(self, key: bytes, limit: int) -> list[bytes]:
        """Up to `limit` keys greater than `key`, in order: a cursor over a large table."""
        ...

    def items_after(self, key: bytes, limit: int) -> list[tuple[bytes, Any]]:
        """Up to `limit` (key, value) with keys greater than `key`, in order: a cursor over a
        large table that reads each value with its key (one query, not one per key)."""
        ...

    def items(self) -> Iterator[tuple[bytes, Any]]:
        """(key, value) in key order."""
        ...

    def raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, value as `encode` gives it) in key order: for passing records on (account
        transfer) without decoding and encoding each one again."""
        ...

    def digest(self) -> bytes:
        """What `digest_of` gives for this table: equal records, equal digest."""
        ...

    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...


class MemoryRecords:
    """`Records` in a dict, for persona tests that need no sqlite file. Values are stored
    encoded, so what a test reads back is exactly what the sqlite store would give."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._rows: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> Any | None:
        """The value under `key`, or None."""
        data = self._rows.get(bytes(key))
        return None if data is None else decode(data)

    def put(self, key: bytes, value: Any) -> None:
        """Store `value` under `key` (encoded first: an unencodable value changes nothing)."""
        self._rows[bytes(key)] = encode(value)

    def put_many(self, items: Iterable[tuple[bytes, Any]]) -> None:
        """`put` of each (key, value) (all encoded first: an unencodable one changes nothing)."""
        self._rows.update([(bytes(key), encode(value)) for key, value in items])

    def delete(self, key: bytes) -> bool:
        """Remove `key`; whether it was there."""
        return self._rows.pop(bytes(key), None) is not None

    def clear(self) -> None:
        """Remove every record."""
        self._rows.clear()

    def keys(self) -> list[bytes]:
        """Every key, in order."""
        return sorted(self._rows)

    def keys_after(self, key: bytes, limit: int) -> list[bytes]:
        """Up to `limit` keys greater than `key`, in order."""
        return [k for k in sorted(self._rows) if k > key][:limit]

    def items_after(self, key: bytes, limit: int) -> list[tuple[bytes, Any]]:
        """Up to `limit` (key, value) with keys greater than `key`, in order."""
        return [(k, decode(self._rows[k])) for k in self.keys_after(key, limit)]

    def items(self) -> Iterator[tuple[bytes, Any]]:
        """(key, value) in key order (a snapshot: the caller may write meanwhile)."""
        for key, data in self.raw_items():
            yield key, decode(data)

    def raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, encoded value) in key order (a snapshot: the caller may write meanwhile)."""
        for key in sorted(self._rows):
            data = self._rows.get(key)
            if data is not None:
                yield key, data

    def digest(self) -> bytes:
        """The same digest `RecordStore` gives for the same records."""
        return digest_of(sorted(self._rows.items()))

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes | bytearray | memoryview) and bytes(key) in self._rows

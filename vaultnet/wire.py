"""Frame codec: 4-byte big-endian length, then a msgpack map, unpacked with hard limits.

Every way a frame can be wrong becomes one `FrameError`; the caller closes that connection and
nothing else in the vault is disturbed.

Before msgpack sees a body, `check_shape` walks its headers (no objects are built) and refuses
a body whose containers declare more elements than it has bytes left to hold them. msgpack
reserves a list of the declared length as soon as it reads an array header, so without this a
3 KB body of nested `array16` headers made it reserve 32 MiB; now what a body can make the
decoder reserve is bounded by its own length.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack

MAX_FRAME_SIZE = 4 * 1024 * 1024
"""Largest frame accepted: a 1 MiB chunk plus headers fits with room to spare."""
HEADER = struct.Struct(">I")

_LIMITS = {
    "max_bin_len": MAX_FRAME_SIZE,
    "max_str_len": 64 * 1024,
    "max_array_len": 4096,
    "max_map_len": 256,
    "max_ext_len": 0,
}


class FrameError(Exception):
    """A frame that cannot be accepted: too large, truncated, not msgpack, or the wrong shape."""


_SCALAR, _SIZED, _FIXED_CONTAINER, _CONTAINER, _INVALID = range(5)


def _header_table() -> list[tuple[int, int, int]]:
    """(kind, a, b) per msgpack lead byte, so the shape check is one table look-up per object.

    _SCALAR: `a` more bytes. _SIZED (str, bin, ext): its length is in the next `a` bytes, then
    `b` bytes (an ext's type) and the payload. _FIXED_CONTAINER: `b` entries of `a` elements
    (1 array, 2 map). _CONTAINER: `a` elements per entry, the entry count in the next `b` bytes.
    """
    table = [(_SCALAR, 0, 0)] * 256
    for b in range(0x80, 0x90):
        table[b] = (_FIXED_CONTAINER, 2, b & 0x0F)
    for b in range(0x90, 0xA0):
        table[b] = (_FIXED_CONTAINER, 1, b & 0x0F)
    for b in range(0xA0, 0xC0):
        table[b] = (_SCALAR, b & 0x1F, 0)
    table[0xC1] = (_INVALID, 0, 0)
    for b, width in ((0xC4, 1), (0xC5, 2), (0xC6, 4), (0xD9, 1), (0xDA, 2), (0xDB, 4)):
        table[b] = (_SIZED, width, 0)
    for b, width in ((0xC7, 1), (0xC8, 2), (0xC9, 4)):
        table[b] = (_SIZED, width, 1)
    for b, size in ((0xCA, 4), (0xCB, 8), (0xCC, 1), (0xCD, 2), (0xCE, 4), (0xCF, 8),
                    (0xD0, 1), (0xD1, 2), (0xD2, 4), (0xD3, 8), (0xD4, 2), (0xD5, 3), (0xD6, 5),
                    (0xD7, 9), (0xD8, 17)):
        table[b] = (_SCALAR, size, 0)
    for b, per, width in ((0xDC, 1, 2), (0xDD, 1, 4), (0xDE, 2, 2), (0xDF, 2, 4)):
        table[b] = (_CONTAINER, per, width)
    return table


_HEADERS = _header_table()


def check_shape(body: bytes) -> None:
    """FrameError unless `body` is one msgpack object whose containers never declare more
    elements than there are bytes left to hold them (each element needs at least one)."""
    end = len(body)
    pos = 0
    pending = 1
    while pending:
        if pos >= end:
            raise FrameError("truncated frame")
        kind, a, b = _HEADERS[body[pos]]
        pos += 1
        pending -= 1
        if kind == _SCALAR:
            pos += a
        elif kind == _SIZED:
            pos += a + b + int.from_bytes(body[pos:pos + a], "big")
        elif kind == _INVALID:
            raise FrameError("undecodable frame: reserved byte 0xc1")
        else:
            if kind == _CONTAINER:
                count = int.from_bytes(body[pos:pos + b], "big")
                pos += b
            else:
                count = b
            pending += count * a
            if pending > end - pos:
                raise FrameError(f"a container declares {count} entries in a {end}-byte frame")
    if pos != end:
        raise FrameError("frame has bytes after its object" if pos < end else "truncated frame")


def pack(obj: dict[str, Any]) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(body: bytes) -> dict[str, Any]:
    """Decode one frame body; any failure is a FrameError."""
    if len(body) > MAX_FRAME_SIZE:
        raise FrameError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_SIZE}")
    check_shape(body)
    try:
        obj = msgpack.unpackb(body, raw=False, strict_map_key=True, use_list=True, **_LIMITS)
    except Exception as exc:  # msgpack raises many types for bad input; all mean the same here
        raise FrameError(f"undecodable frame: {type(exc).__name__}") from exc
    if not isinstance(obj, dict):
        raise FrameError("frame is not a map")
    return obj


def encode_frame(obj: dict[str, Any]) -> bytes:
    body = pack(obj)
    if len(body) > MAX_FRAME_SIZE:
        raise FrameError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_SIZE}")
    return HEADER.pack(len(body)) + body


class FrameDecoder:
    """Sans-IO reassembly of frames from a byte stream (h11 style: feed bytes, pull frames)."""

    def __init__(self, max_frame: int = MAX_FRAME_SIZE) -> None:
        self._buf = bytearray()
        self._max = max_frame
        self._need: int | None = None

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> dict[str, Any] | None:
        """The next complete decoded frame, or None if more bytes are needed."""
        body = self.next_body()
        return None if body is None else unpack(body)

    def next_body(self) -> bytes | None:
        """The next complete frame body, undecoded (the channel decrypts it first), or None if
        more bytes are needed.

        The length prefix is checked before any of the body is accepted, so an oversized frame is
        refused without buffering it.
        """
        if self._need is None:
            if len(self._buf) < HEADER.size:
                return None
            (length,) = HEADER.unpack_from(self._buf)
            if length > self._max:
                raise FrameError(f"length prefix {length} exceeds {self._max}")
            del self._buf[: HEADER.size]
            self._need = length
        if len(self._buf) < self._need:
            if len(self._buf) > self._max:
                raise FrameError("buffer overflow")
            return None
        body = bytes(self._buf[: self._need])
        del self._buf[: self._need]
        self._need = None
        return body

    @property
    def buffered(self) -> int:
        return len(self._buf)


def field(frame: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """A required field of a given type, or FrameError."""
    value = frame.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FrameError(f"field {key!r} missing or not {kind}")
    return value

"""Frame codec: 4-byte big-endian length, then a msgpack map, unpacked with hard limits.

Every way a frame can be wrong becomes one `FrameError`; the caller closes that connection and
nothing else in the vault is disturbed.
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


def pack(obj: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(obj, use_bin_type=True)
    return packed


def unpack(body: bytes) -> dict[str, Any]:
    """Decode one frame body; any failure is a FrameError."""
    if len(body) > MAX_FRAME_SIZE:
        raise FrameError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_SIZE}")
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

    def feed(self, data: bytes | bytearray) -> None:
        self._buf += data

    def next_frame(self) -> dict[str, Any] | None:
        """The next complete frame, or None if more bytes are needed.

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
        return unpack(body)

    @property
    def buffered(self) -> int:
        return len(self._buf)


def field(frame: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """A required field of a given type, or FrameError."""
    value = frame.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FrameError(f"field {key!r} missing or not {kind}")
    return value

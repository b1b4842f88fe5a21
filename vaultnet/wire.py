"""Frame codec: 4-byte big-endian length, then a msgpack map, unpacked with hard limits.

Every way a frame can be wrong becomes one `FrameError`; the caller closes that connection and
nothing else in the vault is disturbed.

Before msgpack decodes a body, `check_shape` skips over it (headers only, nothing is built) and
refuses a body that is not exactly one complete object, i.e. whose containers declare more
elements than it holds. msgpack reserves a list of the declared length as soon as it reads an
array header, so without this a 3 KB body of nested `array16` headers made it reserve 32 MiB;
now what a body can make the decoder reserve is bounded by its own length.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import msgpack

MAX_FRAME_SIZE = 4 * 1024 * 1024
"""Largest frame accepted: a 1 MiB chunk plus headers fits with room to spare."""
MAX_CHUNK_SIZE = 1 << 20
"""Largest chunk content (1 MiB): with its message's headers it fits a frame (MAX_FRAME_SIZE)
with room to spare. The one limit of the library, the CLI, the dashboard and the managers
(`vaultnet.client.maid.MAX_CHUNK_SIZE` is the same constant)."""
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


_SKIP_BUFFER = 64 * 1024
"""Initial buffer of the shape checker's Unpacker; it grows to the largest frame it has seen
(at most MAX_FRAME_SIZE) and keeps that buffer for the next frames."""


class _Skipper(threading.local):
    """One reusable msgpack Unpacker per thread for `check_shape`: making one costs a zeroed
    ~40 KiB parse stack, which per frame cost more than the check itself. It is replaced
    whenever a body fails, so no partial object is ever left in it."""

    unpacker: msgpack.Unpacker | None = None


_SKIPPER = _Skipper()


def check_shape(body: bytes) -> None:
    """FrameError unless `body` is exactly one complete msgpack object.

    Skipping an object walks its headers without building anything, and a complete object
    holds every element its containers declare (each takes at least one byte), so once this
    passes, what msgpack reserves while decoding is bounded by the body's length."""
    if len(body) > MAX_FRAME_SIZE:
        raise FrameError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_SIZE}")
    unpacker = _SKIPPER.unpacker or msgpack.Unpacker(
        max_buffer_size=MAX_FRAME_SIZE, read_size=_SKIP_BUFFER, **_LIMITS)
    _SKIPPER.unpacker = None
    start = unpacker.tell()
    unpacker.feed(body)
    try:
        unpacker.skip()
    except msgpack.OutOfData:
        raise FrameError("truncated frame: its containers declare more elements than it "
                         "holds") from None
    except Exception as exc:  # msgpack raises many types for bad input; all mean the same here
        raise FrameError(f"undecodable frame: {type(exc).__name__}") from exc
    if unpacker.tell() - start != len(body):
        raise FrameError("frame has bytes after its object")
    _SKIPPER.unpacker = unpacker


_PACKER = msgpack.Packer(use_bin_type=True)
"""One packer for every frame, reused: `msgpack.packb` builds a packer per call, and its 256 KiB
buffer was an mmap and a munmap each time, about 9 us a frame whatever its size (a 2-event
churn run made 340,000 such pairs, 12,500 with this packer; a 4-event one spent 12 s of 46 in
packing). A pack is one C call under the GIL, and the packer empties itself after each, also
after an error."""


def pack(obj: dict[str, Any]) -> bytes:
    """Msgpack-encode a frame body (binary kept as bytes, not str)."""
    packed: bytes = _PACKER.pack(obj)
    return packed


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
    """A length-prefixed frame for `obj`; FrameError if it exceeds MAX_FRAME_SIZE."""
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

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes to the buffer that `next_body` cuts frames from."""
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

    def limit(self, max_frame: int) -> None:
        """Accept frames of at most `max_frame` bytes from the next one on (a connection whose
        later frames may be larger once its first was accepted: the control port's content)."""
        self._max = max_frame


def field(frame: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """A required field of a given type, or FrameError."""
    value = frame.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FrameError(f"field {key!r} missing or not {kind}")
    return value

"""Turning what a user typed into a chunk: a file's content or a size in bytes.

Shared by the command line and the dashboard (which must not import the CLI): both refuse a
FIFO, a device or a huge file before reading it, and both read sizes the same way.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from vaultnet.client.maid import MAX_CHUNK_SIZE, ChunkSizeError, check_chunk_size

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_FILE_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


class ChunkInputError(ValueError):
    """What the user gave cannot be a chunk; the message is one line saying why."""


def parse_size(text: str) -> int:
    """Bytes: a whole number, optionally with K/M/G/T (binary multiples; `64M`, `1GiB`)."""
    match = _SIZE.match(text)
    if match is None:
        raise ChunkInputError(f"not a size in bytes (like 1048576 or 64M): {text!r}")
    value = int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    if value <= 0:
        raise ChunkInputError(f"must be more than 0 bytes, got {text!r}")
    return value


def read_chunk_file(path: Path) -> bytes:
    """FILE's content as one chunk: a regular file of 1 to MAX_CHUNK_SIZE bytes. Opened
    without blocking and checked with fstat before anything is read (a FIFO or device is
    refused at once, a huge file without reading it), then read up to the limit plus one
    byte (a file that grew meanwhile is still refused)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ChunkInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((what for test, what in _FILE_KINDS if test(info.st_mode)), "special")
            raise ChunkInputError(f"cannot read {path}: it is {kind}, not a regular file")
        check_chunk_size(info.st_size)
        parts: list[bytes] = []
        left = MAX_CHUNK_SIZE + 1
        while left > 0 and (part := os.read(fd, left)):
            parts.append(part)
            left -= len(part)
        data = b"".join(parts)
        check_chunk_size(len(data))
    except ChunkSizeError as exc:
        raise ChunkInputError(f"cannot store {path}: {exc}") from None
    except OSError as exc:
        raise ChunkInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return data

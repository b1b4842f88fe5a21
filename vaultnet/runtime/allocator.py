"""Keep glibc's heap from fragmenting under sustained load, so a long-running testnet's
resident memory stays flat.

Frames, payloads and sqlite pages of 64 KiB and more are allocated and freed all the time; by
default glibc raises its mmap threshold dynamically, so such blocks land in the main heap,
which then fragments and never shrinks (about +75 MiB over 2,000 puts on 16 vaults, with every
table bounded). A fixed threshold of `MMAP_THRESHOLD` sends them to mmap, which returns them to
the system when freed. The `vaultnet` commands apply it at start; the library leaves the
process's allocator alone. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3
"""glibc's `mallopt` parameter number for the mmap threshold (malloc.h)."""
MMAP_THRESHOLD = 64 * 1024
"""Blocks of this many bytes and more are mmapped (and unmapped when freed)."""


def limit_fragmentation() -> bool:
    """Fix glibc's mmap threshold at MMAP_THRESHOLD; False where there is no glibc `mallopt`."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))

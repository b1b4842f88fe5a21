"""Time-ordered tables: the accumulator and the firewall keep entries oldest first, so what has
expired is always at the front and one pass from the front drops it all."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def drop_expired(entries: OrderedDict[K, V], expired: Callable[[V], bool]) -> int:
    """Remove entries from the front while `expired` says so; how many went."""
    dropped = 0
    while entries and expired(next(iter(entries.values()))):
        entries.popitem(last=False)
        dropped += 1
    return dropped

"""The model's state and its journal: every field the views draw, and `journaled`, which tells
the journal (a recording) about each change the dashboard makes."""

from __future__ import annotations

import functools
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from tui.model.logs import EVENT_ROWS, BoundedLog, EventLog
from tui.model.records import (
    ChunkInfo,
    MessageInfo,
    StructuredRow,
    Summary,
    VaultRow,
    VersionedItem,
    XorBlock,
)
from vaultnet.runtime import events as ev
from vaultnet.xor import Name, short

LOG_LINES = 5000
TRACES_KEPT = 32
EVENTS_PER_TRACE = 4000
RANK_HISTORY = 60
CHUNKS_KEPT = 500
VERSIONED_KEPT = 64
MESSAGES_KEPT = 200
MESSAGES_SAMPLED = 50

Journal = Callable[[str, tuple[Any, ...], dict[str, Any]], None]
"""Told every change the dashboard makes to the model (method name, args, kwargs), before it
is made: `tui.recording` writes them down so a replay can make the same changes."""

_P = ParamSpec("_P")
_R = TypeVar("_R")

_M = TypeVar("_M", bound="ModelState")


def journaled(method: Callable[Concatenate[_M, _P], _R]) -> Callable[Concatenate[_M, _P], _R]:
    """Tell the model's journal about a call from outside (calls the model makes to itself
    while handling one are part of it, and are not told again)."""

    def wrapper(self: _M, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Journal the call if it is the outermost, then make it."""
        if self.journal is not None and not self._depth:
            self.journal(method.__name__, args, kwargs)
        self._depth += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            self._depth -= 1

    functools.update_wrapper(wrapper, method)
    return wrapper


class ModelState:
    """The fields of `NetworkModel` (its parts, one module each, add the methods)."""

    def __init__(self, capacity: int, group_size: int = 4) -> None:
        """An empty model of a network of vaults of `capacity` bytes, groups of `group_size`."""
        self.capacity = capacity
        self.group_size = group_size
        self.flow = BoundedLog(LOG_LINES)
        self.events = EventLog(EVENT_ROWS)
        self.traces: OrderedDict[bytes, list[ev.Event]] = OrderedDict()
        self.chunks: OrderedDict[Name, ChunkInfo] = OrderedDict()
        self.vaults: dict[Name, VaultRow] = {}
        self.rank_history: dict[Name, deque[float]] = {}
        self.faults: dict[Name, set[str]] = {}
        self.summary = Summary()
        self.focus: Name | None = None  # a chunk or vault name for the XOR view
        self.xor_blocks: list[XorBlock] = []
        self.followed_trace: bytes | None = None
        self.versioned: OrderedDict[Name, VersionedItem] = OrderedDict()
        self.structured: tuple[StructuredRow, ...] = ()  # as last sampled, by name
        self.messages: OrderedDict[bytes, MessageInfo] = OrderedDict()  # by send trace
        self._message_keys: dict[tuple[Name, Name, bytes], bytes] = {}  # (to, from, mid)
        self.identities: dict[Name, str] = {}  # MPID name -> "alice", "bob"
        self.identity_state: dict[Name, str] = {}  # "online", "offline", "connecting" ...
        self._start: float | None = None
        self._last_sample: tuple[float, int, dict[Name, tuple[int, int]]] | None = None
        self._live: tuple[Name, ...] = ()  # the vaults up at the last sample applied
        self.journal: Journal | None = None
        self._depth = 0  # journaled calls under way (only the outermost is journaled)

    def label(self, name: Name) -> str:
        """An MPID's dashboard name ("alice"), or its name's prefix."""
        return self.identities.get(name) or short(name, 6)

"""Who is in a distant group: a vault whose view of a group may be incomplete holds a message
that needs it, asks the vaults it knows closest to the group who they know there (a few rounds,
a bounded number at once), records what it learned as a group view, then decides the held
messages by it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from vaultnet.group.views import GroupViews
from vaultnet.messages import Message
from vaultnet.runtime.core import VaultCore
from vaultnet.runtime.peer_protocol import LOOKUP_WIDTH
from vaultnet.wire import FrameError
from vaultnet.xor import Name, bucket_index, closest

GROUP_VIEW_TTL = 30.0
"""Seconds what a lookup found counts as fresh (membership of groups near it is decided from it
without another lookup)."""
GROUP_VIEWS = 256
"""Lookups' findings kept (oldest dropped first): each covers a region around the looked-up
name, so a few dozen cover a small network's whole name space."""
GROUP_VIEW_COMPLETE = 2
"""A lookup is taken to have found every vault out to the (this x group size)-th closest it
learned: it asked the vaults nearest the name, which know far more than that around it."""
GROUP_LOOKUPS = 16
"""Group lookups running at once; more wait their turn (their messages stay held)."""
GROUP_LOOKUP_ROUNDS = 3
"""Rounds of a group lookup: each asks the closest vaults we know that were not asked yet."""
HELD_MESSAGES = 4096
"""Messages held while their sender's group is looked up, across all lookups: past this a
message needing a lookup is dropped with an event."""

Find = Callable[[Name, Name], Awaitable[list[tuple[Name, str]] | None]]
"""Asks a peer for the vaults it knows closest to a name (`PeerProtocol.find`)."""


@dataclass
class _Held:
    """Messages waiting on one group lookup, and how far around the group they need to see."""

    radius: int = 0
    decisions: list[tuple[Message, Callable[[], None]]] = field(default_factory=list)


class GroupLookups:
    """One vault's lookups of distant groups, the views they found, and the messages held."""

    def __init__(self, core: VaultCore, find: Find) -> None:
        self.core = core
        self._find = find
        self.views = GroupViews(GROUP_VIEW_TTL, GROUP_VIEWS,
                                GROUP_VIEW_COMPLETE * core.params.group_size)
        self._held: dict[Name, _Held] = {}
        self.held_count = 0
        """Messages held now, across all lookups (bounded by HELD_MESSAGES)."""
        self._slots = trio.CapacityLimiter(GROUP_LOOKUPS)

    def view_may_be_incomplete(self, group: Name) -> bool:
        """Whether vaults closer to `group` than those we know may exist: the routing bucket
        `group` falls in is full, so we keep only some of the vaults there."""
        core = self.core
        if group == core.name:
            return False
        index = bucket_index(core.name, group)
        return core.routing.bucket_counts().get(index, 0) >= core.params.bucket_size

    def hold_for_group(self, group: Name, radius: int, msg: Message,
                       decide: Callable[[], None]) -> None:
        """Keep `msg` until we know every vault within `radius` of `group` (a lookup, unless
        one that finishes first covers it), then call `decide`, once (bounded: past the limits
        `msg` is dropped with an event)."""
        core = self.core
        if self.held_count >= HELD_MESSAGES:
            core.drop(msg, "sender's group unknown and too many messages held")
            return
        if not core.running:
            core.drop(msg, "sender's group unknown while joining")
            return
        waiting = self._held.get(group)
        if waiting is None:
            waiting = self._held[group] = _Held()
            core.spawn(self._learn_group, group)
        waiting.radius = max(waiting.radius, radius)
        waiting.decisions.append((msg, decide))
        self.held_count += 1

    async def _learn_group(self, group: Name) -> None:
        """Ask the vaults we know closest to `group` who they know there (they see it better),
        a few rounds closer each time; then decide what waited for the answer."""
        core = self.core
        learned: set[Name] = set()
        try:
            async with self._slots:
                waiting = self._held[group]
                if self.views.covering(group, waiting.radius, core.now()) is None:
                    await self._ask_about(group, learned)
        finally:
            if learned:
                self.views.record(group, learned, core.now())
            held = self._held.pop(group)
            self.held_count -= len(held.decisions)
            for msg, decide in held.decisions:
                try:
                    decide()
                except FrameError as exc:
                    core.drop(msg, f"rejected: {exc}")

    async def _ask_about(self, group: Name, learned: set[Name]) -> None:
        """Up to GROUP_LOOKUP_ROUNDS rounds of `find`, until the closest learned stop changing."""
        core = self.core
        asked: set[Name] = set()
        for _ in range(GROUP_LOOKUP_ROUNDS):
            candidates = [p for p in core.routing.closest(group, LOOKUP_WIDTH * 2, False)
                          if p not in asked][:LOOKUP_WIDTH]
            if not candidates:
                return
            before = closest(group, learned, core.params.group_size)
            asked.update(candidates)
            async with trio.open_nursery() as nursery:
                for peer in candidates:
                    nursery.start_soon(self._learn_from, peer, group, learned)
            if closest(group, learned, core.params.group_size) == before:
                return

    async def _learn_from(self, peer: Name, group: Name, learned: set[Name]) -> None:
        """Add `peer` and whoever it knows near `group` to `learned` (if it answers)."""
        answer = await self._find(peer, group)
        if answer is not None:
            learned.add(peer)
            learned.update(name for name, _ in answer)

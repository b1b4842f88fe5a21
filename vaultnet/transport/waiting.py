"""Connections that have not yet proven themselves (a handshake, a request), held to a fixed
number: a new one pushes out the oldest, so idle sockets can neither hold more descriptors
than that nor keep a newcomer out for longer than it takes to open `size` more."""

from __future__ import annotations

import trio


class Waiting:
    """The connections still waiting to prove themselves, oldest first, at most `size`."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._scopes: dict[trio.CancelScope, None] = {}  # insertion order: oldest first

    def __len__(self) -> int:
        return len(self._scopes)

    def admit(self, scope: trio.CancelScope) -> None:
        """Take `scope` in, cancelling (closing) the oldest waiting connection when full."""
        if len(self._scopes) >= self._size:
            oldest = next(iter(self._scopes))
            del self._scopes[oldest]
            oldest.cancel()
        self._scopes[scope] = None

    def release(self, scope: trio.CancelScope) -> None:
        """`scope`'s connection no longer waits (it proved itself, or it is gone)."""
        self._scopes.pop(scope, None)

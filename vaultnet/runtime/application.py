"""What a vault runs above routing: the interface between the runtime and the application it
serves (the persona host is one), so that the vault depends on this contract, not on the host.

The vault calls it from one task at a time: a message for one of its personas, a change of the
close group, the maintenance tick, around each batch of local deliveries, and at shutdown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from typing import Protocol

from vaultnet.messages import Message, Persona
from vaultnet.routing import ChurnChange
from vaultnet.xor import Name

StoredCopy = tuple[Name, str, int]
"""One chunk copy on this vault's disk: (copy name, kind, size)."""


class Application(Protocol):
    """The personas a vault delivers to, and the callbacks it drives them by."""

    @property
    def personas(self) -> Collection[Persona]:
        """The personas this application serves (messages to others are dropped)."""
        ...

    def handle(self, persona: Persona, msg: Message) -> None:
        """Act on `msg` addressed to `persona` here (FrameError: refused, dropped by the vault)."""
        ...

    def on_churn(self, change: ChurnChange) -> None:
        """React to a change of this vault's close group (re-replicate, hand records over)."""
        ...

    def tick(self) -> None:
        """The maintenance tick: retries, timers and transfers due now."""
        ...

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Wrap a batch of local deliveries (one transaction for them all)."""
        ...

    def stored(self) -> list[StoredCopy]:
        """The chunk copies this application keeps on disk."""
        ...

    def close(self) -> None:
        """Release what it holds (its database); called once the vault has stopped."""
        ...


class NoApplication:
    """The application of a vault that runs none: serves no persona and stores nothing."""

    personas: Collection[Persona] = frozenset()

    def handle(self, persona: Persona, msg: Message) -> None:
        """Never called: no persona is served."""
        raise AssertionError(f"no {persona.value} here")

    def on_churn(self, change: ChurnChange) -> None:
        """Nothing to move."""

    def tick(self) -> None:
        """Nothing to do."""

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """No transaction to open."""
        return contextlib.nullcontext()

    def stored(self) -> list[StoredCopy]:
        """Nothing stored."""
        return []

    def close(self) -> None:
        """Nothing to release."""

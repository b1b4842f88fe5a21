"""What every part of a vault shares: who it is, its clock and event bus, its routing table, its
application, its counters and its task nursery. `Vault` is one; its parts (connections, peer
protocol, membership, routing, delivery, group lookups) are each given it as this type."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from vaultnet.identity import Identity
from vaultnet.messages import Message
from vaultnet.routing import Parameters, RoutingTable
from vaultnet.runtime import events as ev
from vaultnet.runtime.application import Application, NoApplication
from vaultnet.transport.base import WRITE_BATCH, Endpoint
from vaultnet.xor import Name


@dataclass(frozen=True)
class Timing:
    """Maintenance cadence, in (possibly simulated) seconds."""

    keepalive: float = 1.0
    liveness_timeout: float = 4.0
    refresh: float = 2.0
    idle_timeout: float = 60.0
    """A connection that sends nothing for this long is closed: vault peers ping every
    `keepalive`, clients every `client.KEEPALIVE`; only abandoned connections go quiet."""


class VaultCore:
    """The state a vault's parts share, and the few operations all of them need."""

    def __init__(self, identity: Identity, endpoint: Endpoint, bus: ev.EventBus,
                 params: Parameters | None = None, timing: Timing | None = None,
                 bootstrap: list[str] | None = None, rng: random.Random | None = None) -> None:
        self.identity = identity
        self.name: Name = identity.name
        self.endpoint = endpoint
        self.bus = bus
        self.params = params or Parameters()
        self.timing = timing or Timing()
        self.bootstrap = list(bootstrap or [])
        self.rng = rng or random.Random(identity.name)
        self.routing = RoutingTable(self.name, self.params)
        self.address = ""
        self.application: Application = NoApplication()
        """What this vault delivers to (`Vault.attach`): its personas."""
        self.nursery: trio.Nursery | None = None
        self.running = False
        self.silent = False
        """A `silent` fault: drop what arrives, stop keep-alives, gossip and rejoining."""
        self.joined = False
        self.messages_in = 0
        self.messages_out = 0
        self.frames_in = 0
        """Frames read from every connection (what `vaultnet bench data` reports per put)."""
        self.dropped = 0

    def now(self) -> float:
        """The (possibly simulated) time: every part reads the clock through this (one read
        per batch of handled messages or frames: `WriteBatch.now`)."""
        return WRITE_BATCH.now()

    def emit(self, event: ev.Event) -> None:
        """Publish an event on the testnet's bus."""
        self.bus.emit(event)

    @property
    def observed(self) -> bool:
        """Whether anyone observes the testnet's bus (per-message events are built only
        then)."""
        return self.bus.observed

    def drop(self, msg: Message, reason: str) -> None:
        """Count and report a message this vault will not pass on or handle."""
        self.dropped += 1
        self.emit(ev.MessageDropped(self.now(), self.name, msg.action, msg.msg_id, reason,
                                    msg.trace_id))

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        """Start a background task of this vault while it runs (none before or after)."""
        if self.nursery is not None and self.running:
            self.nursery.start_soon(fn, *args)

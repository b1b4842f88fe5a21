"""The embedded testnet as the dashboard drives it (`vaultnet tui --in-process`, `--record`):
runs inside the trio guest, gives the UI a bounded event subscription to drain and the
operations its keys trigger (a `vaultnet.control.handle.NetworkHandle`; the client and the MPIDs
are a `vaultnet.control.operations.Operator`, as behind a testnet process's control port)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from vaultnet.control.operations import MpidState, Operator, Received
from vaultnet.control.reading import NetworkReading, Query, read_network
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import DEFAULT_CAPACITY, Testnet
from vaultnet.xor import Name

EVENT_BUFFER = 200_000
"""Events waiting for the UI's drain; beyond this they are dropped and counted, never queued
without bound (`LiveNetwork.events.dropped`)."""


@dataclass(frozen=True)
class NetworkConfig:
    """The embedded testnet the dashboard starts."""

    vaults: int = 16
    transport: str = "tcp"
    seed: int | None = None
    capacity: int = DEFAULT_CAPACITY
    data_dir: Path | None = None


class LiveNetwork:
    """The dashboard's own testnet, in process (a NetworkHandle)."""

    def __init__(self, config: NetworkConfig) -> None:
        """The testnet of `config`, not started yet."""
        self.config = config
        self.net = Testnet(vaults=config.vaults, transport=config.transport, seed=config.seed,
                           data_dir=config.data_dir, capacity=config.capacity)
        self.events = self.net.events(max_buffer=EVENT_BUFFER)  # from the first VaultUp on
        self.operator = Operator(self.net)
        self.ready = False
        self.capacity = config.capacity
        self.group_size = self.net.params.group_size
        self.data_dir = config.data_dir
        self.attached = False

    async def run(self, on_ready: Callable[[], object]) -> None:
        """Start the vaults, a client and the MPIDs, report ready, and keep them running until
        cancelled. `ready` drops before the vaults close their databases, however the run ends
        (a crash included), so the dashboard stops sampling a network that is going away."""
        async with self.net:
            try:
                async with trio.open_nursery() as nursery:
                    await self.operator.open(nursery)
                    self.ready = True
                    on_ready()
                    await trio.sleep_forever()
            finally:
                self.ready = False

    def describe(self) -> str:
        """Transport and vaults."""
        return f"{self.net.transport} {len(self.net.vaults)} vaults"

    def drain(self, limit: int) -> list[ev.Event]:
        """Up to `limit` waiting events, without blocking."""
        return self.events.drain(limit)

    def dropped(self) -> int:
        """Events the subscription dropped."""
        return self.events.dropped

    def read(self, query: Query) -> NetworkReading:
        """Read the testnet now."""
        return read_network(self.net, query)

    def new_trace(self) -> bytes:
        """A fresh trace id from the client."""
        return self.operator.new_trace()

    def mpids(self) -> dict[str, MpidState]:
        """The MPIDs' states now."""
        return self.operator.states()

    def take_received(self) -> list[Received]:
        """Messages the MPIDs received since the last call."""
        return self.operator.take_received()

    async def put(self, data: bytes, unique: bool = False) -> tuple[Name, bytes]:
        """Store `data` (`unique`: a Put<Unique>); its name and the put's trace."""
        trace = self.operator.new_trace()
        return await self.operator.put(data, trace, unique), trace

    async def get(self, name: Name) -> int:
        """The size of the chunk, fetched and checked."""
        return len(await self.operator.get(name))

    async def delete(self, name: Name) -> None:
        """Delete the chunk from the dashboard's account."""
        await self.operator.delete(name)

    async def add_vault(self) -> Name:
        """One more vault, joined."""
        return (await self.net.add_vault()).name

    async def kill_vault(self, name: Name) -> None:
        """Stop the vault."""
        await self.net.kill_vault(name)

    async def restart_vault(self, name: Name) -> None:
        """Restart the vault with its data."""
        await self.net.restart_vault(name)

    async def fault(self, name: Name, kind: str) -> None:
        """Inject a fault."""
        self.net.fault(name, kind)

    async def put_version(self, key: Name, parent: VersionName | None, data: bytes,
                          trace: bytes) -> tuple[VersionName, bytes]:
        """Put a version (its chunk first)."""
        return await self.operator.put_version(key, parent, data, trace)

    async def delete_branch(self, key: Name, tip: VersionName,
                            trace: bytes) -> list[VersionName]:
        """Delete a branch."""
        return await self.operator.delete_branch(key, tip, trace)

    def owner_key(self) -> bytes | None:
        """The dashboard client's verify key (None until it is connected)."""
        return self.operator.owner_key()

    async def put_structured(self, name: Name, data: bytes, trace: bytes) -> int:
        """Put the record `name` at version 0, owned by the dashboard's client."""
        return (await self.operator.put_structured(name, data, trace)).version

    async def update_structured(self, name: Name, data: bytes, trace: bytes) -> int:
        """Update the record `name` to its next version (the dashboard's client must own
        it)."""
        return (await self.operator.update_structured(name, data, trace)).version

    async def delete_structured(self, name: Name, trace: bytes) -> int:
        """Delete the record `name` at its current version (the dashboard's client must own
        it); that version."""
        return (await self.operator.delete_structured(name, trace)).version

    async def send(self, sender: str, recipient: str, body: bytes, trace: bytes) -> None:
        """Send a message between the MPIDs."""
        await self.operator.send(sender, recipient, body, trace)

    async def toggle(self, label: str, trace: bytes) -> bool:
        """Take an MPID offline or bring it back."""
        return await self.operator.toggle(label, trace)

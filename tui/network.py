"""The embedded testnet as the dashboard drives it: runs inside the trio guest, gives the UI a
bounded event subscription to drain and the operations its keys trigger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from vaultnet import events as ev
from vaultnet.client import MaidClient
from vaultnet.personas.host import DEFAULT_CAPACITY
from vaultnet.testnet import Testnet
from vaultnet.xor import Name

EVENT_BUFFER = 200_000
"""Events waiting for the UI's drain; beyond this they are dropped and counted, never queued
without bound (`LiveNetwork.events.dropped`)."""


@dataclass(frozen=True)
class NetworkConfig:
    vaults: int = 16
    transport: str = "tcp"
    seed: int | None = None
    capacity: int = DEFAULT_CAPACITY
    data_dir: Path | None = None


class LiveNetwork:
    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        self.net = Testnet(vaults=config.vaults, transport=config.transport, seed=config.seed,
                           data_dir=config.data_dir, capacity=config.capacity)
        self.events = self.net.events(max_buffer=EVENT_BUFFER)  # from the first VaultUp on
        self.client: MaidClient | None = None
        self.ready = False

    async def run(self, on_ready: Callable[[], None]) -> None:
        """Start the vaults and a client, report ready, and keep them running until cancelled.
        `ready` drops before the vaults close their databases, however the run ends (a crash
        included), so the dashboard stops sampling a network that is going away."""
        async with self.net:
            try:
                self.client = await self.net.client()
                self.ready = True
                on_ready()
                await trio.sleep_forever()
            finally:
                self.ready = False

    def drain(self, limit: int) -> list[ev.Event]:
        """Up to `limit` waiting events, without blocking."""
        batch: list[ev.Event] = []
        while len(batch) < limit:
            try:
                batch.append(self.events.receive_nowait())
            except trio.WouldBlock:
                break
        return batch

    def _client(self) -> MaidClient:
        if self.client is None:
            raise RuntimeError("the network is still starting")
        return self.client

    async def put(self, data: bytes) -> tuple[Name, bytes]:
        """Store `data`; its name and the trace id of the operation."""
        client = self._client()
        trace = client.new_id()
        return await client.put(data, trace=trace), trace

    async def get(self, name: Name) -> bytes:
        return await self._client().get(name)

    async def delete(self, name: Name) -> None:
        await self._client().delete(name)

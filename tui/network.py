"""The embedded testnet as the dashboard drives it: runs inside the trio guest, gives the UI a
bounded event subscription to drain and the operations its keys trigger.

Besides its MaidNode client (chunks, version trees) the dashboard owns two public identities,
MPIDS ("alice", "bob"), connected in the background once the network is up (a network smaller
than a group cannot answer them: they then stay offline, and the dashboard runs on); either can
be taken offline (its connection closed: its managers then hold what is sent to it) and brought
back (same identity, announced online: its managers push what they held)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trio

from vaultnet import events as ev
from vaultnet.client import ClientError, MaidClient
from vaultnet.identity import Identity
from vaultnet.mpid_client import MpidClient, MpidMessage
from vaultnet.personas.host import DEFAULT_CAPACITY
from vaultnet.personas.version_tree import VersionName
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


MPIDS = ("alice", "bob")


@dataclass
class Mpid:
    """One of the dashboard's public identities and its connection (None while offline)."""

    label: str
    identity: Identity
    client: MpidClient | None = None
    changing: str = ""  # "connecting" / "disconnecting" while a toggle runs
    failure: str = ""  # why the last connection attempt failed

    @property
    def online(self) -> bool:
        return self.client is not None and not self.client.closed

    @property
    def state(self) -> str:
        if self.changing:
            return self.changing
        if self.online:
            return "online"
        if self.failure:
            return f"offline ({self.failure})"
        return "offline (connection lost)" if self.client is not None else "offline"


class LiveNetwork:
    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        self.net = Testnet(vaults=config.vaults, transport=config.transport, seed=config.seed,
                           data_dir=config.data_dir, capacity=config.capacity)
        self.events = self.net.events(max_buffer=EVENT_BUFFER)  # from the first VaultUp on
        self.client: MaidClient | None = None
        self.mpids: dict[str, Mpid] = {}
        self.ready = False

    async def run(self, on_ready: Callable[[], object]) -> None:
        """Start the vaults, a client and the MPIDs, report ready, and keep them running until
        cancelled. `ready` drops before the vaults close their databases, however the run ends
        (a crash included), so the dashboard stops sampling a network that is going away."""
        async with self.net:
            try:
                self.client = await self.net.client()
                seeded = self.net.seed is not None
                self.mpids = {label: Mpid(label, Identity.generate(
                    self.net.rng.randbytes(32) if seeded else None)) for label in MPIDS}
                self.ready = True
                on_ready()
                async with trio.open_nursery() as nursery:
                    for label in MPIDS:
                        nursery.start_soon(self._connect_quietly, label)
                await trio.sleep_forever()
            finally:
                self.ready = False

    async def _connect_quietly(self, label: str) -> None:
        """Bring an MPID online at start; a failure leaves it offline (the state says why)."""
        with contextlib.suppress(ClientError):
            await self.toggle(label, self._client().new_id())

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

    # -- version trees --------------------------------------------------------------------

    async def put_version(self, key: Name, parent: VersionName | None, data: bytes,
                          trace: bytes) -> tuple[VersionName, bytes]:
        """Store `data` as a chunk, then put it as a version of the tree at `key`, a child of
        `parent` (None: the root of a new tree), under `trace`. The version and the trace of
        the chunk's put."""
        client = self._client()
        chunk_trace = client.new_id()
        chunk = await client.put(data, trace=chunk_trace)
        version = VersionName(0 if parent is None else parent.index + 1, chunk)
        await client.put_version(key, parent, version, trace=trace)
        return version, chunk_trace

    async def delete_branch(self, key: Name, tip: VersionName,
                            trace: bytes) -> list[VersionName]:
        return await self._client().delete_branch(key, tip, trace=trace)

    def new_trace(self) -> bytes:
        return self._client().new_id()

    # -- messaging --------------------------------------------------------------------------

    def mpid(self, label: str) -> Mpid:
        """One of MPIDS by its label; ValueError names the choices."""
        mpid = self.mpids.get(label.strip().lower())
        if mpid is None:
            raise ValueError(f"unknown identity {label!r}: choose {' or '.join(MPIDS)}")
        return mpid

    async def send(self, sender: str, recipient: str, body: bytes, trace: bytes) -> None:
        mpid, to = self.mpid(sender), self.mpid(recipient)
        if mpid.client is None or not mpid.online:
            raise ClientError(f"{mpid.label} is offline: bring {mpid.label} online first (o)")
        await mpid.client.send(to.identity.name, body, trace=trace)

    async def toggle(self, label: str, trace: bytes) -> bool:
        """Take the MPID offline (close its connection) or bring it back online (a new
        connection with the same identity, announced under `trace`); True if now online."""
        mpid = self.mpid(label)
        if mpid.changing:
            raise ClientError(f"{mpid.label} is already {mpid.changing}")
        if mpid.online:
            assert mpid.client is not None
            mpid.changing = "disconnecting"
            try:
                await mpid.client.aclose()
            finally:
                mpid.client, mpid.changing = None, ""
            return False
        mpid.changing, mpid.failure = "connecting", ""
        try:
            mpid.client = await self.net.mpid_client(mpid.identity, trace=trace)
        except ClientError as exc:
            mpid.failure = f"could not connect: {exc}"
            raise
        finally:
            mpid.changing = ""
        return True

    def take_received(self) -> list[tuple[Name, MpidMessage]]:
        """Messages the online MPIDs received since the last call: (recipient, message)."""
        return [(mpid.identity.name, message) for mpid in self.mpids.values()
                if mpid.client is not None for message in mpid.client.received_nowait()]

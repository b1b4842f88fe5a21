"""The dashboard's operations on a testnet it can reach in process: a MaidNode client (chunks,
version trees, structured data records) and two public identities, MPIDS ("alice", "bob"). The
in-process dashboard and a testnet's control port (for a dashboard in another process) run the
same `Operator`.

The MPIDs are connected in the background once the client is (a network smaller than a group
cannot answer them: they then stay offline, and the dashboard runs on); either can be taken
offline (its connection closed: its managers then hold what is sent to it) and brought back
(same identity, announced online: its managers push what they held).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import trio

from vaultnet.client.maid import ClientError, MaidClient
from vaultnet.client.mpid import MpidClient
from vaultnet.identity import Identity
from vaultnet.personas.structured_data import StructuredRecord
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime.testnet import Testnet
from vaultnet.xor import Name

MPIDS = ("alice", "bob")
"""The dashboard's public identities, by label: two, so a message has a sender and a
recipient to watch."""


class UnknownIdentity(ValueError):
    """A label that names none of MPIDS."""


@dataclass(frozen=True)
class MpidState:
    """One of the dashboard's MPIDs as the views and prompts see it."""

    label: str
    name: Name
    state: str  # "online", "offline (...)", "connecting", "disconnecting"
    online: bool
    changing: str  # "connecting" / "disconnecting" while a toggle runs, else ""

    def to_record(self) -> list[object]:
        """The state as msgpack values (the control port's answers carry it)."""
        return [self.label, self.name, self.state, self.online, self.changing]

    @classmethod
    def from_record(cls, record: object) -> MpidState:
        """The state `to_record` wrote; ValueError if it is not one."""
        if not isinstance(record, list) or len(record) != 5:
            raise ValueError("an MPID state is [label, name, state, online, changing]")
        label, name, state, online, changing = record
        if not (isinstance(label, str) and isinstance(name, bytes) and isinstance(state, str)
                and isinstance(online, bool) and isinstance(changing, str)):
            raise ValueError("an MPID state is [label, name, state, online, changing]")
        return cls(label, name, state, online, changing)


@dataclass(frozen=True)
class Received:
    """A message one of the MPIDs received: the end of its journey."""

    recipient: Name
    sender: Name
    mid: bytes


@dataclass
class Mpid:
    """One of the public identities and its connection (None while offline)."""

    label: str
    identity: Identity
    client: MpidClient | None = None
    changing: str = ""
    failure: str = ""  # why the last connection attempt failed

    @property
    def online(self) -> bool:
        """Connected and not closed."""
        return self.client is not None and not self.client.closed

    @property
    def state(self) -> str:
        """What view 6 says about it."""
        if self.changing:
            return self.changing
        if self.online:
            return "online"
        if self.failure:
            return f"offline ({self.failure})"
        return "offline (connection lost)" if self.client is not None else "offline"

    def snapshot(self) -> MpidState:
        """Its state now."""
        return MpidState(self.label, self.identity.name, self.state, self.online, self.changing)


def pick(states: dict[str, MpidState], label: str) -> MpidState:
    """One of MPIDS by its label; UnknownIdentity names the choices."""
    state = states.get(label.strip().lower())
    if state is None:
        raise UnknownIdentity(f"unknown identity {label!r}: choose {' or '.join(MPIDS)}")
    return state


class Operator:
    """A client and the MPIDs on one testnet, and the operations the dashboard's keys run."""

    def __init__(self, net: Testnet) -> None:
        """Nothing is connected until `open`."""
        self.net = net
        self.client: MaidClient | None = None
        self.mpids: dict[str, Mpid] = {}

    async def open(self, nursery: trio.Nursery) -> None:
        """Connect the client, then the MPIDs in the background in `nursery`."""
        self.client = await self.net.client()
        seeded = self.net.seed is not None
        self.mpids = {label: Mpid(label, Identity.generate(
            self.net.rng.randbytes(32) if seeded else None)) for label in MPIDS}
        for label in MPIDS:
            nursery.start_soon(self._connect_quietly, label)

    async def _connect_quietly(self, label: str) -> None:
        """Bring an MPID online at start; a failure leaves it offline (the state says why)."""
        with contextlib.suppress(ClientError):
            await self.toggle(label, self._client().new_id())

    def _client(self) -> MaidClient:
        if self.client is None:
            raise ClientError("the network is still starting")
        return self.client

    def new_trace(self) -> bytes:
        """A fresh trace id for an operation."""
        return self._client().new_id()

    async def put(self, data: bytes, trace: bytes, unique: bool = False) -> Name:
        """Store `data` under `trace` (with `unique`, refused if it is already stored); its
        name."""
        return await self._client().put(data, trace=trace, unique=unique)

    async def get(self, name: Name) -> bytes:
        """The chunk `name` (checked against its name)."""
        return await self._client().get(name)

    async def delete(self, name: Name) -> None:
        """Delete the chunk `name` from this client's account."""
        await self._client().delete(name)

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
        """Delete the branch of `tip` back to its fork; the versions removed."""
        return await self._client().delete_branch(key, tip, trace=trace)

    def owner_key(self) -> bytes | None:
        """The client's verify key, which owns the records it puts (None until connected)."""
        return None if self.client is None else self.client.identity.verify_key

    async def put_structured(self, name: Name, data: bytes, trace: bytes) -> StructuredRecord:
        """Put the record `name` holding `data` at version 0, owned by the client."""
        return await self._client().put_structured(name, data, trace)

    async def update_structured(self, name: Name, data: bytes,
                                trace: bytes) -> StructuredRecord:
        """Update the record `name` to its next version (the client must own it)."""
        return await self._client().update_structured(name, data, trace=trace)

    async def delete_structured(self, name: Name, trace: bytes) -> StructuredRecord:
        """Delete the record `name` at its current version (the client must own it); the
        record as it was."""
        return await self._client().delete_structured(name, trace=trace)

    def states(self) -> dict[str, MpidState]:
        """Each MPID's state now, by label."""
        return {label: mpid.snapshot() for label, mpid in self.mpids.items()}

    def _mpid(self, label: str) -> Mpid:
        return self.mpids[pick(self.states(), label).label]

    async def send(self, sender: str, recipient: str, body: bytes, trace: bytes) -> None:
        """`sender` sends `body` to `recipient` (labels) under `trace`."""
        mpid, to = self._mpid(sender), self._mpid(recipient)
        if mpid.client is None or not mpid.online:
            raise ClientError(f"{mpid.label} is offline: bring {mpid.label} online first (o)")
        await mpid.client.send(to.identity.name, body, trace=trace)

    async def toggle(self, label: str, trace: bytes) -> bool:
        """Take the MPID offline (close its connection) or bring it back online (a new
        connection with the same identity, announced under `trace`); True if now online."""
        mpid = self._mpid(label)
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

    def take_received(self) -> list[Received]:
        """Messages the online MPIDs received since the last call."""
        return [Received(mpid.identity.name, message.sender, message.mid)
                for mpid in self.mpids.values() if mpid.client is not None
                for message in mpid.client.received_nowait()]

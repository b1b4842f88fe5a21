"""A running `vaultnet testnet` reached from another process through its control port: the
`NetworkHandle` of the dashboard in its default mode (`vaultnet tui`, a testnet process it
starts) and of an attached one (`vaultnet tui --attach`).

`RemoteNetwork.run` subscribes to the testnet's events (`vaultnet.control.client.EventStream`),
opens the testnet's dashboard session (its client, the owner of the structured data records the
dashboard puts, and its MPIDs live in the testnet process: a simulator testnet can be attached
too) and asks for a reading (structured data records included) every POLL_INTERVAL, or at once
after an operation. What arrives waits in bounded buffers for the dashboard's drain:
EVENT_BUFFER events (newer ones are dropped and counted, as the testnet counts those it dropped
for us) and the newest reading. Leaving (cancelling `run`) closes the connections; the testnet
runs on.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import trio

from vaultnet.control import client as control
from vaultnet.control.operations import MpidState, Received
from vaultnet.control.protocol import DROPPED
from vaultnet.control.reading import NetworkReading, Query, ReadingError
from vaultnet.identity import VERIFY_KEY_SIZE
from vaultnet.messages import ID_SIZE
from vaultnet.personas.structured_data import is_version
from vaultnet.personas.version_tree import VersionName, VersionTreeError
from vaultnet.runtime import events as ev
from vaultnet.xor import NAME_SIZE, Name

EVENT_BUFFER = 200_000
"""Events received and not yet drained; beyond this they are dropped and counted."""
POLL_INTERVAL = 1.0
"""Seconds between readings (the dashboard samples once a second)."""
MAX_RECEIVED = 1_000
"""Received-message notices kept for the drain (each is a few hundred bytes)."""

_T = TypeVar("_T")


class RemoteNetwork:
    """A testnet in another process, driven through its control port (a NetworkHandle)."""

    def __init__(self, address: str, token: str, data_dir: Path | None = None,
                 attached: bool = True) -> None:
        """The testnet whose control port is `address` (127.0.0.1:PORT), steered with `token`;
        `data_dir` is where it keeps its files (screenshots go there); `attached`: the user
        pointed the dashboard at it (`--attach`), rather than the dashboard starting it."""
        self.address = address
        self.attached = attached
        self._token = token
        self.data_dir = data_dir
        self.ready = False
        self.capacity = 0
        self.group_size = 4
        self._transport = "?"
        self._vaults = 0
        self._events: deque[ev.Event] = deque()
        self._dropped_here = 0
        self._dropped_there = 0
        self._reading: NetworkReading | None = None
        self._query = Query()
        self._mpids: dict[str, MpidState] = {}
        self._owner: bytes | None = None
        self._received: deque[Received] = deque(maxlen=MAX_RECEIVED)
        self._wake = trio.Event()

    async def run(self, on_ready: Callable[[], object]) -> None:
        """Subscribe, open the session, report ready, then keep the events and readings
        coming until cancelled; the ControlError (not in a group) that ended it if the
        testnet went away or answered nonsense."""
        stream = await control.EventStream.open(self.address, self._token)
        lost: list[control.ControlError] = []
        try:
            async with trio.open_nursery() as nursery:
                async def until_lost(task: Callable[[], Awaitable[None]]) -> None:
                    try:
                        await task()
                    except control.ControlError as exc:
                        lost.append(exc)
                        nursery.cancel_scope.cancel()

                nursery.start_soon(until_lost, partial(self._receive, stream))
                nursery.start_soon(until_lost, partial(self._attend, on_ready))
        finally:
            self.ready = False
            with trio.CancelScope(shield=True):
                await stream.aclose()
        if lost:
            raise lost[0]

    async def _attend(self, on_ready: Callable[[], object]) -> None:
        """Open the session, report ready, then poll."""
        session = await self._request("session", [])
        (self._transport, self._vaults, self.capacity, self.group_size, mpids,
         self._owner) = _parsed(
            lambda: (str(session["transport"]), int(session["vaults"]),
                     int(session["capacity"]), int(session["group_size"]), session["mpids"],
                     _owner(session["owner"])))
        self._set_mpids(mpids)
        self.ready = True
        on_ready()
        await self._poll()

    async def _receive(self, stream: control.EventStream) -> None:
        while True:
            for record in await stream.records():
                kind = record.get("kind")
                if kind == DROPPED:
                    dropped = record.get("dropped")
                    if isinstance(dropped, int):
                        self._dropped_there = dropped
                elif isinstance(kind, str) and ev.is_event_kind(kind):
                    if len(self._events) >= EVENT_BUFFER:
                        self._dropped_here += 1
                        continue
                    try:
                        self._events.append(ev.from_record(record))
                    except (TypeError, ValueError):
                        self._dropped_here += 1  # a record this version cannot read

    async def _poll(self) -> None:
        while True:
            try:
                answer = await self._request("read", [self._query.to_record()])
            except control.ControlRefused as exc:
                if exc.kind != "busy":
                    raise
            else:
                reading, mpids, received = _parsed(partial(_read_answer, answer))
                self._reading, self._vaults = reading, len(reading.vaults)
                self._set_mpids(mpids)
                self._received.extend(received)
            with trio.move_on_after(POLL_INTERVAL):
                await self._wake.wait()
            self._wake = trio.Event()

    def _set_mpids(self, records: Any) -> None:
        states = _parsed(lambda: [MpidState.from_record(r) for r in records])
        if states:
            self._mpids = {state.label: state for state in states}

    async def _request(self, command: str, args: list[Any], content: bytes | None = None
                       ) -> Any:
        return await control.request(self.address, self._token, command, args, content)

    async def _operate(self, command: str, args: list[Any], content: bytes | None = None
                       ) -> Any:
        """Run a dashboard operation on the testnet, then ask for a reading at once."""
        try:
            return await self._request(command, args, content)
        finally:
            self._wake.set()

    # -- what the dashboard reads ------------------------------------------------------------

    def describe(self) -> str:
        """Its transport and vaults, and where it is if the dashboard was attached to it."""
        where = f"attached {self.address}: " if self.attached else ""
        return f"{where}{self._transport} {self._vaults} vaults"

    def drain(self, limit: int) -> list[ev.Event]:
        """Up to `limit` events received."""
        count = min(limit, len(self._events))
        return [self._events.popleft() for _ in range(count)]

    def dropped(self) -> int:
        """Events dropped here (the drain fell behind) and by the testnet (we read slowly)."""
        return self._dropped_here + self._dropped_there

    def read(self, query: Query) -> NetworkReading | None:
        """The newest reading not yet taken; the next one answers `query`."""
        self._query = query
        reading, self._reading = self._reading, None
        return reading

    def new_trace(self) -> bytes:
        """A fresh random trace id."""
        return os.urandom(ID_SIZE)

    def mpids(self) -> dict[str, MpidState]:
        """The MPIDs as the last answer had them."""
        return dict(self._mpids)

    def take_received(self) -> list[Received]:
        """Messages the MPIDs received, as the readings reported them."""
        received = list(self._received)
        self._received.clear()
        return received

    def owner_key(self) -> bytes | None:
        """The verify key of the testnet's dashboard client (its session said)."""
        return self._owner

    # -- what the dashboard's keys do -----------------------------------------------------------

    async def put(self, data: bytes, unique: bool = False) -> tuple[Name, bytes]:
        """Store `data` with the testnet's client (`unique`: a Put<Unique>)."""
        trace = self.new_trace()
        result = await self._operate("put_unique" if unique else "put", [trace], data)
        return _parsed(lambda: _name(result["name"])), trace

    async def get(self, name: Name) -> int:
        """Fetch the chunk on the testnet (checked there); its size."""
        result = await self._operate("get", [name])
        return _parsed(lambda: int(result["size"]))

    async def delete(self, name: Name) -> None:
        """Delete the chunk from the testnet client's account."""
        await self._operate("delete", [name])

    async def add_vault(self) -> Name:
        """One more vault, joined."""
        result = await self._operate("add", [])
        return _parsed(lambda: _name(bytes.fromhex(result["name"])))

    async def kill_vault(self, name: Name) -> None:
        """Stop the vault."""
        await self._operate("kill", [name.hex()])

    async def restart_vault(self, name: Name) -> None:
        """Restart the vault with its data."""
        await self._operate("restart", [name.hex()])

    async def fault(self, name: Name, kind: str) -> None:
        """Inject a fault."""
        await self._operate("fault", [name.hex(), kind])

    async def put_version(self, key: Name, parent: VersionName | None, data: bytes,
                          trace: bytes) -> tuple[VersionName, bytes]:
        """Put a version (its chunk first) with the testnet's client."""
        result = await self._operate(
            "put_version", [key, None if parent is None else parent.to_record(), trace], data)
        return _parsed(lambda: (VersionName.from_record(result["version"]),
                                bytes(result["chunk_trace"])))

    async def delete_branch(self, key: Name, tip: VersionName,
                            trace: bytes) -> list[VersionName]:
        """Delete a branch with the testnet's client."""
        result = await self._operate("delete_branch", [key, tip.to_record(), trace])
        return _parsed(lambda: [VersionName.from_record(v) for v in result["removed"]])

    async def put_structured(self, name: Name, data: bytes, trace: bytes) -> int:
        """Put a record with the testnet's client; its version."""
        return await self._record("put_structured", [name, trace], data)

    async def update_structured(self, name: Name, data: bytes, trace: bytes) -> int:
        """Update a record with the testnet's client; its new version."""
        return await self._record("update_structured", [name, trace], data)

    async def delete_structured(self, name: Name, trace: bytes) -> int:
        """Delete a record with the testnet's client; the version deleted."""
        return await self._record("delete_structured", [name, trace])

    async def _record(self, command: str, args: list[Any], data: bytes | None = None) -> int:
        """Run a structured data command; the record's version its answer gives."""
        result = await self._operate(command, args, data)
        return _parsed(lambda: _record_version(result["version"]))

    async def send(self, sender: str, recipient: str, body: bytes, trace: bytes) -> None:
        """Send a message between the testnet's MPIDs."""
        await self._operate("send", [sender, recipient, body, trace])

    async def toggle(self, label: str, trace: bytes) -> bool:
        """Take one of the testnet's MPIDs offline or bring it back."""
        result = await self._operate("toggle", [label, trace])
        return _parsed(lambda: result["online"] is True)


def _read_answer(answer: Any) -> tuple[NetworkReading, Any, list[Received]]:
    """A `read` answer: the reading, the MPIDs' state records, the messages received."""
    received = [Received(_name(r), _name(s), m) for r, s, m in answer["received"]]
    if not all(isinstance(r.mid, bytes) for r in received):
        raise ValueError("a message id is bytes")
    return NetworkReading.from_record(answer["reading"]), answer["mpids"], received


def _name(value: Any) -> Name:
    if not isinstance(value, bytes) or len(value) != NAME_SIZE:
        raise ValueError("not a name")
    return value


def _owner(value: Any) -> bytes:
    if not isinstance(value, bytes) or len(value) != VERIFY_KEY_SIZE:
        raise ValueError("the client's owner key is a verify key")
    return value


def _record_version(value: Any) -> int:
    if not is_version(value):
        raise ValueError("a record's version is a counter")
    return value


def _parsed(parse: Callable[[], _T]) -> _T:
    """What `parse` makes of an answer; ControlError if the answer is not what it should be."""
    try:
        return parse()
    except (KeyError, TypeError, ValueError, IndexError, ReadingError, VersionTreeError) as exc:
        raise control.ControlError(f"malformed answer from the testnet: {exc}") from None

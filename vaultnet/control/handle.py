"""What the dashboard drives, whichever way it reaches the network: `NetworkHandle` is met by
the testnet it runs in process (`tui.network.LiveNetwork`) and by a `vaultnet testnet`
attached through its control port (`vaultnet.control.remote.RemoteNetwork`), so the dashboard's code
is the same for both.

The synchronous members never wait: `drain`, `read` and `take_received` hand over what has
already arrived (in process, that is everything; attached, what the last answers brought).
Failures of the asynchronous operations are `vaultnet.client.maid.ClientError`,
`vaultnet.runtime.testnet.TestnetError`, `vaultnet.control.client.ControlError` (a client's
refusal through the control port: `OperationRefused`, its `refusal` the ClientError type) or
`OSError`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from vaultnet.control.operations import MpidState, Received
from vaultnet.control.reading import NetworkReading, Query
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime import events as ev
from vaultnet.xor import Name


class NetworkHandle(Protocol):
    """A running network the dashboard watches and changes."""

    ready: bool
    """The network answers (set before `run`'s `on_ready`, cleared before it goes away)."""
    capacity: int
    """Each vault's capacity in bytes (known once ready)."""
    group_size: int
    """Vaults in a close group (known once ready)."""
    data_dir: Path | None
    """Where the network keeps its files, if the dashboard may write beside them."""
    attached: bool
    """The user attached the dashboard to a testnet it did not start (`--attach`): it keeps
    running when the dashboard quits, and losing it is said in those words."""

    async def run(self, on_ready: Callable[[], object]) -> None:
        """Start (or reach) the network, call `on_ready`, keep it until cancelled."""

    def describe(self) -> str:
        """A few words for the summary bar: "tcp 16 vaults", "attached ..."."""

    def drain(self, limit: int) -> list[ev.Event]:
        """Up to `limit` events that arrived, without waiting."""

    def dropped(self) -> int:
        """Events the bounded buffers between the network and the dashboard dropped."""

    def read(self, query: Query) -> NetworkReading | None:
        """A reading of the network about `query`, or None if none newer is at hand."""

    def new_trace(self) -> bytes:
        """A fresh trace id that ties an operation's events together."""

    def mpids(self) -> dict[str, MpidState]:
        """The dashboard's MPIDs (alice, bob) by label, as last known."""

    def take_received(self) -> list[Received]:
        """Messages the MPIDs received since the last call."""

    def owner_key(self) -> bytes | None:
        """The verify key of the dashboard's client, which owns the structured data records
        it puts (the testnet process's client when the dashboard reaches it through its
        control port); None until it is connected."""

    async def put(self, data: bytes, unique: bool = False) -> tuple[Name, bytes]:
        """Store `data` (with `unique`, a Put<Unique>: refused with DataExists if the chunk is
        already stored); its name and the trace of the put."""

    async def get(self, name: Name) -> int:
        """Fetch the chunk `name` (checked against its name); its size."""

    async def delete(self, name: Name) -> None:
        """Delete the chunk `name` from the dashboard's account."""

    async def add_vault(self) -> Name:
        """Start one more vault; its name once it joined."""

    async def kill_vault(self, name: Name) -> None:
        """Stop the vault `name`."""

    async def restart_vault(self, name: Name) -> None:
        """Restart the vault `name` with its identity and data."""

    async def fault(self, name: Name, kind: str) -> None:
        """Inject the fault `kind` into the vault `name`."""

    async def put_version(self, key: Name, parent: VersionName | None, data: bytes,
                          trace: bytes) -> tuple[VersionName, bytes]:
        """Put `data` as a version of the tree `key` under `parent`; the version and the
        trace of its chunk's put."""

    async def delete_branch(self, key: Name, tip: VersionName,
                            trace: bytes) -> list[VersionName]:
        """Delete the branch of `tip`; the versions removed."""

    async def put_structured(self, name: Name, data: bytes, trace: bytes) -> int:
        """Put the structured data record `name` holding `data`, owned by the dashboard's
        client; its version (0). Refused with RecordExists if the name holds one."""

    async def update_structured(self, name: Name, data: bytes, trace: bytes) -> int:
        """Update the record `name` to its next version, which it returns (NotRecordOwner
        unless the dashboard's client owns it; StaleVersion if another change came first)."""

    async def delete_structured(self, name: Name, trace: bytes) -> int:
        """Delete the record `name` at its current version, which it returns
        (NotRecordOwner unless the dashboard's client owns it)."""

    async def send(self, sender: str, recipient: str, body: bytes, trace: bytes) -> None:
        """The MPID `sender` sends `body` to `recipient` (labels)."""

    async def toggle(self, label: str, trace: bytes) -> bool:
        """Take the MPID offline or bring it back; True if it is now online."""

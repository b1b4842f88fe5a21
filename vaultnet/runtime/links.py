"""A vault's connections: accepting and dialling them within their limits, reading each one's
frames until it closes or goes idle, and queueing frames on the right one."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import trio

from vaultnet import wire
from vaultnet.runtime import events as ev
from vaultnet.runtime.core import VaultCore
from vaultnet.transport.base import WRITE_BATCH, Connection, ConnectionClosed, TransportError
from vaultnet.wire import FrameError
from vaultnet.xor import Name

MAX_PENDING_CONNECTS = 32
"""Outgoing connection attempts at once; past this `connect_peer` declines."""
MAX_CONNECTIONS_PER_PEER = 4
"""Connections one identity may hold to a vault at once (a vault peer needs one or two, a
client one): more from the same key are refused, so one key cannot fill the listener."""
IDLE_SLACK = 1.0
"""Seconds a connection's idle deadline may lag its last activity before it is moved on: a
deadline that fires early is checked against the last activity and re-armed."""
MAX_CLIENT_CONNECTIONS = 256
"""Client connections a vault serves at once; below the TCP listener's limit so that vault
links always find room."""
MAX_PROCESS_CLIENTS = 3 * MAX_CLIENT_CONNECTIONS
"""Client connections all the vaults of one process serve at once, whichever vaults the clients
dial: the descriptors a process budgets for clients (`runtime/descriptors.py`; a testnet points
its clients at three vaults), so clients dialling every vault of a process cannot take the
descriptors its vault links need."""
MAX_VAULT_CONNECTIONS = 128
"""Vault links a vault holds at once, those being dialled included: twice the routing table
(each table peer once each way), so a process's descriptors can be budgeted
(`runtime/descriptors.py`); a further one is refused or not dialled."""

VAULTS_FULL = "connection refused: vault connections full"
"""Why a vault's connection was refused at MAX_VAULT_CONNECTIONS (it is told where to go)."""


class ProcessClients:
    """The client connections the vaults of this process serve (`MAX_PROCESS_CLIENTS`): one
    count per process, as the descriptor table it budgets is."""

    def __init__(self) -> None:
        self.count = 0


PROCESS_CLIENTS = ProcessClients()

FrameHandler = Callable[[Connection, dict[str, Any]], None]
"""Called with every frame a connection brings in (unless the vault is silent)."""
VaultLinked = Callable[[Name, str], None]
"""Called when a vault peer's connection is admitted, with its valid listening address."""
LinkClosed = Callable[[Connection, bool], None]
"""Called when a connection is forgotten; True if it was the peer's last one."""


class Links:
    """The open connections of one vault, to vault peers and to clients, by peer name."""

    def __init__(self, core: VaultCore, on_frame: FrameHandler, on_vault: VaultLinked,
                 on_closed: LinkClosed) -> None:
        self.core = core
        self.vaults: dict[Name, list[Connection]] = {}
        self.clients: dict[Name, list[Connection]] = {}
        self.connecting: set[Name] = set()
        """Vaults we are dialling now (bounded by MAX_PENDING_CONNECTS)."""
        self._on_frame = on_frame
        self._on_vault = on_vault
        self._on_closed = on_closed
        self.refer: Callable[[Connection], None] = lambda conn: None
        """Called with a vault's connection refused for want of room, just before it closes:
        the peer protocol tells it the vaults we know nearest to it (`PeerProtocol.refer`), so
        a vault joining through us is not left with nobody to ask."""

    def count(self) -> int:
        """Connections open now, to vaults and clients."""
        return self.vault_links() + self.client_links()

    def vault_links(self) -> int:
        """Connections open now to vault peers (bounded by MAX_VAULT_CONNECTIONS)."""
        return sum(map(len, self.vaults.values()))

    def client_links(self) -> int:
        """Connections open now to clients (bounded by MAX_CLIENT_CONNECTIONS)."""
        return sum(map(len, self.clients.values()))

    def register(self, conn: Connection) -> bool:
        """Admit a handshaken connection within the budgets; False (and an event) if refused."""
        core = self.core
        held = len(self.vaults.get(conn.peer, [])) + len(self.clients.get(conn.peer, []))
        reason = ""
        if held >= MAX_CONNECTIONS_PER_PEER:
            reason = f"connection refused: {held} already open from this identity"
        elif conn.role == "client" and self.client_links() >= MAX_CLIENT_CONNECTIONS:
            reason = "connection refused: client connections full"
        elif conn.role == "client" and PROCESS_CLIENTS.count >= MAX_PROCESS_CLIENTS:
            reason = "connection refused: this process's client connections full"
        elif conn.role != "client" and not self._room_for_vault(conn.peer, 0):
            reason = VAULTS_FULL
        if reason:
            core.emit(ev.FrameRejected(core.now(), core.name, conn.peer.hex()[:16], reason))
            if reason == VAULTS_FULL:
                self.refer(conn)
            elif conn.role == "client":
                conn.send({"t": "refused", "reason": reason})  # the client's error says why
            conn.close()
            return False
        if conn.role == "client":
            self.clients.setdefault(conn.peer, []).append(conn)
            PROCESS_CLIENTS.count += 1
        else:
            self.vaults.setdefault(conn.peer, []).append(conn)
            if self.valid_address(conn.peer_address):
                self._on_vault(conn.peer, conn.peer_address)
        return True

    def _room_for_vault(self, peer: Name, pending: int) -> bool:
        """Whether a link to vault `peer` fits under MAX_VAULT_CONNECTIONS (with `pending`
        dials counted), making room if it must, in place of a spare: the oldest link to a vault
        that is neither in our table nor close (one that dialled us to look something up, or
        holds us in its far buckets, where any vault of ours would do).

        A close vault (one that would be among our closest, or may hold us among its own:
        `RoutingTable.may_hold_us_close`), or one for a bucket of ours short of a group
        (`RoutingTable.short_of_a_group`), takes any spare's place. Refused instead, close
        vaults dialled us again and again: 256 simulated vaults booting side by side sent 2.06
        million frames, most of them proximity changes, against 0.18 million with this rule; at
        512 a vault that holds us among its closest without our holding it was refused about
        200 times a second; and a vault at its cap with 3 peers in a bucket of 8 could not dial
        the other 5 (512 simulated vaults converged a minute after their joins, waiting for
        it). Any other vault (a newcomer joining through us, most often) takes the place of a
        spare nobody has kept alive for the liveness timeout (a table peer pings its link every
        keep-alive, either side's; the idle timeout would close it anyway): refused, 3 of 4
        vaults added to 512 simulated vaults could not join, every bootstrap vault at its cap.
        A spare in use is never closed for one, so vaults that dial us cannot push each other
        out."""
        if self.vault_links() + pending < MAX_VAULT_CONNECTIONS:
            return True
        core = self.core
        routing = core.routing
        if peer in routing:
            return False
        wanted = (routing.in_proximity_range(peer) or routing.may_hold_us_close(peer)
                  or routing.short_of_a_group(peer))
        unused_since = math.inf if wanted else core.now() - core.timing.liveness_timeout
        spare = next((name for name, conns in self.vaults.items()
                      if name not in routing and name != peer
                      and not routing.may_hold_us_close(name)
                      and all(c.last_active <= unused_since for c in conns)), None)
        if spare is None:
            return False
        self.close_vault(spare)
        return self.vault_links() + pending < MAX_VAULT_CONNECTIONS

    def valid_address(self, address: str) -> bool:
        """Whether `address` is one a vault of this testnet could listen on: `sim:N` on the
        simulator, else `host:port` on a loopback address or our own listen host, or, when we
        listen off loopback (vaults on several hosts), on any unicast address."""
        own = self.core.address
        if own.startswith("sim:"):
            return address.startswith("sim:") and address[4:].isdigit()
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            return False
        own_host = own.rpartition(":")[0]
        if host == own_host:
            return True
        try:
            ip = ipaddress.ip_address(host)
            if ip.is_loopback:
                return True
            own_ip = ipaddress.ip_address(own_host)
        except ValueError:
            return False
        return not (own_ip.is_loopback or ip.is_unspecified or ip.is_multicast)

    async def serve_inbound(self, conn: Connection) -> None:
        """The listener's handler: admit an accepted connection and serve it."""
        if self.register(conn):
            await self.serve(conn)

    def adopt(self, conn: Connection) -> None:
        """Take over an outbound connection we opened."""
        nursery = self.core.nursery
        assert nursery is not None
        if self.register(conn):
            nursery.start_soon(self.serve, conn)
        else:
            nursery.start_soon(conn.aclose)

    async def serve(self, conn: Connection) -> None:
        """Handle one registered connection until it closes, beside its writer task where its
        stream needs one (`FrameStream.needs_writer`). On the simulator, which needs none, no
        nursery either: one scope less for each of a boot's links to open, and to cancel when
        the testnet stops."""
        try:
            if conn.stream.needs_writer:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(conn.run_writer)
                    await self._serve_frames(conn)
                    nursery.cancel_scope.cancel()
            else:
                await self._serve_frames(conn)
        finally:
            try:
                await conn.aclose()
            finally:  # whatever the close raises: the client count must come back
                self._forget(conn)

    async def _serve_frames(self, conn: Connection) -> None:
        """Take `conn`'s frames until it closes, goes idle or sends a bad one; then close it."""
        core = self.core
        idle_timeout = core.timing.idle_timeout
        # On the simulator each frame is handled when it is delivered, from the simulator's
        # task; this one then only waits for the connection to close or go idle.
        pushed = conn.push_frames(partial(self._handle_read, conn), partial(self._reject, conn))
        try:
            while not conn.closed:
                # One scope for many frames, its deadline moved on as the link is used.
                with trio.CancelScope(deadline=conn.last_active + idle_timeout) as idle:
                    if pushed:
                        await conn.wait_closed()
                    else:
                        await self._read(conn, idle)
                if not idle.cancelled_caught:
                    break
                if conn.last_active + idle_timeout > core.now():
                    continue  # we sent on it meanwhile (same sum as the deadline)
                core.emit(ev.FrameRejected(
                    core.now(), core.name, conn.peer.hex()[:16],
                    f"connection closed: silent for {idle_timeout:g} s"))
                break
        except FrameError as exc:
            self._reject(conn, exc)
        except ConnectionClosed:
            pass
        conn.close()

    async def _read(self, conn: Connection, idle: trio.CancelScope) -> None:
        """Read and handle `conn`'s frames until it closes, moving `idle`'s deadline on as the
        link is used (at most IDLE_SLACK late: moving a deadline costs as much as a scope)."""
        idle_timeout = self.core.timing.idle_timeout
        while not conn.closed:
            self._handle_read(conn, await conn.receive())
            if conn.last_active + idle_timeout - idle.deadline > IDLE_SLACK:
                idle.deadline = conn.last_active + idle_timeout

    def _handle_read(self, conn: Connection, frame: dict[str, Any]) -> None:
        """Handle `frame` and every other frame the same read brought in, with no checkpoint
        between; what they send is written once they are all handled (one write per peer)."""
        core = self.core
        ready: dict[str, Any] | None = frame
        with WRITE_BATCH.open():
            while ready is not None and not conn.closed:
                core.frames_in += 1
                if not core.silent:
                    self._on_frame(conn, ready)
                ready = conn.receive_ready()

    def _reject(self, conn: Connection, exc: FrameError) -> None:
        """Report a frame from `conn` that was malformed or not allowed (it closes)."""
        core = self.core
        core.emit(ev.FrameRejected(core.now(), core.name, conn.peer.hex()[:16], str(exc)))

    def _forget(self, conn: Connection) -> None:
        """Drop a closed connection from its peer's list and tell the vault."""
        table = self.clients if conn.role == "client" else self.vaults
        conns = table.get(conn.peer, [])
        if conn in conns:
            conns.remove(conn)
            if conn.role == "client":
                PROCESS_CLIENTS.count -= 1
        last = not conns
        if last:
            table.pop(conn.peer, None)
        self._on_closed(conn, last)

    def close_vault(self, peer: Name) -> None:
        """Close every connection to vault `peer` (it is being dropped from our table)."""
        for conn in self.vaults.pop(peer, []):
            conn.close()

    async def connect_peer(self, name: Name, address: str) -> bool:
        """Open a routing connection to a vault we want in our table."""
        core = self.core
        if name in self.vaults or name == core.name or name in self.connecting:
            return name in self.vaults
        if (len(self.connecting) >= MAX_PENDING_CONNECTS or core.nursery is None
                or not self._room_for_vault(name, len(self.connecting))):
            return False
        self.connecting.add(name)
        try:
            conn = await core.endpoint.connect(address, expect=name)
        except TransportError:
            return False
        finally:
            self.connecting.discard(name)
        self.adopt(conn)
        return True

    async def dial(self, address: str) -> bool:
        """Open a routing connection to whoever listens at `address` (a bootstrap vault)."""
        try:
            conn = await self.core.endpoint.connect(address)
        except TransportError:
            return False
        self.adopt(conn)
        return True

    def send_frame(self, peer: Name, frame: dict[str, Any]) -> bool:
        """Pack `frame` and queue it for `peer` (False: no open connection took it)."""
        return self.send_body(peer, wire.pack(frame))

    def send_body(self, peer: Name, body: bytes) -> bool:
        """Queue a packed frame on the newest open connection to `peer` that takes it."""
        conns = self.vaults.get(peer) or self.clients.get(peer, [])
        return any(not conn.closed and conn.send_body(body) for conn in reversed(conns))

    def last_heard(self, peer: Name) -> float:
        """When vault `peer` last sent us anything, on any connection (0: never)."""
        return max((c.last_heard for c in self.vaults.get(peer, [])), default=0.0)

    def dialled_addresses(self) -> set[str]:
        """The addresses of the vaults we hold connections to."""
        return {conn.peer_address for conns in self.vaults.values() for conn in conns}

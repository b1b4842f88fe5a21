"""One vault: wires a transport endpoint, the routing table and the personas together.

This is the I/O shell around sans-IO parts: it owns the trio tasks (one reader and one writer per
connection, a local delivery pump, the maintenance loop), turns frames into calls on the routing
table and personas, and emits every interesting thing as an event.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
import random
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from vaultnet import wire
from vaultnet.group.views import GroupViews
from vaultnet.identity import Identity
from vaultnet.messages import (
    CLIENT_ACTIONS,
    CLIENT_PERSONAS,
    Authority,
    Message,
    Persona,
    derived_id,
)
from vaultnet.protocol import Action, EventKind
from vaultnet.routing import ChurnChange, Parameters, RoutingTable
from vaultnet.runtime import events as ev
from vaultnet.runtime.cache import RelayCache
from vaultnet.transport.base import Connection, ConnectionClosed, Endpoint, TransportError
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name, bucket_index, closest, distance, name_in_bucket

if TYPE_CHECKING:
    from vaultnet.runtime.host import PersonaHost

FIND_TIMEOUT = 3.0
LOOKUP_ROUNDS = 8
LOOKUP_WIDTH = 3
SEEN_WINDOW = 2.0
"""Routing drops a copy of a message it passed on within this many seconds: link-level
duplicates. A deliberate re-send (a client retrying after a timeout) gets through to the
personas, whose firewall answers it. Older entries are dropped as messages pass and on every
maintenance tick, so the table follows the traffic of the last window."""
SEEN_LIMIT = 20_000
"""Entries in the table at most (oldest dropped first; one that should still have caught a
duplicate only lets it through to the accumulator or firewall, which catch it). A vault of a
16-vault testnet under 20 puts/s passes about 400 messages a second: 800 within the window."""
SEEN_KEY_SIZE = 16
"""Bytes of the digest kept per entry instead of the ~220-byte identity it is taken over."""
LOCAL_INBOX = 100_000
LOCAL_BATCH = 256
"""Messages for this vault handled back to back by the local pump, inside one `Vault.batch`
(the persona host's: one database transaction for them all instead of one each). Bounded so
that one batch holds the event loop, and the replies of its first message, for a few
milliseconds at most; the pump yields to other tasks between batches."""
MAX_PENDING_CONNECTS = 32
REMEMBERED_PEERS = 64
"""How many vaults (name -> listening address, most recently connected first) a vault keeps to
rejoin through once its routing table has emptied: enough to cover a close group and its
neighbourhood many times over, small enough that one rejoin attempt stays a few dozen dials."""
REJOIN_BACKOFF_MIN = 0.5
"""Seconds before the first rejoin attempt once the table is short of a close group."""
REJOIN_BACKOFF_MAX = 8.0
"""The backoff between rejoin attempts doubles up to this: a vault cut off for long keeps trying
at least this often, without hammering addresses that stay dead."""
STALLED_AFTER = 0.5
"""A maintenance tick waking later than this fraction of the liveness timeout past its schedule
means our own process stalled (stopped, or its loop blocked): peers then get a fresh liveness
window instead of being declared dead for a silence that was ours."""
REJOINING = EventKind.REJOINING
"""The `PersonaEvent.what` a vault emits before each rejoin attempt (detail: its peers and the
backoff it waited), so the dashboard and tests can see a vault working its way back in."""
MAX_CONNECTIONS_PER_PEER = 4
"""Connections one identity may hold to a vault at once (a vault peer needs one or two, a
client one): more from the same key are refused, so one key cannot fill the listener."""
MAX_CLIENT_CONNECTIONS = 256
"""Client connections a vault serves at once; below the TCP listener's limit so that vault
links always find room."""
NEIGHBOUR_PEERS = 4
"""Peers a `neighbour` frame may name (gossip names one new vault): a longer list is a
malformed frame, not a to-do list of connections."""
NEIGHBOUR_UNPROVEN = 4
"""Connections a link's `neighbour` gossip may have us attempt that are pending or failed: past
that its gossip is ignored, so a link cannot point us at ports of its choosing again and
again (a gossiped vault we reach pays its attempt back)."""
GROUP_VIEW_TTL = 30.0
"""Seconds what a lookup found counts as fresh (membership of groups near it is decided from it
without another lookup)."""
GROUP_VIEWS = 256
"""Lookups' findings kept (oldest dropped first): each covers a region around the looked-up
name, so a few dozen cover a small network's whole name space."""
GROUP_VIEW_COMPLETE = 2
"""A lookup is taken to have found every vault out to the (this x group size)-th closest it
learned: it asked the vaults nearest the name, which know far more than that around it."""
GROUP_LOOKUPS = 16
"""Group lookups running at once; more wait their turn (their messages stay held)."""
GROUP_LOOKUP_ROUNDS = 3
"""Rounds of a group lookup: each asks the closest vaults we know that were not asked yet."""
HELD_MESSAGES = 4096
"""Messages held while their sender's group is looked up, across all lookups: past this a
message needing a lookup is dropped with an event."""
PEER_FRAMES = frozenset({"find", "found", "neighbour"})
"""The peer protocol: only a connection authenticated as a vault may speak it."""


@dataclass(frozen=True)
class Timing:
    """Maintenance cadence, in (possibly simulated) seconds."""

    keepalive: float = 1.0
    liveness_timeout: float = 4.0
    refresh: float = 2.0
    idle_timeout: float = 60.0
    """A connection that sends nothing for this long is closed: vault peers ping every
    `keepalive`, clients every `client.KEEPALIVE`; only abandoned connections go quiet."""


MessageHandler = Callable[[Message], None]


@dataclass
class _Held:
    """Messages waiting on one group lookup, and how far around the group they need to see."""

    radius: int = 0
    decisions: list[tuple[Message, Callable[[], None]]] = field(default_factory=list)


class Vault:
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
        self._conns: dict[Name, list[Connection]] = {}
        self._clients: dict[Name, list[Connection]] = {}
        self._nursery: trio.Nursery | None = None
        self._cancel = trio.CancelScope()
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._requests: dict[int, trio.MemorySendChannel[Any]] = {}
        self._next_request = 0
        self._connecting: set[Name] = set()
        self._gossip_unproven: dict[Connection, int] = {}
        self.group_views = GroupViews(GROUP_VIEW_TTL, GROUP_VIEWS,
                                      GROUP_VIEW_COMPLETE * self.params.group_size)
        self._held: dict[Name, _Held] = {}
        self._held_count = 0
        self._lookup_slots = trio.CapacityLimiter(GROUP_LOOKUPS)
        self._inbox: deque[Message] = deque()
        self._inbox_ready = trio.Event()
        self.batch: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
        """Wraps each batch of local deliveries (the persona host makes it one transaction)."""
        self.handlers: dict[Persona, MessageHandler] = {Persona.ROUTING: self._routing_action}
        self.churn_handlers: list[Callable[[ChurnChange], None]] = []
        self.tick_handlers: list[Callable[[], None]] = [self._expire_seen]
        self.host: PersonaHost | None = None
        self.cache = RelayCache()
        self.running = False
        self.silent = False
        self.messages_in = 0
        self.messages_out = 0
        self.frames_in = 0
        """Frames read from every connection (what `vaultnet bench data` reports per put)."""
        self.dropped = 0
        self.joined = False
        self._remembered: OrderedDict[Name, str] = OrderedDict()
        self._online_here: OrderedDict[Name, None] = OrderedDict()
        """MpidNodes connected to us that announced themselves online through us (bounded by
        the client connections we serve)."""
        self._rejoining = False
        self._heard_floor = 0.0

    # -- public surface -------------------------------------------------------------------

    def close_group(self, name: Name) -> list[Name]:
        """This vault's own view of the group-size closest vaults to `name`."""
        return self.routing.close_group(name)

    def is_responsible(self, name: Name) -> bool:
        return self.routing.is_responsible(name)

    def connections(self) -> int:
        return (sum(len(c) for c in self._conns.values())
                + sum(len(c) for c in self._clients.values()))

    def now(self) -> float:
        return trio.current_time()

    def stored(self) -> list[tuple[Name, str, int]]:
        """What this vault's PmidNode holds: (copy name, kind, size) entries."""
        if self.host is None:
            return []
        return [(c.copy_name, c.kind.value, c.size) for c in self.host.chunks.entries()]

    def emit(self, event: ev.Event) -> None:
        self.bus.emit(event)

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled (see `stop`). Started means listening and joined."""
        with self._cancel:
            try:
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self.address = await self.endpoint.listen(nursery, self._serve_inbound)
                    nursery.start_soon(self._local_pump)
                    await self._join()
                    self.running = True
                    self.emit(ev.VaultUp(self.now(), self.name, self.address))
                    task_status.started()
                    nursery.start_soon(self._maintain)
            finally:
                self.running = False
                with trio.CancelScope(shield=True):
                    await self.endpoint.aclose()
                if self.host is not None:
                    self.host.close()
                self.emit(ev.VaultDown(self.now(), self.name, "stopped"))

    def stop(self) -> None:
        self._cancel.cancel()

    # -- connections ----------------------------------------------------------------------

    def _register(self, conn: Connection) -> bool:
        """Admit a handshaken connection within the budgets; False (and an event) if refused."""
        held = len(self._conns.get(conn.peer, [])) + len(self._clients.get(conn.peer, []))
        reason = ""
        if held >= MAX_CONNECTIONS_PER_PEER:
            reason = f"connection refused: {held} already open from this identity"
        elif conn.role == "client" and (sum(len(c) for c in self._clients.values())
                                        >= MAX_CLIENT_CONNECTIONS):
            reason = "connection refused: client connections full"
        if reason:
            self.emit(ev.FrameRejected(self.now(), self.name, conn.peer.hex()[:16], reason))
            conn.close()
            return False
        if conn.role == "client":
            self._clients.setdefault(conn.peer, []).append(conn)
        else:
            self._conns.setdefault(conn.peer, []).append(conn)
            if self.valid_address(conn.peer_address):
                self._consider_peer(conn.peer, conn.peer_address)
        return True

    def valid_address(self, address: str) -> bool:
        """Whether `address` is one a vault of this testnet could listen on: `sim:N` on the
        simulator, else `host:port` on a loopback address or our own listen host."""
        if self.address.startswith("sim:"):
            return address.startswith("sim:") and address[4:].isdigit()
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            return False
        if host == self.address.rpartition(":")[0]:
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    async def _serve_inbound(self, conn: Connection) -> None:
        if self._register(conn):
            await self._serve(conn)

    def _adopt(self, conn: Connection) -> None:
        """Take over an outbound connection we opened."""
        assert self._nursery is not None
        if self._register(conn):
            self._nursery.start_soon(self._serve, conn)
        else:
            self._nursery.start_soon(conn.aclose)

    async def _serve(self, conn: Connection) -> None:
        """Handle one registered connection until it closes."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.run_writer)
                try:
                    while not conn.closed:
                        with trio.move_on_at(conn.last_active + self.timing.idle_timeout) as idle:
                            frame = await conn.receive()
                        if idle.cancelled_caught:
                            if conn.last_active + self.timing.idle_timeout > self.now():
                                continue  # we sent on it meanwhile (same sum as the deadline)
                            self.emit(ev.FrameRejected(
                                self.now(), self.name, conn.peer.hex()[:16],
                                f"connection closed: silent for {self.timing.idle_timeout:g} s"))
                            break
                        # Then every frame that read brought in, with no checkpoint between.
                        next_frame: dict[str, Any] | None = frame
                        while next_frame is not None and not conn.closed:
                            self.frames_in += 1
                            if not self.silent:
                                self._on_frame(conn, next_frame)
                            next_frame = conn.receive_ready()
                except FrameError as exc:
                    self.emit(ev.FrameRejected(self.now(), self.name, conn.peer.hex()[:16],
                                               str(exc)))
                except ConnectionClosed:
                    pass
                conn.close()
                nursery.cancel_scope.cancel()
        finally:
            await conn.aclose()
            self._forget(conn)

    def _forget(self, conn: Connection) -> None:
        self._gossip_unproven.pop(conn, None)
        if conn.role == "client":
            clients = self._clients.get(conn.peer, [])
            if conn in clients:
                clients.remove(conn)
            if not clients:
                self._clients.pop(conn.peer, None)
                if conn.peer in self._online_here:
                    self._went_offline(conn.peer)
            return
        conns = self._conns.get(conn.peer, [])
        if conn in conns:
            conns.remove(conn)
        if not conns:
            self._conns.pop(conn.peer, None)
            self._lose_peer(conn.peer, "connection closed")

    def _went_offline(self, mpid: Name) -> None:
        """The last connection of an MpidNode that went online through us closed: tell its
        MpidManagers, which hold its messages from now on instead of pushing them here."""
        del self._online_here[mpid]
        if not self.running:
            return
        self.send(Message(src=Authority(self.name, Persona.ROUTING),
                          dst=Authority(mpid, Persona.MPID_MANAGER, group=True),
                          action=Action.OFFLINE,
                          msg_id=derived_id("offline", mpid, repr(self.now()),
                                            self.rng.randbytes(8)),
                          trace_id=bytes(16), body={}, sender=b""))

    def _lose_peer(self, peer: Name, reason: str) -> None:
        for conn in self._conns.pop(peer, []):
            conn.close()
        if trio.current_effective_deadline() == -math.inf:
            # We are being cancelled (this vault or the whole testnet stops): our connections
            # close because we do, not because peers left. Taken as churn, that would
            # re-replicate, in our own records on disk, every copy those peers hold.
            return
        known = peer in self.routing
        change = self.routing.remove(peer)
        if known:
            self.emit(ev.PeerLost(self.now(), self.name, peer, reason))
        if change is not None:
            self._churn(change)
            self._spawn(self._refresh_neighbourhood)
        self._start_rejoining()

    def _consider_peer(self, peer: Name, address: str) -> None:
        self._remember(peer, address)
        change, _evicted = self.routing.add(peer, address)
        if peer in self.routing:
            self.emit(ev.PeerAdded(self.now(), self.name, peer))
        if change is not None:
            self._churn(change)
            if change.added is not None and not self.silent:
                self._gossip_neighbour(change.added, address)

    def _churn(self, change: ChurnChange) -> None:
        self.emit(ev.Churn(self.now(), self.name, change.old, change.new, change.lost,
                           change.added))
        for handler in self.churn_handlers:
            handler(change)

    def _spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        if self._nursery is not None and self.running:
            self._nursery.start_soon(fn, *args)

    async def connect_peer(self, name: Name, address: str) -> bool:
        """Open a routing connection to a vault we want in our table."""
        if name in self._conns or name == self.name or name in self._connecting:
            return name in self._conns
        if len(self._connecting) >= MAX_PENDING_CONNECTS or self._nursery is None:
            return False
        self._connecting.add(name)
        try:
            conn = await self.endpoint.connect(address, expect=name)
        except TransportError:
            return False
        finally:
            self._connecting.discard(name)
        self._adopt(conn)
        return True

    def _send_frame(self, peer: Name, frame: dict[str, Any]) -> bool:
        return self._send_body(peer, wire.pack(frame))

    def _send_body(self, peer: Name, body: bytes) -> bool:
        """Queue a packed frame on the newest open connection to `peer` that takes it."""
        conns = self._conns.get(peer) or self._clients.get(peer, [])
        return any(not conn.closed and conn.send_body(body) for conn in reversed(conns))

    # -- frames ---------------------------------------------------------------------------

    def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        kind = frame.get("t")
        if kind in PEER_FRAMES and conn.role != "vault":
            raise FrameError(f"{kind!r} is a frame between vaults, not from a client")
        if kind == "msg":
            msg = Message.from_wire(frame.get("m"), hop=1)  # the link it crossed to us
            self._on_message(conn, msg, final=frame.get("final") is True)
        elif kind == "ping":
            conn.send({"t": "pong"})
        elif kind == "pong":
            pass
        elif kind == "find":
            target = wire.field(frame, "target", bytes)
            rid = wire.field(frame, "id", int)
            if len(target) != NAME_SIZE:
                raise FrameError("find target is not a name")
            peers = self.routing.closest(target, self.params.proximity_size, include_self=False)
            conn.send({"t": "found", "id": rid,
                       "peers": [[p, self.routing.address(p)] for p in peers]})
        elif kind == "found":
            rid = wire.field(frame, "id", int)
            found = [(name, address) for name, address in _peer_list(frame.get("peers"))
                     if self.valid_address(address)]
            reply = self._requests.pop(rid, None)
            if reply is not None:
                reply.send_nowait(found)
        elif kind == "neighbour":
            self._on_neighbour(conn, _peer_list(frame.get("peers")))
        else:
            raise FrameError(f"unknown frame type {kind!r}")

    def _on_neighbour(self, conn: Connection, peers: list[tuple[Name, str]]) -> None:
        """Connect to gossiped vaults we want as close neighbours, within the link's budget of
        failed attempts: gossip cannot turn us into a port scanner."""
        if len(peers) > NEIGHBOUR_PEERS:
            raise FrameError(f"neighbour frame names {len(peers)} peers")
        for name, address in peers:
            if self._gossip_unproven.get(conn, 0) >= NEIGHBOUR_UNPROVEN:
                return
            if (self.valid_address(address) and self.routing.wants(name)
                    and self._would_be_close(name) and name not in self._conns
                    and name not in self._connecting):
                self._gossip_unproven[conn] = self._gossip_unproven.get(conn, 0) + 1
                self._spawn(self._connect_gossiped, conn, name, address)

    def _would_be_close(self, name: Name) -> bool:
        """Whether `name` would enter our proximity set (what neighbour gossip is about)."""
        prox = self.routing.proximity()
        return (len(prox) < self.params.proximity_size
                or distance(self.name, name) < distance(self.name, prox[-1]))

    async def _connect_gossiped(self, via: Connection, name: Name, address: str) -> None:
        if await self.connect_peer(name, address) and via in self._gossip_unproven:
            self._gossip_unproven[via] -= 1

    def _gossip_neighbour(self, peer: Name, address: str) -> None:
        """Tell our neighbours about a new close vault, so their proximity sets converge fast."""
        for other in self.routing.proximity():
            if other != peer:
                self._send_frame(other, {"t": "neighbour", "peers": [[peer, address]]})

    async def find(self, peer: Name, target: Name) -> list[tuple[Name, str]] | None:
        """Ask `peer` for the vaults it knows closest to `target` (None: it did not answer)."""
        self._next_request += 1
        rid = self._next_request
        send, receive = trio.open_memory_channel[list[tuple[Name, str]]](1)
        self._requests[rid] = send
        try:
            if not self._send_frame(peer, {"t": "find", "id": rid, "target": target}):
                return None
            with trio.move_on_after(FIND_TIMEOUT):
                return await receive.receive()
            return None
        finally:
            self._requests.pop(rid, None)

    # -- joining and maintenance -------------------------------------------------------------

    async def _join(self) -> None:
        """Enter the network through the first bootstrap vault that answers a lookup; `joined`
        says whether one did (a vault with no bootstrap list starts a network of its own)."""
        self.joined = not self.bootstrap
        for address in self.bootstrap:
            if await self._dial(address) and await self.lookup(self.name):
                self.joined = True
                await self._refresh_buckets()
                return

    async def _dial(self, address: str) -> bool:
        """Open a routing connection to whoever listens at `address` (a bootstrap vault)."""
        try:
            conn = await self.endpoint.connect(address)
        except TransportError:
            return False
        self._adopt(conn)
        return True

    async def lookup(self, target: Name) -> bool:
        """Iterative Kademlia lookup: learn, and connect to, the vaults we want near `target`.
        True if any vault answered."""
        asked: set[Name] = set()
        answered = False
        for _ in range(LOOKUP_ROUNDS):
            candidates = [p for p in self.routing.closest(target, LOOKUP_WIDTH * 2, False)
                          if p not in asked][:LOOKUP_WIDTH]
            if not candidates:
                break
            learned = False
            for peer in candidates:
                asked.add(peer)
                found = await self.find(peer, target)
                answered = answered or found is not None
                for name, address in found or []:
                    if self.routing.wants(name) and await self.connect_peer(name, address):
                        learned = True
            if not learned and all(p in asked for p in self.routing.closest(target, 3, False)):
                break
        return answered

    async def _refresh_buckets(self) -> None:
        """Fill far buckets that have room, from the closest bucket outwards."""
        counts = self.routing.bucket_counts()
        if not counts:
            return
        for index in range(max(counts), -1, -1):
            if counts.get(index, 0) < self.params.bucket_size:
                await self.lookup(name_in_bucket(self.name, index, self.rng))

    async def _refresh_neighbourhood(self) -> None:
        prox = self.routing.proximity()
        if not prox:
            return
        peer = prox[self.rng.randrange(len(prox))]
        for name, address in await self.find(peer, self.name) or []:
            if self.routing.wants(name):
                await self.connect_peer(name, address)

    def _remember(self, name: Name, address: str) -> None:
        """Keep a vault we connected to as a way back in, should we lose every peer."""
        self._remembered[name] = address
        self._remembered.move_to_end(name)
        while len(self._remembered) > REMEMBERED_PEERS:
            self._remembered.popitem(last=False)

    def _rejoin_targets(self) -> tuple[list[str], list[tuple[Name, str]]]:
        """Bootstrap addresses and remembered vaults we are not connected to."""
        dialled = {conn.peer_address for conns in self._conns.values() for conn in conns}
        addresses = [a for a in self.bootstrap if a != self.address and a not in dialled]
        named = [(name, address) for name, address in self._remembered.items()
                 if name not in self._conns and self.routing.wants(name)]
        return addresses, named

    def _needs_rejoin(self) -> bool:
        """Short of a close group, with a bootstrap or remembered vault left to try."""
        if self.silent or len(self.routing) >= self.params.group_size:
            return False
        addresses, named = self._rejoin_targets()
        return bool(addresses or named)

    async def _rejoin(self) -> None:
        """One attempt back in: dial every bootstrap and remembered vault we miss at once, then
        look ourselves up and fill the buckets, as a join does."""
        addresses, named = self._rejoin_targets()
        async with trio.open_nursery() as nursery:
            for address in addresses:
                nursery.start_soon(self._dial, address)
            for name, address in named:
                nursery.start_soon(self.connect_peer, name, address)
        if len(self.routing) and await self.lookup(self.name):
            await self._refresh_buckets()

    def _start_rejoining(self) -> None:
        """Start the rejoin loop if we need it and it is not running: a healthy vault runs no
        extra task (and draws nothing from its rng), so seeded runs without losses are as before."""
        if self.running and not self._rejoining and self._needs_rejoin():
            self._rejoining = True
            self._spawn(self._rejoin_loop)

    async def _rejoin_loop(self) -> None:
        """While the table is short of a close group, rejoin with exponential backoff (jittered
        from our seeded rng, so the simulator stays deterministic) capped at REJOIN_BACKOFF_MAX."""
        delay = REJOIN_BACKOFF_MIN
        try:
            while self._needs_rejoin():
                await trio.sleep(delay * (0.5 + 0.5 * self.rng.random()))
                if self._needs_rejoin():
                    self.emit(ev.PersonaEvent(self.now(), self.name, REJOINING, Persona.ROUTING,
                                              self.name, b"", {"peers": len(self.routing),
                                                               "backoff": delay}))
                    await self._rejoin()
                delay = min(delay * 2, REJOIN_BACKOFF_MAX)
        finally:
            self._rejoining = False

    async def _maintain(self) -> None:
        """Keep-alives, liveness, rejoining, and a slow neighbourhood refresh."""
        next_refresh = self.now() + self.timing.refresh * (0.5 + self.rng.random())
        while True:
            asleep_at = self.now()
            await trio.sleep(self.timing.keepalive)
            now = self.now()
            if now - asleep_at - self.timing.keepalive > (self.timing.liveness_timeout
                                                          * STALLED_AFTER):
                self._heard_floor = now
            if self.silent:
                continue
            for tick in self.tick_handlers:
                tick()
            for peer in list(self.routing.peers):
                conns = self._conns.get(peer, [])
                heard = max((c.last_heard for c in conns), default=0.0)
                if now - max(heard, self._heard_floor) > self.timing.liveness_timeout:
                    self._lose_peer(peer, "liveness timeout")
                elif now - heard > self.timing.keepalive:
                    self._send_frame(peer, {"t": "ping"})
            for peer, conns in list(self._conns.items()):
                if peer not in self.routing and self.routing.wants(peer) and conns:
                    self._consider_peer(peer, conns[0].peer_address)
            self._start_rejoining()
            if now >= next_refresh:
                next_refresh = now + self.timing.refresh * (0.5 + self.rng.random())
                await self._refresh_neighbourhood()

    # -- messages -------------------------------------------------------------------------

    def send(self, msg: Message) -> None:
        """Originate a message: sign it, record it, route it."""
        msg = msg.signed(self.identity.sign, self.identity.verify_key, self.name)
        self.messages_out += 1
        self.emit(ev.MessageSent(self.now(), self.name, self._first_hop(msg),
                                 msg.src.persona.value, msg.dst.persona.value, msg.dst.name,
                                 msg.dst.group, msg.action, msg.msg_id, msg.trace_id,
                                 msg.src.name))
        self._route(msg, final=False)

    def _first_hop(self, msg: Message) -> Name:
        target = msg.dst.relay if msg.dst.relay is not None else msg.dst.name
        if target == self.name or (msg.dst.group and self.routing.is_responsible(msg.dst.name)):
            return self.name
        if msg.dst.group and self.routing.next_hop(target) is None:
            return self.name
        if target in self.routing or target in self._clients:
            return target
        return self.routing.next_hop(target) or self.name

    def _on_message(self, conn: Connection, msg: Message, final: bool) -> None:
        """Check a message before it goes anywhere: a client may send only its own requests,
        and every message we may pass on must carry its originator's valid signature (a copy
        our peer sent us as its final destination is attributed by the handshake). The peer's
        own bad message costs its link; a bad message it relayed is dropped with an event (an
        honest vault never relays one, since it checks before forwarding)."""
        if conn.role != "vault":
            _check_client_request(msg, conn.peer, self.name, final)
            if msg.action == "online" and msg.dst.persona is Persona.MPID_MANAGER:
                self._online_here[conn.peer] = None
                while len(self._online_here) > MAX_CLIENT_CONNECTIONS:
                    self._online_here.popitem(last=False)
        if msg.sender == conn.peer:
            if not final:  # a final copy is only delivered here: the handshake attributes it
                msg.check_signature()
        else:
            try:
                msg.check_signature()
            except FrameError as exc:
                self._drop(msg, f"relayed message refused: {exc}")
                return
        # The group lead re-sends a message with the content once it has fetched it: that one
        # is not a duplicate of its content-less first copy.
        key = hashlib.blake2b(
            msg.msg_id + msg.sender + msg.src.name + msg.dst.name + msg.action.encode()
            + (b"F" if final else b"R") + (b"P" if msg.payload else b""),
            digest_size=SEEN_KEY_SIZE).digest()
        now = self.now()
        self._expire_seen()
        if key in self._seen:
            return
        self._seen[key] = now
        while len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        if not final and self._answer_from_cache(msg):
            return
        self._route(msg, final=final)

    def _expire_seen(self) -> None:
        """Drop the seen entries older than SEEN_WINDOW (the table is in arrival order), and
        the relay cache's expired entries: both must shrink when traffic stops."""
        horizon = self.now() - SEEN_WINDOW
        while self._seen and next(iter(self._seen.values())) <= horizon:
            self._seen.popitem(last=False)
        self.cache.expire(self.now())

    def _route(self, msg: Message, final: bool) -> None:
        if msg.hops > self.params.hop_limit:
            self._drop(msg, "hop limit")
            return
        dst = msg.dst
        if final:
            self._deliver_local(msg)
            return
        if dst.relay is not None and dst.relay != self.name:
            self._forward(msg, dst.relay)
            return
        if dst.group:
            # Fan out once we are in the group, or when no one we know is closer (a vault
            # addressing the group for its own name, which it is never part of).
            if self.routing.is_responsible(dst.name) or self.routing.next_hop(dst.name) is None:
                body = b""  # packed once for every member
                for member in self.routing.close_group(dst.name):
                    if member == self.name:
                        self._deliver_local(msg)
                        continue
                    body = body or wire.pack({"t": "msg", "m": msg.to_wire(), "final": True})
                    if not self._send_body(member, body):
                        self._drop(msg, "group member unreachable")
                return
            self._forward(msg, dst.name)
            return
        if dst.name == self.name:
            self._deliver_local(msg)
        elif dst.name in self._clients:
            self._send_frame(dst.name, {"t": "msg", "m": msg.to_wire(), "final": True})
        else:
            self._forward(msg, dst.name)

    def _forward(self, msg: Message, target: Name) -> None:
        hop = target if target in self.routing else self.routing.next_hop(target)
        if hop is None or not self._send_frame(hop, {"t": "msg", "m": msg.to_wire()}):
            self._drop(msg, "no route")

    def _drop(self, msg: Message, reason: str) -> None:
        self.dropped += 1
        self.emit(ev.MessageDropped(self.now(), self.name, msg.action, msg.msg_id, reason,
                                    msg.trace_id))

    def _deliver_local(self, msg: Message) -> None:
        """Queue `msg` for the local pump (never handled here: a handler that sends to its own
        vault queues behind what is waiting instead of recursing)."""
        if len(self._inbox) >= LOCAL_INBOX:
            self._drop(msg, "local inbox full")
            return
        self._inbox.append(msg)
        self._inbox_ready.set()

    async def _local_pump(self) -> None:
        """Handle queued local deliveries in order, up to LOCAL_BATCH inside one `batch`."""
        while True:
            if self._inbox:
                await trio.lowlevel.checkpoint()
            else:
                self._inbox_ready = trio.Event()
                await self._inbox_ready.wait()
            taken = [self._inbox.popleft() for _ in range(min(LOCAL_BATCH, len(self._inbox)))]
            with self.batch():
                for msg in taken:
                    self.messages_in += 1
                    self.emit(ev.MessageReceived(
                        self.now(), self.name, msg.sender, msg.src.persona.value,
                        msg.dst.persona.value, msg.dst.name, msg.dst.group, msg.action,
                        msg.msg_id, msg.trace_id, msg.hops, msg.src.name))
                    self._dispatch_local(msg)

    def _dispatch_local(self, msg: Message) -> None:
        handler = self.handlers.get(msg.dst.persona)
        if handler is None:
            self._drop(msg, f"no {msg.dst.persona.value} here")
            return
        try:
            handler(msg)
        except FrameError as exc:
            self._drop(msg, f"rejected: {exc}")

    # -- who is in a distant group ----------------------------------------------------------

    def view_may_be_incomplete(self, group: Name) -> bool:
        """Whether vaults closer to `group` than those we know may exist: the routing bucket
        `group` falls in is full, so we keep only some of the vaults there."""
        if group == self.name:
            return False
        index = bucket_index(self.name, group)
        return self.routing.bucket_counts().get(index, 0) >= self.params.bucket_size

    def hold_for_group(self, group: Name, radius: int, msg: Message,
                       decide: Callable[[], None]) -> None:
        """Keep `msg` until we know every vault within `radius` of `group` (a lookup, unless
        one that finishes first covers it), then call `decide`, once (bounded: past the limits
        `msg` is dropped with an event)."""
        if self._held_count >= HELD_MESSAGES:
            self._drop(msg, "sender's group unknown and too many messages held")
            return
        if not self.running:
            self._drop(msg, "sender's group unknown while joining")
            return
        waiting = self._held.get(group)
        if waiting is None:
            waiting = self._held[group] = _Held()
            self._spawn(self._learn_group, group)
        waiting.radius = max(waiting.radius, radius)
        waiting.decisions.append((msg, decide))
        self._held_count += 1

    async def _learn_group(self, group: Name) -> None:
        """Ask the vaults we know closest to `group` who they know there (they see it better),
        a few rounds closer each time; then decide what waited for the answer."""
        learned: set[Name] = set()
        try:
            async with self._lookup_slots:
                waiting = self._held[group]
                if self.group_views.covering(group, waiting.radius, self.now()) is None:
                    await self._ask_about(group, learned)
        finally:
            if learned:
                self.group_views.record(group, learned, self.now())
            held = self._held.pop(group)
            self._held_count -= len(held.decisions)
            for msg, decide in held.decisions:
                try:
                    decide()
                except FrameError as exc:
                    self._drop(msg, f"rejected: {exc}")

    async def _ask_about(self, group: Name, learned: set[Name]) -> None:
        """Up to GROUP_LOOKUP_ROUNDS rounds of `find`, until the closest learned stop changing."""
        asked: set[Name] = set()
        for _ in range(GROUP_LOOKUP_ROUNDS):
            candidates = [p for p in self.routing.closest(group, LOOKUP_WIDTH * 2, False)
                          if p not in asked][:LOOKUP_WIDTH]
            if not candidates:
                return
            before = closest(group, learned, self.params.group_size)
            asked.update(candidates)
            async with trio.open_nursery() as nursery:
                for peer in candidates:
                    nursery.start_soon(self._learn_from, peer, group, learned)
            if closest(group, learned, self.params.group_size) == before:
                return

    async def _learn_from(self, peer: Name, group: Name, learned: set[Name]) -> None:
        answer = await self.find(peer, group)
        if answer is not None:
            learned.add(peer)
            learned.update(name for name, _ in answer)

    def _answer_from_cache(self, msg: Message) -> bool:
        """Opportunistic caching: keep chunk content passing by, answer later Gets with it."""
        if msg.action == "get_response" and msg.payload:
            copy = msg.body.get("copy")
            if isinstance(copy, bytes):
                self.cache.offer(copy, msg.payload, self.now())
            return False
        if msg.action != "get" or msg.dst.persona is not Persona.DATA_MANAGER:
            return False
        data = self.cache.get(msg.dst.name, self.now())
        if data is None:
            return False
        self.emit(ev.PersonaEvent(self.now(), self.name, EventKind.CACHE_HIT, Persona.ROUTING,
                                  msg.dst.name, msg.trace_id, {"size": len(data)}))
        self.send(Message(src=Authority(self.name, Persona.ROUTING), dst=msg.src,
                          action=Action.GET_RESPONSE,
                          msg_id=derived_id("get_response", msg.msg_id),
                          trace_id=msg.trace_id, body={"copy": msg.dst.name, "ok": True,
                                                       "reason": "cached"},
                          sender=self.name, payload=data))
        return True

    def _routing_action(self, msg: Message) -> None:
        """Routing-level probes used by tests and the dashboard: delivery is the whole effect."""
        if msg.action not in ("probe",):
            raise FrameError(f"unknown routing action {str(msg.action)!r}")

    def routing_authority(self, name: Name | None = None, group: bool = False) -> Authority:
        return Authority(name or self.name, Persona.ROUTING, group)


def _check_client_request(msg: Message, client: Name, relay: Name, final: bool) -> None:
    """Raise FrameError unless `msg` is `client`'s own request to a manager group, replied to
    through us: a client never relays, never speaks for a group, never delivers directly."""
    if (final or msg.sender != client or msg.src.name != client or msg.src.group
            or msg.src.persona not in CLIENT_PERSONAS or msg.src.relay != relay
            or msg.action not in CLIENT_ACTIONS or not msg.dst.group):
        raise FrameError(f"a client may send only its own requests (got {str(msg.action)!r} "
                         f"from {msg.src})")


def _peer_list(raw: Any) -> list[tuple[Name, str]]:
    if not isinstance(raw, list) or len(raw) > 64:
        raise FrameError("peer list malformed")
    peers = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], bytes)
                and len(item[0]) == NAME_SIZE and isinstance(item[1], str)):
            raise FrameError("peer entry malformed")
        peers.append((item[0], item[1]))
    return peers


def closest_of(target: Name, vaults: list[Vault], k: int) -> list[Name]:
    """Brute-force truth over a set of live vaults (tests and the testnet's oracle)."""
    return closest(target, [v.name for v in vaults if v.name != target], k)

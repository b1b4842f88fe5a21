"""The in-memory simulated network: seeded latency, drop, duplicate and partition.

All deliveries go through one scheduler task ordered by (delivery time, sequence number), so with
trio's MockClock and deterministic task scheduling a seed reproduces a run exactly. A frame costs
no task switch of its own: the sending task puts it on the scheduler's heap (no writer task), and
at its due time (rounded up to the config's tick, so a busy network's frames come in batches) the
scheduler hands it straight to the receiving connection's handling (`Connection.push_frames`; no
reader task), everything those handlers send going out once per connection. Connections
run the same encrypted channel as on TCP (ephemeral keys drawn from each endpoint's seeded rng,
so the sealed bytes reproduce too), so malformed input takes the same path as on TCP. A frame the
link model drops or duplicates on an established channel breaks its counter: the receiving end
refuses the next frame and closes the connection, as a real stream that lost bytes would.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import nacl.public
import trio

from vaultnet.identity import Identity
from vaultnet.transport.base import (
    WRITE_BATCH,
    Connection,
    ConnectionClosed,
    ConnectionHandler,
    Endpoint,
    FrameStream,
    HandshakeError,
    TransportError,
)
from vaultnet.transport.handshake import handshake
from vaultnet.wire import FrameError

INBOX_LIMIT = 50_000
_EOF = b""


@dataclass
class LinkModel:
    """How frames cross one direction of a link."""

    latency: float
    drop: float = 0.0
    duplicate: float = 0.0


@dataclass
class SimConfig:
    """Link behaviour for a simulated network: latency range, drop/duplicate rates, and the
    tick delivery times are rounded up to."""
    min_latency: float = 0.002
    max_latency: float = 0.020
    drop: float = 0.0
    duplicate: float = 0.0
    tick: float = 0.001
    """Frames are delivered on multiples of this (0: at their exact due time): frames due within
    one tick are handled in one go, so a busy network costs one simulator wake per tick
    instead of one per frame. A link keeps its order (its latency is fixed)."""


class SimStream(FrameStream):
    """One end of a simulated link; bodies cross it through the network's scheduler."""

    direct = True
    needs_writer = False

    def __init__(self, net: SimNetwork, local: str, remote: str) -> None:
        self._net = net
        self.local = local
        self.remote = remote
        self.peer: SimStream | None = None
        self._send, self._receive = trio.open_memory_channel[bytes](INBOX_LIMIT)
        self._receiver: Callable[[bytes], None] | None = None
        self.closed = False

    def _deliver(self, body: bytes) -> None:
        if self._receiver is not None:
            self._push(self._receiver, body)
            return
        try:
            self._send.send_nowait(body)
        except trio.WouldBlock:
            self._net.overflowed += 1
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass  # the receiving end already closed: the frame is lost, as on a real link

    async def send_bodies(self, bodies: list[bytes]) -> None:
        """Schedule each body for delivery to the peer end after the link's simulated latency."""
        self.write_nowait(bodies)
        await trio.lowlevel.checkpoint()

    def _push(self, receiver: Callable[[bytes], None], body: bytes) -> None:
        """Hand one delivered body (b"": the end of the stream) to the pushed-to receiver."""
        if not self.closed:
            self.closed = body is _EOF
            receiver(body)

    def push_to(self, receiver: Callable[[bytes], None]) -> bool:
        """From now on hand each body to `receiver` when the simulator delivers it (those
        queued already first), from the simulator's task: no reader task wakes per frame."""
        while not self.closed:
            try:
                body = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
            self._push(receiver, body)
        self._receiver = receiver
        return True

    def write_nowait(self, bodies: list[bytes]) -> bool:
        """Schedule the bodies from the sending task (no writer task hop); nothing is left for
        `flush`, since the simulator takes everything at once."""
        if self.closed or self.peer is None:
            raise ConnectionClosed("stream closed")
        for body in bodies:
            self._net._schedule(self, self.peer, body)
        return True

    async def receive_body(self) -> bytes:
        """The next body delivered by the simulator; ConnectionClosed once the link ends."""
        if self.closed:
            raise ConnectionClosed("stream closed")
        try:
            body = await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError) as exc:
            raise ConnectionClosed("stream closed") from exc
        if body is _EOF:
            self.closed = True
            raise ConnectionClosed("end of stream")
        return body

    def ready_body(self) -> bytes | None:
        """A body already delivered, without waiting (None if none is queued)."""
        if self.closed or self._receiver is not None:
            return None
        try:
            body = self._receive.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return None
        if body is _EOF:
            self.closed = True  # receive_body raises ConnectionClosed next
            return None
        return body

    async def aclose(self) -> None:
        """Close this end and schedule an end-of-stream to the peer, as a TCP close would."""
        if not self.closed:
            self.closed = True
            if self.peer is not None:
                self._net._schedule(self, self.peer, _EOF)
            self._receive.close()
        await trio.lowlevel.checkpoint()


_Delivery = tuple[float, int, SimStream, bytes]
"""(due time, sequence number, receiving end, body): a plain tuple, so the heap compares
in C (the sequence number is unique, so the stream is never compared)."""


class SimNetwork:
    """Owns the simulated links; run `run()` in a nursery before vaults use it."""

    def __init__(self, seed: int = 0, config: SimConfig | None = None) -> None:
        self.rng = random.Random(seed)
        self.config = config or SimConfig()
        self._listeners: dict[str, tuple[SimEndpoint, ConnectionHandler, trio.Nursery]] = {}
        self._links: dict[tuple[str, str], LinkModel] = {}
        self._blocked: set[tuple[str, str]] = set()
        self._heap: list[_Delivery] = []
        self._seq = 0
        self._wake = trio.Event()
        self._wake_at = math.inf
        """When `run` wakes next unless woken: a frame due later needs no wake."""
        self._next_port = 1
        self.delivered = 0
        self.dropped = 0
        self.overflowed = 0

    def new_address(self) -> str:
        """A fresh unique `sim:N` address for a listener."""
        address = f"sim:{self._next_port}"
        self._next_port += 1
        return address

    def endpoint(self, identity: Identity, role: str = "vault",
                 network_key: bytes | None = None) -> SimEndpoint:
        """An endpoint on this network; a vault needs `network_key` to reach other vaults."""
        return SimEndpoint(self, identity, role, network_key)

    def link(self, a: str, b: str) -> LinkModel:
        """The model of the a→b direction, created (seeded) on first use."""
        model = self._links.get((a, b))
        if model is None:
            c = self.config
            model = LinkModel(self.rng.uniform(c.min_latency, c.max_latency), c.drop, c.duplicate)
            self._links[(a, b)] = model
        return model

    def set_loss(self, drop: float, duplicate: float) -> None:
        """From now on every link, existing or new, drops and duplicates frames with these
        probabilities (a lossy spell; 0, 0 ends it). On an established channel a lost or
        repeated frame closes the connection, as on a real stream."""
        self.config = dataclasses.replace(self.config, drop=drop, duplicate=duplicate)
        for model in self._links.values():
            model.drop, model.duplicate = drop, duplicate

    def partition(self, side_a: list[str], side_b: list[str]) -> None:
        """Drop everything between the two sets of addresses until `heal`."""
        for a in side_a:
            for b in side_b:
                self._blocked.add((a, b))
                self._blocked.add((b, a))

    def heal(self) -> None:
        """Lift every partition, so all links carry frames again."""
        self._blocked.clear()

    def _schedule(self, source: SimStream, target: SimStream, body: bytes) -> None:
        model = self.link(source.local, source.remote)
        if body is not _EOF:
            cut = bool(self._blocked) and (
                (_host(source.local), _host(source.remote)) in self._blocked)
            if cut or (model.drop and self.rng.random() < model.drop):
                self.dropped += 1
                return
            copies = 2 if model.duplicate and self.rng.random() < model.duplicate else 1
        else:
            copies = 1
        at = WRITE_BATCH.now() + model.latency
        tick = self.config.tick
        if tick:
            at = math.ceil(at / tick) * tick
        for _ in range(copies):
            self._seq += 1
            heapq.heappush(self._heap, (at, self._seq, target, body))
        if at < self._wake_at:
            self._wake.set()

    async def run(self) -> None:
        """Deliver frames at their time, in (time, sequence) order, each instant's frames in
        one go (handled there and then by the connections they are pushed to)."""
        while True:
            self._wake_at = self._heap[0][0] if self._heap else math.inf
            now = trio.current_time()
            if now < self._wake_at:
                self._wake = trio.Event()
                with trio.move_on_at(self._wake_at):
                    await self._wake.wait()
                continue
            self._wake_at = -math.inf  # frames scheduled while we deliver are due later
            with WRITE_BATCH.open():  # what the handlers send goes out once per connection
                while self._heap and self._heap[0][0] <= now:
                    _, _, target, body = heapq.heappop(self._heap)
                    target._deliver(body)
                    self.delivered += 1

    async def _open(self, client: SimEndpoint, address: str,
                    expect: bytes | None) -> Connection:
        entry = self._listeners.get(address)
        if entry is None:
            raise TransportError(f"cannot connect to {address}: nothing listening")
        server, handler, nursery = entry
        # the dialling side's stream is named after its listener, so a partition cuts it too
        local = f"{client.address or 'client'}/{self.new_address()}"
        ours = SimStream(self, local, address)
        theirs = SimStream(self, address, local)
        ours.peer, theirs.peer = theirs, ours

        async def serve() -> None:
            try:
                conn = await handshake(theirs, server.identity, server.role, server.address,
                                       False, server.ephemeral(), server.network_key)
            except (HandshakeError, FrameError, ConnectionClosed) as exc:
                if isinstance(exc, HandshakeError):
                    server.last_refusal = exc
                await theirs.aclose()
                return
            try:
                await handler(conn)
            finally:
                await conn.aclose()

        nursery.start_soon(serve)
        try:
            return await handshake(ours, client.identity, client.role, client.address, True,
                                   client.ephemeral(), client.network_key, expect)
        except (FrameError, ConnectionClosed) as exc:
            await ours.aclose()
            raise HandshakeError(f"handshake with {address} failed: {exc}") from exc
        except HandshakeError:
            await ours.aclose()
            raise


def _host(address: str) -> str:
    """The listening address a stream end belongs to (`sim:3/sim:9` belongs to `sim:3`)."""
    return address.split("/", 1)[0]


class SimEndpoint(Endpoint):
    """A vault's or client's attachment to the simulator; its rng (seeded by its name) supplies
    the handshake's ephemeral keys, so a seeded run reproduces byte for byte."""

    reproducible = True

    def __init__(self, net: SimNetwork, identity: Identity, role: str,
                 network_key: bytes | None = None) -> None:
        self.net = net
        self.identity = identity
        self.role = role
        self.network_key = network_key
        self.rng = random.Random(identity.name)
        self.address = ""
        self.last_refusal: HandshakeError | None = None
        """Why the latest inbound handshake was refused (e.g. AdmissionRefused)."""

    def ephemeral(self) -> nacl.public.PrivateKey:
        """A fresh X25519 key for one handshake, drawn from the seeded rng."""
        return nacl.public.PrivateKey(self.rng.randbytes(32))

    async def listen(self, nursery: trio.Nursery, handler: ConnectionHandler) -> str:
        """Register with the simulated network under a new `sim:N` address."""
        self.address = self.net.new_address()
        self.net._listeners[self.address] = (self, handler, nursery)
        return self.address

    async def connect(self, address: str, expect: bytes | None = None) -> Connection:
        """Open a simulated link to `address` and run the real handshake over it."""
        return await self.net._open(self, address, expect)

    async def aclose(self) -> None:
        """Stop accepting: unregister our address from the simulated network."""
        self.net._listeners.pop(self.address, None)
        await trio.lowlevel.checkpoint()


def deterministic_scheduling(seed: int) -> None:
    """Make trio's scheduler order reproducible for this process (simulator runs only).

    Trio shuffles each batch of runnable tasks; with this flag it sorts them by creation order
    and shuffles with a seeded generator instead. This is the same private switch pytest-trio
    and Hypothesis flip for reproducible tests; nothing else in trio changes.
    """
    run_module = trio._core._run
    # trio declares the flag Final; flipping it is the point (see above)
    run_module._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    run_module._r.seed(seed)

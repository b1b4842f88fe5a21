"""What a vault needs from a transport: authenticated, encrypted connections carrying msgpack
frames.

Two transports implement it — real TCP on 127.0.0.1 and the in-memory simulator — and both hand
the vault the same `Connection`, so vault code cannot tell them apart. A transport's
`FrameStream` only moves length-delimited bodies; the `Connection` seals and opens them with the
channel's `FrameProtector` (see `vaultnet.transport.channel`).
"""

from __future__ import annotations

import abc
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import trio

from vaultnet import wire
from vaultnet.xor import Name

MAX_QUEUED_BYTES = 64 * 1024 * 1024
"""A connection whose unsent frames exceed this is closed: a peer that cannot keep up is treated
as gone rather than allowed to grow our memory."""
MAX_QUEUED_FRAMES = 20_000


class TransportError(Exception):
    """A connection could not be made or was refused."""


class HandshakeError(TransportError):
    """The peer did not prove it owns the key its name is derived from."""


class AdmissionRefused(HandshakeError):
    """A vault-to-vault handshake where the two sides do not hold the same network key: the
    other side is not (or we are not) a member of this testnet."""


class ConnectionClosed(TransportError):
    """The other end went away."""


class FrameProtector(Protocol):
    """What a connection needs of an established channel (`vaultnet.transport.channel` makes
    one): seal each outgoing body, open each incoming one."""

    def seal(self, body: bytes) -> bytes:
        """The next outgoing body, sealed."""
        ...

    def open(self, sealed: bytes) -> bytes:
        """The next incoming body; FrameError unless it is the frame the peer sealed next."""
        ...


class FrameStream(abc.ABC):
    """One end of a link that moves frame bodies (sealed by the channel once it is up)."""

    @abc.abstractmethod
    async def send_bodies(self, bodies: list[bytes]) -> None:
        """Send several frame bodies in one write."""

    @abc.abstractmethod
    async def receive_body(self) -> bytes:
        """The next frame body; FrameError if its length is refused, ConnectionClosed at end of
        stream."""

    def ready_body(self) -> bytes | None:
        """A frame body already received, without waiting (None: await `receive_body`); lets a
        reader take every frame one read brought in without a checkpoint per frame."""
        return None

    def push_to(self, receiver: Callable[[bytes], None]) -> bool:
        """Hand every body from now on (those received already first) to `receiver` as it
        arrives, and b"" at the end of the stream, instead of keeping them for `receive_body`:
        the simulator delivers straight to the connection's handling, without waking a reader
        task per frame. False if the stream cannot (TCP: its reader task reads)."""
        return False

    direct = False
    """Whether `write_nowait` works: the connection then writes a frame from the task that
    sends it when nothing waits before it, instead of waking its writer task (TCP, and the
    simulator, which takes every body at once)."""

    def write_nowait(self, bodies: list[bytes]) -> bool:
        """Accept bodies and send what the stream takes now, without waiting; True if nothing
        is left for `flush`. ConnectionClosed if the stream failed. Only when `direct`."""
        raise NotImplementedError

    def pending(self) -> bool:
        """Whether bytes accepted by `write_nowait` still wait for `flush`."""
        return False

    needs_writer = True
    """Whether a connection on this stream needs its writer task (`Connection.run_writer`):
    not where `write_nowait` always takes everything (the simulator), so nothing is ever left
    for the writer to send."""

    async def flush(self) -> None:
        """Send the bytes `write_nowait` accepted but could not send yet."""
        raise NotImplementedError

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the stream; later sends and receives raise ConnectionClosed."""
        ...


class WriteBatch:
    """While a batch is open, frames sent on direct streams wait in their connection's queue,
    and each connection writes all of its own in one go when the batch closes: a batch of
    handled messages (or of frames one read brought in) costs one write per peer, which that
    peer reads in one go, instead of one per frame. Batches are synchronous stretches of one
    task (nothing awaits inside one), so one per process serves every vault in it; what
    happens in one happens at one instant (`now`), so the clock is read once per batch."""

    def __init__(self) -> None:
        self._depth = 0
        self._held: dict[Connection, None] = {}
        self._instant = 0.0

    def open(self) -> WriteBatch:
        """Hold direct writes until the outermost open batch closes (`with WRITE_BATCH.open()`:
        the batch is its own plain context manager, entered once per read and per batch of
        handled messages)."""
        return self

    def __enter__(self) -> None:
        if not self._depth:
            self._instant = trio.current_time()
        self._depth += 1

    def now(self) -> float:
        """trio's clock: read when the open batch began (a batch takes no simulated time, and
        a message's handling a few real milliseconds at most), else now. The clock was read
        about eight times a handled message, about 5% of its cost on the simulator."""
        return self._instant if self._depth else trio.current_time()

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if not self._depth:
            held, self._held = self._held, {}
            for conn in held:
                conn.write_queued()

    def hold(self, conn: Connection) -> bool:
        """Whether `conn`'s next frame waits for the batch to close (one is open)."""
        if self._depth:
            self._held[conn] = None
        return bool(self._depth)


WRITE_BATCH = WriteBatch()
"""The process's write batch (`LocalDelivery` and `Links` open it around their batches)."""


class Connection:
    """An authenticated, encrypted link to one peer with a single writer task.

    `send` never blocks: frames go to a bounded queue. On a direct stream (TCP, the simulator)
    the sending task seals and writes the queue at once (or when the open `WriteBatch` closes);
    otherwise the writer task seals and sends everything queued in one write. `receive` opens
    each body; one that fails authentication is a FrameError, and the caller closes the
    connection. On the simulator frames are pushed to a handler instead (`push_frames`).
    """

    def __init__(self, stream: FrameStream, protector: FrameProtector, peer: Name,
                 peer_key: bytes, peer_address: str, role: str, outbound: bool) -> None:
        self.stream = stream
        self.protector = protector
        self.peer = peer
        self.peer_key = peer_key
        self.peer_address = peer_address
        self.role = role
        self.outbound = outbound
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._wake = trio.Event()
        self._closed = trio.Event()
        self.closed = False
        self.frames_sent = 0
        self.frames_received = 0
        self.last_heard = trio.current_time()
        self.last_sent = self.last_heard

    @property
    def last_active(self) -> float:
        """When a frame last went either way: a link used in one direction only (each side
        sends on the newest of two links between them) is in use, not idle."""
        return max(self.last_heard, self.last_sent)

    def send(self, frame: dict[str, Any]) -> bool:
        """Queue a frame; False (and the connection closed) if the peer is hopelessly behind."""
        return self.send_body(wire.pack(frame))

    def send_body(self, body: bytes) -> bool:
        """`send` of a frame packed already (one packing serves a message sent to several
        peers)."""
        if self.closed:
            return False
        if len(body) > wire.MAX_FRAME_SIZE:
            raise wire.FrameError(f"refusing to send a {len(body)}-byte frame")
        if (self._queued_bytes + len(body) > MAX_QUEUED_BYTES
                or len(self._queue) >= MAX_QUEUED_FRAMES):
            self.close()
            return False
        self.last_sent = WRITE_BATCH.now()
        self._queue.append(body)
        self._queued_bytes += len(body)
        if not self.stream.direct:
            self._wake.set()
        elif not WRITE_BATCH.hold(self):
            self.write_queued()
        return not self.closed

    def write_queued(self) -> None:
        """On a direct stream, seal and write what is queued now, from the calling task (the
        writer flushes what the socket does not take, and writes it all if bytes still wait
        before it)."""
        if self.closed or not self._queue:
            return
        if self.stream.pending():
            self._wake.set()
            return
        batch = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        try:
            if not self.stream.write_nowait([self.protector.seal(body) for body in batch]):
                self._wake.set()
        except ConnectionClosed:
            self.close()
            return
        self.frames_sent += len(batch)

    async def run_writer(self) -> None:
        """Drain the queue until closed; returns when the connection closes."""
        stream = self.stream
        try:
            while not self.closed:
                if stream.pending():
                    await stream.flush()
                    continue
                if not self._queue:
                    self._wake = trio.Event()
                    await self._wake.wait()
                    continue
                batch = list(self._queue)
                self._queue.clear()
                self._queued_bytes = 0
                await stream.send_bodies([self.protector.seal(body) for body in batch])
                self.frames_sent += len(batch)
        except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed, OSError):
            self.close()

    async def receive(self) -> dict[str, Any]:
        """The next frame from the peer: FrameError if it fails authentication or decoding,
        ConnectionClosed at the end of the stream."""
        return self._opened(await self.stream.receive_body())

    def receive_ready(self) -> dict[str, Any] | None:
        """The next frame if one was received already (None: await `receive`); same errors."""
        body = self.stream.ready_body()
        return None if body is None else self._opened(body)

    def _opened(self, body: bytes) -> dict[str, Any]:
        """Open and decode one received body, and note that the peer was heard."""
        frame = wire.unpack(self.protector.open(body))
        self.frames_received += 1
        self.last_heard = WRITE_BATCH.now()
        return frame

    def push_frames(self, on_frame: Callable[[dict[str, Any]], None],
                    on_error: Callable[[wire.FrameError], None]) -> bool:
        """Have the stream hand each frame to `on_frame` as it arrives, where it can (see
        `FrameStream.push_to`); a frame that fails authentication or decoding, or that
        `on_frame` refuses with FrameError, goes to `on_error` and closes the connection, and
        the end of the stream closes it. False: the caller reads with `receive` instead."""

        def pushed(body: bytes) -> None:
            if self.closed:
                return
            if not body:
                self.close()
                return
            try:
                on_frame(self._opened(body))
            except wire.FrameError as exc:
                on_error(exc)
                self.close()

        return self.stream.push_to(pushed)

    async def wait_closed(self) -> None:
        """Return once the connection is closed (what a pushed connection's server awaits)."""
        await self._closed.wait()

    def close(self) -> None:
        """Mark closed and wake the writer so it stops; frames still queued are not sent."""
        self.closed = True
        self._wake.set()
        self._closed.set()

    async def aclose(self) -> None:
        """Stop the writer and close the stream, shielded so a cancelled caller still closes."""
        self.close()
        with trio.CancelScope(shield=True):
            await self.stream.aclose()


ConnectionHandler = Callable[[Connection], Awaitable[None]]


class Endpoint(abc.ABC):
    """A vault's (or client's) attachment to a transport."""

    address: str
    reproducible = False
    """Whether runs on this transport replay from a seed (the simulator): randomness a vault
    draws must then come from its seeded generator, not the OS."""

    @abc.abstractmethod
    async def listen(self, nursery: trio.Nursery, handler: ConnectionHandler) -> str:
        """Accept connections in `nursery`, each handed to `handler`; returns the address."""

    @abc.abstractmethod
    async def connect(self, address: str, expect: bytes | None = None) -> Connection:
        """An authenticated outbound connection (to the vault named `expect`, if given), or
        TransportError."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Stop listening and release the endpoint's sockets or simulated address."""
        ...

"""Real TCP on 127.0.0.1: the default transport for the launcher and the dashboard."""

from __future__ import annotations

import socket
import threading

import nacl.public
import trio

from vaultnet import wire
from vaultnet.identity import Identity
from vaultnet.transport.base import (
    Connection,
    ConnectionClosed,
    ConnectionHandler,
    Endpoint,
    FrameStream,
    HandshakeError,
    TransportError,
)
from vaultnet.transport.channel import TAG_SIZE
from vaultnet.transport.handshake import handshake
from vaultnet.transport.waiting import Waiting

CONNECT_TIMEOUT = 5.0
MAX_CONNECTIONS = 512
MAX_HANDSHAKES = 16
"""Inbound connections a listener handshakes at once; a new one pushes out the oldest, so
silent sockets hold at most this many descriptors a vault (`runtime/descriptors.py`) and
cannot keep a dialler out for long."""
RECEIVE_SIZE = 256 * 1024
"""Bytes one socket read may take, into the thread's receive buffer (`_receive_buffer`)."""
READS_PER_CHECKPOINT = 16
"""Socket reads that found data waiting before a reader yields to other tasks anyway."""


_buffers = threading.local()


def _receive_buffer() -> bytearray:
    """This thread's buffer for socket reads, made once and reused: `socket.recv(RECEIVE_SIZE)`
    made a new 256 KiB object for every read (and for every read that found nothing), which is
    an mmap, an mremap to shrink it and a munmap each time (100 puts on 32 vaults: 166,000
    mmaps and 81,000 mremaps). What is read is copied into the connection's decoder at once,
    so one buffer serves every connection of a thread (one per thread, since a read releases
    the GIL)."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(RECEIVE_SIZE)
    return buffer


def parse_address(address: str) -> tuple[str, int]:
    """'127.0.0.1:PORT' → (host, port); TransportError for anything else."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise TransportError(f"not a host:port address: {address!r}")
    return host or "127.0.0.1", int(port)


class TcpFrameStream(FrameStream):
    """Length-prefixed bodies on a TCP socket (a sealed body is a frame plus its tag).

    The socket is taken out of trio's stream and used directly, non-blocking, waiting with
    `trio.lowlevel.wait_readable` / `wait_writable` only when the kernel has nothing to give or
    no room: a frame then costs one system call each way, and a send that fits the socket buffer
    is written at once by the task that sends it (`write_nowait`), without waking a writer task.
    """

    direct = True

    def __init__(self, stream: trio.SocketStream) -> None:
        self._sock = socket.socket(fileno=stream.socket.detach())
        self._sock.setblocking(False)
        self._decoder = wire.FrameDecoder(max_frame=wire.MAX_FRAME_SIZE + TAG_SIZE)
        self._out = bytearray()
        """Bytes accepted for sending that the socket has not taken yet."""
        self._reads = 0

    @property
    def socket(self) -> socket.socket:
        """The connected socket (its addresses, for diagnostics and tests)."""
        return self._sock

    def write_nowait(self, bodies: list[bytes]) -> bool:
        """Queue each body behind its length header and write what the socket takes now;
        True if nothing is left for `flush`. ConnectionClosed if the socket failed."""
        out = self._out
        for body in bodies:
            out += wire.HEADER.pack(len(body))
            out += body
        self._push()
        return not out

    def pending(self) -> bool:
        """Whether written bytes wait for the socket (`flush` sends them)."""
        return bool(self._out)

    def _push(self) -> None:
        """One non-blocking send of what waits."""
        try:
            sent = self._sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            raise ConnectionClosed(str(exc)) from exc
        del self._out[:sent]

    async def flush(self) -> None:
        """Send what waits, waiting for room in the socket as often as needed."""
        while self._out:
            try:
                await trio.lowlevel.wait_writable(self._sock)
            except (trio.ClosedResourceError, OSError) as exc:
                raise ConnectionClosed(str(exc)) from exc
            self._push()

    async def send_bodies(self, bodies: list[bytes]) -> None:
        """Write each body behind its length header, in as few sends as the socket allows."""
        if self.write_nowait(bodies):
            await trio.lowlevel.checkpoint()
        else:
            await self.flush()

    async def receive_body(self) -> bytes:
        """Read from the socket until a whole length-prefixed body has arrived (a checkpoint
        every READS_PER_CHECKPOINT reads that did not wait, so a peer that always has more to
        send cannot keep the other tasks from running)."""
        buffer = _receive_buffer()
        while True:
            body = self._decoder.next_body()
            if body is not None:
                return body
            self._reads += 1
            if self._reads % READS_PER_CHECKPOINT == 0:
                # Before the read, so that a cancellation here leaves nothing half-consumed.
                await trio.lowlevel.checkpoint()
            try:
                count = self._sock.recv_into(buffer)
            except (BlockingIOError, InterruptedError):
                try:
                    await trio.lowlevel.wait_readable(self._sock)
                except (trio.ClosedResourceError, OSError) as exc:
                    raise ConnectionClosed(str(exc)) from exc
                continue
            except OSError as exc:
                raise ConnectionClosed(str(exc)) from exc
            if not count:
                raise ConnectionClosed("end of stream")
            self._decoder.feed(memoryview(buffer)[:count])

    def ready_body(self) -> bytes | None:
        """A body already buffered from an earlier read, without touching the socket."""
        return self._decoder.next_body()

    async def aclose(self) -> None:
        """Close the socket (a task waiting on it gets ConnectionClosed)."""
        if self._sock.fileno() != -1:
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()
        await trio.lowlevel.checkpoint()


class TcpEndpoint(Endpoint):
    """A vault's or client's TCP attachment. A vault-role endpoint needs the testnet's
    `network_key` to reach (or be reached by) other vaults; clients need none."""

    def __init__(self, identity: Identity, role: str = "vault", host: str = "127.0.0.1",
                 port: int = 0, network_key: bytes | None = None) -> None:
        self.identity = identity
        self.role = role
        self.network_key = network_key
        self._host = host
        self._port = port
        self.address = ""
        self._listeners: list[trio.SocketListener] = []
        self._active = 0
        self.handshaking = Waiting(MAX_HANDSHAKES)
        """Inbound connections still handshaking (at most MAX_HANDSHAKES)."""
        self.refused = 0
        self.last_refusal: HandshakeError | None = None
        """Why the latest inbound handshake was refused (e.g. AdmissionRefused)."""

    async def listen(self, nursery: trio.Nursery, handler: ConnectionHandler) -> str:
        """Listen on our host and port; each accepted stream is handshaken, then handled."""
        self._listeners = await trio.open_tcp_listeners(self._port, host=self._host)
        sockname = self._listeners[0].socket.getsockname()
        self.address = f"{sockname[0]}:{sockname[1]}"

        async def accept(stream: trio.SocketStream) -> None:
            if self._active >= MAX_CONNECTIONS:
                self.refused += 1
                await stream.aclose()
                return
            self._active += 1
            frames = TcpFrameStream(stream)
            conn: Connection | None = None
            try:
                with trio.CancelScope() as pushed_out:
                    self.handshaking.admit(pushed_out)
                    try:
                        conn = await handshake(frames, self.identity, self.role, self.address,
                                               False, nacl.public.PrivateKey.generate(),
                                               self.network_key)
                    except (HandshakeError, wire.FrameError, ConnectionClosed,
                            trio.BrokenResourceError) as exc:
                        if isinstance(exc, HandshakeError):
                            self.last_refusal = exc
                    finally:
                        self.handshaking.release(pushed_out)
                if conn is None:  # refused, failed, or pushed out by a newer connection
                    self.refused += 1
                    return
                await handler(conn)
            finally:
                self._active -= 1
                await (frames if conn is None else conn).aclose()

        await nursery.start(trio.serve_listeners, accept, self._listeners)
        return self.address

    async def connect(self, address: str, expect: bytes | None = None) -> Connection:
        """Dial `address` over TCP (with a timeout) and run the handshake on the new stream."""
        host, port = parse_address(address)
        with trio.move_on_after(CONNECT_TIMEOUT):
            try:
                stream = await trio.open_tcp_stream(host, port)
            except OSError as exc:
                raise TransportError(f"cannot connect to {address}: {exc.strerror or exc}") from exc
            frames = TcpFrameStream(stream)
            try:
                return await handshake(frames, self.identity, self.role,
                                       self.address, True, nacl.public.PrivateKey.generate(),
                                       self.network_key, expect)
            except (wire.FrameError, ConnectionClosed, trio.BrokenResourceError) as exc:
                await frames.aclose()
                raise HandshakeError(f"handshake with {address} failed: {exc}") from exc
            except BaseException:
                await frames.aclose()
                raise
        raise TransportError(f"timed out connecting to {address}")

    async def aclose(self) -> None:
        """Close every TCP listener."""
        for listener in self._listeners:
            await listener.aclose()

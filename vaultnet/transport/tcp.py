"""Real TCP on 127.0.0.1: the default transport for the launcher and the dashboard."""

from __future__ import annotations

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

CONNECT_TIMEOUT = 5.0
MAX_CONNECTIONS = 512
RECEIVE_SIZE = 256 * 1024


def parse_address(address: str) -> tuple[str, int]:
    """'127.0.0.1:PORT' → (host, port); TransportError for anything else."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise TransportError(f"not a host:port address: {address!r}")
    return host or "127.0.0.1", int(port)


class TcpFrameStream(FrameStream):
    """Length-prefixed bodies on a TCP stream (a sealed body is a frame plus its tag)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._decoder = wire.FrameDecoder(max_frame=wire.MAX_FRAME_SIZE + TAG_SIZE)

    async def send_bodies(self, bodies: list[bytes]) -> None:
        """Write each body behind its length header, all in one send."""
        parts = []
        for body in bodies:
            parts.append(wire.HEADER.pack(len(body)))
            parts.append(body)
        await self._stream.send_all(b"".join(parts))

    async def receive_body(self) -> bytes:
        """Read from the socket until a whole length-prefixed body has arrived."""
        while True:
            body = self._decoder.next_body()
            if body is not None:
                return body
            try:
                data = await self._stream.receive_some(RECEIVE_SIZE)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                raise ConnectionClosed(str(exc)) from exc
            if not data:
                raise ConnectionClosed("end of stream")
            self._decoder.feed(data)

    def ready_body(self) -> bytes | None:
        """A body already buffered from an earlier read, without touching the socket."""
        return self._decoder.next_body()

    async def aclose(self) -> None:
        """Close the TCP stream."""
        await self._stream.aclose()


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
            try:
                conn = await handshake(TcpFrameStream(stream), self.identity, self.role,
                                       self.address, False, nacl.public.PrivateKey.generate(),
                                       self.network_key)
            except (HandshakeError, wire.FrameError, ConnectionClosed,
                    trio.BrokenResourceError) as exc:
                if isinstance(exc, HandshakeError):
                    self.last_refusal = exc
                self.refused += 1
                self._active -= 1
                await stream.aclose()
                return
            try:
                await handler(conn)
            finally:
                self._active -= 1
                await conn.aclose()

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
            try:
                return await handshake(TcpFrameStream(stream), self.identity, self.role,
                                       self.address, True, nacl.public.PrivateKey.generate(),
                                       self.network_key, expect)
            except (wire.FrameError, ConnectionClosed, trio.BrokenResourceError) as exc:
                await stream.aclose()
                raise HandshakeError(f"handshake with {address} failed: {exc}") from exc
            except BaseException:
                await stream.aclose()
                raise
        raise TransportError(f"timed out connecting to {address}")

    async def aclose(self) -> None:
        """Close every TCP listener."""
        for listener in self._listeners:
            await listener.aclose()

"""Runs the channel handshake (`vaultnet.transport.channel.Handshake`) over any FrameStream and
hands back the encrypted `Connection`, attributed to the peer the handshake proved."""

from __future__ import annotations

import nacl.public
import trio

from vaultnet.identity import Identity
from vaultnet.transport.base import Connection, FrameStream, HandshakeError
from vaultnet.transport.channel import Handshake
from vaultnet.xor import Name

HANDSHAKE_TIMEOUT = 5.0
"""A peer that has not finished the handshake by then is dropped, so half-open connections cannot
pile up."""


async def handshake(stream: FrameStream, identity: Identity, role: str, address: str,
                    outbound: bool, ephemeral: nacl.public.PrivateKey,
                    network_key: bytes | None, expect: Name | None = None) -> Connection:
    """Run the handshake on `stream`; on success a Connection attributed to the proven peer.

    HandshakeError (AdmissionRefused for a network-key mismatch) otherwise; a refused dialler
    still sends its last message first, so the listener can tell why too.
    """
    state = Handshake(identity, role, address, outbound, ephemeral, network_key, expect)
    with trio.move_on_after(HANDSHAKE_TIMEOUT) as scope:
        if outbound:
            await stream.send_bodies([state.start()])
        while not state.done:
            reply = state.receive(await stream.receive_body())
            if reply is not None:
                await stream.send_bodies([reply])
    if scope.cancelled_caught:
        raise HandshakeError("handshake timed out")
    peer, protector = state.established()
    return Connection(stream, protector, peer.name, peer.key, peer.address, peer.role, outbound)

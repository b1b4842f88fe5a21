"""The connection handshake: each side proves it holds the private key behind its name.

Both ends send `hello` (name, verify key, a fresh nonce, role, listen address), then `proof`: a
signature over the peer's nonce and both names. A name that is not SHA-512 of the key, or a proof
that does not verify, refuses the connection. Works over any FrameStream.
"""

from __future__ import annotations

from typing import Any

import trio

from vaultnet import wire
from vaultnet.identity import (
    SIGNATURE_SIZE,
    VERIFY_KEY_SIZE,
    Identity,
    IdentityError,
    name_of_key,
    verify,
)
from vaultnet.transport.base import Connection, FrameStream, HandshakeError
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE

HANDSHAKE_TIMEOUT = 5.0
ROLES = ("vault", "client")
_CONTEXT = b"vaultnet-handshake-v1"


def hello_frame(identity: Identity, nonce: bytes, role: str, address: str) -> dict[str, Any]:
    return {"t": "hello", "name": identity.name, "key": identity.verify_key, "nonce": nonce,
            "role": role, "addr": address}


def proof_payload(peer_nonce: bytes, prover: bytes, verifier: bytes) -> bytes:
    return _CONTEXT + peer_nonce + prover + verifier


def check_hello(frame: dict[str, Any]) -> tuple[bytes, bytes, bytes, str, str]:
    """(name, key, nonce, role, address) of a well-formed hello whose name matches its key."""
    if frame.get("t") != "hello":
        raise HandshakeError("expected hello")
    try:
        name = wire.field(frame, "name", bytes)
        key = wire.field(frame, "key", bytes)
        nonce = wire.field(frame, "nonce", bytes)
        role = wire.field(frame, "role", str)
        address = wire.field(frame, "addr", str)
    except FrameError as exc:
        raise HandshakeError(str(exc)) from exc
    if len(name) != NAME_SIZE or len(key) != VERIFY_KEY_SIZE or len(nonce) != 32:
        raise HandshakeError("hello fields have the wrong sizes")
    if role not in ROLES or len(address) > 256:
        raise HandshakeError("bad role or address in hello")
    if name_of_key(key) != name:
        raise HandshakeError("peer name does not match its key")
    return name, key, nonce, role, address


async def handshake(stream: FrameStream, identity: Identity, nonce: bytes, role: str,
                    address: str, outbound: bool, expect: bytes | None = None) -> Connection:
    """Run the handshake on `stream`; on success a Connection attributed to the proven peer."""
    with trio.move_on_after(HANDSHAKE_TIMEOUT) as scope:
        await stream.send_bodies([wire.pack(hello_frame(identity, nonce, role, address))])
        peer_name, peer_key, peer_nonce, peer_role, peer_addr = check_hello(
            await stream.receive_frame())
        if expect is not None and peer_name != expect:
            raise HandshakeError("peer is not the vault we meant to reach")
        signature = identity.sign(proof_payload(peer_nonce, identity.name, peer_name))
        await stream.send_bodies([wire.pack({"t": "proof", "sig": signature})])
        proof = await stream.receive_frame()
        sig = proof.get("sig")
        if proof.get("t") != "proof" or not isinstance(sig, bytes) or len(sig) != SIGNATURE_SIZE:
            raise HandshakeError("expected proof")
        try:
            verify(peer_key, sig, proof_payload(nonce, peer_name, identity.name))
        except IdentityError as exc:
            raise HandshakeError("peer could not prove its key") from exc
    if scope.cancelled_caught:
        raise HandshakeError("handshake timed out")
    return Connection(stream, peer_name, peer_key, peer_addr, peer_role, outbound)

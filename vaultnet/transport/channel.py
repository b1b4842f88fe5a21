"""The secure channel, sans-IO: an authenticated key exchange, then every frame sealed.

The handshake follows Noise XX, with each side's Ed25519 identity proven by a signature instead
of a static Diffie-Hellman key:

    -> LABEL, e_i                                  initiator's fresh X25519 public key
    <- e_r, seal_r2i(key, role, addr, sig, adm)    responder's identity, under the ee secret
    -> seal_i2r(key, role, addr, sig, adm)         initiator's identity, under the ee secret

A transcript hash `h` absorbs the label, both ephemerals and each identity (verify key, role,
listen address) in order. The responder signs `h` after its own identity; the initiator signs
`h` after both identities, so its signature covers both ephemerals and both static keys. Each
signature is labelled with the signer's place in the handshake, so one cannot be replayed as
the other. Identities travel encrypted under keys derived from the ephemeral DH secret: a
relay that passes a vault's ephemeral on without its private half cannot read, replace or
re-sign what follows, and one that substitutes its own ephemeral makes the signatures fail.

Admission (`adm`): between two vault-role peers each side also proves it holds the testnet's
network key, a keyed BLAKE2b MAC over the same transcript point it signs. A vault without the
key (or with another one) is refused on both sides with `AdmissionRefused`. Clients need none.

After the handshake each direction has its own key, derived from the DH secret and the final
transcript, and every frame body is sealed with ChaCha20-Poly1305 (IETF) whose nonce is that
direction's frame counter. The counter is implicit (never sent), so a frame that is altered,
injected, replayed, reordered or dropped fails authentication, and the channel stays broken.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.public
from nacl._sodium import ffi, lib

from vaultnet import wire
from vaultnet.identity import (
    SIGNATURE_SIZE,
    VERIFY_KEY_SIZE,
    Identity,
    IdentityError,
    name_of_key,
    verify,
)
from vaultnet.transport.base import AdmissionRefused, HandshakeError
from vaultnet.wire import FrameError
from vaultnet.xor import Name

LABEL = b"vaultnet-channel-v1"
"""Opens the first handshake message and seeds the transcript: a peer speaking another protocol
(or another version of this one) is refused at once."""
KEY_SIZE = 32
EPHEMERAL_SIZE = 32
TAG_SIZE = 16
"""Bytes the AEAD adds to every sealed body (the Poly1305 tag)."""
NETWORK_KEY_SIZE = 32
MAX_ADDRESS = 256
"""Longest listen address a peer may announce: a host:port fits many times over."""
MAX_COUNTER = 2**64 - 1
"""Frames one direction may seal: the 64-bit counter is the nonce, and a nonce must never repeat
under one key, so the channel refuses to go past it (the connection has to be made again)."""
ROLES = ("vault", "client")

_SIGN_RESPONDER = b"vaultnet-channel responder signs "
_SIGN_INITIATOR = b"vaultnet-channel initiator signs "


def _hash(*parts: bytes) -> bytes:
    """BLAKE2b-256 of length-prefixed parts (so no two part lists hash alike)."""
    h = hashlib.blake2b(digest_size=32, person=b"vaultnet-chan-h")
    for part in parts:
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.digest()


def _kdf(secret: bytes, transcript: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for `purpose`, from the DH secret bound to the transcript so far."""
    return hashlib.blake2b(transcript, digest_size=KEY_SIZE, key=secret, person=purpose).digest()


def _admission_mac(network_key: bytes, place: bytes, transcript: bytes) -> bytes:
    """Proof of holding the network key, bound to this handshake and the prover's place."""
    return hashlib.blake2b(place + transcript, digest_size=32, key=network_key,
                           person=b"vaultnet-admit").digest()


def _nonce(counter: int) -> bytes:
    return b"\x00\x00\x00\x00" + counter.to_bytes(8, "little")


def _seal(key: bytes, counter: int, plaintext: bytes, ad: bytes) -> bytes:
    """ChaCha20-Poly1305 (IETF) of `plaintext`, nonce = the counter.

    libsodium is called through PyNaCl's own cffi module: PyNaCl's public wrapper spends about
    twice the cipher's own time on argument checks, and this runs once per frame."""
    size = len(plaintext) + TAG_SIZE
    out = ffi.new("unsigned char[]", size)
    lib.crypto_aead_chacha20poly1305_ietf_encrypt(out, ffi.NULL, plaintext, len(plaintext), ad,
                                                  len(ad), ffi.NULL, _nonce(counter), key)
    sealed: bytes = ffi.buffer(out, size)[:]
    return sealed


def _open(key: bytes, counter: int, ciphertext: bytes, ad: bytes) -> bytes | None:
    """The plaintext, or None if the ciphertext does not authenticate."""
    if len(ciphertext) < TAG_SIZE:
        return None
    size = len(ciphertext) - TAG_SIZE
    out = ffi.new("unsigned char[]", max(1, size))
    if lib.crypto_aead_chacha20poly1305_ietf_decrypt(out, ffi.NULL, ffi.NULL, ciphertext,
                                                     len(ciphertext), ad, len(ad),
                                                     _nonce(counter), key) != 0:
        return None
    opened: bytes = ffi.buffer(out, size)[:]
    return opened


class FrameProtector:
    """Both directions of an established channel: seals outgoing frame bodies and opens incoming
    ones, each direction with its own key and counter, so the stream cannot be tampered with."""

    def __init__(self, send_key: bytes, receive_key: bytes) -> None:
        self._send_key = send_key
        self._receive_key = receive_key
        self.sent = 0
        self.received = 0
        self.broken = False

    def seal(self, body: bytes) -> bytes:
        """The next outgoing body, sealed under the send counter."""
        if self.sent >= MAX_COUNTER:
            raise FrameError("channel frame counter exhausted; reconnect")
        sealed = _seal(self._send_key, self.sent, body, b"")
        self.sent += 1
        return sealed

    def open(self, sealed: bytes) -> bytes:
        """The next incoming body; FrameError (and the channel broken for good) unless it is
        exactly the frame the peer sealed next."""
        if self.broken:
            raise FrameError("channel already failed authentication")
        body = _open(self._receive_key, self.received, sealed, b"")
        if body is None:
            self.broken = True
            raise FrameError("frame failed authentication (altered, injected, replayed or "
                             "out of order)")
        self.received += 1
        return body


@dataclass(frozen=True)
class PeerInfo:
    """Who the handshake proved is at the other end."""

    name: Name
    key: bytes
    role: str
    address: str


class _State(enum.Enum):
    START = "start"
    WAIT_RESPONSE = "wait for responder"
    WAIT_FINISH = "wait for initiator"
    DONE = "done"


class Handshake:
    """One side of the channel handshake as a state machine: feed it the peer's handshake
    bodies, send whatever it returns; then `established()` gives the peer and the protector.

    `initiator` is the side that dialled. `ephemeral` must be fresh for every handshake (the
    simulator derives it from its seeded rng so that runs reproduce). `network_key` admits this
    side to vault-to-vault channels; `expect` is the name the initiator meant to reach.
    """

    def __init__(self, identity: Identity, role: str, address: str, initiator: bool,
                 ephemeral: nacl.public.PrivateKey, network_key: bytes | None = None,
                 expect: Name | None = None) -> None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if network_key is not None and len(network_key) != NETWORK_KEY_SIZE:
            raise ValueError(f"a network key is {NETWORK_KEY_SIZE} bytes")
        self._identity = identity
        self._role = role
        self._address = address
        self.initiator = initiator
        self._ephemeral = ephemeral
        self._ephemeral_public = bytes(ephemeral.public_key)
        self._network_key = network_key
        self._expect = expect
        self._state = _State.START
        self._h = _hash(LABEL)
        self._secret = b""
        self._handshake_point = b""
        self._peer: PeerInfo | None = None
        self._protector: FrameProtector | None = None
        self._refused = False

    @property
    def done(self) -> bool:
        """Whether the handshake finished, so sealed frames may flow."""
        return self._state is _State.DONE

    def start(self) -> bytes:
        """The initiator's first message: the label and its ephemeral public key."""
        if not self.initiator or self._state is not _State.START:
            raise HandshakeError("only a fresh initiator starts a handshake")
        self._h = _hash(self._h, self._ephemeral_public)
        self._state = _State.WAIT_RESPONSE
        return LABEL + self._ephemeral_public

    def receive(self, body: bytes) -> bytes | None:
        """Take the peer's next handshake body; returns the body to send back, if any.
        HandshakeError if the peer fails to prove itself."""
        if self._state is _State.START and not self.initiator:
            return self._on_hello(body)
        if self._state is _State.WAIT_RESPONSE:
            return self._on_response(body)
        if self._state is _State.WAIT_FINISH:
            self._on_finish(body)
            return None
        raise HandshakeError(f"unexpected handshake message in state {self._state.value!r}")

    def established(self) -> tuple[PeerInfo, FrameProtector]:
        """The proven peer and the channel's protector; AdmissionRefused if the network keys of
        two vaults did not match."""
        if self._state is not _State.DONE:
            raise HandshakeError("handshake not finished")
        if self._refused:
            raise AdmissionRefused("network key does not match")
        assert self._peer is not None and self._protector is not None
        return self._peer, self._protector

    # -- the three messages --------------------------------------------------------------------

    def _on_hello(self, body: bytes) -> bytes:
        if len(body) != len(LABEL) + EPHEMERAL_SIZE or not body.startswith(LABEL):
            raise HandshakeError("not a vaultnet channel handshake")
        peer_ephemeral = body[len(LABEL):]
        self._h = _hash(self._h, peer_ephemeral)
        self._h = _hash(self._h, self._ephemeral_public)
        self._secret = self._dh(peer_ephemeral)
        key = _kdf(self._secret, self._h, b"handshake-r2i")
        ad = self._h
        self._h = self._mix_identity(self._h, self._identity.verify_key, self._role,
                                     self._address)
        sealed = _seal(key, 0, self._identity_payload(_SIGN_RESPONDER, b"responder"), ad)
        self._state = _State.WAIT_FINISH
        return self._ephemeral_public + sealed

    def _on_response(self, body: bytes) -> bytes:
        if len(body) < EPHEMERAL_SIZE + TAG_SIZE:
            raise HandshakeError("handshake response too short")
        peer_ephemeral = body[:EPHEMERAL_SIZE]
        self._h = _hash(self._h, peer_ephemeral)
        self._secret = self._dh(peer_ephemeral)
        ad = self._h
        payload = _open(_kdf(self._secret, ad, b"handshake-r2i"), 0, body[EPHEMERAL_SIZE:], ad)
        peer = self._check_identity(payload, _SIGN_RESPONDER, b"responder")
        if peer.role != "vault":
            raise HandshakeError("only vaults accept connections; the peer says it is a client")
        if self._expect is not None and peer.name != self._expect:
            raise HandshakeError("peer is not the vault we meant to reach")
        key = _kdf(self._secret, self._handshake_point, b"handshake-i2r")
        ad = self._h
        self._h = self._mix_identity(self._h, self._identity.verify_key, self._role,
                                     self._address)
        sealed = _seal(key, 0, self._identity_payload(_SIGN_INITIATOR, b"initiator"), ad)
        self._finish(peer, send=b"transport-i2r", receive=b"transport-r2i")
        return sealed

    def _on_finish(self, body: bytes) -> None:
        ad = self._h
        key = _kdf(self._secret, self._handshake_point, b"handshake-i2r")
        payload = _open(key, 0, body, ad)
        peer = self._check_identity(payload, _SIGN_INITIATOR, b"initiator")
        self._finish(peer, send=b"transport-r2i", receive=b"transport-i2r")

    # -- helpers -------------------------------------------------------------------------------

    def _dh(self, peer_ephemeral: bytes) -> bytes:
        """The X25519 secret with the peer's ephemeral; remembers the transcript point the
        handshake keys are derived at."""
        self._handshake_point = self._h
        try:
            return nacl.bindings.crypto_scalarmult(bytes(self._ephemeral), peer_ephemeral)
        except (RuntimeError, nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
            raise HandshakeError("peer sent an unusable ephemeral key") from exc

    @staticmethod
    def _mix_identity(h: bytes, key: bytes, role: str, address: str) -> bytes:
        return _hash(h, key, role.encode(), address.encode())

    def _identity_payload(self, sign_label: bytes, place: bytes) -> bytes:
        """Our identity, our signature over the transcript (which now includes it) and, with a
        network key, our admission MAC over the same point."""
        payload: dict[str, Any] = {"key": self._identity.verify_key, "role": self._role,
                                   "addr": self._address,
                                   "sig": self._identity.sign(sign_label + self._h)}
        if self._network_key is not None:
            payload["adm"] = _admission_mac(self._network_key, place, self._h)
        return wire.pack(payload)

    def _check_identity(self, payload: bytes | None, sign_label: bytes,
                        place: bytes) -> PeerInfo:
        """The peer's identity from its decrypted payload, its signature checked; admission is
        recorded for `established`."""
        if payload is None:
            raise HandshakeError("handshake message failed authentication")
        try:
            fields = wire.unpack(payload)
            key = wire.field(fields, "key", bytes)
            role = wire.field(fields, "role", str)
            address = wire.field(fields, "addr", str)
            signature = wire.field(fields, "sig", bytes)
        except FrameError as exc:
            raise HandshakeError(f"malformed handshake identity: {exc}") from exc
        admission = fields.get("adm")
        if len(key) != VERIFY_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
            raise HandshakeError("handshake identity fields have the wrong sizes")
        if role not in ROLES or len(address) > MAX_ADDRESS:
            raise HandshakeError("bad role or address in handshake")
        self._h = self._mix_identity(self._h, key, role, address)
        try:
            verify(key, signature, sign_label + self._h)
        except IdentityError as exc:
            raise HandshakeError("peer could not prove its key") from exc
        if self._role == "vault" and role == "vault":
            expected = (None if self._network_key is None
                        else _admission_mac(self._network_key, place, self._h))
            self._refused = (expected is None or not isinstance(admission, bytes)
                             or not hmac.compare_digest(admission, expected))
        return PeerInfo(name_of_key(key), key, role, address)

    def _finish(self, peer: PeerInfo, send: bytes, receive: bytes) -> None:
        self._peer = peer
        self._protector = FrameProtector(_kdf(self._secret, self._h, send),
                                         _kdf(self._secret, self._h, receive))
        self._state = _State.DONE

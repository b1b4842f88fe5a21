"""Ed25519 identities: a vault's name is SHA-512 of its verify key, so names are self-certifying."""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import nacl.bindings
import nacl.exceptions
import nacl.signing

from vaultnet.filemodes import private_dir
from vaultnet.xor import Name

KEY_FILE = "identity.key"
SIGNATURE_SIZE = 64
VERIFY_KEY_SIZE = 32
VERIFIED_KEPT = 4096
"""Signatures this process remembers having verified (a 32-byte digest of key, signature and
data each, oldest forgotten first: about 400 KiB). Verifying is a pure function, so a vault
checking a relayed copy that another vault of the same process already checked (a group
member's fan-out reaches every member, and a testnet runs many vaults per process) looks the
answer up instead of doing the Ed25519 arithmetic again; only a signature that verified is
remembered, so a forgery is checked, and refused, every time."""


class IdentityError(Exception):
    """A key file that cannot be used, or a signature that does not verify."""


def name_of_key(verify_key: bytes) -> Name:
    """A node's network name: the SHA-512 of its verify key, so a name proves its key."""
    return hashlib.sha512(verify_key).digest()


class Identity:
    """A signing key and the name derived from it."""

    def __init__(self, signing_key: nacl.signing.SigningKey) -> None:
        self._signing_key = signing_key
        self.verify_key: bytes = bytes(signing_key.verify_key)
        self.name: Name = name_of_key(self.verify_key)

    @classmethod
    def generate(cls, seed: bytes | None = None) -> Identity:
        """A new identity; `seed` (32 bytes) makes it reproducible for the simulator."""
        if seed is None:
            return cls(nacl.signing.SigningKey.generate())
        return cls(nacl.signing.SigningKey(seed))

    @classmethod
    def load_or_create(cls, directory: Path, seed: bytes | None = None) -> Identity:
        """The identity kept in `directory`, created on first use (restart keeps the name)."""
        private_dir(directory, own=True)  # an identity's directory is vaultnet's own
        path = directory / KEY_FILE
        if path.exists():
            raw = path.read_bytes()
            if len(raw) != 32:
                raise IdentityError(f"{path}: expected a 32-byte key, found {len(raw)} bytes")
            return cls(nacl.signing.SigningKey(raw))
        identity = cls.generate(seed)
        write_secret(path, bytes(identity._signing_key))
        return identity

    def sign(self, data: bytes) -> bytes:
        """Sign `data` with our key (the signature alone), so peers can check it came from us."""
        return self._signing_key.sign(data).signature


def write_secret(path: Path, data: bytes) -> None:
    """Write a key file readable by its owner only (mode 0600), atomically, so a crash never
    leaves a half-written key behind."""
    private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


_verified: OrderedDict[bytes, None] = OrderedDict()
"""Digests of the (key, signature, data) this process verified, at most VERIFIED_KEPT."""


def verify(verify_key: bytes, signature: bytes, data: bytes) -> None:
    """Raise IdentityError unless `signature` is `verify_key`'s signature of `data` (a triple
    verified before in this process is looked up: `VERIFIED_KEPT`)."""
    if len(verify_key) != VERIFY_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        raise IdentityError("bad signature")
    seen = hashlib.blake2b(verify_key + signature + data, digest_size=32).digest()
    if seen in _verified:
        return
    try:
        nacl.bindings.crypto_sign_open(signature + data, verify_key)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
        raise IdentityError("bad signature") from exc
    _verified[seen] = None
    if len(_verified) > VERIFIED_KEPT:
        _verified.popitem(last=False)

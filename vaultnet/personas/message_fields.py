"""Reading a received message's body fields with their types checked (a malformed field is a
`FrameError`: the message is dropped, the vault runs on), and the message ids every member of a
group derives alike."""

from __future__ import annotations

from vaultnet.messages import ID_SIZE, Message, derived_id
from vaultnet.wire import FrameError


def body_bytes(msg: Message, key: str, size: int | None = 64) -> bytes:
    """`msg.body[key]` as bytes of `size` (any size if None); FrameError otherwise."""
    value = msg.body.get(key)
    if not isinstance(value, bytes) or (size is not None and len(value) != size):
        raise FrameError(f"body field {key!r} missing or malformed")
    return value


def body_int(msg: Message, key: str) -> int:
    """`msg.body[key]` as a non-negative int; FrameError otherwise."""
    value = msg.body.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FrameError(f"body field {key!r} missing or not a non-negative int")
    return value


def body_str(msg: Message, key: str, choices: tuple[str, ...] | None = None) -> str:
    """`msg.body[key]` as a str (one of `choices`, if given); FrameError otherwise."""
    value = msg.body.get(key)
    if not isinstance(value, str) or (choices is not None and value not in choices):
        raise FrameError(f"body field {key!r} missing or not one of {choices}")
    return value


def new_id(*parts: bytes | str) -> bytes:
    """A message id derived from `parts`, so every member sends the same one."""
    return derived_id(*parts)[:ID_SIZE]

"""Typed message records: who a message is from and to (name + persona, single or group), what it
asks, and the ids that tie it to one client operation."""

from __future__ import annotations

import enum
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, TypeVar

from vaultnet import wire
from vaultnet.identity import SIGNATURE_SIZE, VERIFY_KEY_SIZE, IdentityError, name_of_key, verify
from vaultnet.protocol import Action
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name

ID_SIZE = 16


class TypedBody(Protocol):
    """What `Message.typed` reads a body as: a record that decodes itself from the map a
    message of some action carries (`vaultnet.personas.bodies`)."""

    @classmethod
    def decode(cls, action: Action, raw: Mapping[str, Any]) -> Self:
        """The record in `raw`; FrameError if `action` does not carry it or it is malformed."""
        ...


_BodyT = TypeVar("_BodyT", bound=TypedBody)


class Persona(enum.StrEnum):
    """Who acts for a name: the routing layer, a client, or one of the vault personas."""

    ROUTING = "Routing"
    MAID_NODE = "MaidNode"
    MAID_MANAGER = "MaidManager"
    DATA_MANAGER = "DataManager"
    PMID_MANAGER = "PmidManager"
    PMID_NODE = "PmidNode"
    VERSION_MANAGER = "VersionManager"
    MPID_MANAGER = "MpidManager"
    MPID_NODE = "MpidNode"


_PERSONAS: dict[str, Persona] = {p.value: p for p in Persona}
"""Decoding a persona is one dict lookup: two run for every message a vault receives (the enum
call was a third of an authority's decoding: 1.03 -> 0.68 µs)."""

CLIENT_PERSONAS = frozenset({Persona.MAID_NODE, Persona.MPID_NODE})
"""The personas a client speaks as: the only ones a client connection may originate."""

CLIENT_ACTIONS = frozenset({
    Action.PUT, Action.GET, Action.DELETE, Action.PUT_VERSION, Action.DELETE_BRANCH,
    Action.GET_VERSIONS, Action.GET_BRANCH, Action.ONLINE, Action.SEND, Action.ACK,
    Action.CHANGE_LIST, Action.GET_LISTS, Action.GET_INBOX, Action.REGISTER_VAULT,
    Action.UNREGISTER_VAULT, Action.PUT_STRUCTURED, Action.UPDATE_STRUCTURED,
    Action.DELETE_STRUCTURED, Action.GET_STRUCTURED,
})
"""The requests a MaidNode or MpidNode sends to its managers: everything else on a client
connection is refused (clients never relay, never speak for a group)."""


@dataclass(frozen=True, slots=True)
class Authority:
    """One end of a message: a name, the persona acting for it, and whether it is a whole group.

    `relay` is set for clients, which are not in any routing table: replies travel to the vault
    they are connected through.
    """

    name: Name
    persona: Persona
    group: bool = False
    relay: Name | None = None

    def to_wire(self) -> list[Any]:
        """The 4-list an authority travels as: [name, persona, group, relay]."""
        return [self.name, self.persona.value, self.group, self.relay]

    @classmethod
    def from_wire(cls, raw: Any) -> Authority:
        """Decode an authority; FrameError for anything malformed."""
        if not isinstance(raw, list) or len(raw) != 4:
            raise FrameError("authority is not a 4-list")
        name, persona, group, relay = raw
        if not (isinstance(name, bytes) and len(name) == NAME_SIZE):
            raise FrameError("authority name is not a 64-byte name")
        if not isinstance(group, bool):
            raise FrameError("authority group flag is not a bool")
        if relay is not None and not (isinstance(relay, bytes) and len(relay) == NAME_SIZE):
            raise FrameError("authority relay is not a 64-byte name")
        p = _PERSONAS.get(persona) if isinstance(persona, str) else None
        if p is None:
            raise FrameError(f"unknown persona {str(persona)[:64]!r}")
        return cls(name, p, group, relay)

    def __str__(self) -> str:
        kind = "group" if self.group else "node"
        return f"{self.persona.value}[{kind} {self.name.hex()[:8]}]"


@dataclass(frozen=True, slots=True)
class Message:
    """A routed message. `sender` is the vault (or client) that sent this copy: for a message from
    a group, one member; the accumulator counts copies from distinct senders.

    `payload` carries chunk content. It is signed but is not part of `content_key`: members of a
    group agree on the small body, and only one of them (the group's lead) attaches the content,
    so a 1 MiB chunk is not copied once per member per hop.

    `sent_at` is when the originator made it (`network_time`), inside what is signed: managers
    refuse client requests older than the replay window, so a captured request cannot be
    replayed once the firewall has forgotten it.
    """

    src: Authority
    dst: Authority
    action: Action
    msg_id: bytes
    trace_id: bytes
    body: dict[str, Any]
    sender: Name
    hops: int = 0
    payload: bytes = b""
    sent_at: float = 0.0
    sender_key: bytes = b""
    signature: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def typed(self, record: type[_BodyT]) -> _BodyT:
        """The body as the record `record` (`vaultnet.personas.bodies`): FrameError if this
        message's action does not carry one or a field is malformed (the message is dropped)."""
        return record.decode(self.action, self.body)

    def header_bytes(self) -> bytes:
        """The exact bytes an originator signs: the header plus a digest of the body."""
        return self._header_bytes(self.sender)

    def _header_bytes(self, sender: Name) -> bytes:
        """`header_bytes` as `sender` would sign this message."""
        body_digest = hashlib.sha512(wire.pack({"b": self.body, "p": self.payload})).digest()
        return wire.pack(
            {
                "s": self.src.to_wire(),
                "d": self.dst.to_wire(),
                "a": self.action,
                "i": self.msg_id,
                "t": self.trace_id,
                "f": sender,
                "h": body_digest,
                "w": self.sent_at,
            }
        )

    def content_key(self) -> bytes:
        """Identity of the content, sender excluded: copies from distinct group members that say
        the same thing have the same key (what the accumulator counts)."""
        return hashlib.sha512(
            wire.pack(
                {
                    "s": self.src.to_wire(),
                    "d": [self.dst.name, self.dst.persona.value, self.dst.group],
                    "a": self.action,
                    "i": self.msg_id,
                    "b": self.body,
                }
            )
        ).digest()

    def signed(self, sign: Any, verify_key: bytes, sender: Name | None = None) -> Message:
        """A copy sent (by `sender`, if given) and signed with its key: one positional
        construction, as this runs for every message a vault originates and
        `dataclasses.replace` cost several times more."""
        sender = self.sender if sender is None else sender
        return Message(self.src, self.dst, self.action, self.msg_id, self.trace_id, self.body,
                       sender, self.hops, self.payload, self.sent_at, verify_key,
                       sign(self._header_bytes(sender)), self.extra)

    def sent_by(self, sender: Name) -> Message:
        """An unsigned copy sent by `sender`: what a vault originates. It is signed only if it
        leaves on a link that is not its last (`signed`): a copy delivered straight to its
        destination is attributed by the channel's handshake instead."""
        return Message(self.src, self.dst, self.action, self.msg_id, self.trace_id, self.body,
                       sender, self.hops, self.payload, self.sent_at, b"", b"", self.extra)

    def check_signature(self) -> None:
        """Raise FrameError unless the sender's key matches its name and signed this message."""
        if len(self.sender_key) != VERIFY_KEY_SIZE or len(self.signature) != SIGNATURE_SIZE:
            raise FrameError("message is not signed")
        if name_of_key(self.sender_key) != self.sender:
            raise FrameError("sender key does not match sender name")
        try:
            verify(self.sender_key, self.signature, self.header_bytes())
        except IdentityError as exc:
            raise FrameError("forged message: signature does not verify") from exc

    def frame(self, final: bool = False) -> dict[str, Any]:
        """The `msg` frame a link carries this message in; `final` marks the copy its receiver
        only delivers (the channel's handshake attributes it) rather than checks and passes on."""
        frame: dict[str, Any] = {"t": "msg", "m": self.to_wire()}
        if final:
            frame["final"] = True
        return frame

    def to_wire(self) -> dict[str, Any]:
        """The map a message travels as (its action as the action's string)."""
        return {
            "s": self.src.to_wire(),
            "d": self.dst.to_wire(),
            "a": self.action,
            "i": self.msg_id,
            "t": self.trace_id,
            "b": self.body,
            "f": self.sender,
            "n": self.hops,
            "p": self.payload,
            "w": self.sent_at,
            "k": self.sender_key,
            "g": self.signature,
        }

    @classmethod
    def from_wire(cls, raw: Any, hop: int = 0) -> Message:
        """Decode a message; `hop` is added to the hop count on the wire (1 for a copy that just
        crossed a link to us, so counting it needs no second copy of the message)."""
        if not isinstance(raw, dict):
            raise FrameError("message is not a map")
        action = Action.decode(raw.get("a"))
        msg_id = wire.field(raw, "i", bytes)
        trace_id = wire.field(raw, "t", bytes)
        body = wire.field(raw, "b", dict)
        sender = wire.field(raw, "f", bytes)
        hops = wire.field(raw, "n", int)
        if len(msg_id) != ID_SIZE or len(trace_id) != ID_SIZE:
            raise FrameError("message or trace id has the wrong size")
        if len(sender) != NAME_SIZE:
            raise FrameError("sender is not a 64-byte name")
        if not 0 <= hops < 1000:
            raise FrameError("hop count out of range")
        sent_at = raw.get("w", 0.0)
        if (not isinstance(sent_at, (int, float)) or isinstance(sent_at, bool)
                or not math.isfinite(sent_at)):
            raise FrameError("message time is not a finite number")
        return cls(
            src=Authority.from_wire(raw.get("s")),
            dst=Authority.from_wire(raw.get("d")),
            action=action,
            msg_id=msg_id,
            trace_id=trace_id,
            body=body,
            sender=sender,
            hops=hops + hop,
            payload=wire.field(raw, "p", bytes),
            sent_at=float(sent_at),
            sender_key=wire.field(raw, "k", bytes),
            signature=wire.field(raw, "g", bytes),
        )


def derived_id(*parts: bytes | str) -> bytes:
    """A deterministic message id, so every member of a group sends byte-identical copies."""
    h = hashlib.sha512()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.digest()[:ID_SIZE]


def new_id(*parts: bytes | str) -> bytes:
    """A message id a persona derives from `parts`, so every member of its group sends the
    same one (`derived_id`)."""
    return derived_id(*parts)

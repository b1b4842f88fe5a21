"""The effects a persona's handler returns instead of doing I/O: messages to send and notes
(events) to emit, collected in an `Outbox` the persona host delivers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vaultnet.messages import Message
from vaultnet.protocol import EventKind
from vaultnet.xor import Name


@dataclass(frozen=True)
class Note:
    """An event a persona wants emitted (turned into a PersonaEvent by the host)."""

    what: EventKind
    subject: Name
    trace: bytes
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outbox:
    """What a persona decided: messages for the host to send, events for it to emit."""

    messages: list[Message] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def send(self, msg: Message) -> None:
        """Queue `msg` for sending (the host sends it once the handler's transaction commits)."""
        self.messages.append(msg)

    def note(self, what: EventKind, subject: Name, trace: bytes, **detail: Any) -> None:
        """Queue a `what` event about `subject`, so the dashboard and tests can see it."""
        self.notes.append(Note(what, subject, trace, detail))

    def extend(self, other: Outbox) -> None:
        """Add `other`'s messages and notes to ours (the host delivers several at once)."""
        self.messages.extend(other.messages)
        self.notes.extend(other.notes)

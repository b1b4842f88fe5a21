"""What the dashboard itself did: the chunks it put, the version trees it tracks, its MPIDs and
the messages between them (journaled: a replay redoes them)."""

from __future__ import annotations

from tui.model.records import ChunkInfo, MessageInfo, VersionedItem
from tui.model.state import CHUNKS_KEPT, MESSAGES_KEPT, VERSIONED_KEPT, ModelState, journaled
from vaultnet.personas import mpid_manager as mpid
from vaultnet.runtime import events as ev
from vaultnet.xor import Name, short


class Tracking(ModelState):
    """The dashboard's own operations on the model, and the message events that follow them."""

    # -- chunks the user put -----------------------------------------------------------------

    @journaled
    def add_chunk(self, name: Name, size: int, trace: bytes, follow: bool = True) -> None:
        """A chunk the user put; `follow` makes it the focus and its put the followed trace."""
        self.chunks[name] = ChunkInfo(name, size, trace)
        self.chunks.move_to_end(name)
        while len(self.chunks) > CHUNKS_KEPT:
            self.chunks.popitem(last=False)
        if follow:
            self.focus = name
            self.followed_trace = trace

    @journaled
    def mark_deleted(self, name: Name) -> None:
        """A chunk the user deleted: shown as deleted, not lost."""
        if name in self.chunks:
            self.chunks[name].deleted = True

    # -- versioned data and messages -----------------------------------------------------------

    @journaled
    def track_versioned(self, key: Name, label: str | None = None,
                        trace: bytes | None = None) -> VersionedItem:
        """The item at `key`, tracked from now on (the oldest dropped past VERSIONED_KEPT);
        `trace`, if given, becomes its latest operation."""
        item = self.versioned.get(key)
        if item is None:
            item = self.versioned[key] = VersionedItem(key, label or short(key))
            while len(self.versioned) > VERSIONED_KEPT:
                self.versioned.popitem(last=False)
        elif label:
            item.label = label
        if trace is not None:
            item.trace = trace
        return item

    @journaled
    def add_identity(self, name: Name, label: str, state: str) -> None:
        """One of the dashboard's MPIDs and its connection state, for view 6 and the lanes."""
        self.identities[name] = label
        self.identity_state[name] = state

    @journaled
    def add_message(self, trace: bytes, sender: Name, recipient: Name, text: str) -> None:
        """A message sent (or first seen) under `trace`; the oldest dropped past the limit."""
        self.messages[trace] = MessageInfo(trace, sender, recipient, text)
        while len(self.messages) > MESSAGES_KEPT:
            old = self.messages.popitem(last=False)[1]
            if old.mid is not None:
                self._message_keys.pop((old.recipient, old.sender, old.mid), None)

    @journaled
    def message_failed(self, trace: bytes, reason: str) -> None:
        """The send under `trace` failed before any manager answered: say why."""
        message = self.messages.get(trace)
        if message is not None and message.state == "sending":
            message.state, message.reason = "failed", reason

    @journaled
    def message_received(self, recipient: Name, sender: Name, mid: bytes) -> None:
        """The recipient's MpidNode got the message: the end of its journey."""
        trace = self._message_keys.get((recipient, sender, mid))
        if trace is not None and trace in self.messages:
            self.messages[trace].received = True

    def _message_event(self, e: ev.PersonaEvent) -> None:
        sender, mid = e.detail.get("sender"), e.detail.get("mid")
        if not isinstance(sender, bytes) or not isinstance(mid, bytes):
            return
        key = (e.subject, sender, mid)
        trace = self._message_keys.get(key)
        if trace is None:  # the first event of a send: held or refused, under the send's trace
            if e.what == mpid.MESSAGE_DELIVERED:
                return  # a message from before the dashboard looked
            if e.trace not in self.messages:
                self.add_message(e.trace, sender, e.subject, "")
            trace = e.trace
            self._message_keys[key] = trace
            self.messages[trace].mid = mid
        message = self.messages.get(trace)
        if message is None:
            return
        if e.what == mpid.MESSAGE_HELD and message.state in ("sending", "failed"):
            message.state, message.reason = "held", ""
        elif e.what == mpid.MESSAGE_REFUSED and message.state in ("sending", "failed"):
            message.state = "refused"
            message.reason = str(e.detail.get("reason") or e.detail.get("error", ""))
        elif e.what == mpid.MESSAGE_DELIVERED:
            message.state, message.delivery_trace = "delivered", e.trace


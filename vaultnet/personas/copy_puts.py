"""The MaidManagers' puts of a chunk's copies that their DataManagers have not confirmed yet.

A MaidManager group sends each agreed put to the DataManagers of the chunk's Primary, Backup
and Sacrificial copies. A group message can still be lost as a whole: every member's copy may
travel through the same relay, and a connection that breaks takes the frames in flight with it.
The client is answered when the Primary is stored, so a lost Backup or Sacrificial put used to
leave an acknowledged chunk with one copy fewer for good (nothing else knows the copy should
exist). Decision: each copy's DataManagers confirm the put (`PUT_RESPONSE`, which the Primary's
already sent), and each MaidManager member sends an unconfirmed put again, with the same id,
every CONFIRM_AFTER seconds, RESENDS times at most.

The same id is what keeps a resend from counting twice: a DataManager that handled the put
still has it in its accumulator (`ACCUMULATOR_TTL`, 60 s, well past the last resend) and drops
the copy, and one that never got enough copies to act on completes it.

Every member keeps the chunk's content (its stash hold) until each of the put's copies is
confirmed or given up, and attaches it to its resends: the lead by the members' views may be a
vault that joined the group after the client's put and never had the content, and then the
DataManagers wait for it in vain (seed sweep, seed 348). Content is sent again only when a
confirmation is late, so the common put still carries it once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vaultnet.messages import Message

CONFIRM_AFTER = 5.0
"""Seconds to wait for a copy's DataManagers to confirm a put before sending it again."""
RESENDS = 3
"""Times an unconfirmed put is sent again before it is given up (the last at 15 s)."""
UNCONFIRMED_LIMIT = 10_000
"""Unconfirmed puts one MaidManager tracks at most; the oldest is given up first."""


@dataclass(slots=True)
class _Unconfirmed:
    msg: Message
    """The put as first sent, without its content."""
    put_id: bytes
    """The client's put it is one copy of."""
    chunk: bytes
    """The chunk's name, under which the stash holds its content."""
    due: float
    left: int


class UnconfirmedPuts:
    """Copy puts sent and not yet confirmed, each with when to send it again (bounded).
    `settled(chunk)` is called once every copy of a client's put is confirmed or given up."""

    def __init__(self, settled: Callable[[bytes], None],
                 limit: int = UNCONFIRMED_LIMIT) -> None:
        self._puts: OrderedDict[bytes, _Unconfirmed] = OrderedDict()
        self._open: dict[bytes, int] = {}
        self._settled = settled
        self.limit = limit
        self.given_up = 0
        """Puts dropped unconfirmed (after RESENDS, or pushed out by the limit)."""

    def __len__(self) -> int:
        return len(self._puts)

    def expect(self, put_id: bytes, msgs: Sequence[Message], chunk: bytes, now: float) -> None:
        """Wait for the confirmation of each of `msgs`, the puts of `chunk`'s copies for the
        client's put `put_id`, just sent."""
        self._open[put_id] = self._open.get(put_id, 0) + len(msgs)
        for msg in msgs:
            self._puts[msg.msg_id] = _Unconfirmed(msg, put_id, chunk, now + CONFIRM_AFTER,
                                                  RESENDS)
        while len(self._puts) > self.limit:
            self._close(self._puts.popitem(last=False)[1], given_up=True)

    def confirm(self, msg_id: bytes) -> bool:
        """The put `msg_id` was confirmed: stop waiting for it (False if we were not)."""
        put = self._puts.pop(msg_id, None)
        if put is None:
            return False
        self._close(put, given_up=False)
        return True

    def due(self, now: float) -> list[tuple[Message, bytes]]:
        """The puts to send again now, each with its chunk's name; those sent RESENDS times
        already are given up."""
        again = []
        for msg_id, put in list(self._puts.items()):
            if now < put.due:
                continue
            if put.left == 0:
                del self._puts[msg_id]
                self._close(put, given_up=True)
                continue
            put.left -= 1
            put.due = now + CONFIRM_AFTER
            again.append((put.msg, put.chunk))
        return again

    def _close(self, put: _Unconfirmed, given_up: bool) -> None:
        self.given_up += given_up
        left = self._open.pop(put.put_id) - 1
        if left:
            self._open[put.put_id] = left
        else:
            self._settled(put.chunk)

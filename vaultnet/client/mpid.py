"""The MpidNode: a public identity that sends messages to other MPIDs and receives its own.

It reuses the connected-client plumbing of `MaidClient` (requests answered by a quorum of a
group) and adds what only a messaging identity needs: announcing itself online to its
MpidManagers, and taking the messages they push. A pushed message counts once a quorum of
distinct managers pushed the same one; it is then queued (bounded) and acknowledged, which is
what makes the managers stop holding it. A message pushed again (the managers re-push everything
held whenever the node comes online) is acknowledged again but queued only once.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass

import trio

from vaultnet.client.errors import (
    Blocked,
    ClientError,
    InboxFull,
    MalformedAnswer,
    MessagingError,
    NetworkUnavailable,
    NotDelivered,
    OutboxFull,
    carried,
    read_answer,
    refused,
)
from vaultnet.client.maid import MaidClient, open_client
from vaultnet.identity import Identity
from vaultnet.messages import Authority, Message, Persona, derived_id
from vaultnet.personas.bodies import (
    AckBody,
    Body,
    ChangeListBody,
    EmptyBody,
    HeldMessageBody,
    MpidAnswerBody,
    SendBody,
)
from vaultnet.protocol import Action
from vaultnet.routing import Parameters
from vaultnet.transport.base import Connection, Endpoint
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name

__all__ = [  # the exceptions are defined in vaultnet.client.errors, re-exported here
    "Blocked", "ClientError", "InboxFull", "Lists", "MalformedAnswer", "MessagingError",
    "MpidClient", "MpidMessage", "NetworkUnavailable", "NotDelivered", "OutboxFull",
    "open_mpid_client",
]

RECEIVED_LIMIT = 1024
SEEN_LIMIT = 4096


@dataclass(frozen=True)
class MpidMessage:
    """A message received from another MPID."""

    sender: Name
    mid: bytes
    body: bytes


@dataclass(frozen=True)
class Lists:
    """An MPID's whitelist and blacklist as its managers hold them after a change."""
    whitelist: list[Name]
    blacklist: list[Name]


class MpidClient(MaidClient):
    """A connected MpidNode. Use `open_mpid_client` (or `Testnet.mpid_client()`)."""

    node_persona = Persona.MPID_NODE

    def __init__(self, identity: Identity, conn: Connection, params: Parameters | None = None,
                 rng: random.Random | None = None) -> None:
        super().__init__(identity, conn, params, rng)
        self._send_received, self._received = trio.open_memory_channel[MpidMessage](
            RECEIVED_LIMIT)
        self._push_votes: OrderedDict[bytes, set[Name]] = OrderedDict()
        self._queued: OrderedDict[tuple[bytes, bytes], None] = OrderedDict()
        self.dropped = 0

    @property
    def managers(self) -> Authority:
        """Our MpidManager group: the close group of our name that holds our lists and messages."""
        return Authority(self.name, Persona.MPID_MANAGER, group=True)

    async def go_online(self, trace: bytes | None = None) -> int:
        """Tell our managers where we are; they push what they hold. Returns how many.
        `trace` (here and in `send`) ties the operation's events together."""
        held = (await self._ask(Action.ONLINE, EmptyBody(), trace)).held
        return 0 if held is None else held

    async def send(self, to: Name, body: bytes, trace: bytes | None = None) -> None:
        """Send `body` to MPID `to`; returns once its managers hold it (or it was delivered).

        Raises Blocked, InboxFull, OutboxFull or NotDelivered."""
        _check_mpid(to)
        if not isinstance(body, bytes):
            raise MessagingError("a message body is bytes")
        await self._ask(Action.SEND, SendBody(to, body), trace)

    async def receive(self) -> MpidMessage:
        """The next message pushed to us (waits for one)."""
        return await self._received.receive()

    def received_nowait(self) -> list[MpidMessage]:
        """Every message already received and not yet taken."""
        messages = []
        while True:
            try:
                messages.append(self._received.receive_nowait())
            except trio.WouldBlock:
                return messages

    async def inbox(self) -> list[MpidMessage]:
        """The messages our managers still hold for us (not yet acknowledged)."""
        held = (await self._ask(Action.GET_INBOX, EmptyBody())).messages
        return [MpidMessage(m.sender, m.mid, m.body)
                for m in carried(held, Action.MPID_ANSWER, "messages")]

    async def allow(self, name: Name) -> Lists:
        """Whitelist `name` so its messages reach us; returns the lists as they now stand."""
        return await self._change_list("allow", name)

    async def disallow(self, name: Name) -> Lists:
        """Take `name` off the whitelist; returns the lists as they now stand."""
        return await self._change_list("disallow", name)

    async def block(self, name: Name) -> Lists:
        """Blacklist `name` so our managers refuse its messages; returns the updated lists."""
        return await self._change_list("block", name)

    async def unblock(self, name: Name) -> Lists:
        """Take `name` off the blacklist; returns the lists as they now stand."""
        return await self._change_list("unblock", name)

    async def lists(self) -> Lists:
        """The lists our managers hold for us, read without changing them."""
        return _lists(await self._ask(Action.GET_LISTS, EmptyBody()))

    async def _change_list(self, change: str, name: Name) -> Lists:
        _check_mpid(name)
        return _lists(await self._ask(Action.CHANGE_LIST, ChangeListBody(change, name)))

    async def _ask(self, action: Action, body: Body,
                   trace: bytes | None = None) -> MpidAnswerBody:
        msg_id = self.new_id()
        msg = self._message(self.managers, action, body, msg_id, trace or self.new_id())
        answer = await self._request(msg, [derived_id(Action.MPID_ANSWER, msg_id)],
                                     self.params.accumulation_quorum)
        if answer is None:
            raise NotDelivered("no answer from the network")
        result = read_answer(answer, MpidAnswerBody)
        if not result.ok:
            raise refused(result, MessagingError)
        return result

    # -- pushed messages --------------------------------------------------------------------

    def _unsolicited(self, msg: Message) -> None:
        if msg.action != Action.MESSAGE or msg.src != self.managers:
            return
        try:
            pushed = msg.typed(HeldMessageBody)
        except FrameError:
            return  # not a message we can take: unacknowledged, the managers keep holding it
        sender, mid = pushed.sender, pushed.mid
        key = msg.content_key()
        votes = self._push_votes.setdefault(key, set())
        votes.add(msg.sender)
        while len(self._push_votes) > SEEN_LIMIT:
            self._push_votes.popitem(last=False)
        if len(votes) != self.params.accumulation_quorum:
            return
        if (sender, mid) not in self._queued:
            self._queued[(sender, mid)] = None
            while len(self._queued) > SEEN_LIMIT:
                self._queued.popitem(last=False)
            try:
                self._send_received.send_nowait(MpidMessage(sender, mid, pushed.body))
            except trio.WouldBlock:
                self.dropped += 1
                return  # not acknowledged: the managers keep holding it
        ack = self._message(self.managers, Action.ACK, AckBody(sender, mid),
                            self.new_id(), msg.trace_id)
        self.conn.send(ack.frame())


def _check_mpid(name: object) -> None:
    if not isinstance(name, bytes) or len(name) != NAME_SIZE:
        raise ClientError("an MPID name is 64 bytes (128 hex characters)")


def _lists(answer: MpidAnswerBody) -> Lists:
    """The lists an answer to a list request must carry."""
    return Lists(carried(answer.whitelist, Action.MPID_ANSWER, "whitelist"),
                 carried(answer.blacklist, Action.MPID_ANSWER, "blacklist"))


async def open_mpid_client(endpoint: Endpoint, bootstrap: list[str], nursery: trio.Nursery,
                           identity: Identity, params: Parameters | None = None,
                           rng: random.Random | None = None,
                           trace: bytes | None = None) -> MpidClient:
    """Connect through the first reachable bootstrap vault and announce ourselves online
    (under `trace`, if given)."""
    client = await open_client(endpoint, bootstrap, nursery, identity, params, rng,
                               client_class=MpidClient)
    await client.go_online(trace)
    return client

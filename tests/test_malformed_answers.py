"""A client reads every answer as the typed record its action carries: an answer with a field
missing or of the wrong type raises `MalformedAnswer` with a one-line message naming the field
(never a KeyError, a FrameError or a traceback from inside), well-formed answers and refusals
read as before, a malformed pushed message is not taken, and a malformed frame closes the
connection with the waiting request saying why. The vault here answers each request the moment
it is sent, from a table, without a network."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, cast

import pytest
import trio

from vaultnet.client.errors import (
    Blocked,
    DataExists,
    GetNoAnswer,
    MalformedAnswer,
    NetworkUnavailable,
    NotOwner,
    RequestExpired,
)
from vaultnet.client.maid import MaidClient
from vaultnet.client.mpid import MpidClient
from vaultnet.identity import Identity
from vaultnet.messages import Authority, Message, derived_id
from vaultnet.personas.bodies import AckBody, HeldMessageBody
from vaultnet.personas.version_tree import VersionName
from vaultnet.protocol import Action, ErrorCode
from vaultnet.routing import Parameters
from vaultnet.transport.base import Connection
from vaultnet.xor import name_of

PEER = name_of(b"the vault the client is connected through")
NAME = name_of(b"a chunk")
OTHER = name_of(b"another client")
VERSION = VersionName(0, NAME)
ONE = Parameters(group_size=1)
"""A group of one: its answer is a quorum, so one answer from the peer decides a request."""

Reply = tuple[Action, dict[str, Any], bytes]
"""The answer the vault gives a request: its action, body (as the map it travels as), payload."""


class Vault:
    """The connection to a vault that answers each request as `answers` says, as it is sent,
    and keeps every other frame the client sends (its acknowledgements)."""

    peer = PEER

    def __init__(self, answers: dict[Action, Reply]) -> None:
        self.answers = answers
        self.client: MaidClient | None = None
        self.sent: list[Message] = []

    def send(self, frame: dict[str, Any]) -> bool:
        request = Message.from_wire(frame["m"])
        self.sent.append(request)
        answer = self.answers.get(request.action)
        if answer is not None and self.client is not None:
            self.client._on_frame(reply(request, *answer).frame())
        return True


def reply(request: Message, action: Action, body: dict[str, Any], payload: bytes = b"",
          ) -> Message:
    """What the managers (sent by the peer, which the client does not check signatures of)
    answer `request` with."""
    return Message(src=Authority(request.dst.name, request.dst.persona, group=True),
                   dst=request.src, action=action, msg_id=derived_id(action, request.msg_id),
                   trace_id=request.trace_id, body=body, sender=PEER, payload=payload)


def connect(answers: dict[Action, Reply], cls: type[MaidClient] = MaidClient,
            ) -> tuple[Any, Vault]:
    """A client of class `cls` connected to a vault answering as `answers` says."""
    vault = Vault(answers)
    client = cls(Identity.generate(), cast(Connection, vault), ONE)
    client.timeout = 1.0
    vault.client = client
    return client, vault


Operation = Callable[[Any], Awaitable[object]]

OPERATIONS: dict[str, Operation] = {
    "put": lambda c: c.put(b"data"),
    "get": lambda c: c.get(NAME),
    "delete": lambda c: c.delete(NAME),
    "put_version": lambda c: c.put_version(NAME, None, VERSION),
    "get_versions": lambda c: c.get_versions(NAME),
    "get_branch": lambda c: c.get_branch(NAME, VERSION),
    "delete_branch": lambda c: c.delete_branch(NAME, VERSION),
    "go_online": lambda c: c.go_online(),
    "send": lambda c: c.send(OTHER, b"hello"),
    "inbox": lambda c: c.inbox(),
    "lists": lambda c: c.lists(),
    "allow": lambda c: c.allow(OTHER),
}
"""Each client operation the tests answer, by its method's name."""

MAID, MPID = MaidClient, MpidClient
MALFORMED: dict[str, tuple[type[MaidClient], str, Action, Action, dict[str, Any], str]] = {
    # case: client, operation, request action answered, answer action, answer body, field
    "put_ok without a name": (MAID, "put", Action.PUT, Action.PUT_OK, {}, "name"),
    "put_failure with a number for reason": (
        MAID, "put", Action.PUT, Action.PUT_FAILURE, {"name": NAME, "reason": 5}, "reason"),
    "put_failure without a reason": (
        MAID, "put", Action.PUT, Action.PUT_FAILURE, {"name": NAME}, "reason"),
    "put_failure with an unknown error code": (
        MAID, "put", Action.PUT, Action.PUT_FAILURE,
        {"name": NAME, "reason": "no", "error": "NoSuchCode"}, "error"),
    "get_response without a reason": (
        MAID, "get", Action.GET, Action.GET_RESPONSE, {"copy": NAME, "ok": False}, "reason"),
    "get_response with a short copy": (
        MAID, "get", Action.GET, Action.GET_RESPONSE,
        {"copy": b"short", "ok": False, "reason": "none"}, "copy"),
    "delete_ok without a name": (
        MAID, "delete", Action.DELETE, Action.DELETE_OK, {"held": True}, "name"),
    "delete_ok with a str for name": (
        MAID, "delete", Action.DELETE, Action.DELETE_OK, {"name": "x", "held": True}, "name"),
    "request_expired without a reason": (
        MAID, "delete", Action.DELETE, Action.REQUEST_EXPIRED, {"action": "delete"}, "reason"),
    "request_expired with a number for action": (
        MAID, "put", Action.PUT, Action.REQUEST_EXPIRED, {"action": 3, "reason": "old"},
        "action"),
    "version_answer to put_version without removed": (
        MAID, "put_version", Action.PUT_VERSION, Action.VERSION_ANSWER, {"ok": True}, "removed"),
    "version_answer to put_version with a str for removed": (
        MAID, "put_version", Action.PUT_VERSION, Action.VERSION_ANSWER,
        {"ok": True, "removed": "v0"}, "removed"),
    "version_answer to get_versions without versions": (
        MAID, "get_versions", Action.GET_VERSIONS, Action.VERSION_ANSWER, {"ok": True},
        "versions"),
    "version_answer to get_branch with a malformed version": (
        MAID, "get_branch", Action.GET_BRANCH, Action.VERSION_ANSWER,
        {"ok": True, "versions": [[0]]}, "versions"),
    "version_answer to delete_branch without removed": (
        MAID, "delete_branch", Action.DELETE_BRANCH, Action.VERSION_ANSWER, {"ok": True},
        "removed"),
    "version refusal with a number for error": (
        MAID, "get_versions", Action.GET_VERSIONS, Action.VERSION_ANSWER,
        {"ok": False, "error": 7, "reason": "no"}, "error"),
    "mpid_answer to online with a negative held": (
        MPID, "go_online", Action.ONLINE, Action.MPID_ANSWER, {"ok": True, "held": -1}, "held"),
    "mpid refusal with bytes for reason": (
        MPID, "send", Action.SEND, Action.MPID_ANSWER, {"ok": False, "reason": b"no"}, "reason"),
    "mpid_answer to inbox without messages": (
        MPID, "inbox", Action.GET_INBOX, Action.MPID_ANSWER, {"ok": True}, "messages"),
    "mpid_answer to inbox with a short sender": (
        MPID, "inbox", Action.GET_INBOX, Action.MPID_ANSWER,
        {"ok": True, "messages": [[b"x", bytes(16), b"body"]]}, "messages"),
    "mpid_answer to lists without a blacklist": (
        MPID, "lists", Action.GET_LISTS, Action.MPID_ANSWER, {"ok": True, "whitelist": []},
        "blacklist"),
    "mpid_answer to allow with a short name": (
        MPID, "allow", Action.CHANGE_LIST, Action.MPID_ANSWER,
        {"ok": True, "whitelist": [b"short"], "blacklist": []}, "whitelist"),
}


@pytest.mark.parametrize("case", MALFORMED)
async def test_a_malformed_answer_is_a_malformed_answer_error(case: str) -> None:
    cls, operation, request, action, body, field = MALFORMED[case]
    client, _ = connect({request: (action, body, b"")}, cls)
    with pytest.raises(MalformedAnswer) as raised:
        await OPERATIONS[operation](client)
    message = str(raised.value)
    assert raised.value.action == action and f"'{field}'" in message, message
    assert message.startswith(f"malformed {action.value} from the network: ")
    assert "\n" not in message


VERSIONS = [VERSION.to_record()]
WELL_FORMED: dict[str, tuple[type[MaidClient], str, Action, Action, dict[str, Any],
                             object]] = {
    # case: client, operation, request action answered, answer action, answer body, result
    "put_ok": (MAID, "put", Action.PUT, Action.PUT_OK, {"name": NAME}, name_of(b"data")),
    "delete_ok held": (MAID, "delete", Action.DELETE, Action.DELETE_OK,
                       {"name": NAME, "held": True}, True),
    "delete_ok not held": (MAID, "delete", Action.DELETE, Action.DELETE_OK,
                           {"name": NAME, "held": False}, False),
    "put_version": (MAID, "put_version", Action.PUT_VERSION, Action.VERSION_ANSWER,
                    {"ok": True, "removed": VERSIONS}, [VERSION]),
    "get_versions": (MAID, "get_versions", Action.GET_VERSIONS, Action.VERSION_ANSWER,
                     {"ok": True, "versions": VERSIONS}, [VERSION]),
    "online, nothing said of held": (MPID, "go_online", Action.ONLINE, Action.MPID_ANSWER,
                                     {"ok": True}, 0),
    "online": (MPID, "go_online", Action.ONLINE, Action.MPID_ANSWER, {"ok": True, "held": 2}, 2),
    "send": (MPID, "send", Action.SEND, Action.MPID_ANSWER, {"ok": True}, None),
}


@pytest.mark.parametrize("case", WELL_FORMED)
async def test_a_well_formed_answer_reads_as_before(case: str) -> None:
    cls, operation, request, action, body, result = WELL_FORMED[case]
    client, _ = connect({request: (action, body, b"")}, cls)
    assert await OPERATIONS[operation](client) == result


REFUSED: dict[str, tuple[type[MaidClient], str, Action, Action, dict[str, Any],
                         type[Exception], str]] = {
    # case: client, operation, request action answered, answer action, body, raised, message
    "put refused, data exists": (
        MAID, "put", Action.PUT, Action.PUT_FAILURE,
        {"name": NAME, "reason": "exists", "error": ErrorCode.DATA_EXISTS.value}, DataExists,
        "refused: exists"),
    "put refused with an empty reason": (
        MAID, "put", Action.PUT, Action.PUT_FAILURE, {"name": NAME, "reason": ""}, Exception,
        "refused: $"),
    "version refused, not an owner": (
        MAID, "get_versions", Action.GET_VERSIONS, Action.VERSION_ANSWER,
        {"ok": False, "error": ErrorCode.NOT_OWNER.value, "reason": "not yours"}, NotOwner,
        "not yours"),
    "version refused without a reason": (
        MAID, "get_versions", Action.GET_VERSIONS, Action.VERSION_ANSWER, {"ok": False},
        Exception, ": refused$"),
    "send refused, blocked": (
        MPID, "send", Action.SEND, Action.MPID_ANSWER,
        {"ok": False, "error": ErrorCode.BLOCKED.value, "reason": "blocked"}, Blocked,
        "^blocked$"),
    "request expired": (
        MAID, "delete", Action.DELETE, Action.REQUEST_EXPIRED,
        {"action": "delete", "reason": "too old"}, RequestExpired, "delete refused: too old"),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_a_refusal_raises_its_error_as_before(case: str) -> None:
    cls, operation, request, action, body, raised, message = REFUSED[case]
    client, _ = connect({request: (action, body, b"")}, cls)
    with pytest.raises(raised, match=message) as caught:
        await OPERATIONS[operation](client)
    assert not isinstance(caught.value, MalformedAnswer)


@pytest.mark.parametrize("copy", [5, b"short", None], ids=["a number", "short", "none"])
async def test_content_whose_body_names_no_copy_is_not_believed(autojump_clock,
                                                                 copy: object) -> None:
    """Content is checked against the copy its get_response names: with no copy to check it
    against, it is ignored like content that does not match (a relay's cache answers gets
    too), and the get ends as one nobody answered."""
    body = {"copy": copy, "ok": True, "reason": "cached"}
    client, _ = connect({Action.GET: (Action.GET_RESPONSE, body, b"data")})
    with pytest.raises(GetNoAnswer):
        await client.get(name_of(b"data"))


async def test_content_of_the_copy_its_answer_names_is_believed() -> None:
    body = {"copy": name_of(b"data"), "ok": True, "reason": "cached"}
    client, _ = connect({Action.GET: (Action.GET_RESPONSE, body, b"data")})
    assert await client.get(name_of(b"data")) == b"data"


def push(client: MpidClient, body: dict[str, Any]) -> None:
    """The client's managers push a message with `body` to it (not an answer to a request)."""
    msg = Message(src=client.managers, dst=client.authority, action=Action.MESSAGE,
                  msg_id=name_of(repr(body).encode())[:16], trace_id=bytes(16), body=body,
                  sender=PEER)
    client._on_frame(msg.frame())


async def test_a_malformed_pushed_message_is_neither_taken_nor_acknowledged() -> None:
    client, vault = connect({}, MpidClient)
    mid = bytes(range(16))
    for body in ({"sender": OTHER, "mid": mid}, {"sender": b"short", "mid": mid, "body": b"x"},
                 {"sender": OTHER, "mid": b"short", "body": b"x"}):
        push(client, body)
    assert client.received_nowait() == [] and vault.sent == []
    push(client, HeldMessageBody(OTHER, mid, b"hello").encode())
    assert [m.body for m in client.received_nowait()] == [b"hello"]
    assert [m.typed(AckBody) for m in vault.sent] == [AckBody(OTHER, mid)]


class Link:
    """The connection to a vault that answers every request with the frame `answer` gives
    for it, read by the client's reader (`run`)."""

    peer = PEER

    def __init__(self, answer: Callable[[Message], dict[str, Any]]) -> None:
        self.answer = answer
        self.frames, self._receive = trio.open_memory_channel[dict[str, Any]](8)

    def send(self, frame: dict[str, Any]) -> bool:
        if frame.get("t") == "msg":
            self.frames.send_nowait(self.answer(Message.from_wire(frame["m"])))
        return True

    async def receive(self) -> dict[str, Any]:
        return await self._receive.receive()

    async def run_writer(self) -> None:
        await trio.sleep_forever()

    async def aclose(self) -> None:
        pass


def forged(request: Message) -> dict[str, Any]:
    """An unsigned answer to `request` from a vault other than the peer."""
    answer = reply(request, Action.DELETE_OK, {"name": NAME, "held": True})
    return replace(answer, sender=OTHER).frame()


FRAMES: dict[str, tuple[Callable[[Message], dict[str, Any]], str]] = {
    "a message that is not a map": (lambda _: {"t": "msg", "m": [1, 2]},
                                    "message is not a map"),
    "a message of no known action": (lambda _: {"t": "msg", "m": {"a": "shout"}},
                                     "unknown action"),
    "a forged answer": (forged, "message is not signed"),
}


@pytest.mark.parametrize("case", FRAMES)
async def test_a_malformed_frame_closes_the_connection_and_says_so(case: str) -> None:
    answer, reason = FRAMES[case]
    client = MaidClient(Identity.generate(), cast(Connection, Link(answer)), ONE)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.run)
        with pytest.raises(NetworkUnavailable, match=f"malformed frame: {reason}"):
            await client.delete(NAME)
    assert client.closed

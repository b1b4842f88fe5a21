"""A client whose first answer is lost on the way retries with the same id and gets the answer
the group recorded (Uf), and nothing is done twice: get, version put, branch delete, send."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.versions.helpers import group_holds
from vaultnet import Testnet
from vaultnet.client.maid import MaidClient
from vaultnet.messages import Message
from vaultnet.personas.version_tree import VersionName
from vaultnet.protocol import EventKind
from vaultnet.runtime import events as ev
from vaultnet.xor import name_of


def lose_first_answers(client: MaidClient) -> Counter[str]:
    """Drop every answer to a request until the client has sent that request a second time,
    as a lossy last hop would; returns the count of lost answers per action."""
    sent: Counter[bytes] = Counter()
    lost: Counter[str] = Counter()
    requests: dict[bytes, bytes] = {}  # any id an answer may carry -> its request's id
    send, on_frame = client.conn.send, client._on_frame

    def counting_send(frame: dict[str, Any]) -> bool:
        if frame.get("t") == "msg":
            request = Message.from_wire(frame["m"]).msg_id
            sent[request] += 1
            for answer in client._waiters:
                requests.setdefault(answer, request)
        return send(frame)

    def lossy_on_frame(frame: dict[str, Any]) -> None:
        if frame.get("t") == "msg":
            msg = Message.from_wire(frame["m"])
            request = requests.get(msg.msg_id)
            if request is not None and sent[request] < 2:
                lost[msg.action] += 1
                return
        on_frame(frame)

    client.conn.send = counting_send  # type: ignore[method-assign]
    client._on_frame = lossy_on_frame  # type: ignore[method-assign]
    return lost


async def test_retries_after_lost_answers_get_the_recorded_answers(autojump_clock) -> None:
    key = name_of(b"a document")
    async with Testnet(vaults=16, transport="sim", seed=3) as net:
        honest = await net.client()
        chunk = await honest.put(b"version 0")
        v0 = VersionName(0, chunk)
        events: list[ev.Event] = []
        net.bus.add_sink(events.append)

        client = await net.client(identity=honest.identity)
        lost = lose_first_answers(client)
        await client.put_version(key, None, v0)
        assert await client.get(chunk) == b"version 0"
        await net.wait_for(lambda: group_holds(net, key, [v0]), 30, "the tree holds v0 once")
        assert await client.delete_branch(key, v0) == [v0]
        assert lost["version_answer"] > 0 and lost["get_response"] > 0

        answered = [e for e in events if isinstance(e, ev.PersonaEvent)
                    and e.what == EventKind.FIREWALL_ANSWERED]
        assert {e.detail.get("action") for e in answered} >= {"put_version", "delete_branch"}

        sender, recipient = await net.mpid_client(), await net.mpid_client()
        lost = lose_first_answers(sender)
        await sender.send(recipient.name, b"only once")
        assert lost["mpid_answer"] > 0
        del sender._on_frame  # the lossy hook: answers are no longer lost
        assert (await recipient.receive()).body == b"only once"
        await sender.send(recipient.name, b"the next one")  # answers no longer lost
        assert (await recipient.receive()).body == b"the next one"  # no second copy between

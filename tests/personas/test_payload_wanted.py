"""Content asked for again, sans-IO: a PmidNode that agreed on a store but never got the content
(its managers' lead committed before its own copy of the content arrived) asks its managers
after PAYLOAD_WAIT, at most PAYLOAD_ASKS times; their lead resends the same message with the
content, which completes the store. Found by the 500-chunk churn run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.personas.helpers import MEMBERS, PARAMS, Ctx
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.payload_wanted import PAYLOAD_ASKS, PAYLOAD_WAIT
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.personas.pmid_node import PmidNode
from vaultnet.storage.store import ChunkStore, CopyKind, Database, RecordStore, copy_name
from vaultnet.wire import FrameError
from vaultnet.xor import name_of

NODE = MEMBERS[0]
CONTENT = b"content" * 100
COPY = copy_name(name_of(CONTENT), CopyKind.PRIMARY)
STORE_ID = b"s" * 16


def store_message(sender: bytes, payload: bytes = b"") -> Message:
    return Message(src=Authority(NODE, Persona.PMID_MANAGER, group=True),
                   dst=Authority(NODE, Persona.PMID_NODE), action="store", msg_id=STORE_ID,
                   trace_id=bytes(16), sender=sender, payload=payload,
                   body={"copy": COPY, "kind": "P", "size": len(CONTENT)})


@pytest.fixture
def node(tmp_path: Path) -> PmidNode:
    persona = PmidNode(PARAMS, ChunkStore(Database(tmp_path / "node.db"), 1 << 20))
    persona.attach(NODE)
    return persona


@pytest.fixture
def managers(tmp_path: Path) -> dict[bytes, PmidManager]:
    made = {}
    for i, name in enumerate(MEMBERS[1:]):
        manager = PmidManager(PARAMS, RecordStore(Database(tmp_path / f"{i}.db"), "accounts"))
        manager.attach(name)
        made[name] = manager
    return made


def test_a_store_without_content_is_asked_for_and_completed(node: PmidNode,
                                                            managers: dict[bytes, PmidManager]
                                                            ) -> None:
    clock = [0.0]
    ctx = Ctx(NODE, clock)
    for member in Ctx(NODE, clock).close_group(NODE):
        assert not node.handle(store_message(member), ctx).messages
    assert not node.chunks.has(COPY)

    asks = []
    for _ in range(PAYLOAD_ASKS + 3):
        clock[0] += PAYLOAD_WAIT
        asks += node.resend(ctx).messages
    assert len(asks) == PAYLOAD_ASKS
    ask = asks[0]
    assert ask.action == "payload_wanted"
    assert ask.dst == Authority(NODE, Persona.PMID_MANAGER, group=True)

    lead, second = Ctx(NODE, clock).close_group(NODE)[:2]
    for name in (lead, second):
        managers[name].stash.put(COPY, CONTENT)
    assert not managers[second].handle(replace(ask, sender=NODE), Ctx(second, clock)).messages
    (resent,) = managers[lead].handle(replace(ask, sender=NODE), Ctx(lead, clock)).messages
    assert resent.msg_id == STORE_ID and resent.payload == CONTENT
    assert resent.content_key() == store_message(lead).content_key()

    node.handle(replace(resent, sender=lead), ctx)
    assert node.chunks.has(COPY)


def test_only_resendable_actions_from_the_recipient_are_answered(
        managers: dict[bytes, PmidManager]) -> None:
    clock = [0.0]
    lead = Ctx(NODE, clock).close_group(NODE)[0]
    managers[lead].stash.put(COPY, CONTENT)
    ask = Message(src=Authority(NODE, Persona.PMID_NODE),
                  dst=Authority(NODE, Persona.PMID_MANAGER, group=True),
                  action="payload_wanted", msg_id=b"a" * 16, trace_id=bytes(16), sender=NODE,
                  body={"action": "delete", "id": STORE_ID, "to": NODE, "persona": "PmidNode",
                        "group": False, "body": {"copy": COPY}})
    with pytest.raises(FrameError, match="action"):
        managers[lead].handle(ask, Ctx(lead, clock))
    stranger = b"\xee" * 64
    forged = replace(ask, src=Authority(stranger, Persona.PMID_NODE), sender=stranger,
                     msg_id=b"b" * 16, body={**ask.body, "action": "store"})
    with pytest.raises(FrameError, match="outside the recipient"):
        managers[lead].handle(forged, Ctx(lead, clock))


def test_a_lead_without_the_content_has_the_other_members_send_it(
        node: PmidNode, managers: dict[bytes, PmidManager]) -> None:
    """The lead (re)joined after the put was agreed and never saw it: asked for the content, it
    asks the other members, and one that has it sends the store with it."""
    clock = [0.0]
    ctx = Ctx(NODE, clock)
    for member in ctx.close_group(NODE):
        node.handle(store_message(member), ctx)
    clock[0] += PAYLOAD_WAIT
    (ask,) = node.resend(ctx).messages
    lead, second, third = ctx.close_group(NODE)
    managers[second].stash.put(COPY, CONTENT)
    relays = managers[lead].handle(replace(ask, sender=NODE), Ctx(lead, clock)).messages
    assert sorted(m.dst.name for m in relays) == sorted([second, third])
    assert {m.action for m in relays} == {"content_wanted"}
    answers = {m.dst.name: managers[m.dst.name].handle(replace(m, sender=lead),
                                                      Ctx(m.dst.name, clock)).messages
               for m in relays}
    assert answers[third] == []  # nothing to send without the content
    (resent,) = answers[second]
    assert resent.msg_id == STORE_ID and resent.payload == CONTENT
    node.handle(replace(resent, sender=second), ctx)
    assert node.chunks.has(COPY)
    with pytest.raises(FrameError, match="outside"):
        managers[second].handle(replace(relays[0], sender=b"\xff" * 64,
                                        src=Authority(b"\xff" * 64, Persona.PMID_MANAGER)),
                                Ctx(second, clock))

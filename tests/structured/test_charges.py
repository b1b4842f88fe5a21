"""Structured data records charged to the account of the client that sends them, by messages
alone (`memory_network`: the client's MaidManagers and the record's VersionManagers agree by
sync): a put charges the data, an update the growth (a shrink is refunded), a delete refunds
it; what would pass the allowance is refused; what the VersionManagers refuse is never charged;
a retry, or the charge agreed again, charges once."""

from __future__ import annotations

import pytest

from tests.personas.memory_network import MemoryNetwork
from tests.structured.helpers import NONCE, signed
from vaultnet.identity import Identity
from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.actions import MaidRecordCharge
from vaultnet.personas.bodies import (
    Body,
    DeleteStructuredBody,
    StructuredAnswerBody,
    StructuredBody,
)
from vaultnet.personas.effects import Outbox
from vaultnet.personas.maid_manager import ALLOWANCE_EXCEEDED, MaidManager
from vaultnet.personas.records import MaidAccount
from vaultnet.personas.structured_data import delete_bytes
from vaultnet.personas.version_manager import VersionManager
from vaultnet.protocol import Action, ErrorCode
from vaultnet.xor import Name, name_of

OWNER = Identity.generate(b"\x01" * 32)
"""The record's owner, and the client that sends its requests unless a test says otherwise."""
OTHER = Identity.generate(b"\x02" * 32)
NAME = name_of(b"a charged record")
TRACE = b"\x07" * 16


def send(net: MemoryNetwork, action: Action, body: Body, msg_id: bytes,
         client: Identity = OWNER) -> StructuredAnswerBody:
    """`client`'s structured data request, run until quiet; the answer every member of its
    MaidManager group sent (all the same)."""
    request = Message(src=Authority(client.name, Persona.MAID_NODE),
                      dst=Authority(client.name, Persona.MAID_MANAGER, group=True),
                      action=action, msg_id=msg_id, trace_id=TRACE, body=body.encode(),
                      sender=client.name, sent_at=net.clock[0])
    net.run(request, client.name)
    answers = {m.sender: m.typed(StructuredAnswerBody)
               for m in net.sent_to(Persona.MAID_NODE, Action.STRUCTURED_ANSWER)
               if m.msg_id == new_id(Action.STRUCTURED_ANSWER, msg_id)}
    assert len(answers) == 4 and len(set(answers.values())) == 1
    return next(iter(answers.values()))


def put(net: MemoryNetwork, size: int, msg_id: bytes,
        client: Identity = OWNER) -> StructuredAnswerBody:
    return send(net, Action.PUT_STRUCTURED, StructuredBody(signed(OWNER, NAME, 0, bytes(size))),
                msg_id, client)


def update(net: MemoryNetwork, version: int, size: int, msg_id: bytes,
           client: Identity = OWNER) -> StructuredAnswerBody:
    return send(net, Action.UPDATE_STRUCTURED,
                StructuredBody(signed(OWNER, NAME, version, bytes(size))), msg_id, client)


def delete(net: MemoryNetwork, version: int, msg_id: bytes) -> StructuredAnswerBody:
    return send(net, Action.DELETE_STRUCTURED, DeleteStructuredBody(
        NAME, version, OWNER.sign(delete_bytes(NAME, NONCE, version))), msg_id)


def maid_managers(net: MemoryNetwork, client: Name = OWNER.name) -> list[MaidManager]:
    found = [mm for mm in (net.vaults[m][Persona.MAID_MANAGER] for m in net.group(client))
             if isinstance(mm, MaidManager)]
    assert len(found) == 4
    return found


def used(net: MemoryNetwork, client: Name = OWNER.name) -> int:
    """`client`'s bytes used, the same at every member, which also agree on what its record
    is charged."""
    found = {(mm.account_of(client).used, mm.charged_for(client, NAME))
             for mm in maid_managers(net, client)}
    assert len(found) == 1
    return found.pop()[0]


def stored_size(net: MemoryNetwork) -> int | None:
    """The size of the data the record's VersionManagers hold (None: no record)."""
    found = set()
    for member in net.group(NAME):
        keeper = net.vaults[member][Persona.VERSION_MANAGER]
        assert isinstance(keeper, VersionManager)
        record = keeper.record(NAME)
        found.add(None if record is None else len(record.data))
    assert len(found) == 1
    return found.pop()


@pytest.fixture
def net() -> MemoryNetwork:
    """Managers whose client OWNER has an allowance of 1000 bytes."""
    network = MemoryNetwork()
    for mm in maid_managers(network):
        mm.accounts.put(OWNER.name, MaidAccount(0, 1000).to_record())
    return network


def test_a_put_charges_an_update_charges_or_refunds_the_difference_a_delete_refunds(
        net: MemoryNetwork) -> None:
    assert put(net, 300, b"\x11" * 16).ok
    assert used(net) == 300
    assert update(net, 1, 500, b"\x12" * 16).ok
    assert used(net) == 500
    assert update(net, 2, 100, b"\x13" * 16).ok
    assert used(net) == 100
    answer = delete(net, 2, b"\x14" * 16)
    assert answer.ok and answer.deleted
    assert used(net) == 0 and stored_size(net) is None


def test_a_put_or_growth_past_the_allowance_is_refused(net: MemoryNetwork) -> None:
    refused = put(net, 1001, b"\x11" * 16)
    assert (refused.ok, refused.error, refused.reason) == (
        False, ErrorCode.ALLOWANCE_EXCEEDED, ALLOWANCE_EXCEEDED)
    assert used(net) == 0 and stored_size(net) is None  # never forwarded
    assert put(net, 600, b"\x12" * 16).ok
    assert update(net, 1, 1001, b"\x13" * 16).error is ErrorCode.ALLOWANCE_EXCEEDED
    assert used(net) == 600 and stored_size(net) == 600
    # only the growth must fit: 600 used, 400 more
    assert update(net, 1, 1000, b"\x14" * 16).ok
    assert used(net) == 1000 and stored_size(net) == 1000
    assert update(net, 2, 1000, b"\x15" * 16).ok  # no growth: nothing more to fit
    assert used(net) == 1000


def test_what_the_version_managers_refuse_is_not_charged(net: MemoryNetwork) -> None:
    assert put(net, 300, b"\x11" * 16).ok
    assert put(net, 200, b"\x12" * 16).error is ErrorCode.DATA_EXISTS
    assert update(net, 5, 400, b"\x13" * 16).error is ErrorCode.STALE_VERSION
    wrong = send(net, Action.UPDATE_STRUCTURED,
                 StructuredBody(signed(OTHER, NAME, 1, bytes(400))), b"\x14" * 16)
    assert wrong.error is ErrorCode.NOT_OWNER
    assert delete(net, 4, b"\x15" * 16).error is ErrorCode.STALE_VERSION
    assert used(net) == 300


def test_a_retry_and_the_charge_agreed_again_charge_once(net: MemoryNetwork) -> None:
    assert put(net, 300, b"\x11" * 16).ok
    answered = len(net.sent_to(Persona.MAID_NODE, Action.STRUCTURED_ANSWER))
    assert put(net, 300, b"\x11" * 16).ok  # the retry: each member's recorded answer
    assert len(net.sent_to(Persona.MAID_NODE, Action.STRUCTURED_ANSWER)) == answered + 4
    assert used(net) == 300
    # the same charge agreed again (a vote resent after the applied log forgot it, or a
    # newcomer's transferred account): it sets the record's charge, so nothing changes
    for member in net.group(OWNER.name):
        mm = net.vaults[member][Persona.MAID_MANAGER]
        assert isinstance(mm, MaidManager)
        mm.commit_record_charge(OWNER.name, MaidRecordCharge(NAME, 300, b"\x11" * 16),
                                net.contexts[member], Outbox(), TRACE)
    assert used(net) == 300


def test_the_client_that_sends_the_request_is_charged_not_the_owner_key(
        net: MemoryNetwork) -> None:
    """OTHER's client sends a record OWNER's key signed (it holds that key too): OTHER's
    account pays, OWNER's is untouched; OWNER's later update is charged all its data (it was
    charged nothing for the name)."""
    assert put(net, 300, b"\x11" * 16, client=OTHER).ok
    assert (used(net, OTHER.name), used(net)) == (300, 0)
    assert update(net, 1, 400, b"\x12" * 16).ok
    assert (used(net, OTHER.name), used(net)) == (300, 400)

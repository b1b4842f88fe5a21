"""A client's registered vaults, by messages alone (`memory_network`): the vault tells its
PmidManagers the space it offers, a registration both keys signed puts it in the client's
account, the MaidManagers ask its PmidManagers (GetPMIDHealth) and the allowance follows the
space offered; a forged or half-signed registration changes nothing; the put's answer carries
the registered vaults' health."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.personas.helpers import PARAMS
from tests.personas.memory_network import MemoryNetwork
from vaultnet.identity import Identity
from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas import maid_manager
from vaultnet.personas.bodies import (
    MAX_VAULTS,
    CapacityBody,
    NameBody,
    PmidHealthBody,
    PutOkBody,
    PutRefusedBody,
    RegisterVaultBody,
    VaultAnswerBody,
    registration_bytes,
)
from vaultnet.personas.maid_manager import (
    DEFAULT_ALLOWANCE,
    HEALTH_UNKNOWN,
    REGISTRATION_WAIT,
    MaidManager,
)
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.personas.pmid_node import RECONCILE_INTERVAL, PmidNode
from vaultnet.personas.records import MaidAccount, VaultHealth
from vaultnet.protocol import Action, ErrorCode
from vaultnet.storage.store import ChunkStore, CopyKind, Database, copy_name
from vaultnet.xor import name_of

CLIENT = Identity.generate(b"\x01" * 32)
VAULT_A = Identity.generate(b"\x02" * 32)
VAULT_B = Identity.generate(b"\x03" * 32)
TRACE = b"\x07" * 16


def from_client(net: MemoryNetwork, action: Action, body: dict[str, object], msg_id: bytes,
                payload: bytes = b"") -> Message:
    """A request of CLIENT's to its MaidManagers, as `MaidClient` sends it."""
    return Message(src=Authority(CLIENT.name, Persona.MAID_NODE),
                   dst=Authority(CLIENT.name, Persona.MAID_MANAGER, group=True), action=action,
                   msg_id=msg_id, trace_id=TRACE, body=body, sender=CLIENT.name,
                   payload=payload, sent_at=net.clock[0])


def registration(vault: Identity, maid: Identity = CLIENT,
                 pmid_signer: Identity | None = None) -> RegisterVaultBody:
    """`vault`'s registration for `maid`, its PMID half signed by `pmid_signer` (a forger)."""
    signed = registration_bytes(maid.name, vault.name)
    return RegisterVaultBody(maid.verify_key, vault.verify_key, maid.sign(signed),
                             (pmid_signer or vault).sign(signed))


def register(net: MemoryNetwork, body: RegisterVaultBody, msg_id: bytes) -> VaultAnswerBody:
    """Send a registration; the MaidManagers' answer to the client."""
    net.run(from_client(net, Action.REGISTER_VAULT, body.encode(), msg_id), CLIENT.name)
    return answer(net, msg_id)


def unregister(net: MemoryNetwork, vault: Identity, msg_id: bytes) -> VaultAnswerBody:
    """Send an unregistration; the MaidManagers' answer to the client."""
    net.run(from_client(net, Action.UNREGISTER_VAULT, NameBody(vault.name).encode(), msg_id),
            CLIENT.name)
    return answer(net, msg_id)


def answer(net: MemoryNetwork, msg_id: bytes) -> VaultAnswerBody:
    """The answer every member of the client's group sent to request `msg_id` (all the same)."""
    answers = {msg.sender: msg.typed(VaultAnswerBody) for msg in answers_to(net, msg_id)}
    assert len(answers) == 4 and len(set(answers.values())) == 1
    return next(iter(answers.values()))


def answers_to(net: MemoryNetwork, msg_id: bytes,
               action: Action = Action.VAULT_ANSWER) -> list[Message]:
    """Every `action` the client was sent for request `msg_id` so far."""
    return [msg for msg in net.sent_to(Persona.MAID_NODE, action)
            if msg.msg_id == new_id(action, msg_id)]


def held(net: MemoryNetwork) -> int:
    """Registration answers the members of CLIENT's group hold, summed."""
    return sum(mm.held_registrations() for mm in
               (net.vaults[m][Persona.MAID_MANAGER] for m in net.group(CLIENT.name))
               if isinstance(mm, MaidManager))


def offer(net: MemoryNetwork, vault: Identity, available: int) -> None:
    """The vault tells its PmidManagers the space it offers (`PmidNode._capacity_report`)."""
    net.run(Message(src=Authority(vault.name, Persona.PMID_NODE),
                    dst=Authority(vault.name, Persona.PMID_MANAGER, group=True),
                    action=Action.CAPACITY,
                    msg_id=name_of(vault.name + str(available).encode())[:16],
                    trace_id=TRACE, body=CapacityBody(available).encode(), sender=vault.name),
            vault.name)


def accounts(net: MemoryNetwork) -> list[MaidAccount]:
    """CLIENT's account at each member of its MaidManager group."""
    found = [mm.account_of(CLIENT.name) for mm in
             (net.vaults[m][Persona.MAID_MANAGER] for m in net.group(CLIENT.name))
             if isinstance(mm, MaidManager)]
    assert len(found) == 4
    return found


def allowance(net: MemoryNetwork) -> int:
    """CLIENT's allowance, the same at every member."""
    allowances = {a.allowance for a in accounts(net)}
    assert len(allowances) == 1
    return allowances.pop()


@pytest.fixture
def net() -> MemoryNetwork:
    return MemoryNetwork()


def test_the_allowance_follows_registration_and_unregistration(net: MemoryNetwork) -> None:
    offer(net, VAULT_A, 1000)
    offer(net, VAULT_B, 3000)
    assert allowance(net) == DEFAULT_ALLOWANCE  # no vault registered yet
    assert register(net, registration(VAULT_A), b"\x11" * 16).ok
    assert allowance(net) == 1000
    assert register(net, registration(VAULT_B), b"\x12" * 16).ok
    assert allowance(net) == 4000
    assert [v.node for v in accounts(net)[0].vaults] == [VAULT_A.name, VAULT_B.name]
    data = b"x" * 4001
    net.run(from_client(net, Action.PUT, {"name": name_of(data)}, b"\x13" * 16, data),
            CLIENT.name)
    refused = net.sent_to(Persona.MAID_NODE, Action.PUT_FAILURE)
    assert refused and refused[0].typed(PutRefusedBody).reason == "allowance exceeded"
    answered = unregister(net, VAULT_B, b"\x14" * 16)
    assert answered.ok and answered.allowance == 1000 and allowance(net) == 1000
    assert unregister(net, VAULT_A, b"\x15" * 16).allowance == DEFAULT_ALLOWANCE
    assert accounts(net)[0].vaults == ()
    # a vault never registered: nothing changes, answered at once
    assert unregister(net, VAULT_A, b"\x16" * 16).ok


def test_the_first_registration_answers_the_allowance_with_the_vault_space(
        net: MemoryNetwork) -> None:
    """The answer waits for the vault's health (GetPMIDHealth), so it carries its space."""
    offer(net, VAULT_A, 1000)
    answered = register(net, registration(VAULT_A), b"\x11" * 16)
    assert (answered.ok, answered.allowance, answered.reason) == (True, 1000, None)
    assert held(net) == 0


def test_a_registration_whose_vault_health_does_not_come_is_answered_at_its_deadline(
        net: MemoryNetwork) -> None:
    """The vault's PmidManagers' answers are lost: the members hold the client's answer (its
    retry meanwhile is answered "synchronising"), then at REGISTRATION_WAIT answer with the
    allowance they have, saying the vault's space is not known yet; a later retry gets that
    recorded answer."""
    offer(net, VAULT_A, 1000)
    net.lost = lambda msg: msg.action == Action.PMID_HEALTH
    request = from_client(net, Action.REGISTER_VAULT, registration(VAULT_A).encode(),
                          b"\x11" * 16)
    net.run(request, CLIENT.name)
    assert answers_to(net, b"\x11" * 16) == [] and held(net) == 4
    net.run(request, CLIENT.name)
    assert len(answers_to(net, b"\x11" * 16, Action.SYNCHRONISING)) == 4
    net.tick(REGISTRATION_WAIT - 1)
    assert answers_to(net, b"\x11" * 16) == []
    net.tick(1)
    answered = answer(net, b"\x11" * 16)
    assert (answered.ok, answered.allowance, answered.reason) == (True, 0, HEALTH_UNKNOWN)
    assert held(net) == 0
    net.run(request, CLIENT.name)
    assert len(answers_to(net, b"\x11" * 16)) == 8  # the recorded answer, once more each


def test_past_the_held_answers_limit_the_oldest_is_answered_at_once(
        net: MemoryNetwork, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maid_manager, "REGISTRATIONS_WAITING", 1)
    net.lost = lambda msg: msg.action == Action.PMID_HEALTH
    net.run(from_client(net, Action.REGISTER_VAULT, registration(VAULT_A).encode(),
                        b"\x11" * 16), CLIENT.name)
    assert answers_to(net, b"\x11" * 16) == []
    net.run(from_client(net, Action.REGISTER_VAULT, registration(VAULT_B).encode(),
                        b"\x12" * 16), CLIENT.name)
    assert answer(net, b"\x11" * 16).reason == HEALTH_UNKNOWN
    assert answers_to(net, b"\x12" * 16) == [] and held(net) == 4


def test_a_vault_offering_more_later_raises_the_allowance_when_the_client_runs_short(
        net: MemoryNetwork) -> None:
    offer(net, VAULT_A, 1000)
    register(net, registration(VAULT_A), b"\x11" * 16)
    offer(net, VAULT_A, 9000)  # restarted with a larger capacity
    assert allowance(net) == 1000  # nobody asked yet
    data = b"y" * 2000
    net.run(from_client(net, Action.PUT, {"name": name_of(data)}, b"\x13" * 16, data),
            CLIENT.name)  # refused: low on resources, so the MaidManagers ask again
    assert allowance(net) == 9000


def test_registering_a_vault_again_refreshes_its_health(net: MemoryNetwork) -> None:
    offer(net, VAULT_A, 1000)
    register(net, registration(VAULT_A), b"\x11" * 16)
    offer(net, VAULT_A, 5000)
    assert register(net, registration(VAULT_A), b"\x12" * 16).ok
    assert allowance(net) == 5000 and len(accounts(net)[0].vaults) == 1


@pytest.mark.parametrize("forged", ["pmid signed by another key", "maid key of another client",
                                    "maid half unsigned"])
def test_a_forged_or_half_signed_registration_is_refused(net: MemoryNetwork,
                                                         forged: str) -> None:
    offer(net, VAULT_A, 1000)
    other = Identity.generate(b"\x09" * 32)
    body = registration(VAULT_A)
    if forged == "pmid signed by another key":
        body = registration(VAULT_A, pmid_signer=other)
    elif forged == "maid key of another client":
        body = registration(VAULT_A, maid=other)
    else:
        body = dataclasses.replace(body, maid_signature=bytes(64))
    answered = register(net, body, b"\x11" * 16)
    assert not answered.ok and answered.error is ErrorCode.INVALID_REGISTRATION
    assert answered.allowance == DEFAULT_ALLOWANCE
    assert all(a == MaidAccount(0, DEFAULT_ALLOWANCE) for a in accounts(net))


def test_registrations_past_the_limit_are_refused(net: MemoryNetwork) -> None:
    vaults = [Identity.generate(bytes([40 + i]) * 32) for i in range(MAX_VAULTS + 1)]
    for i, vault in enumerate(vaults[:MAX_VAULTS]):
        assert register(net, registration(vault), bytes([i + 1]) * 16).ok
    answered = register(net, registration(vaults[-1]), b"\xff" * 16)
    assert not answered.ok and answered.error is ErrorCode.TOO_MANY_VAULTS
    assert len(accounts(net)[0].vaults) == MAX_VAULTS
    assert register(net, registration(vaults[0]), b"\xfe" * 16).ok  # again: no change


def test_get_pmid_health_answers_stored_lost_available_and_rank(net: MemoryNetwork) -> None:
    offer(net, VAULT_A, 5000)
    healths: list[Message] = []

    def watch(msg: Message) -> bool:
        """Lose nothing: only see each health answer on its way (one per PmidManager)."""
        if msg.action == Action.PMID_HEALTH:
            healths.append(msg)
        return False

    net.lost = watch
    register(net, registration(VAULT_A), b"\x11" * 16)
    assert len(healths) == 4 and {m.src.name for m in healths} == {VAULT_A.name}
    assert {m.dst.name for m in healths} == {CLIENT.name}
    assert {m.typed(PmidHealthBody) for m in healths} == {
        PmidHealthBody(VAULT_A.name, 0, 0, 5000, 1.0)}
    assert accounts(net)[0].vaults == (VaultHealth(VAULT_A.name, 0, 0, 5000),)


def test_the_put_answer_carries_the_registered_vaults_health(net: MemoryNetwork) -> None:
    offer(net, VAULT_A, 1 << 20)
    register(net, registration(VAULT_A), b"\x11" * 16)
    data = b"z" * 300
    net.run(from_client(net, Action.PUT, {"name": name_of(data)}, b"\x13" * 16, data),
            CLIENT.name)
    primary = copy_name(name_of(data), CopyKind.PRIMARY)
    holder = sorted({m.dst.name for m in net.sent_to(Persona.PMID_NODE, Action.STORE)
                     if m.body["copy"] == primary})[0]
    net.run(Message(src=Authority(holder, Persona.PMID_NODE),
                    dst=Authority(primary, Persona.DATA_MANAGER, group=True),
                    action=Action.STORED, msg_id=name_of(holder + primary)[:16], trace_id=TRACE,
                    body={"copy": primary}, sender=holder), holder)
    oks = net.sent_to(Persona.MAID_NODE, Action.PUT_OK)
    assert oks and all(m.typed(PutOkBody).health == [VaultHealth(VAULT_A.name, 0, 0, 1 << 20)]
                       for m in oks)


def test_a_pmid_node_tells_its_managers_the_space_it_offers(net: MemoryNetwork,
                                                            tmp_path: Path) -> None:
    own = net.names[0]
    node = PmidNode(PARAMS, ChunkStore(Database(tmp_path / "node.db"), 123_456))
    node.attach(own)
    for _ in range(2):  # each of the first reconcile rounds says it again (a report may be lost)
        reports = [m for m in node.tick(net.contexts[own]).messages
                   if m.action == Action.CAPACITY]
        assert len(reports) == 1 and reports[0].dst.name == own
        net.run(reports[0], own)
        net.clock[0] += RECONCILE_INTERVAL
    managers = [net.vaults[m][Persona.PMID_MANAGER] for m in net.group(own)]
    assert [pm.account_of(own).available for pm in managers
            if isinstance(pm, PmidManager)] == [123_456] * 4

"""The manager personas as groups, with no network and no file: a client's put travels
MaidManagers -> DataManagers -> PmidManagers by messages alone (`memory_network`), the test
plays the client and the PmidNodes, and every member's records are read back from memory."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.personas.memory_network import MemoryNetwork
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.copy_puts import CONFIRM_AFTER, RESENDS
from vaultnet.personas.data_manager import HOLDERS_PER_COPY, DataManager
from vaultnet.personas.maid_manager import MaidManager
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.protocol import EventKind
from vaultnet.storage.records import MemoryRecords, encode
from vaultnet.storage.store import CopyKind, Database, RecordStore, copy_name
from vaultnet.xor import Name, name_of

CLIENT = name_of(b"a client")
DATA = b"chunk content " * 64
CHUNK = name_of(DATA)
TRACE = b"\x07" * 16


def client_put(net: MemoryNetwork, data: bytes = DATA, msg_id: bytes = b"\x01" * 16) -> Message:
    """What `MaidClient.put` sends: the chunk, to the MaidManager group of the client's name."""
    return Message(src=Authority(CLIENT, Persona.MAID_NODE),
                   dst=Authority(CLIENT, Persona.MAID_MANAGER, group=True), action="put",
                   msg_id=msg_id, trace_id=TRACE, body={"name": name_of(data)}, sender=CLIENT,
                   payload=data, sent_at=net.clock[0])


def node_stored(node: Name, copy: Name) -> Message:
    """What a PmidNode answers once it has stored a copy (`PmidNode.on_store`)."""
    return Message(src=Authority(node, Persona.PMID_NODE),
                   dst=Authority(copy, Persona.DATA_MANAGER, group=True), action="stored",
                   msg_id=name_of(node + copy)[:16], trace_id=TRACE, body={"copy": copy},
                   sender=node)


def stores(net: MemoryNetwork) -> dict[Name, set[Name]]:
    """copy name -> the PmidNodes asked to store it."""
    asked: dict[Name, set[Name]] = defaultdict(set)
    for msg in net.sent_to(Persona.PMID_NODE, "store"):
        asked[msg.body["copy"]].add(msg.dst.name)
    return asked


def members(net: MemoryNetwork, name: Name, persona: Persona) -> list[GroupPersona]:
    """`persona` at each member of the close group of `name`."""
    return [net.vaults[m][persona] for m in net.group(name)]


@pytest.fixture
def net() -> MemoryNetwork:
    return MemoryNetwork()


def test_a_put_asks_two_nodes_for_each_of_the_three_copies(net: MemoryNetwork) -> None:
    net.run(client_put(net), CLIENT)
    asked = stores(net)
    assert set(asked) == {copy_name(CHUNK, kind) for kind in CopyKind}
    assert all(len(nodes) == HOLDERS_PER_COPY for nodes in asked.values())
    # Content travels once per hop: only the lead of each PmidManager group attaches it.
    with_content = [m for m in net.sent_to(Persona.PMID_NODE, "store") if m.payload]
    assert with_content and all(m.payload == DATA for m in with_content)
    assert net.sent_to(Persona.MAID_NODE, "put_ok") == []  # nothing is stored yet


def test_every_member_of_each_group_agrees_on_the_same_records(net: MemoryNetwork) -> None:
    net.run(client_put(net), CLIENT)
    for copy, nodes in stores(net).items():
        records = [dm.records.get(copy) for dm in members(net, copy, Persona.DATA_MANAGER)]
        assert all(isinstance(dm, DataManager) for dm in members(net, copy, Persona.DATA_MANAGER))
        assert records[0] is not None and all(r == records[0] for r in records)
        assert set(records[0]["holders"]) == nodes
        for node in nodes:
            accounts = [pm.account(node) for pm in members(net, node, Persona.PMID_MANAGER)
                        if isinstance(pm, PmidManager)]
            assert len(accounts) == 4 and all(a == accounts[0] for a in accounts)
            assert accounts[0]["stored"] >= len(DATA)
    used = [mm.account(CLIENT)["used"] for mm in members(net, CLIENT, Persona.MAID_MANAGER)
            if isinstance(mm, MaidManager)]
    assert len(used) == 4 and len(set(used)) == 1 and used[0] > 0


def test_the_client_is_answered_once_a_primary_holder_has_stored(net: MemoryNetwork) -> None:
    net.run(client_put(net), CLIENT)
    primary = copy_name(CHUNK, CopyKind.PRIMARY)
    holder = sorted(stores(net)[primary])[0]
    net.run(node_stored(holder, primary), holder)
    answers = net.sent_to(Persona.MAID_NODE, "put_ok")
    assert answers and {m.dst.name for m in answers} == {CLIENT}
    assert {m.sender for m in answers} <= set(net.group(CLIENT))


def test_a_stored_claim_from_a_node_that_was_not_chosen_changes_nothing(
        net: MemoryNetwork) -> None:
    net.run(client_put(net), CLIENT)
    primary = copy_name(CHUNK, CopyKind.PRIMARY)
    stranger = next(n for n in net.names if n not in stores(net)[primary])
    before = [dm.records.get(primary) for dm in members(net, primary, Persona.DATA_MANAGER)]
    net.run(node_stored(stranger, primary), stranger)
    after = [dm.records.get(primary) for dm in members(net, primary, Persona.DATA_MANAGER)]
    assert after == before
    assert net.sent_to(Persona.MAID_NODE, "put_ok") == []


def test_a_retried_put_is_answered_from_the_firewall_not_charged_twice(
        net: MemoryNetwork) -> None:
    net.run(client_put(net), CLIENT)
    primary = copy_name(CHUNK, CopyKind.PRIMARY)
    holder = sorted(stores(net)[primary])[0]
    net.run(node_stored(holder, primary), holder)
    used = {mm.account(CLIENT)["used"] for mm in members(net, CLIENT, Persona.MAID_MANAGER)
            if isinstance(mm, MaidManager)}
    answered = len(net.sent_to(Persona.MAID_NODE, "put_ok"))
    asked = len(net.sent_to(Persona.PMID_NODE, "store"))
    net.run(client_put(net), CLIENT)  # the same request again (same id)
    assert len(net.sent_to(Persona.MAID_NODE, "put_ok")) > answered  # answered again
    assert len(net.sent_to(Persona.PMID_NODE, "store")) == asked  # and nothing stored twice
    assert {mm.account(CLIENT)["used"] for mm in members(net, CLIENT, Persona.MAID_MANAGER)
            if isinstance(mm, MaidManager)} == used


def test_memory_records_read_and_digest_like_the_sqlite_store(tmp_path: Path) -> None:
    disk = RecordStore(Database(tmp_path / "r.db"), "t")
    memory = MemoryRecords("t")
    for records in (disk, memory):
        records.put(b"b", {"z": 1, "a": (1, 2)})
        records.put(b"a", [b"x", {"k": "v"}])
        records.put(b"c", 3)
        records.delete(b"c")
    assert memory.digest() == disk.digest()
    assert list(memory.items()) == list(disk.items())
    assert memory.keys_after(b"a", 5) == disk.keys_after(b"a", 5) == [b"b"]
    assert memory.items_after(b"", 1) == disk.items_after(b"", 1) == [(b"a", [b"x", {"k": "v"}])]
    # the encoded values account transfer passes on are what encoding each value again gives
    assert list(memory.raw_items()) == list(disk.raw_items()) == [
        (key, encode(value)) for key, value in disk.items()]


def primary_stored(net: MemoryNetwork) -> None:
    """The test plays the first holder of the Primary: it stored its copy."""
    primary = copy_name(CHUNK, CopyKind.PRIMARY)
    holder = sorted(stores(net)[primary])[0]
    net.run(node_stored(holder, primary), holder)


def unconfirmed(net: MemoryNetwork) -> list[int]:
    """How many copy puts each MaidManager of the client still waits to see confirmed."""
    return [len(mm.unconfirmed) for mm in members(net, CLIENT, Persona.MAID_MANAGER)
            if isinstance(mm, MaidManager)]


def test_every_copy_put_is_confirmed_so_none_is_sent_again(net: MemoryNetwork) -> None:
    net.run(client_put(net), CLIENT)
    assert unconfirmed(net) == [1, 1, 1, 1]  # the Primary waits for a holder's store
    primary_stored(net)
    assert unconfirmed(net) == [0, 0, 0, 0]
    net.tick(CONFIRM_AFTER * 2)
    assert not [n for _, n in net.notes if n.what is EventKind.COPY_PUT_RESENT]


def test_a_lost_sacrificial_put_is_sent_again_and_recorded_once(net: MemoryNetwork) -> None:
    """Found by the seed sweep (seeds 4, 46, 87, 141): every MaidManager's copy of a
    Sacrificial put crossed one relay whose connection broke, the client was answered on the
    Primary, and nothing ever sent the lost put again."""
    sacrificial = copy_name(CHUNK, CopyKind.SACRIFICIAL)
    net.lost = lambda msg: msg.action == "put" and msg.dst.name == sacrificial
    net.run(client_put(net), CLIENT)
    primary_stored(net)
    assert all(dm.records.get(sacrificial) is None
               for dm in members(net, sacrificial, Persona.DATA_MANAGER))
    net.lost = lambda msg: False
    net.tick(CONFIRM_AFTER)
    records = [dm.records.get(sacrificial) for dm in members(net, sacrificial,
                                                             Persona.DATA_MANAGER)]
    assert records[0] is not None and all(r == records[0] for r in records)
    assert records[0]["subscribers"] == 1
    assert set(records[0]["holders"]) == stores(net)[sacrificial]
    net.tick(CONFIRM_AFTER)  # confirmed: not sent, nor counted, again
    assert [dm.records.get(sacrificial) for dm in members(
        net, sacrificial, Persona.DATA_MANAGER)] == records
    resent = [n for _, n in net.notes if n.what is EventKind.COPY_PUT_RESENT]
    assert len(resent) == 4 and {n.subject for n in resent} == {sacrificial}


def test_an_unconfirmed_put_is_given_up_after_its_resends(net: MemoryNetwork) -> None:
    backup = copy_name(CHUNK, CopyKind.BACKUP)
    net.lost = lambda msg: msg.action == "put" and msg.dst.name == backup
    net.run(client_put(net), CLIENT)
    primary_stored(net)
    for _ in range(RESENDS + 2):
        net.tick(CONFIRM_AFTER)
    resent = [n for _, n in net.notes if n.what is EventKind.COPY_PUT_RESENT]
    assert len(resent) == 4 * RESENDS
    managers = [mm for mm in members(net, CLIENT, Persona.MAID_MANAGER)
                if isinstance(mm, MaidManager)]
    assert [mm.unconfirmed.given_up for mm in managers] == [1, 1, 1, 1]

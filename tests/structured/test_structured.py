"""Structured data on an 8-vault simulated testnet: the owner puts, updates, reads and deletes a
record; another client reads it but cannot change it; a forged record is not believed; the
record survives the death of a member of its group with its latest version; a record is
charged to the client's account, refused past its allowance and refunded when deleted."""

from __future__ import annotations

import pytest

from tests.structured.helpers import group_holds, member_records
from vaultnet import (
    AllowanceExceeded,
    NoSuchRecord,
    NotRecordOwner,
    RecordExists,
    RecordTooLarge,
    StaleVersion,
    Testnet,
)
from vaultnet.client.errors import InvalidSignature
from vaultnet.personas.structured_data import MAX_DATA_SIZE, StructuredRecord
from vaultnet.runtime.inspection import node_rank
from vaultnet.runtime.vault_state import personas_of
from vaultnet.xor import name_of


@pytest.mark.parametrize("seed", [1, 2])
async def test_put_get_update_delete(autojump_clock, seed: int) -> None:
    name = name_of(b"profile")
    async with Testnet(vaults=8, transport="sim", seed=seed) as net:
        alice = await net.client()
        with pytest.raises(NoSuchRecord):
            await alice.get_structured(name)
        v0 = await alice.put_structured(name, b"status: here")
        assert (v0.version, v0.data, v0.owner) == (0, b"status: here",
                                                   alice.identity.verify_key)
        assert await alice.get_structured(name) == v0
        with pytest.raises(RecordExists):
            await alice.put_structured(name, b"again")
        v1 = await alice.update_structured(name, b"status: away")
        assert v1.version == 1 and await alice.get_structured(name) == v1
        with pytest.raises(StaleVersion):
            await alice.update_structured(name, b"written against v0", version=1)
        await net.wait_for(lambda: group_holds(net, name, v1), 30,
                           "every VersionManager holds version 1")
        with pytest.raises(StaleVersion):
            await alice.delete_structured(name, version=0)
        assert await alice.delete_structured(name) == v1
        with pytest.raises(NoSuchRecord):
            await alice.get_structured(name)
        await net.wait_for(lambda: group_holds(net, name, None), 30, "the record is gone")
        # the name is free again: a new record starts at version 0
        assert (await alice.put_structured(name, b"back")).version == 0


async def test_another_client_reads_but_cannot_update_or_delete(autojump_clock) -> None:
    name = name_of(b"alice's board")
    async with Testnet(vaults=8, transport="sim", seed=3) as net:
        alice, bob = await net.client(), await net.client()
        v0 = await alice.put_structured(name, b"alice was here")
        assert await bob.get_structured(name) == v0
        with pytest.raises(NotRecordOwner):
            await bob.update_structured(name, b"bob was here")
        with pytest.raises(NotRecordOwner):
            await bob.delete_structured(name)
        with pytest.raises(RecordExists):
            await bob.put_structured(name, b"mine")
        assert await bob.get_structured(name) == v0
        await net.wait_for(lambda: group_holds(net, name, v0), 30, "alice's record unchanged")


async def test_oversize_data_is_refused_before_it_is_sent(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=4) as net:
        client = await net.client()
        with pytest.raises(RecordTooLarge):
            await client.put_structured(name_of(b"big"), bytes(MAX_DATA_SIZE + 1))
        record = await client.put_structured(name_of(b"big"), bytes(MAX_DATA_SIZE))
        assert len(record.data) == MAX_DATA_SIZE


async def test_a_record_whose_signature_does_not_verify_is_not_believed(autojump_clock) -> None:
    """Even a whole group agreeing on a record cannot make a client take data its owner did
    not sign: every member's copy is tampered with, and the read is refused."""
    name = name_of(b"tampered")
    async with Testnet(vaults=8, transport="sim", seed=5) as net:
        client = await net.client()
        record = await client.put_structured(name, b"signed data")
        await net.wait_for(lambda: group_holds(net, name, record), 30, "the record agreed")
        forged = record.to_record() | {"data": b"forged data"}
        for vault in net.vaults:
            host = personas_of(vault)
            if host is not None and host.version_manager.structured.get(name) is not None:
                host.version_manager.structured.put(name, forged)
        with pytest.raises(InvalidSignature):
            await client.get_structured(name)


async def test_a_record_survives_the_death_of_a_group_member(autojump_clock) -> None:
    name = name_of(b"survivor")
    async with Testnet(vaults=8, transport="sim", seed=6) as net:
        alice, bob = await net.client(), await net.client()
        await alice.put_structured(name, b"v0")
        latest = await alice.update_structured(name, b"v1")
        await net.wait_for(lambda: group_holds(net, name, latest), 30, "version 1 agreed")
        for step in range(2):
            await net.kill_vault(net.true_close_group(name)[step])
            await net.wait_converged()
            await net.wait_for(lambda: group_holds(net, name, latest), 60,
                               f"the new group holds version {latest.version} (kill {step})")
        assert await bob.get_structured(name) == latest
        latest = await alice.update_structured(name, b"after churn")
        assert latest.version == 2 and await bob.get_structured(name) == latest
        assert all(StructuredRecord.from_record(r) == latest
                   for r in member_records(net, name) if r is not None)



async def test_a_record_is_charged_to_the_allowance_and_refunded_when_deleted(
        autojump_clock) -> None:
    """A client whose allowance is one vault's 50,000 bytes (the registration answers it at
    once) is refused a record over it, and an update growing past it; its account is charged
    the record, and charged nothing once it is deleted."""
    capacity, name = 50_000, name_of(b"charged")
    async with Testnet(vaults=8, transport="sim", seed=9, capacity=capacity) as net:
        client = await net.client()
        vault = net.vaults[2]
        await net.wait_for(lambda: (rank := node_rank(net, vault.name).agreed) is not None
                           and rank.available == capacity,
                           60, "the vault's PmidManagers know its capacity")
        assert await client.register_vault(vault.identity) == capacity
        with pytest.raises(AllowanceExceeded, match="allowance exceeded"):
            await client.put_structured(name, bytes(capacity + 1))
        await client.put_structured(name, bytes(30_000))
        await net.wait_for(lambda: net.account(client.name).used == 30_000, 30,
                           "the record charged")
        with pytest.raises(AllowanceExceeded):
            await client.update_structured(name, bytes(capacity + 1))
        await client.update_structured(name, bytes(capacity))  # its growth fits
        await net.wait_for(lambda: net.account(client.name).used == capacity, 30,
                           "the growth charged")
        await client.delete_structured(name)
        await net.wait_for(lambda: net.account(client.name).used == 0, 30, "the record refunded")

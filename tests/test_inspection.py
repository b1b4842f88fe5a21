"""The public inspection API (`Testnet.holders`, `.account`, `.rank`, ...), the invariants module
and the waits built on them: what they report on a healthy network, after churn, and when a
violation is planted by hand."""

from __future__ import annotations

import hashlib

import pytest
import trio

from tests.versions.helpers import put_version
from vaultnet import InvariantsViolated, NotSettled, Testnet
from vaultnet.messages import Persona
from vaultnet.personas.data_manager import HOLDERS_PER_COPY
from vaultnet.personas.maid_manager import DEFAULT_ALLOWANCE
from vaultnet.personas.structured_data import StructuredRecord
from vaultnet.runtime import invariants
from vaultnet.runtime.inspection import (
    COPIES_PER_CHUNK,
    COPY_KINDS,
    StructuredRecords,
    copy_record,
    data_manager_index,
    host_of,
    stored_index,
)
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import closest

DATA = b"inspect me" * 300


async def test_a_put_is_six_copies_on_their_holders_as_the_records_say(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=41) as net:
        client = await net.client()
        name = await client.put(DATA)
        await net.wait_replicated([name], 60)
        placed = net.holders(name)
        assert placed.chunk == name
        assert placed.stored_copies == COPIES_PER_CHUNK == net.parameters.copies_per_chunk == 6
        names = [v.name for v in net.vaults]
        for kind in CopyKind:
            copy = placed[kind]
            assert copy.kind is kind and copy.copy_name == copy_name(name, kind)
            assert len(copy.stored) == len(set(copy.stored)) == HOLDERS_PER_COPY
            assert copy.stored == tuple(sorted(closest(copy.copy_name, names, HOLDERS_PER_COPY)))
            assert copy.records.members == tuple(net.true_close_group(copy.copy_name))
            record = copy.records.agreed
            assert record is not None
            assert (record.kind, record.size, record.subscribers) == (kind, len(DATA), 1)
            assert copy.recorded == copy.stored
        held = [c for c in net.stored_copies() if c.chunk == name]
        assert sorted((c.kind, c.holder) for c in held) == sorted(
            (kind, h) for kind in CopyKind for h in placed[kind].stored)
        assert all(c.size == len(DATA) for c in held)
        assert invariants.replication(net) == []  # every recorded chunk
        assert invariants.lost(net, [name]) == []
        await net.wait_settled(60)
        assert invariants.settled(net) == []
        assert invariants.version_trees(net) == []


async def test_checks_reread_only_the_disks_written_since(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=43) as net:
        client = await net.client()
        first = await client.put(DATA)
        await net.wait_replicated([first], 60)
        before = data_manager_index(net)
        assert data_manager_index(net) == before
        assert all(data_manager_index(net)[n] is kept for n, kept in before.items())
        second = await client.put(DATA + b"2")
        await net.wait_replicated([second], 60)
        after = data_manager_index(net)
        recording = {m for kind in CopyKind
                     for m in net.true_close_group(copy_name(second, kind))}
        assert recording
        for vault, records in after.items():
            written = [copy for copy in records if copy not in before[vault]]
            assert sorted(written) == sorted(copy_name(second, kind) for kind in CopyKind
                                             if vault in net.true_close_group(
                                                 copy_name(second, kind)))
            assert (vault in recording) == bool(written)
            assert all(records[copy] == copy_record(host_of(v), copy)
                       for v in net.vaults if v.name == vault for copy in records)
        on_disk: dict[bytes, list[bytes]] = {}
        for vault in net.vaults:
            for copy in host_of(vault).chunks.entries():
                on_disk.setdefault(copy.copy_name, []).append(vault.name)
        assert stored_index(net) == {c: tuple(sorted(h)) for c, h in on_disk.items()}


async def test_parameters_are_the_ones_the_network_runs_by(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=42) as net:
        params = net.parameters
        assert params.copy_kinds == COPY_KINDS == tuple(CopyKind)
        assert params.holders_per_copy == HOLDERS_PER_COPY
        assert params.group_size == net.params.group_size
        assert params.accumulation_quorum == params.group_size - 1
        client = await net.client()
        name = await client.put(DATA)
        await net.wait_replicated([name], 60)
        placed = net.holders(name)
        assert placed.stored_copies == params.copies_per_chunk
        assert all(len(placed[k].records.members) == params.group_size for k in CopyKind)
        assert len(net.account(client.name).members) == params.group_size


async def test_killing_a_holder_then_wait_replicated_returns_once_replaced(
        autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=43) as net:
        client = await net.client()
        names = [await client.put(bytes([i]) * 2000) for i in range(5)]
        await net.wait_replicated(names, 60)
        victim = net.holders(names[0])[CopyKind.PRIMARY].stored[0]
        await net.kill_vault(victim)
        # A holder is one of the copy's closest vaults, so also one of its DataManagers: the
        # vault that takes its place in the group has no record yet.
        short = invariants.replication(net, [names[0]])
        assert invariants.CopyNotAgreed(names[0], CopyKind.PRIMARY, (
            net.true_close_group(names[0])[-1],), 2) in short
        await net.wait_replicated(names, 120)
        assert all(victim not in net.holders(n).holders for n in names)
        assert all(net.holders(n).stored_copies == COPIES_PER_CHUNK for n in names)
        assert invariants.lost(net, names) == []


async def test_a_copy_deleted_behind_the_networks_back_is_reported(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=44) as net:
        client = await net.client()
        name = await client.put(DATA)
        await net.wait_replicated([name], 60)
        backup = net.holders(name)[CopyKind.BACKUP]
        victim = backup.stored[0]
        copies = invariants.copies_of([name])
        assert invariants.fully_stored(net, copies) and invariants.fully_stored(net)
        host_of(net.vault(victim)).chunks.delete(backup.copy_name)  # planted: a lost file

        assert not invariants.fully_stored(net, copies) and not invariants.fully_stored(net)
        found = invariants.replication(net, [name])
        assert found == [invariants.CopyMisplaced(name, CopyKind.BACKUP, backup.stored,
                                                  backup.stored[1:])]
        assert invariants.holders_match_records(net) == found
        assert invariants.lost(net, [name]) == []  # the other copies still reach it
        with pytest.raises(InvariantsViolated) as raised:
            await net.wait_replicated([name], timeout=1)
        assert isinstance(raised.value, NotSettled)
        assert raised.value.violations == tuple(found)
        assert name.hex()[:16] in str(raised.value) and "BACKUP" in str(raised.value)
        # Periodic integrity checks find the holder without its copy and replace it.
        await net.wait_replicated([name], 120)
        assert victim not in net.holders(name)[CopyKind.BACKUP].stored


async def test_a_record_deleted_on_one_member_and_every_copy_gone_are_reported(
        autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=45) as net:
        client = await net.client()
        name = await client.put(DATA)
        await net.wait_replicated([name], 60)
        primary = net.holders(name)[CopyKind.PRIMARY]
        member = primary.records.members[-1]
        host_of(net.vault(member)).data_manager.records.delete(primary.copy_name)
        assert invariants.group_records(net, (Persona.DATA_MANAGER,)) == [
            invariants.RecordsDisagree(
                "data_manager", primary.copy_name, (member,), 2)]
        assert invariants.replication(net, [name]) == [invariants.CopyNotAgreed(
            name, CopyKind.PRIMARY, (member,), 2)]
        # Every copy is stored: necessary for full replication, not enough.
        assert invariants.fully_stored(net, invariants.copies_of([name]))
        assert not invariants.groups_agree(net, Persona.DATA_MANAGER)

        for kind in CopyKind:
            for holder in net.holders(name)[kind].stored:
                host_of(net.vault(holder)).chunks.delete(copy_name(name, kind))
        assert invariants.lost(net, [name]) == [invariants.ChunkLost(name)]
        with pytest.raises(InvariantsViolated, match=name.hex()[:16]):
            await net.wait_settled(timeout=1)


async def test_account_rank_and_version_tree_follow_what_the_client_did(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=46) as net:
        client = await net.client()
        before = net.account(client.name)
        assert before.used == 0 and before.agreed is None  # no member keeps an account yet
        name = await client.put(DATA)
        await net.wait_for(lambda: net.account(client.name).used == len(DATA), 30, "charged")
        account = net.account(client.name).agreed
        assert account is not None
        assert (account.used, account.allowance, dict(account.chunks)) == (
            len(DATA), DEFAULT_ALLOWANCE, {name: 1})

        await net.wait_replicated([name], 60)
        holder = net.holders(name)[CopyKind.PRIMARY].stored[0]
        rank = net.rank(holder)
        assert rank.node == holder and rank.members == tuple(net.true_close_group(holder))
        await net.wait_for(lambda: net.rank(holder).agreed is not None, 30, "accounts agree")
        kept = net.rank(holder).agreed
        assert kept is not None and kept.stored >= len(DATA) and kept.lost == 0
        assert kept.rank == net.rank(holder).lowest == 1.0
        assert holder in net.ranks() and net.ranks()[holder] == net.rank(holder)

        key = hashlib.sha512(b"inspected tree").digest()
        assert net.version_tree(key).tips is None
        root = await put_version(client, key, None, 0, b"root")
        tip = await put_version(client, key, root, 1, b"tip")
        await net.wait_for(lambda: net.version_tree(key).tips == [tip], 30, "tree agreed")
        assert invariants.version_trees(net) == []
        assert set(net.held_messages()) == {v.name for v in net.vaults}


async def test_inbox_shows_a_message_held_for_an_offline_mpid(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=47) as net:
        alice, bob = await net.mpid_client(), await net.mpid_client()
        assert net.inbox(bob.name).agreed == ()
        await bob.aclose()
        await net.wait_for(lambda: bob.closed, 10, "bob disconnected")
        await alice.send(bob.name, b"while you were out")
        await net.wait_for(lambda: bool(net.inbox(bob.name).agreed), 30, "held for bob")
        inbox = net.inbox(bob.name)
        assert inbox.mpid == bob.name and len(inbox.members) == net.parameters.group_size
        assert [(m.sender, m.body) for m in inbox.agreed or ()] == [
            (alice.name, b"while you were out")]


async def test_tcp_put_then_wait_replicated_and_settled() -> None:
    async with Testnet(vaults=8, transport="tcp") as net:
        client = await net.client()
        name = await client.put(DATA)
        with trio.fail_after(120):
            await net.wait_replicated([name], 60)
            await net.wait_settled(60)
        assert net.holders(name).stored_copies == net.parameters.copies_per_chunk
        assert invariants.lost(net, [name]) == []


async def test_structured_records_follow_puts_updates_and_deletes(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=48) as net:
        client = await net.client()
        name = hashlib.sha512(b"inspected record").digest()
        assert net.structured_records() == {}
        await client.put_structured(name, b"first")
        await net.wait_for(lambda: name in net.structured_records(), 30, "record kept")
        v1 = await client.update_structured(name, b"second")
        await net.wait_for(lambda: net.structured_records()[name].agreed == v1, 30, "updated")
        records = net.structured_records()[name]
        assert records.members == tuple(net.true_close_group(name)) and records.held == v1
        assert (v1.version, v1.owner) == (1, client.identity.verify_key)
        await client.delete_structured(name)
        await net.wait_for(lambda: net.structured_records() == {}, 30, "record gone")


def test_structured_records_held_is_the_record_most_members_hold() -> None:
    name = hashlib.sha512(b"disputed").digest()
    v0, v1 = (StructuredRecord(name, bytes(32), v, b"data", bytes(16), bytes(64))
              for v in (0, 1))
    members = [hashlib.sha512(bytes([i])).digest() for i in range(4)]
    views = StructuredRecords(name, dict(zip(members, (v0, v1, v1, None), strict=True)))
    assert views.held == v1 and views.agreed is None and views.lacking == (members[3],)
    assert StructuredRecords(name, dict.fromkeys(members)).held is None

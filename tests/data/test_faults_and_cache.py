"""Get fallbacks, opportunistic caching and the lying-PmidNode correction."""

from __future__ import annotations

from tests.data.helpers import copies_placed, holders
from vaultnet import Testnet
from vaultnet.client.maid import PutFailure
from vaultnet.personas import base
from vaultnet.protocol import EventKind
from vaultnet.runtime import events as ev
from vaultnet.runtime.inspection import host_of
from vaultnet.storage.store import CopyKind, copy_name


async def test_get_falls_back_to_backup_when_primary_holders_lost_it(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=21) as net:
        client = await net.client()
        data = b"fall back" * 300
        name = await client.put(data)
        await net.wait_for(lambda: copies_placed(net, name), 30, "copies placed")
        primary = copy_name(name, CopyKind.PRIMARY)
        for vault in net.vaults:
            if vault.name in holders(net, primary):
                host_of(vault).chunks.delete(primary)  # silent loss on every Primary holder
        for vault in net.vaults:  # no cached Primary content may answer for them
            host_of(vault).data_manager.stash = base.PayloadStash()
        seen: list[ev.Event] = []
        net.bus.add_sink(seen.append)
        fresh = await net.client()
        assert await fresh.get(name) == data
        backup = copy_name(name, CopyKind.BACKUP)
        assert any(isinstance(e, ev.MessageReceived) and e.dst_name == backup
                   and e.action == "get" for e in seen)


async def test_second_get_served_from_relay_cache(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=22) as net:
        writer = await net.client()
        data = b"cache me" * 500
        name = await writer.put(data)
        reader = await net.client()
        seen: list[ev.Event] = []
        net.bus.add_sink(seen.append)
        assert await reader.get(name) == data
        assert not any(isinstance(e, ev.PersonaEvent) and e.what == EventKind.CACHE_HIT
                       for e in seen)
        assert await reader.get(name) == data
        hits = [e for e in seen if isinstance(e, ev.PersonaEvent) and e.what == EventKind.CACHE_HIT]
        assert hits and hits[0].subject == copy_name(name, CopyKind.PRIMARY)


async def test_lying_pmid_node_is_corrected_and_loses_rank(autojump_clock) -> None:
    capacity = 30_000
    async with Testnet(vaults=8, transport="sim", seed=11, capacity=capacity) as net:
        for vault in net.vaults:
            host_of(vault).pmid_node.lying = True
        notes: list[ev.PersonaEvent] = []
        net.bus.add_sink(lambda e: notes.append(e) if isinstance(e, ev.PersonaEvent) else None)
        client = await net.client()
        for i in range(12):  # fill the network so evictions are reported (with lying sizes)
            try:
                await client.put(bytes([i]) * 6_000)
            except PutFailure:  # a full network may refuse; the evictions already happened
                break
        await net.wait_for(lambda: any(n.what == EventKind.RANK_CHANGED for n in notes), 60,
                           "a rank change")
        change = next(n for n in notes if n.what == EventKind.RANK_CHANGED)
        assert change.detail["rank"] < change.detail["before"]
        assert change.detail["reason"] == "lied about a size"

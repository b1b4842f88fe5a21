"""Fault injection through the library surface: each kind does what `vaultnet.runtime.faults`
says."""

from __future__ import annotations

import pytest

from tests.data.helpers import copies_placed, holders
from vaultnet import Testnet, TestnetError
from vaultnet.runtime import events as ev
from vaultnet.runtime.inspection import host_of
from vaultnet.storage.store import CopyKind, copy_name


async def _net_with_chunk(seed: int) -> tuple[Testnet, bytes]:
    net = Testnet(vaults=8, transport="sim", seed=seed)
    await net.__aenter__()
    client = await net.client()
    name = await client.put(b"fault me" * 100)
    await net.wait_for(lambda: copies_placed(net, name), 30, "copies placed")
    return net, name


async def test_lose_corrupt_silent_and_heal(autojump_clock) -> None:
    net, name = await _net_with_chunk(31)
    try:
        seen: list[ev.Event] = []
        net.bus.add_sink(seen.append)
        primary = copy_name(name, CopyKind.PRIMARY)
        loser, corrupter = holders(net, primary)
        net.fault(loser, "lose")
        assert not net.vault(loser).stored()
        net.fault(corrupter, "corrupt")
        host = host_of(net.vault(corrupter))
        assert host is not None and primary in host.chunks.verify()
        silent = net.fault(net.vaults[0].name, "silent")
        assert silent.silent
        net.fault(silent.name, "heal")
        assert not silent.silent
        assert [e.fault for e in seen if isinstance(e, ev.FaultInjected)] == [
            "lose", "corrupt", "silent", "heal"]
    finally:
        await net.__aexit__(None, None, None)


async def test_partition_cuts_a_vault_off_on_sim(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=32) as net:
        victim = net.vaults[3]
        net.fault(victim.name, "partition")
        await net.wait_for(lambda: all(victim.name not in v.routing for v in net.vaults
                                       if v is not victim), 30, "partitioned vault dropped")
        net.fault(victim.name, "heal")


async def test_bad_fault_requests_are_typed_errors() -> None:
    async with Testnet(vaults=2, transport="tcp") as net:
        with pytest.raises(TestnetError, match="unknown fault 'explode'"):
            net.fault(net.vaults[0].name, "explode")
        with pytest.raises(TestnetError, match="partition needs the sim transport"):
            net.fault(net.vaults[0].name, "partition")
        with pytest.raises(TestnetError, match="no single live vault"):
            net.fault("ffffffffffffffffff", "lie")

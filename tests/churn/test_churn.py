"""Churn: account transfer and re-replication keep every copy at its holders and every group's
records equal, through random kills and adds, on both transports (issue 4)."""

from __future__ import annotations

import pytest

from vaultnet import Testnet
from vaultnet.churn_scenario import copy_problems, groups_agree, replication_ok, run_churn
from vaultnet.store import CopyKind, copy_name

STORES = ("maid_manager", "data_manager", "pmid_manager")


async def _soak(net: Testnet, chunks: int, events: int, seed: int) -> None:
    report = await run_churn(net, chunks, events, seed)
    assert len(report.events) == events
    assert report.lost == []
    for store in STORES:
        assert groups_agree(net, store), f"{store} records differ within a group"


@pytest.mark.slow
async def test_sim_32_vaults_500_chunks_64_events(autojump_clock) -> None:
    async with Testnet(vaults=32, transport="sim", seed=1) as net:
        await _soak(net, chunks=500, events=64, seed=1)


@pytest.mark.parametrize("seed", [2, 3, 4])
async def test_sim_churn_more_seeds(autojump_clock, seed: int) -> None:
    async with Testnet(vaults=24, transport="sim", seed=seed) as net:
        await _soak(net, chunks=80, events=24, seed=seed)


async def test_tcp_16_vaults_10_events() -> None:
    async with Testnet(vaults=16, transport="tcp") as net:
        await _soak(net, chunks=40, events=10, seed=5)


async def test_killing_three_of_one_close_group_loses_nothing(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=6) as net:
        client = await net.client()
        chunks = [await client.put(bytes([i]) * 3000) for i in range(30)]
        await net.wait_for(lambda: replication_ok(net, chunks), 60, "initial placement")
        group = net.true_close_group(copy_name(chunks[0], CopyKind.PRIMARY))
        for name in group[:3]:
            await net.kill_vault(name)
        await net.wait_settled()
        await net.wait_for(lambda: replication_ok(net, chunks), 120, "replication restored")
        reader = await net.client()
        for chunk in chunks:
            assert await reader.get(chunk) == bytes([chunks.index(chunk)]) * 3000
        assert all(copy_problems(net, chunk) == [] for chunk in chunks)

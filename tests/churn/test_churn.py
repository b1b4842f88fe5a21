"""Churn: account transfer and re-replication keep every copy at its holders and every group's
records equal, through random kills and adds, on both transports (issue 4)."""

from __future__ import annotations

import contextlib

import pytest
import trio

from vaultnet import Testnet
from vaultnet.messages import Persona
from vaultnet.personas.stash import PayloadStash
from vaultnet.runtime import events as ev
from vaultnet.runtime import invariants
from vaultnet.runtime.inspection import host_of
from vaultnet.runtime.testnet import SETTLE_TIMEOUT, NotSettled
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.testing.churn_scenario import run_churn

PERSONAS = (Persona.MAID_MANAGER, Persona.DATA_MANAGER, Persona.PMID_MANAGER)


async def _soak(net: Testnet, chunks: int, events: int, seed: int) -> None:
    report = await run_churn(net, chunks, events, seed)
    assert len(report.events) == events
    assert report.lost == []
    # `run_churn` waits for every copy to be placed, not for every record to reach every
    # member: after the last add, a newcomer's account transfer or a vote may still be on its
    # way. Checked at once, CI on a loaded machine once saw 27 records differ (PmidManager
    # accounts first); never seen in 22 runs alone or beside busy loops. Wait for them with a
    # deadline, then assert: records that stay different still fail.
    with contextlib.suppress(NotSettled):
        await net.wait_for(lambda: not invariants.group_records(net, PERSONAS), SETTLE_TIMEOUT,
                           "records equal within each group")
    assert invariants.group_records(net, PERSONAS) == [], "records differ within a group"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1])
async def test_sim_32_vaults_500_chunks_64_events(autojump_clock, seed: int) -> None:
    """The issue's scenario: 32 vaults, 500 chunks, 64 events (the longest test: it grew from
    about 3 to about 10 minutes with the restart-durability changes, so the default run keeps
    one seed). More seeds: `vaultnet bench churn --chunks 500 --events 64 --seeds N`."""
    async with Testnet(vaults=32, transport="sim", seed=seed) as net:
        await _soak(net, chunks=500, events=64, seed=seed)


async def test_tcp_16_vaults_10_events() -> None:
    async with Testnet(vaults=16, transport="tcp") as net:
        await _soak(net, chunks=40, events=10, seed=5)


async def test_killing_three_of_one_close_group_loses_nothing(autojump_clock) -> None:
    """Three of a group's four members die at once: the lone survivor's records reach the
    newcomers, every chunk can still be fetched, and every copy is back at full replication,
    including copies whose holders all died (their content comes from a sibling copy)."""
    async with Testnet(vaults=16, transport="sim", seed=6) as net:
        client = await net.client()
        chunks = [await client.put(bytes([i]) * 3000) for i in range(30)]
        await net.wait_replicated(chunks, 60, what="initial placement")
        group = net.true_close_group(copy_name(chunks[0], CopyKind.PRIMARY))
        orphaned = [copy_name(chunk, kind) for chunk in chunks for kind in CopyKind
                    if set(net.holders(chunk)[kind].stored) <= set(group[:3])]
        assert orphaned, "the scenario must kill every holder of some copy"
        for name in group[:3]:
            await net.kill_vault(name)
        await net.wait_converged()
        await net.wait_replicated(chunks, 120, what="replication restored")
        reader = await net.client()
        for i, chunk in enumerate(chunks):
            assert await reader.get(chunk) == bytes([i]) * 3000


async def test_copy_whose_holders_all_died_comes_back_from_a_sibling(autojump_clock) -> None:
    """Both holders of a Backup copy die and no DataManager still has the content in memory:
    the copy's group gets it from the Primary's group and restores both holders."""
    async with Testnet(vaults=16, transport="sim", seed=7) as net:
        client = await net.client()
        chunk = await client.put(b"sibling" * 500)
        await net.wait_replicated([chunk], 60, what="initial placement")
        doomed = net.holders(chunk)[CopyKind.BACKUP].stored
        others = {h for kind in (CopyKind.PRIMARY, CopyKind.SACRIFICIAL)
                  for h in net.holders(chunk)[kind].stored}
        assert not set(doomed) & others, "seed must give the backup holders of their own"
        for vault in net.vaults:
            host_of(vault).data_manager.stash = PayloadStash()
        events = net.events()
        for name in doomed:
            await net.kill_vault(name)
        await net.wait_replicated([chunk], 120, what="backup restored")
        received = []
        while True:
            try:
                received.append(events.receive_nowait())
            except trio.WouldBlock:
                break
        assert any(isinstance(e, ev.MessageReceived) and e.action == "sibling_content"
                   for e in received)
        assert set(net.holders(chunk)[CopyKind.BACKUP].stored).isdisjoint(doomed)

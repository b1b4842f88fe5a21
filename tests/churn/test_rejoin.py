"""Rejoin: a restarted vault keeps its identity and data directory, and drops the copies the
network re-replicated elsewhere while it was away."""

from __future__ import annotations

from vaultnet import Testnet
from vaultnet.runtime.invariants import replication_ok


async def test_restarted_vault_comes_back_with_its_chunks_and_reconciles(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=9) as net:
        client = await net.client()
        chunks = [await client.put(bytes([i]) * 1500) for i in range(30)]
        await net.wait_replicated(chunks, 60, what="initial placement")
        vault = max(net.vaults, key=lambda v: len(v.stored()))
        held = sorted(vault.stored())
        assert held
        await net.kill_vault(vault.name)
        await net.wait_converged()
        await net.wait_replicated(chunks, 120, what="re-replicated without it")

        back = await net.restart_vault(vault.name)
        assert back.name == vault.name
        assert sorted(back.stored()) == held  # same data directory, same chunks
        await net.wait_converged()
        # It was replaced as a holder while away: reconciling drops every stale copy, so again
        # exactly the holders the records name store each copy.
        await net.wait_for(lambda: replication_ok(net, chunks) and not back.stored(), 120,
                           "the rejoined vault reconciled")
        reader = await net.client()
        for i, chunk in enumerate(chunks):
            assert await reader.get(chunk) == bytes([i]) * 1500

"""Integrity checks and the rank floor: a lying vault and a vault that silently loses data are
caught by nonce challenges after churn, ranked below the floor and refused new copies, while
no chunk is lost and no honest vault is penalised."""

from __future__ import annotations

from vaultnet import Testnet
from vaultnet.churn_scenario import stored_by
from vaultnet.personas.pmid_manager import RANK_FLOOR, rank
from vaultnet.store import CopyKind, copy_name
from vaultnet.xor import Name


def ranks(net: Testnet) -> dict[Name, float]:
    """Each node's rank as the members of its true PmidManager group record it (lowest)."""
    result: dict[Name, float] = {}
    for vault in net.vaults:
        assert vault.host is not None
        for node, account in vault.host.pmid_manager.accounts.items():
            if vault.name in net.true_close_group(node):
                result[node] = min(result.get(node, 1.0), rank(account))
    return result


async def test_liar_and_loser_sink_below_the_floor_and_nothing_is_lost(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=8) as net:
        client = await net.client()
        chunks = [await client.put(bytes([i]) * 2000) for i in range(40)]
        by_load = sorted(net.vaults, key=lambda v: len(v.stored()), reverse=True)
        liar, loser = by_load[0].name, by_load[1].name
        net.fault(liar, "lie")
        net.fault(loser, "lose")
        await net.add_vault()  # churn: DataManager leads challenge their copies' holders

        def sunk() -> bool:
            r = ranks(net)
            return r.get(liar, 1.0) < RANK_FLOOR and r.get(loser, 1.0) < RANK_FLOOR

        await net.wait_for(sunk, 120, "the liar and the loser ranked below the floor")
        honest = {n: r for n, r in ranks(net).items() if n not in (liar, loser)}
        assert honest and all(r == 1.0 for r in honest.values()), honest

        more = [await client.put(bytes([i]) * 2000 + b"new") for i in range(30)]
        for chunk in more:
            for kind in CopyKind:
                held = stored_by(net, copy_name(chunk, kind))
                assert liar not in held and loser not in held
        reader = await net.client()
        for i, chunk in enumerate(chunks):
            assert await reader.get(chunk) == bytes([i]) * 2000

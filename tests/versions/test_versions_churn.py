"""Version trees move with churn: after each kill or add, every member of each key's current
close group holds the same tree as before, and the trees still answer and accept changes."""

from __future__ import annotations

import pytest

from tests.versions.helpers import group_holds, put_version
from vaultnet import Testnet, TreeMode
from vaultnet.xor import name_of


@pytest.mark.parametrize("seed", [1, 2])
async def test_version_trees_survive_churn_of_their_groups(autojump_clock, seed: int) -> None:
    keys = [name_of(b"document %d" % i) for i in range(3)]
    async with Testnet(vaults=16, transport="sim", seed=seed) as net:
        alice, bob = await net.client(), await net.client()
        tips = {}
        for i, key in enumerate(keys):
            v0 = await put_version(alice, key, None, 0, b"root %d" % i, mode=TreeMode.SHARED,
                                   owners=[bob.name])
            v1a = await put_version(alice, key, v0, 1, b"alice %d" % i)
            v1b = await put_version(bob, key, v0, 1, b"bob %d" % i)
            tips[key] = sorted([v1a, v1b])
        before = {key: await alice.get_branch(key, tips[key][0]) for key in keys}

        for step in range(4):
            if step % 2 == 0:  # a member of a key's VersionManager group dies
                key = keys[step // 2]
                await net.kill_vault(net.true_close_group(key)[step % 4])
            else:
                await net.add_vault()
            await net.wait_converged()
            for key in keys:
                await net.wait_for(lambda key=key: group_holds(net, key, tips[key]), 60,
                                   f"tree of {key.hex()[:8]} after churn step {step}")

        for key in keys:
            assert await bob.get_versions(key) == tips[key]
            assert await bob.get_branch(key, tips[key][0]) == before[key]
        key = keys[0]
        v2 = await put_version(bob, key, tips[key][0], 2, b"after churn")
        assert await alice.get_versions(key) == sorted([v2, tips[key][1]])
        deleted = await alice.delete_branch(key, v2)
        assert v2 in deleted
        await net.wait_for(lambda: group_holds(net, key, [tips[key][1]]), 60,
                           "the branch deleted after churn")

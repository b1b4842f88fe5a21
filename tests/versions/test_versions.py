"""Versioned data on a 16-vault testnet: two clients, forks, delete-until-fork, limits, errors."""

from __future__ import annotations

import pytest

from tests.data.helpers import nothing_stored
from tests.versions.helpers import group_holds, member_trees, put_version
from vaultnet import Testnet, TreeMode
from vaultnet.client.maid import InvalidVersion, NoSuchVersion, NotOwner, VersionLimit
from vaultnet.personas.version_tree import VersionName
from vaultnet.xor import name_of


@pytest.mark.parametrize("seed", [1, 2])
async def test_two_clients_fork_and_delete_until_fork(autojump_clock, seed: int) -> None:
    key = name_of(b"shared document")
    async with Testnet(vaults=16, transport="sim", seed=seed) as net:
        alice, bob = await net.client(), await net.client()
        v0 = await put_version(alice, key, None, 0, b"draft 0", mode=TreeMode.SHARED,
                               owners=[bob.name])
        v1 = await put_version(alice, key, v0, 1, b"draft 1 by alice")
        v2a = await put_version(alice, key, v1, 2, b"draft 2 by alice")
        v2b = await put_version(bob, key, v1, 2, b"draft 2 by bob")
        v3b = await put_version(bob, key, v2b, 3, b"draft 3 by bob")
        assert await alice.get_versions(key) == sorted([v2a, v3b])
        assert await bob.get_versions(key) == sorted([v2a, v3b])
        assert await alice.get_branch(key, v3b) == [v3b, v2b, v1, v0]
        assert await bob.get_branch(key, v2a) == [v2a, v1, v0]
        await net.wait_for(lambda: group_holds(net, key, [v2a, v3b]), 30,
                           "every VersionManager holds the forked tree")

        assert await bob.delete_branch(key, v3b) == [v2b, v3b]
        assert await alice.get_versions(key) == [v2a]
        await net.wait_for(lambda: group_holds(net, key, [v2a]), 30, "the fork is gone")
        await net.wait_for(lambda: nothing_stored(net, v3b.id) and nothing_stored(net, v2b.id),
                           30, "bob's deleted versions' chunks are deleted")

        assert await alice.delete_branch(key, v2a) == [v0, v1, v2a]
        with pytest.raises(NoSuchVersion):
            await bob.get_versions(key)
        await net.wait_for(lambda: member_trees(net, key) == [None] * 4, 30, "tree gone")
        await net.wait_for(lambda: nothing_stored(net, v0.id), 30, "alice's chunks deleted")


async def test_version_limit_drops_the_root_and_branch_limit_refuses(autojump_clock) -> None:
    key = name_of(b"bounded")
    async with Testnet(vaults=16, transport="sim", seed=5) as net:
        client = await net.client()
        v0 = await put_version(client, key, None, 0, b"v0", max_versions=3, max_branches=2)
        v1 = await put_version(client, key, v0, 1, b"v1")
        v2 = VersionName(2, await client.put(b"v2"))
        assert await client.put_version(key, v1, v2) == []
        v3 = VersionName(3, await client.put(b"v3"))
        assert await client.put_version(key, v2, v3) == [v0]
        assert await client.get_branch(key, v3) == [v3, v2, v1]
        fork = await put_version(client, key, v1, 5, b"fork")
        third = VersionName(6, await client.put(b"third branch"))
        with pytest.raises(VersionLimit):
            await client.put_version(key, v1, third)
        assert await client.get_versions(key) == [v3, fork]
        await net.wait_for(lambda: group_holds(net, key, [v3, fork]), 30, "limits agreed")


async def test_refusals_are_typed(autojump_clock) -> None:
    key = name_of(b"refusals")
    async with Testnet(vaults=16, transport="sim", seed=6) as net:
        client, stranger = await net.client(), await net.client()
        with pytest.raises(NoSuchVersion, match="no version tree"):
            await client.get_versions(key)
        v0 = await put_version(client, key, None, 0, b"root")
        v1 = await put_version(client, key, v0, 1, b"child")
        other = VersionName(7, await client.put(b"other"))
        with pytest.raises(InvalidVersion, match="already has a root"):
            await client.put_version(key, None, other)
        with pytest.raises(InvalidVersion, match="another parent"):
            await client.put_version(key, v1, v0)
        with pytest.raises(InvalidVersion, match="own parent"):
            await client.put_version(key, other, other)
        with pytest.raises(NoSuchVersion, match="not in the tree"):
            await client.get_branch(key, other)
        with pytest.raises(InvalidVersion, match="not a tip"):
            await client.get_branch(key, v0)
        with pytest.raises(InvalidVersion, match="not a tip"):
            await client.delete_branch(key, v0)
        with pytest.raises(NoSuchVersion, match="no version tree"):
            await client.put_version(name_of(b"absent"), v0, other)
        with pytest.raises(InvalidVersion, match="not stored in your account"):
            await stranger.put_version(key, v1, VersionName(2, v1.id))
        with pytest.raises(InvalidVersion, match="no account"):
            await stranger.delete_branch(key, v1)
        await net.wait_for(lambda: group_holds(net, key, [v1]), 30, "refusals changed nothing")


async def test_versions_on_tcp() -> None:
    key = name_of(b"over tcp")
    async with Testnet(vaults=16, transport="tcp") as net:
        alice, bob = await net.client(), await net.client()
        v0 = await put_version(alice, key, None, 0, b"tcp root", mode=TreeMode.SHARED,
                               owners=[bob.name])
        v1a = await put_version(alice, key, v0, 1, b"tcp alice")
        v1b = await put_version(bob, key, v0, 1, b"tcp bob")
        assert await bob.get_versions(key) == sorted([v1a, v1b])
        await net.wait_for(lambda: group_holds(net, key, [v1a, v1b]), 30, "trees agree")


async def test_owners_and_modes(autojump_clock) -> None:
    """A private tree is its owner's alone; a public one anyone reads and only its owner
    writes; a shared one its owners read and write. Refusals are NotOwner and change nothing."""
    async with Testnet(vaults=16, transport="sim", seed=9) as net:
        owner, friend, stranger = await net.client(), await net.client(), await net.client()
        private, public, shared = (name_of(b"private"), name_of(b"public"),
                                   name_of(b"shared"))
        p0 = await put_version(owner, private, None, 0, b"diary", mode=TreeMode.PRIVATE)
        u0 = await put_version(owner, public, None, 0, b"notice")  # public by default
        s0 = await put_version(owner, shared, None, 0, b"plan", mode=TreeMode.SHARED,
                               owners=[friend.name])
        theirs = VersionName(1, await stranger.put(b"graffiti"))
        mine = VersionName(1, await friend.put(b"friend's edit"))

        for key, root in ((private, p0), (shared, s0)):
            with pytest.raises(NotOwner):
                await stranger.get_versions(key)
            with pytest.raises(NotOwner):
                await stranger.get_branch(key, root)
        assert await stranger.get_versions(public) == [u0]
        for key, root in ((private, p0), (public, u0), (shared, s0)):
            with pytest.raises(NotOwner):
                await stranger.put_version(key, root, theirs)
            with pytest.raises(NotOwner):
                await stranger.delete_branch(key, root)
        with pytest.raises(NotOwner):
            await friend.get_versions(private)
        with pytest.raises(NotOwner):
            await friend.put_version(public, u0, mine)

        await friend.put_version(shared, s0, mine)
        assert await owner.get_versions(shared) == [mine]
        assert await owner.get_versions(private) == [p0]
        await net.wait_for(lambda: group_holds(net, private, [p0]) and group_holds(
            net, public, [u0]) and group_holds(net, shared, [mine]), 30, "refusals changed nothing")


async def test_owners_are_checked_by_the_client_before_sending(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=2) as net:
        client, other = await net.client(), await net.client()
        version = VersionName(0, await client.put(b"v"))
        with pytest.raises(ValueError, match="one owner"):
            await client.put_version(name_of(b"k"), None, version, mode=TreeMode.PRIVATE,
                                     owners=[other.name])
        with pytest.raises(TypeError, match="TreeMode"):
            await client.put_version(name_of(b"k"), None, version, mode="shared")  # type: ignore[arg-type]

"""Checks of what the VersionManager groups hold, computed over all live vaults."""

from __future__ import annotations

from typing import Any

from vaultnet import Testnet
from vaultnet.client import MaidClient
from vaultnet.personas.version_tree import StructuredDataVersions, VersionName
from vaultnet.xor import Name


def member_trees(net: Testnet, key: Name) -> list[StructuredDataVersions | None]:
    """The tree each member of the true close group of `key` holds (None: no tree)."""
    group = set(net.true_close_group(key))
    return [v.host.version_manager.tree(key) for v in net.vaults  # type: ignore[union-attr]
            if v.name in group]


def group_holds(net: Testnet, key: Name, tips: list[VersionName]) -> bool:
    """Every member of the group holds the same tree, and its tips are `tips`."""
    trees = member_trees(net, key)
    return (len(trees) == net.params.group_size and trees[0] is not None
            and all(t == trees[0] for t in trees) and trees[0].get() == sorted(tips))


async def put_version(client: MaidClient, key: Name, parent: VersionName | None, index: int,
                      content: bytes, **options: Any) -> VersionName:
    """Put `content` as a chunk, then as version `index` under `parent` (`options`: the
    limits, mode and owners of a new tree)."""
    version = VersionName(index, await client.put(content))
    await client.put_version(key, parent, version, **options)
    return version

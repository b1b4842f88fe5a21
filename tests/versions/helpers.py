"""Checks of what the VersionManager groups hold, computed over all live vaults."""

from __future__ import annotations

from typing import Any

from vaultnet import Testnet
from vaultnet.client.maid import MaidClient
from vaultnet.personas.version_tree import StructuredDataVersions, VersionName
from vaultnet.xor import Name


def member_trees(net: Testnet, key: Name) -> list[StructuredDataVersions | None]:
    """The tree each member of the true close group of `key` holds (None: no tree)."""
    return list(net.version_tree(key).views.values())


def group_holds(net: Testnet, key: Name, tips: list[VersionName]) -> bool:
    """Every member of the group holds the same tree, and its tips are `tips`."""
    trees = net.version_tree(key)
    return len(trees.members) == net.parameters.group_size and trees.tips == sorted(tips)


async def put_version(client: MaidClient, key: Name, parent: VersionName | None, index: int,
                      content: bytes, **options: Any) -> VersionName:
    """Put `content` as a chunk, then as version `index` under `parent` (`options`: the
    limits, mode and owners of a new tree)."""
    version = VersionName(index, await client.put(content))
    await client.put_version(key, parent, version, **options)
    return version

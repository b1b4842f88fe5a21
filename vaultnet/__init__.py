"""vaultnet: a runnable MaidSafe-style vault network (trio), its dashboard and test fixtures."""

from vaultnet.identity import Identity
from vaultnet.personas.tree_access import TreeMode
from vaultnet.personas.version_tree import VersionName
from vaultnet.runtime.testnet import InvariantsViolated, NotSettled, Testnet, TestnetError

__all__ = ["Identity", "InvariantsViolated", "NotSettled", "Testnet", "TestnetError",
           "TreeMode", "VersionName"]

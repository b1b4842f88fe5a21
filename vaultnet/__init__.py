"""vaultnet: a runnable MaidSafe-style vault network (trio), its dashboard and test fixtures."""

from vaultnet.testnet import NotSettled, Testnet, TestnetError

__all__ = ["NotSettled", "Testnet", "TestnetError"]

"""The testnet's base error, apart from `Testnet` so that the parts a testnet is built from
(its worker processes among them) can raise it without importing the testnet."""

from __future__ import annotations


class TestnetError(Exception):
    """A request the testnet cannot carry out (unknown vault, bad configuration, ...)."""

    __test__ = False

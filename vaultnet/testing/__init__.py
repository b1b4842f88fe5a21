"""Test support for code built on vaultnet: a pytest plugin (`testnet`, `testnet_factory`, the
`testnet` marker) loaded by the `pytest11` entry point, and the types it hands to tests."""

from vaultnet.testing.settings import (
    MARKER_ARGUMENTS,
    TestnetFactory,
    TestnetMarkerError,
    TestnetSettings,
    settings_from,
)

__all__ = [
    "MARKER_ARGUMENTS",
    "TestnetFactory",
    "TestnetMarkerError",
    "TestnetSettings",
    "settings_from",
]

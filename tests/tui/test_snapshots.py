"""Snapshot tests of the main views, rendered from a model filled by a seeded simulator run."""

from __future__ import annotations

import pytest

from tests.tui.frozen import frozen_model
from tui.app import VaultnetApp

SIZE = (130, 42)


@pytest.fixture(scope="module")
def model():
    return frozen_model()


@pytest.mark.parametrize("keys", [["1"], ["1", "down", "down"], ["2"], ["3"], ["4"], ["5"],
                                  ["question_mark"]],
                         ids=["vaults", "vault-detail", "chunks-xor", "flows", "evictions",
                              "ranking", "help"])
def test_view(snap_compare, model, keys: list[str]) -> None:
    assert snap_compare(VaultnetApp(model=model), press=keys, terminal_size=SIZE)

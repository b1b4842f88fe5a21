"""Snapshot tests of the main views, rendered from models filled by seeded simulator runs."""

from __future__ import annotations

import pytest

from tests.tui.frozen import frozen_model, frozen_versions_model
from tui.app import VaultnetApp
from tui.model import NetworkModel

SIZE = (130, 42)


@pytest.fixture(scope="module")
def model() -> NetworkModel:
    return frozen_model()


@pytest.fixture(scope="module")
def versions_model() -> NetworkModel:
    return frozen_versions_model()


@pytest.mark.parametrize("keys", [["1"], ["1", "down", "down"], ["2"], ["3"], ["4"],
                                  ["4", "c"], ["5"], ["question_mark"]],
                         ids=["vaults", "vault-detail", "chunks-xor", "flows", "evictions",
                              "evictions-kind", "ranking", "help"])
def test_view(snap_compare, model, keys: list[str]) -> None:
    assert snap_compare(VaultnetApp(model=model), press=keys, terminal_size=SIZE)


def test_versions_and_messages_view(snap_compare, versions_model) -> None:
    """Two trees (one forked, one of its branches deleted), the group of the selected one,
    and messages delivered, refused and held (bob offline)."""
    assert snap_compare(VaultnetApp(model=versions_model), press=["6", "down", "down"],
                        terminal_size=SIZE)


@pytest.mark.parametrize("which", ["message", "version"])
def test_followed_flows(snap_compare, versions_model, which: str) -> None:
    """A message's send (MpidNode → MpidManager → MpidManager → MpidNode) and a version's
    put (MaidNode → MaidManager → VersionManager) in the space-time view."""
    if which == "message":
        versions_model.followed_trace = next(iter(versions_model.messages.values())).trace
    else:
        versions_model.followed_trace = next(reversed(versions_model.versioned.values())).trace
    assert snap_compare(VaultnetApp(model=versions_model), press=["3"], terminal_size=SIZE)


def test_tour_step(snap_compare, model) -> None:
    """The guided tour's XOR step: the view, its widget outlined, the step's text above the
    footer."""
    assert snap_compare(VaultnetApp(model=model), press=["T", "right", "right", "right"],
                        terminal_size=SIZE)

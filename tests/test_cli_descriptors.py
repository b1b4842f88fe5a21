"""The file-descriptor budget: a testnet too large for the process limit is refused before it
opens a socket (one line, exit 2 on the command line; TooFewDescriptors in the library), the
soft limit is raised toward the hard one when that is enough, and a vault's links are capped."""

from __future__ import annotations

import random
import resource
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vaultnet.control.listener import DESCRIPTORS
from vaultnet.identity import Identity
from vaultnet.runtime import descriptors
from vaultnet.runtime import events as ev
from vaultnet.runtime.core import VaultCore
from vaultnet.runtime.links import MAX_VAULT_CONNECTIONS, Links
from vaultnet.runtime.testnet import Testnet, TooFewDescriptors
from vaultnet.transport.sim import SimNetwork
from vaultnet.xor import name_in_bucket

LOW_LIMIT = 200
"""A hard limit no TCP testnet of 4 vaults fits (each vault alone needs more)."""


def _low_limit() -> None:
    """In the child, before it runs: a descriptor limit too low for the testnet."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (LOW_LIMIT, LOW_LIMIT))


def test_a_testnet_beyond_the_limit_exits_2_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "vaultnet", "testnet", "--vaults", "4",
                           "--duration", "1", "--data-dir", str(tmp_path / "net")],
                          capture_output=True, text=True, timeout=60, preexec_fn=_low_limit)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("vaultnet: error: ")
    needed = descriptors.needed(4, "tcp")
    assert f"needs {needed + DESCRIPTORS:,} file descriptors" in lines[0]
    assert f"only {LOW_LIMIT:,}" in lines[0]
    assert proc.stdout == "", "nothing started"
    assert not (tmp_path / "net" / "vault-001").exists()


@pytest.fixture
def soft_limit() -> Iterator[tuple[int, int]]:
    """This process's descriptor limits, the soft one restored after the test."""
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        yield limits
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def test_the_soft_limit_is_raised_when_the_hard_one_allows(
        soft_limit: tuple[int, int]) -> None:
    _soft, hard = soft_limit
    wanted = descriptors.needed(2, "tcp")
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"hard limit {hard} below {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted - 1, hard))
    assert descriptors.reserve(wanted) is None
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= wanted


def test_the_library_raises_a_typed_error_and_creates_nothing(
        soft_limit: tuple[int, int], tmp_path: Path) -> None:
    _soft, hard = soft_limit  # the hard limit is left alone: lowering it cannot be undone
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard limit to exceed")
    with pytest.raises(TooFewDescriptors) as caught:
        Testnet(vaults=1 + hard // descriptors.per_vault("tcp"), data_dir=tmp_path / "net")
    assert caught.value.available == hard
    assert caught.value.needed > hard
    assert not (tmp_path / "net").exists()


def test_simulated_vaults_need_only_their_database_files() -> None:
    assert descriptors.needed(100, "sim") == 100 * descriptors.SQLITE_FILES + descriptors.MARGIN
    assert descriptors.per_vault("tcp") > MAX_VAULT_CONNECTIONS


@dataclass
class _Conn:
    """Just what `Links.register` reads of a connection."""

    peer: bytes
    role: str = "vault"
    peer_address: str = ""
    closed: bool = False
    last_active: float = 0.0

    def close(self) -> None:
        self.closed = True


def test_vault_links_are_capped() -> None:
    rng = random.Random(14)
    identity = Identity.generate(rng.randbytes(32))
    bus = ev.EventBus()
    refused: list[ev.Event] = []
    bus.add_sink(refused.append)
    core = VaultCore(identity, SimNetwork(0).endpoint(identity), bus)
    core.now = lambda: 0.0  # type: ignore[method-assign]
    links = Links(core, lambda conn, frame: None, lambda peer, address: None,
                  lambda conn, last: None)
    # A full proximity set of vaults closer than any random name, and a group in each of the
    # 12 farthest buckets: those dialling at the cap would neither be among its closest nor
    # fill a bucket short of a group (either would be admitted in place of a link the table
    # lacks: tests/security/test_authority.py, tests/test_link_room.py).
    for last in range(1, core.params.proximity_size + 1):
        core.routing.add(identity.name[:-1] + bytes([identity.name[-1] ^ last]), "sim:1")
    for index in range(12):
        for _ in range(core.params.group_size):
            core.routing.add(name_in_bucket(identity.name, index, rng), "sim:1")
    conns = [_Conn(rng.randbytes(64)) for _ in range(MAX_VAULT_CONNECTIONS + 3)]
    admitted = [links.register(conn) for conn in conns]  # type: ignore[arg-type]
    assert admitted.count(True) == MAX_VAULT_CONNECTIONS
    assert [c.closed for c in conns[MAX_VAULT_CONNECTIONS:]] == [True] * 3
    assert links.vault_links() == MAX_VAULT_CONNECTIONS
    assert links.register(_Conn(rng.randbytes(64), role="client"))  # type: ignore[arg-type]
    assert len(refused) == 3
    # Once nobody has kept them alive for the liveness timeout, a dialler takes the place of
    # the oldest; one kept alive since keeps its own.
    core.now = lambda: core.timing.liveness_timeout  # type: ignore[method-assign]
    conns[0].last_active = 1.0
    late = _Conn(rng.randbytes(64))
    assert links.register(late)  # type: ignore[arg-type]
    assert not conns[0].closed and conns[1].closed and not late.closed
    assert links.vault_links() == MAX_VAULT_CONNECTIONS

"""Self-healing: a vault that lost its peers (a partition, every link down at once, a stall of the
whole process) rejoins through its bootstrap list and the vaults it remembers, until its close
groups are whole again; a vault that cannot join at all is reported, not counted as up."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import trio

from tests.conftest import running_testnet
from tests.test_cli import one_error_line
from tests.test_ctl import ctl, vault_rows
from vaultnet import Testnet
from vaultnet.runtime import events as ev
from vaultnet.runtime.membership import REJOIN_BACKOFF_MAX, REJOINING
from vaultnet.runtime.testnet import TestnetError
from vaultnet.runtime.vault import closest_of
from vaultnet.xor import Name

HEAL_BOUND = 30.0
"""Simulated seconds from the heal to close groups exact again. What it takes at most: the
backoff in progress (at most REJOIN_BACKOFF_MAX) plus a dial still waiting out its handshake
timeout (5 s) from before the heal, then a join's lookups (a few round trips)."""
STALL = 8.0
"""Seconds the TCP testnet process is stopped: twice the liveness timeout (4 s)."""
STALL_RECOVERY = 60.0
"""Wall seconds after the stall ends by which status, put and get must all have succeeded:
each is a new process (start-up about a second on a loaded machine) and a put waits for its
group's acknowledgement."""


def close_groups_exact(net: Testnet, targets: list[Name]) -> bool:
    """Every vault's proximity set is the true one (so it is one network, not several), and
    for every target each vault knows exactly whether it is in the true close group, and if it
    is, its own view of that group is the true one."""
    if not net.converged():
        return False
    for target in targets:
        truth = closest_of(target, net.vaults, net.params.group_size)
        for vault in net.vaults:
            if vault.is_responsible(target) != (vault.name in truth):
                return False
            if vault.name in truth and vault.close_group(target) != truth:
                return False
    return True


def sample_targets(net: Testnet, seed: int, count: int = 20) -> list[Name]:
    """Random names plus every vault's own name (the groups PmidManagers use)."""
    rng = random.Random(seed)
    return [rng.randbytes(64) for _ in range(count)] + [v.name for v in net.vaults]


async def put_and_get(net: Testnet, seed: int) -> None:
    client = await net.client()
    data = seed.to_bytes(4, "big") * 500
    name = await client.put(data)
    assert await (await net.client()).get(name) == data


async def test_partitioned_vault_rejoins_after_the_heal(autojump_clock) -> None:
    """One vault cut off from all others longer than the liveness timeout loses every peer (and
    they lose it); after the heal it rejoins and close groups are exact from every vault's view
    within HEAL_BOUND simulated seconds."""
    async with Testnet(vaults=12, transport="sim", seed=31) as net:
        victim = net.vaults[4]
        others = [v for v in net.vaults if v is not victim]
        net.fault(victim.name, "partition")
        await net.wait_for(lambda: len(victim.routing) == 0
                           and all(victim.name not in v.routing for v in others),
                           30, "the partition cut the vault off")
        # While cut off it keeps trying, with backoff: let that run up to its cap.
        await trio.sleep(4 * REJOIN_BACKOFF_MAX)
        assert len(victim.routing) == 0
        net.fault(victim.name, "heal")
        targets = sample_targets(net, 31)
        await net.wait_for(lambda: close_groups_exact(net, targets), HEAL_BOUND,
                           "close groups exact after the heal")
        await put_and_get(net, 31)


async def test_every_vault_loses_every_peer_and_they_reform_one_network(autojump_clock) -> None:
    """Every link down for longer than the liveness timeout: every vault drops every peer. After
    the heal they re-form one network (close groups exact from every vault's own view) within
    HEAL_BOUND simulated seconds, and puts succeed."""
    async with Testnet(vaults=16, transport="sim", seed=32) as net:
        assert net.sim is not None
        rejoins: list[ev.PersonaEvent] = []

        def record(event: ev.Event) -> None:
            if isinstance(event, ev.PersonaEvent) and event.what == REJOINING:
                rejoins.append(event)

        net.bus.add_sink(record)
        addresses = [v.address for v in net.vaults]
        net.sim.partition(addresses, addresses)
        await net.wait_for(lambda: all(len(v.routing) == 0 for v in net.vaults), 30,
                           "every vault lost every peer")
        await trio.sleep(4 * REJOIN_BACKOFF_MAX)  # the partition lasting: the scenario
        assert all(len(v.routing) == 0 for v in net.vaults)
        assert {e.vault for e in rejoins} == {v.name for v in net.vaults}
        assert max(e.detail["backoff"] for e in rejoins) == REJOIN_BACKOFF_MAX
        net.sim.heal()
        targets = sample_targets(net, 32)
        await net.wait_for(lambda: close_groups_exact(net, targets), HEAL_BOUND,
                           "one network again after the heal")
        await put_and_get(net, 32)


async def test_add_vault_whose_bootstrap_vaults_do_not_answer_fails(autojump_clock) -> None:
    """The bootstrap vaults accept the connection but never answer (hung): the new vault cannot
    join, so add_vault raises TestnetError and the vault is not counted."""
    async with Testnet(vaults=6, transport="sim", seed=33) as net:
        bootstraps = net.bootstrap_addresses()
        for vault in net.vaults[:3]:
            net.fault(vault.name, "silent")
        before = [v.name for v in net.vaults]
        with pytest.raises(TestnetError, match="could not join: no bootstrap vault answered"):
            await net.add_vault()
        assert [v.name for v in net.vaults] == before
        assert net.bootstrap_addresses() == bootstraps
        for vault in net.vaults[:3]:
            net.fault(vault.name, "heal")
        added = await net.add_vault()
        assert added.joined and len(added.routing) > 0


def test_ctl_add_that_cannot_join_is_one_line_exit_1(testnet_dir: Path) -> None:
    rows = vault_rows(testnet_dir)
    for name in list(rows)[:3]:  # the first three rows are the bootstrap vaults
        assert ctl(testnet_dir, "fault", name, "silent").returncode == 0
    added = ctl(testnet_dir, "add")
    assert added.returncode == 1
    assert "could not join: no bootstrap vault answered" in one_error_line(added.stderr)
    assert added.stdout == ""
    assert set(vault_rows(testnet_dir)) == set(rows)


def _all_peers(data_dir: Path, vaults: int) -> bool:
    rows = vault_rows(data_dir)
    return len(rows) == vaults and all(f"peers={vaults - 1} " in row for row in rows.values())


def test_tcp_testnet_heals_after_the_process_stalls(tmp_path: Path) -> None:
    """`vaultnet testnet --vaults 8` stopped (SIGSTOP) for STALL seconds, twice the liveness
    timeout, then continued: within STALL_RECOVERY seconds every vault again has all 7 others
    as peers (in 8 vaults, with proximity sets of 16, that is every close group exact) and a
    put and a get succeed. The sleep is the stall itself; everything else waits on a condition
    with a deadline."""
    vaults = 8
    with running_testnet(tmp_path / "net", vaults=vaults) as data_dir:
        pid = json.loads((data_dir / "testnet.json").read_text())["pid"]
        assert _all_peers(data_dir, vaults)
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(STALL)  # the scenario: the process does not run for this long
        finally:
            os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + STALL_RECOVERY
        source = tmp_path / "in.bin"
        source.write_bytes(os.urandom(50_000))
        while True:
            put = subprocess.run([sys.executable, "-m", "vaultnet", "put", str(source),
                                  "--data-dir", str(data_dir)], capture_output=True, text=True,
                                 timeout=STALL_RECOVERY)
            if put.returncode == 0 and _all_peers(data_dir, vaults):
                break
            assert time.monotonic() < deadline, f"not healed: {put.stderr}"
        out = tmp_path / "out.bin"
        got = subprocess.run([sys.executable, "-m", "vaultnet", "get", put.stdout.strip(),
                              "-o", str(out), "--data-dir", str(data_dir)],
                             capture_output=True, text=True, timeout=STALL_RECOVERY)
        assert got.returncode == 0, got.stderr
        assert out.read_bytes() == source.read_bytes()
        assert _all_peers(data_dir, vaults)
        assert time.monotonic() < deadline

"""`Testnet(processes=2)` in the library behaves like one testnet: every vault's own proximity
set is exact over both processes, data put through this process's vaults is got and deleted,
a vault in the worker is killed and restarted, and the events of both processes arrive on the
one bus. The plugin's marker takes `processes=` too."""

from __future__ import annotations

import os
from typing import Any

import pytest
import trio

from tests.launchers import PROXIMITY
from vaultnet import Testnet
from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import TestnetError
from vaultnet.runtime.worker_pool import wrong_proximity
from vaultnet.testing.settings import TestnetMarkerError, settings_from

VAULTS = 6
DEADLINE = 90.0


async def exact_rows(net: Testnet) -> list[dict[str, Any]]:
    """Every vault's row once each one's own proximity set is exact over all processes."""
    with trio.move_on_after(DEADLINE):
        while wrong_proximity(rows := await net.vault_rows(), PROXIMITY):
            await trio.sleep(0.25)
        return rows
    wrong = wrong_proximity(await net.vault_rows(), PROXIMITY)
    raise AssertionError(f"views still wrong: {wrong}")


async def test_a_testnet_over_two_processes_is_one_network() -> None:
    async with Testnet(vaults=VAULTS, transport="tcp", processes=2, capacity=1 << 24) as net:
        seen: list[ev.Event] = []
        net.bus.add_sink(seen.append)
        rows = await exact_rows(net)
        local = {v.name.hex() for v in net.vaults}
        remote = [row["name"] for row in rows if row["name"] not in local]
        assert len(local) == VAULTS // 2 and len(remote) == VAULTS // 2

        client = await net.client()
        data = os.urandom(3000)
        name = await client.put(data)
        assert await client.get(name) == data
        await client.delete(name)

        victim = remote[0]
        assert await net.workers.on_vault("kill", victim[:16]) == {"name": victim}
        assert victim not in [row["name"] for row in await net.vault_rows()]
        assert (await net.workers.on_vault("restart", victim[:16]))["name"] == victim
        assert victim in [row["name"] for row in await exact_rows(net)]
        with pytest.raises(TestnetError, match="no single vault that ran in a worker"):
            await net.workers.on_vault("kill", next(iter(local))[:16])
        await client.aclose()
    downs = {e.vault.hex() for e in seen if isinstance(e, ev.VaultDown)}
    ups = {e.vault.hex() for e in seen if isinstance(e, ev.VaultUp)}
    assert victim in downs and victim in ups, "the worker's events reached our bus"


def test_processes_are_checked() -> None:
    with pytest.raises(TestnetError, match="use transport='tcp'"):
        Testnet(vaults=4, transport="sim", processes=2)
    with pytest.raises(TestnetError, match="between 1 and the number of vaults"):
        Testnet(vaults=2, transport="tcp", processes=3)
    assert settings_from((), {"processes": 2, "transport": "tcp"}).processes == 2
    with pytest.raises(TestnetMarkerError, match="processes=2 needs transport='tcp'"):
        settings_from((), {"processes": 2})


async def test_the_boot_bench_counts_every_process_memory() -> None:
    """`vaultnet bench net --boot N --processes P` sums the RSS of the launcher and its workers:
    per vault it reports more than the launcher's own RSS spread over every vault."""
    from vaultnet.bench.memory import rss_kib
    from vaultnet.bench.net import _boot_over_processes

    wall, per_vault = await _boot_over_processes(8, 2)
    assert wall > 0
    assert per_vault * 8 > rss_kib()

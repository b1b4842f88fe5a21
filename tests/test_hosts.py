"""Vaults on several hosts: a testnet listening on 127.0.0.2 joins one on 127.0.0.1 with its
network key and they form one network (every vault's own view of close groups exact over
both); a testnet with another key is refused."""

from __future__ import annotations

import os
import random

import pytest
import trio

from vaultnet.runtime.testnet import JoinRefused, Testnet, TestnetError
from vaultnet.runtime.vault import Vault, closest_of
from vaultnet.xor import Name, random_name

pytestmark = pytest.mark.slow  # TCP testnets: left out of the fast loop, like tests/conftest.SLOW
TIMEOUT = 60.0


def wrong_views(vaults: list[Vault], targets: list[Name], size: int) -> list[str]:
    """Where a vault's own view of a close group differs from the truth over every vault."""
    errors = []
    for target in targets:
        truth = set(closest_of(target, vaults, size))
        for vault in vaults:
            if vault.is_responsible(target) != (vault.name in truth):
                errors.append(f"{vault.name.hex()[:8]} wrong about {target.hex()[:8]}")
    return errors


async def test_two_hosts_form_one_network() -> None:
    rng = random.Random(14)
    async with Testnet(vaults=6, host="127.0.0.1") as first:  # noqa: SIM117 (second needs first)
        async with Testnet(vaults=6, host="127.0.0.2", network_key=first.network_key,
                           join=[first.vaults[0].address]) as second:
            assert all(v.address.startswith("127.0.0.2:") for v in second.vaults)
            everyone = first.vaults + second.vaults
            targets = [v.name for v in everyone] + [random_name(rng) for _ in range(20)]
            size = first.params.group_size
            with trio.fail_after(TIMEOUT):
                while wrong_views(everyone, targets, size):
                    await trio.sleep(0.2)
            data = rng.randbytes(3000)
            name = await (await first.client()).put(data)
            assert await (await second.client()).get(name) == data


async def test_a_join_with_another_key_is_refused() -> None:
    async with Testnet(vaults=3) as first:
        with pytest.raises(JoinRefused, match="refused our network key"):
            async with Testnet(vaults=2, host="127.0.0.2", network_key=os.urandom(32),
                               join=[first.vaults[0].address]):
                pass
        assert len(first.vaults) == 3


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "localhost", "224.0.0.1"])
def test_a_host_must_be_an_address_to_advertise(host: str) -> None:
    with pytest.raises(TestnetError):
        Testnet(vaults=1, host=host)

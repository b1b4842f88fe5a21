"""A client registers one of the testnet's vaults: its allowance becomes the space that vault
offers (its capacity, as its PmidManagers report it), a put past it is refused, the put's
answer carries the vault's health, and unregistering brings back the default allowance."""

from __future__ import annotations

import random

import pytest

from vaultnet import InvalidRegistration, PutFailure, Testnet
from vaultnet.identity import Identity
from vaultnet.personas.bodies import RegisterVaultBody, registration_bytes
from vaultnet.personas.maid_manager import DEFAULT_ALLOWANCE
from vaultnet.protocol import Action
from vaultnet.runtime.inspection import node_rank

CAPACITY = 50_000


async def test_register_allowance_refused_put_then_unregister(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=7, capacity=CAPACITY) as net:
        client = await net.client()
        vault = net.vaults[3]
        await net.wait_for(lambda: node_rank(net, vault.name).agreed is not None
                           and node_rank(net, vault.name).agreed.available == CAPACITY,
                           60, "the vault's PmidManagers know its capacity")
        assert await client.register_vault(vault.identity) == CAPACITY  # its space counted
        await net.wait_for(lambda: net.account(client.name).allowance == CAPACITY, 60,
                           "the allowance follows the registered vault")
        rng = random.Random(1)
        first = rng.randbytes(30_000)
        await client.put(first)
        assert [h.node for h in client.health] == [vault.name]
        assert client.health[0].available == CAPACITY and client.health[0].rank == 1.0
        with pytest.raises(PutFailure, match="allowance exceeded"):
            await client.put(rng.randbytes(30_000))
        assert net.account(client.name).used == len(first)
        assert await client.unregister_vault(vault.name) == DEFAULT_ALLOWANCE
        await client.put(rng.randbytes(30_000))
        assert client.health == []


async def test_a_registration_the_vault_did_not_sign_is_refused(autojump_clock) -> None:
    """A hand-made client names a vault but signs its PMID half with another key: refused
    InvalidRegistration, the account unchanged."""
    async with Testnet(vaults=8, transport="sim", seed=8) as net:
        client = await net.client()
        vault, impostor = net.vaults[0].identity, Identity.generate(b"\x05" * 32)
        signed = registration_bytes(client.name, vault.name)
        forged = RegisterVaultBody(client.identity.verify_key, vault.verify_key,
                                   client.identity.sign(signed), impostor.sign(signed))
        with pytest.raises(InvalidRegistration, match="bad signature"):
            await client._vault_request(vault.name, Action.REGISTER_VAULT, forged, None)
        assert net.account(client.name).allowance is None  # no account kept: the default

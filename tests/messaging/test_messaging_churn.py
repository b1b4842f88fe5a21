"""Held messages and lists move with churn: while bob is away, members of his MpidManager group
die and newcomers join; every current member keeps holding his messages and lists, and on his
return each message is delivered exactly once."""

from __future__ import annotations

import pytest
import trio

from tests.messaging.helpers import group_holds
from vaultnet import Testnet
from vaultnet.client.mpid import Blocked
from vaultnet.runtime.inspection import host_of


def lists_agree(net: Testnet, mpid: bytes, white: list[bytes], black: list[bytes]) -> bool:
    group = set(net.true_close_group(mpid))
    accounts = [host_of(v).mpid_manager.account(mpid) for v in net.vaults
                if v.name in group]
    return all(a.whitelist == white and a.blacklist == black for a in accounts)


@pytest.mark.parametrize("seed", [21, 22])
async def test_held_messages_and_lists_survive_churn(autojump_clock, seed: int) -> None:
    async with Testnet(vaults=16, transport="sim", seed=seed) as net:
        alice, bob, mallory = [await net.mpid_client() for _ in range(3)]
        await bob.block(mallory.name)
        identity = bob.identity
        await bob.aclose()
        away = [b"held through churn %d" % i for i in range(3)]
        for body in away:
            await alice.send(bob.name, body)
        await net.wait_for(lambda: group_holds(net, bob.name, away), 30, "held for bob")

        for step in range(4):
            if step % 2 == 0:
                await net.kill_vault(net.true_close_group(bob.name)[step])
            else:
                await net.add_vault()
            await net.wait_converged()
            await net.wait_for(lambda: group_holds(net, bob.name, away)
                               and lists_agree(net, bob.name, [], [mallory.name]), 60,
                               f"messages and lists held after churn step {step}")

        # The vault mallory was connected through may be among the dead: connect afresh.
        mallory = await net.mpid_client(mallory.identity)
        with pytest.raises(Blocked, match="blacklisted"):
            await mallory.send(bob.name, b"still blocked")
        bob = await net.mpid_client(identity)
        with trio.fail_after(30):
            got = sorted([(await bob.receive()).body for _ in away])
        assert got == away
        await net.wait_for(lambda: group_holds(net, bob.name, []), 30, "released once read")
        assert bob.received_nowait() == []

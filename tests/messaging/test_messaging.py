"""Messaging on a 16-vault testnet: delivery, whitelist, blacklist, offline hold, full inbox."""

from __future__ import annotations

import pytest
import trio

from tests.messaging.helpers import group_holds, outboxes_empty
from vaultnet import Testnet
from vaultnet.client.maid import ClientError
from vaultnet.client.mpid import Blocked, InboxFull, MpidMessage
from vaultnet.runtime import events as ev
from vaultnet.runtime.inspection import host_of


async def test_non_listed_and_whitelisted_delivery(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=11) as net:
        alice, bob, carol = [await net.mpid_client() for _ in range(3)]
        await alice.send(bob.name, b"hello bob")
        got = await bob.receive()
        assert got == MpidMessage(alice.name, got.mid, b"hello bob")
        await net.wait_for(lambda: group_holds(net, bob.name, []), 30, "acknowledged")

        lists = await bob.allow(carol.name)
        assert lists.whitelist == [carol.name] and lists.blacklist == []
        await carol.send(bob.name, b"from the whitelist")
        assert (await bob.receive()).body == b"from the whitelist"
        with pytest.raises(Blocked, match="not on the recipient's whitelist"):
            await alice.send(bob.name, b"not listed any more")
        assert (await bob.disallow(carol.name)).whitelist == []
        await alice.send(bob.name, b"whitelist empty again")
        assert (await bob.receive()).body == b"whitelist empty again"
        assert (await bob.lists()).whitelist == []
        await net.wait_for(lambda: outboxes_empty(net) and group_holds(net, bob.name, []), 30,
                           "nothing left held")
        assert bob.received_nowait() == []


async def test_blacklisted_sender_is_refused(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=12) as net:
        alice, bob = await net.mpid_client(), await net.mpid_client()
        assert (await bob.block(alice.name)).blacklist == [alice.name]
        with pytest.raises(Blocked, match="blacklisted"):
            await alice.send(bob.name, b"spam")
        await bob.allow(alice.name)
        with pytest.raises(Blocked, match="blacklisted"):
            await alice.send(bob.name, b"the blacklist wins over the whitelist")
        assert (await bob.unblock(alice.name)).blacklist == []
        await alice.send(bob.name, b"forgiven")
        assert (await bob.receive()).body == b"forgiven"
        assert bob.received_nowait() == []


async def test_offline_hold_and_delivery_on_return(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=13) as net:
        alice, bob = await net.mpid_client(), await net.mpid_client()
        identity = bob.identity
        await bob.aclose()
        await net.wait_for(lambda: bob.closed, 10, "bob disconnected")
        away = [b"while you were away %d" % i for i in range(3)]
        for body in away:
            await alice.send(bob.name, body)
        await net.wait_for(lambda: group_holds(net, bob.name, away), 30, "held for bob")

        bob = await net.mpid_client(identity)
        with trio.fail_after(30):
            got = sorted([(await bob.receive()).body for _ in range(3)])
        assert got == away
        await net.wait_for(lambda: group_holds(net, bob.name, []), 30, "held copies released")
        assert await bob.inbox() == []


async def test_full_inbox_refuses_until_read(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=14) as net:
        for vault in net.vaults:
            host_of(vault).mpid_manager.inbox_limit = 2
        alice, bob = await net.mpid_client(), await net.mpid_client()
        identity = bob.identity
        await bob.aclose()
        await alice.send(bob.name, b"one")
        await alice.send(bob.name, b"two")
        with pytest.raises(InboxFull, match="inbox holds 2 messages"):
            await alice.send(bob.name, b"three")
        await net.wait_for(lambda: group_holds(net, bob.name, [b"one", b"two"]), 30, "held")
        bob = await net.mpid_client(identity)
        with trio.fail_after(30):
            assert sorted([(await bob.receive()).body for _ in range(2)]) == [b"one", b"two"]
        await net.wait_for(lambda: group_holds(net, bob.name, []), 30, "inbox emptied")
        await alice.send(bob.name, b"three")
        with trio.fail_after(30):
            assert (await bob.receive()).body == b"three"


async def test_bad_names_are_refused_before_sending(autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=15) as net:
        alice = await net.mpid_client()
        with pytest.raises(ClientError, match="64 bytes"):
            await alice.send(b"short", b"x")
        with pytest.raises(ClientError, match="64 bytes"):
            await alice.block(b"short")


async def test_messaging_on_tcp() -> None:
    async with Testnet(vaults=16, transport="tcp") as net:
        alice, bob = await net.mpid_client(), await net.mpid_client()
        await alice.send(bob.name, b"over real sockets")
        assert (await bob.receive()).body == b"over real sockets"
        await net.wait_for(lambda: group_holds(net, bob.name, []) and outboxes_empty(net), 30,
                           "delivered and released")


def managers_see_offline(net: Testnet, mpid: bytes) -> bool:
    """Every member of the MPID's manager group records it offline (no relay to push to)."""
    group = set(net.true_close_group(mpid))
    return all(host_of(v).mpid_manager.account(mpid).relay is None
               for v in net.vaults if v.name in group)


async def test_managers_see_a_node_go_offline_and_stop_pushing(autojump_clock) -> None:
    """The vault an MpidNode went online through tells its managers when its connection
    closes: they mark it offline and hold new messages instead of pushing them at a relay
    that has nobody to give them to."""
    async with Testnet(vaults=16, transport="sim", seed=14) as net:
        alice, bob = await net.mpid_client(), await net.mpid_client()
        assert not managers_see_offline(net, bob.name)
        identity = bob.identity
        await bob.aclose()
        await net.wait_for(lambda: managers_see_offline(net, bob.name), 30, "bob offline")
        pushes: list[ev.Event] = []
        net.bus.add_sink(lambda e: pushes.append(e) if isinstance(e, ev.MessageSent)
                         and e.action == "message" else None)
        await alice.send(bob.name, b"while offline")
        await net.wait_for(lambda: group_holds(net, bob.name, [b"while offline"]), 30, "held")
        assert pushes == []
        bob = await net.mpid_client(identity)
        with trio.fail_after(30):
            assert (await bob.receive()).body == b"while offline"
        assert not managers_see_offline(net, bob.name)


async def test_a_lost_push_is_pushed_again_when_the_managers_group_changes(
        autojump_clock) -> None:
    async with Testnet(vaults=16, transport="sim", seed=15) as net:
        alice, bob = await net.mpid_client(), await net.mpid_client()
        deliver = bob._unsolicited
        bob._unsolicited = lambda msg: None  # type: ignore[method-assign]  # pushes lost
        await alice.send(bob.name, b"lost on the way")
        await net.wait_for(lambda: group_holds(net, bob.name, [b"lost on the way"]), 30,
                           "held, not acknowledged")
        bob._unsolicited = deliver  # type: ignore[method-assign]
        relay = bob.relay
        member = next(n for n in net.true_close_group(bob.name) if n != relay)
        await net.kill_vault(member)
        with trio.fail_after(60):
            assert (await bob.receive()).body == b"lost on the way"
        await net.wait_for(lambda: group_holds(net, bob.name, []), 30, "acknowledged")

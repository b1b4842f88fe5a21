"""Boot convergence: whom a new close vault is gossiped to and in how many frames, and lookups
that stop waiting on a vault whose link closed (`vaultnet.routing`, `vaultnet.runtime`)."""

from __future__ import annotations

import trio

from vaultnet import Testnet
from vaultnet.routing import Parameters, RoutingTable
from vaultnet.runtime.peer_protocol import FIND_TIMEOUT, GOSSIP_EVERY
from vaultnet.transport.base import Connection
from vaultnet.xor import NAME_SIZE, Name


def name(first: int) -> bytes:
    """A name whose first byte is `first` (the rest zero), to lay out XOR distances by hand."""
    return bytes([first]) + bytes(NAME_SIZE - 1)


def test_a_new_vault_is_told_to_a_far_peer_it_is_close_to_not_to_a_neighbour_it_is_not() -> None:
    # Our proximity set (size 1) is A; P sits in a sparse region where the new vault Y is its
    # nearest, while A has us closer than Y.
    table = RoutingTable(name(0x00), Parameters(group_size=1, proximity_size=1))
    a, b, p, y = name(0x01), name(0x02), name(0x30), name(0x20)
    for peer in (a, b, p, y):
        table.add(peer, f"sim:{peer[0]}")
    assert table.proximity() == (a,)
    assert table.close_to(y) == [p]


def test_every_peer_is_told_while_the_table_is_too_small_to_rule_any_out() -> None:
    table = RoutingTable(name(0x00))
    peers = [name(first) for first in (0x01, 0x40, 0x80, 0xc0)]
    for peer in peers:
        table.add(peer, f"sim:{peer[0]}")
    assert sorted(table.close_to(peers[0])) == sorted(peers[1:])


async def test_a_find_ends_when_the_link_to_the_vault_asked_closes(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=3) as net:
        asker = net.vaults[1]
        peer = asker.routing.peers[0]
        answers: list[object] = []
        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            async def ask() -> None:
                answers.append(await asker.find(peer, asker.name))
            nursery.start_soon(ask)
            await trio.sleep(0)
            asker.links.close_vault(peer)
        assert answers == [None]
        assert trio.current_time() - started < FIND_TIMEOUT


async def test_new_vaults_gossiped_to_one_peer_together_share_a_frame(autojump_clock) -> None:
    async with Testnet(vaults=8, transport="sim", seed=4) as net:
        sender, told = net.vaults[0], net.vaults[1]
        frames: list[list[Name]] = []
        on_neighbour = told.peer_protocol._on_neighbour

        def recording(conn: Connection, peers: list[tuple[Name, str]]) -> None:
            frames.append([name for name, _ in peers])
            on_neighbour(conn, peers)

        told.peer_protocol._on_neighbour = recording  # type: ignore[method-assign]
        newcomers = [name(first) for first in (0x11, 0x12, 0x13)]
        for newcomer in newcomers:
            sender.peer_protocol.gossip_neighbour(newcomer, "sim:999")
        assert frames == []
        await trio.sleep(GOSSIP_EVERY + 1)
        assert frames == [newcomers]


def test_a_vault_in_a_sparse_region_may_hold_us_close_a_far_or_crowded_one_does_not() -> None:
    # Our proximity set (size 2) is A and B, radius 4. S lies past it, within twice that, and
    # only B of our peers is nearer to S than we are: we may be among S's 2 closest. With two
    # more of our peers beside S, three are nearer than us: we cannot be. F is beyond 2 x 4.
    params = Parameters(group_size=1, proximity_size=2, max_peers=8)
    table = RoutingTable(name(0x00), params)
    assert table.may_hold_us_close(name(0x40))  # too few peers to rule anything out
    for peer in (name(0x01), name(0x04)):
        table.add(peer, f"sim:{peer[0]}")
    s, f = name(0x06), name(0x40)
    assert not table.in_proximity_range(s) and table.may_hold_us_close(s)
    assert not table.may_hold_us_close(f)
    for peer in (name(0x05), name(0x07)):
        table.add(peer, f"sim:{peer[0]}")
    assert table.proximity() == (name(0x01), name(0x04))
    assert not table.may_hold_us_close(s)


def test_a_full_table_takes_a_vault_for_a_bucket_short_of_a_group() -> None:
    """Responsibility needs a group's worth of each bucket: a full table makes room for one
    in its fullest far bucket (4 of 512 simulated vaults kept 3 in their far half for good)."""
    table = RoutingTable(name(0x00), Parameters(group_size=2, proximity_size=2, bucket_size=4,
                                                max_peers=6))
    for first in (0x01, 0x02, 0x20, 0x21, 0x22, 0x23):
        table.add(name(first), f"sim:{first}")
    assert len(table) == 6
    for first, evicted in ((0x80, name(0x23)), (0x81, name(0x22))):
        assert table.wants(name(first))
        assert table.add(name(first), f"sim:{first}")[1] == evicted
    assert not table.wants(name(0x82))
    assert len(table) == 6

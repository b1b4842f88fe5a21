"""Which vault a vault at its link cap still links (`Links._room_for_vault`), sans-IO over a
stand-in vault: a far vault whose bucket of ours holds a group is refused; one a bucket of ours
short of a group needs takes the place of a far link our table does not hold (512 simulated
vaults waited a simulated minute for one vault at its cap with 3 peers of 8 in a bucket)."""

from __future__ import annotations

import pytest

from tests.test_boot_convergence import name
from vaultnet.routing import Parameters, RoutingTable
from vaultnet.runtime import links


class StandInCore:
    """The part of a vault `Links` reads to decide room: its routing table."""

    def __init__(self, routing: RoutingTable) -> None:
        self.routing = routing
        self.name = routing.own


class StandInConnection:
    """A link that only records being closed."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def table() -> RoutingTable:
    # Our closest are 0x01 and 0x02; bucket 2 (0x20-0x3f) holds a group of 2; the far half
    # (0x80-0xff) holds none of our peers.
    routing = RoutingTable(name(0x00), Parameters(group_size=2, proximity_size=2,
                                                  bucket_size=4, max_peers=6))
    for first in (0x01, 0x02, 0x20, 0x21):
        routing.add(name(first), f"sim:{first}")
    return routing


def test_a_bucket_short_of_a_group_is_told_apart() -> None:
    routing = table()
    assert routing.short_of_a_group(name(0x80))  # the far half: none held
    assert not routing.short_of_a_group(name(0x30))  # bucket 2 holds 2
    assert not routing.short_of_a_group(name(0x20))  # held already


def test_at_its_cap_a_vault_links_a_vault_for_a_short_bucket_in_place_of_a_far_link(
        monkeypatch: pytest.MonkeyPatch) -> None:
    routing = table()
    room = links.Links(StandInCore(routing), lambda c, f: None,  # type: ignore[arg-type]
                       lambda n, a: None, lambda c, last: None)
    peers = {p: StandInConnection() for p in routing.peers}
    spare = StandInConnection()  # a far vault off our table that dialled us (bucket 2)
    for peer, conn in [*peers.items(), (name(0x30), spare)]:
        room.vaults[peer] = [conn]  # type: ignore[list-item]
    monkeypatch.setattr(links, "MAX_VAULT_CONNECTIONS", room.vault_links())

    assert not room._room_for_vault(name(0x31), 0)  # far, and its bucket holds a group
    assert not spare.closed
    assert room._room_for_vault(name(0x80), 0)  # the far half needs it
    assert spare.closed and name(0x30) not in room.vaults
    assert not any(conn.closed for conn in peers.values())

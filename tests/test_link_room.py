"""Which vault a vault at its link cap still links (`Links._room_for_vault`), sans-IO over a
stand-in vault, and where it sends one it refuses (`PeerProtocol.refer`). A far vault whose
bucket of ours holds a group takes only the place of a spare (a link our table does not hold)
that nobody kept alive for the liveness timeout; one a bucket of ours short of a group needs
takes any spare's place (512 simulated vaults waited a simulated minute for one vault at its
cap with 3 peers of 8 in a bucket). One refused is told the vaults nearest it, so a newcomer
whose bootstrap vaults are all full still joins (at 512 simulated vaults, 3 of 4 could not)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_boot_convergence import name
from vaultnet import Testnet
from vaultnet.routing import Parameters, RoutingTable
from vaultnet.runtime import events as ev
from vaultnet.runtime import links
from vaultnet.runtime.core import Timing
from vaultnet.runtime.peer_protocol import REFERRALS_KEPT
from vaultnet.wire import FrameError
from vaultnet.xor import closest

NOW = 100.0


class StandInCore:
    """The part of a vault `Links` reads to decide room: its routing table and clock."""

    def __init__(self, routing: RoutingTable) -> None:
        self.routing = routing
        self.name = routing.own
        self.timing = Timing()

    def now(self) -> float:
        return NOW


class StandInConnection:
    """A link that only records being closed, last used at `last_active`."""

    def __init__(self, last_active: float = NOW) -> None:
        self.closed = False
        self.last_active = last_active

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


def test_at_its_cap_a_vault_links_a_far_vault_only_in_place_of_a_spare_nobody_kept_alive(
        monkeypatch: pytest.MonkeyPatch) -> None:
    routing = table()
    room = links.Links(StandInCore(routing), lambda c, f: None,  # type: ignore[arg-type]
                       lambda n, a: None, lambda c, last: None)
    peers = {p: StandInConnection(last_active=0.0) for p in routing.peers}  # table peers
    liveness = Timing().liveness_timeout
    unused = StandInConnection(last_active=NOW - liveness)  # nobody kept it alive
    kept = StandInConnection(last_active=NOW - liveness / 2)  # pinged since
    for peer, conn in [*peers.items(), (name(0x30), unused), (name(0x32), kept)]:
        room.vaults[peer] = [conn]  # type: ignore[list-item]
    monkeypatch.setattr(links, "MAX_VAULT_CONNECTIONS", room.vault_links())

    assert room._room_for_vault(name(0x33), 0)  # far, its bucket holds a group: a newcomer
    assert unused.closed and name(0x30) not in room.vaults
    room.vaults[name(0x33)] = [StandInConnection()]  # type: ignore[list-item]
    assert not room._room_for_vault(name(0x34), 0)  # the only spare left is in use
    assert not kept.closed
    assert not any(conn.closed for conn in peers.values())  # never a table peer's, idle or not


class Recorder:
    """A connection from `peer` (a vault unless `role` says otherwise) that keeps what it is
    sent."""

    def __init__(self, peer: bytes, role: str = "vault") -> None:
        self.peer, self.role, self.peer_address = peer, role, ""
        self.closed = False
        self.last_active = 0.0
        self.sent: list[dict[str, Any]] = []

    def send(self, frame: dict[str, Any]) -> bool:
        self.sent.append(frame)
        return True

    def close(self) -> None:
        self.closed = True


async def test_a_refused_vault_is_told_the_vaults_nearest_it_and_keeps_what_vaults_tell_it(
        autojump_clock, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Testnet(vaults=8, transport="sim", seed=5) as net:
        vault = net.vaults[0]
        monkeypatch.setattr(links, "MAX_VAULT_CONNECTIONS", vault.links.vault_links())
        dialler = Recorder(name(0x80))
        assert not vault.links.register(dialler)  # type: ignore[arg-type]
        assert dialler.closed and [f["t"] for f in dialler.sent] == ["full"]
        nearest = vault.routing.closest(dialler.peer, vault.params.proximity_size, False)
        assert dialler.sent[0]["peers"] == [[p, vault.routing.address(p)] for p in nearest]

        protocol = net.vaults[1].peer_protocol
        told = [[name(i), f"sim:{900 + i}"] for i in range(1, 21)]
        protocol.on_frame(Recorder(vault.name), {"t": "full", "peers": [  # type: ignore[arg-type]
            [net.vaults[1].name, "sim:1"], [name(0x70), "not-an-address"], *told]})
        # a frame's first REFERRALS_KEPT entries, less ourselves and what no vault listens on
        assert protocol.take_referrals() == [(n, a) for n, a in told[:REFERRALS_KEPT - 2]]
        assert protocol.take_referrals() == []
        with pytest.raises(FrameError):  # only a vault may refer
            protocol.on_frame(Recorder(name(0x71), "client"),  # type: ignore[arg-type]
                              {"t": "full", "peers": told})


async def joins_through_referrals(net: Testnet, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `net`'s bootstrap vaults refuse every vault, as if at their cap with no spare to
    give up, then add a vault: it joins through the vaults they refer it to, and links its
    true proximity set but for them (shared by the simulated and the TCP test)."""
    bootstrap = net.vaults[:3]
    for vault in bootstrap:
        monkeypatch.setattr(vault.links, "_room_for_vault", lambda peer, pending: False)
    refused: list[ev.FrameRejected] = []
    net.bus.add_sink(lambda e: refused.append(e) if isinstance(e, ev.FrameRejected)
                     and e.reason == links.VAULTS_FULL else None)
    newcomer = await net.add_vault()
    assert newcomer.joined
    assert {e.vault for e in refused} == {v.name for v in bootstrap}
    assert all(e.peer == newcomer.name.hex()[:16] for e in refused)
    others = [v.name for v in net.vaults if v not in bootstrap and v is not newcomer]
    truth = closest(newcomer.name, others, newcomer.params.proximity_size)
    await net.wait_for(lambda: set(truth) <= set(newcomer.routing.peers), 30,
                       "the newcomer's neighbours linked")


async def test_a_vault_joins_through_the_vaults_its_full_bootstrap_vaults_refer_it_to(
        autojump_clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 512 simulated vaults every bootstrap vault was at its cap, and 3 of 4 vaults added
    could not join: now each names the vaults nearest the newcomer, which link it as close
    (over TCP: `tests/security/test_channel.py`)."""
    async with Testnet(vaults=24, transport="sim", seed=6) as net:
        await joins_through_referrals(net, monkeypatch)

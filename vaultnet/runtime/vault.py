"""One vault: wires a transport endpoint, the routing table and an application together.

This is the I/O shell around sans-IO parts. A `Vault` is the state its parts share
(`core.VaultCore`) composed with the parts, each in its own module:

- `links.Links`: accepting and dialling connections within their limits, reading frames;
- `peer_protocol.PeerProtocol`: the frames vaults exchange (`find`, `neighbour`, `ping`, `msg`);
- `membership.Membership`: Kademlia join, lookups, refresh, rejoin, and churn of the table;
- `router.Router`: checking, deduplicating and routing messages, relay-cache answers;
- `delivery.LocalDelivery`: the local inbox and the pump that hands messages to the application;
- `group_lookups.GroupLookups`: group views and the messages held while a group is looked up.

The vault runs one `application.Application` (the persona host), attached by whoever builds it,
and owns the trio tasks: the listener, one reader and one writer per connection, the local pump
and the maintenance loop that keeps links alive and the table full.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import trio

from vaultnet.identity import Identity
from vaultnet.messages import Message
from vaultnet.routing import Parameters
from vaultnet.runtime import events as ev
from vaultnet.runtime.application import Application, StoredCopy
from vaultnet.runtime.core import Timing, VaultCore
from vaultnet.runtime.delivery import LocalDelivery
from vaultnet.runtime.group_lookups import GroupLookups
from vaultnet.runtime.links import Links
from vaultnet.runtime.membership import Membership
from vaultnet.runtime.peer_protocol import PeerProtocol
from vaultnet.runtime.router import Router
from vaultnet.transport.base import Connection, Endpoint
from vaultnet.xor import Name, closest

STALLED_AFTER = 0.5
"""A maintenance tick waking later than this fraction of the liveness timeout past its schedule
means our own process stalled (stopped, or its loop blocked): peers then get a fresh liveness
window instead of being declared dead for a silence that was ours."""


class Vault(VaultCore):
    """One vault of the network: its connections, routing table, routing and delivery."""

    def __init__(self, identity: Identity, endpoint: Endpoint, bus: ev.EventBus,
                 params: Parameters | None = None, timing: Timing | None = None,
                 bootstrap: list[str] | None = None, rng: random.Random | None = None) -> None:
        super().__init__(identity, endpoint, bus, params, timing, bootstrap, rng)
        self._cancel = trio.CancelScope()
        self._heard_floor = 0.0
        self.links = Links(self, self._on_frame, self._on_vault_linked, self._on_link_closed)
        self.peer_protocol = PeerProtocol(self, self.links, self._on_message)
        self.membership = Membership(self, self.links, self.peer_protocol)
        self.delivery = LocalDelivery(self)
        self.router = Router(self, self.links, self.delivery.deliver)
        self.lookups = GroupLookups(self, self.peer_protocol.find)
        self.group_views = self.lookups.views
        """What lookups found of distant groups (membership is decided by it)."""
        self.cache = self.router.cache
        """The relay cache of chunk content passing through."""

    def attach(self, application: Application) -> None:
        """Run `application` on this vault (before `run`): it receives the messages for its
        personas, churn and ticks, and is closed when the vault stops."""
        self.application = application

    # -- public surface -------------------------------------------------------------------

    def close_group(self, name: Name) -> list[Name]:
        """This vault's own view of the group-size closest vaults to `name`."""
        return self.routing.close_group(name)

    def is_responsible(self, name: Name) -> bool:
        """Whether this vault is in the close group of `name` by its own view."""
        return self.routing.is_responsible(name)

    def connections(self) -> int:
        """Connections open now, to vaults and clients."""
        return self.links.count()

    def stored(self) -> list[StoredCopy]:
        """What this vault's PmidNode holds: (copy name, kind, size) entries."""
        return self.application.stored()

    def held_messages(self) -> int:
        """Messages held until a lookup of their sender's group finishes."""
        return self.lookups.held_count

    def valid_address(self, address: str) -> bool:
        """Whether `address` is one a vault of this testnet could listen on."""
        return self.links.valid_address(address)

    async def connect_peer(self, name: Name, address: str) -> bool:
        """Open a routing connection to a vault we want in our table."""
        return await self.links.connect_peer(name, address)

    async def find(self, peer: Name, target: Name) -> list[tuple[Name, str]] | None:
        """Ask `peer` for the vaults it knows closest to `target` (None: it did not answer)."""
        return await self.peer_protocol.find(peer, target)

    async def lookup(self, target: Name) -> bool:
        """Iterative Kademlia lookup of `target`; True if any vault answered."""
        return await self.membership.lookup(target)

    def send(self, msg: Message) -> None:
        """Originate a message: sign it, record it, route it."""
        self.router.send(msg)

    def view_may_be_incomplete(self, group: Name) -> bool:
        """Whether vaults closer to `group` than those we know may exist."""
        return self.lookups.view_may_be_incomplete(group)

    def hold_for_group(self, group: Name, radius: int, msg: Message,
                       decide: Callable[[], None]) -> None:
        """Keep `msg` until every vault within `radius` of `group` is known, then `decide`."""
        self.lookups.hold_for_group(group, radius, msg, decide)

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled (see `stop`). Started means listening and joined."""
        with self._cancel:
            try:
                async with trio.open_nursery() as nursery:
                    self.nursery = nursery
                    self.address = await self.endpoint.listen(nursery, self.links.serve_inbound)
                    nursery.start_soon(self.delivery.pump)
                    await self.membership.join()
                    self.running = True
                    self.emit(ev.VaultUp(self.now(), self.name, self.address))
                    task_status.started()
                    nursery.start_soon(self._maintain)
            finally:
                self.running = False
                with trio.CancelScope(shield=True):
                    await self.endpoint.aclose()
                self.application.close()
                self.emit(ev.VaultDown(self.now(), self.name, "stopped"))

    def stop(self) -> None:
        """Stop serving: `run` returns once its tasks are cancelled."""
        self._cancel.cancel()

    # -- how the parts are wired --------------------------------------------------------------

    def _on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        """A frame read off `conn`: the peer protocol reads it."""
        self.peer_protocol.on_frame(conn, frame)

    def _on_message(self, conn: Connection, msg: Message, final: bool) -> None:
        """A message frame: the router checks and routes it."""
        self.router.on_message(conn, msg, final)

    def _on_vault_linked(self, peer: Name, address: str) -> None:
        """A vault peer connected: it may join the routing table."""
        self.membership.consider_peer(peer, address)

    def _on_link_closed(self, conn: Connection, last: bool) -> None:
        """A connection closed; its peer's last one means the client left or the peer is lost."""
        self.peer_protocol.forget(conn)
        if not last:
            return
        if conn.role == "client":
            self.router.client_gone(conn.peer)
        else:
            self.membership.lose_peer(conn.peer, "connection closed")

    async def _maintain(self) -> None:
        """Keep-alives, liveness, rejoining, and a slow refresh of the neighbourhood and of one
        bucket at a time."""
        next_refresh = self.now() + self.timing.refresh * (0.5 + self.rng.random())
        while True:
            asleep_at = self.now()
            await trio.sleep(self.timing.keepalive)
            now = self.now()
            if now - asleep_at - self.timing.keepalive > (self.timing.liveness_timeout
                                                          * STALLED_AFTER):
                self._heard_floor = now
            if self.silent:
                continue
            self.router.expire_seen()
            self.application.tick()
            for peer in list(self.routing.peers):
                heard = self.links.last_heard(peer)
                if now - max(heard, self._heard_floor) > self.timing.liveness_timeout:
                    self.membership.lose_peer(peer, "liveness timeout")
                elif now - heard > self.timing.keepalive:
                    self.peer_protocol.ping(peer)
            for peer, conns in list(self.links.vaults.items()):
                if peer not in self.routing and self.routing.wants(peer) and conns:
                    self.membership.consider_peer(peer, conns[0].peer_address)
            self.membership.start_rejoining()
            if now >= next_refresh:
                next_refresh = now + self.timing.refresh * (0.5 + self.rng.random())
                self.membership.start_bucket_refresh()
                await self.membership.refresh_neighbourhood()


def closest_of(target: Name, vaults: list[Vault], k: int) -> list[Name]:
    """Brute-force truth over a set of live vaults (tests and the testnet's oracle)."""
    return closest(target, [v.name for v in vaults if v.name != target], k)

"""The frames a vault reads off its connections: `msg` (a message, from vaults and clients),
`ping` / `pong` (keep-alive), and the peer protocol only vaults may speak: `find` / `found`
(who do you know closest to a name), `neighbour` (gossip of a new close vault) and `full` (a
vault at its link cap refusing us, and naming the vaults it knows nearest to us). Each frame is
validated here; a malformed one raises FrameError, which costs the link that sent it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from vaultnet import wire
from vaultnet.messages import Message
from vaultnet.runtime.core import VaultCore
from vaultnet.runtime.links import Links
from vaultnet.transport.base import Connection
from vaultnet.wire import FrameError
from vaultnet.xor import NAME_SIZE, Name

FIND_TIMEOUT = 3.0
"""Seconds a `find` waits for its `found` before the peer counts as not answering."""
LOOKUP_WIDTH = 3
"""Vaults a lookup asks in each round (Kademlia's alpha), for joining and for group lookups."""
PEER_LIST_LIMIT = 64
"""Entries a `found` or `neighbour` frame may carry at most."""
NEIGHBOUR_PEERS = 16
"""Peers a `neighbour` frame may name (the new close vaults of one `GOSSIP_EVERY`, a proximity
set's worth): a longer list is a malformed frame, not a to-do list of connections."""
GOSSIP_EVERY = 0.05
"""Seconds a running vault gathers the new vaults it gossips before sending, so that those
going to the same peer share one `neighbour` frame: gossip was 42,000 of the 58,000 frames of
128 simulated vaults booting (seed 1), one new vault each, 62% of them naming a vault the
receiver was already linked to."""
NEIGHBOUR_UNPROVEN = 4
"""Connections a link's `neighbour` gossip may have us attempt that are pending or failed: past
that its gossip is ignored, so a link cannot point us at ports of its choosing again and
again (a gossiped vault we reach pays its attempt back)."""
GOSSIP_HELD_WHILE_JOINING = 16
"""Gossiped vaults a vault still joining keeps (the first ones that would be close, this many
over its whole join) until its join lookup ends, to connect to then (`Membership.join`): before
that it starts no background task, so a boot's side-by-side joins lost every newcomer gossiped
to a vault still joining (and charged the link's gossip budget for attempts never made): 4 of
the 6 close peers 128 booting simulated vaults still missed when their joins ended (seed 1).
One proximity set's worth."""
REFERRALS_KEPT = 16
"""Vaults named by the `full` frames of vaults that refused us that we keep (a proximity set's
worth, the latest), for a join to try once its bootstrap vaults have refused it."""
PEER_FRAMES = frozenset({"find", "found", "neighbour", "full"})
"""The peer protocol: only a connection authenticated as a vault may speak it."""

MessageArrived = Callable[[Connection, Message, bool], None]
"""Called with each `msg` frame's message, and whether it came as its final copy."""


class PeerProtocol:
    """Reads frames for one vault, answers `find` and `ping`, and asks peers with `find`."""

    def __init__(self, core: VaultCore, links: Links, on_message: MessageArrived) -> None:
        self.core = core
        self.links = links
        self._on_message = on_message
        self._requests: dict[int, tuple[Name, trio.MemorySendChannel[list[tuple[Name, str]]]]] = {}
        self._next_request = 0
        self._gossip_unproven: dict[Connection, int] = {}
        self._held_gossip: dict[Name, str] = {}
        self._gossip_out: dict[Name, dict[Name, str]] = {}
        """New close vaults waiting to be gossiped, by the peer to tell (at most
        NEIGHBOUR_PEERS each: a full list is sent at once)."""
        self._held_total = 0
        self._referrals: dict[Name, str] = {}
        links.refer = self.refer

    def on_frame(self, conn: Connection, frame: dict[str, Any]) -> None:
        """Act on one frame from `conn` (FrameError: malformed, or not allowed from it)."""
        kind = frame.get("t")
        if kind in PEER_FRAMES and conn.role != "vault":
            raise FrameError(f"{kind!r} is a frame between vaults, not from a client")
        if kind == "msg":
            msg = Message.from_wire(frame.get("m"), hop=1)  # the link it crossed to us
            self._on_message(conn, msg, frame.get("final") is True)
        elif kind == "ping":
            conn.send({"t": "pong"})
        elif kind == "pong":
            pass
        elif kind == "find":
            target = wire.field(frame, "target", bytes)
            rid = wire.field(frame, "id", int)
            if len(target) != NAME_SIZE:
                raise FrameError("find target is not a name")
            conn.send({"t": "found", "id": rid, "peers": self._nearest(target)})
        elif kind == "found":
            rid = wire.field(frame, "id", int)
            found = [(name, address) for name, address in peer_list(frame.get("peers"))
                     if self.links.valid_address(address)]
            request = self._requests.pop(rid, None)
            if request is not None:
                request[1].send_nowait(found)
        elif kind == "neighbour":
            self._on_neighbour(conn, peer_list(frame.get("peers")))
        elif kind == "full":
            for name, address in peer_list(frame.get("peers"))[:REFERRALS_KEPT]:
                if self.links.valid_address(address) and name != self.core.name:
                    self._referrals.pop(name, None)
                    self._referrals[name] = address
            while len(self._referrals) > REFERRALS_KEPT:
                del self._referrals[next(iter(self._referrals))]
        else:
            raise FrameError(f"unknown frame type {kind!r}")

    def forget(self, conn: Connection) -> None:
        """`conn` closed: drop its gossip budget, and if it was our last link to its vault, end
        the finds waiting on that vault now, unanswered: a vault that refuses our connection
        (its vault links full) closes it as soon as it opens, and a join's lookup waited out
        FIND_TIMEOUT on it (128 booting simulated vaults, seed 2: 3 of the 10 seconds)."""
        self._gossip_unproven.pop(conn, None)
        if conn.role == "vault" and conn.peer not in self.links.vaults:
            for rid, (peer, reply) in list(self._requests.items()):
                if peer == conn.peer:
                    del self._requests[rid]
                    reply.close()

    def _on_neighbour(self, conn: Connection, peers: list[tuple[Name, str]]) -> None:
        """Connect to gossiped vaults we want as close neighbours, within the link's budget of
        failed attempts: gossip cannot turn us into a port scanner."""
        if len(peers) > NEIGHBOUR_PEERS:
            raise FrameError(f"neighbour frame names {len(peers)} peers")
        links, routing = self.links, self.core.routing
        for name, address in peers:
            if not (links.valid_address(address) and routing.wants(name)
                    and routing.in_proximity_range(name) and name not in links.vaults
                    and name not in links.connecting):
                continue
            if not self.core.running:
                if self._held_total < GOSSIP_HELD_WHILE_JOINING and name not in self._held_gossip:
                    self._held_total += 1
                    self._held_gossip[name] = address
            elif self._gossip_unproven.get(conn, 0) < NEIGHBOUR_UNPROVEN:
                self._gossip_unproven[conn] = self._gossip_unproven.get(conn, 0) + 1
                self.core.spawn(self._connect_gossiped, conn, name, address)

    def _nearest(self, target: Name) -> list[list[Any]]:
        """[name, address] of the proximity set's worth of our peers nearest to `target`."""
        routing = self.core.routing
        return [[p, routing.address(p)] for p in
                routing.closest(target, self.core.params.proximity_size, include_self=False)]

    def refer(self, conn: Connection) -> None:
        """Tell a vault we refuse for want of room (`Links.refer`) the vaults we know nearest
        to it: those it would link as close, which link it as close too."""
        conn.send({"t": "full", "peers": self._nearest(conn.peer)})

    def take_referrals(self) -> list[tuple[Name, str]]:
        """The vaults named by vaults that refused us (`REFERRALS_KEPT`), now handed over to be
        tried; the list is emptied."""
        referrals, self._referrals = list(self._referrals.items()), {}
        return referrals

    def take_held_gossip(self) -> list[tuple[Name, str]]:
        """The gossiped vaults held while we were joining (`GOSSIP_HELD_WHILE_JOINING`), now
        handed over to be connected to; the hold is emptied."""
        held, self._held_gossip = list(self._held_gossip.items()), {}
        return held

    async def _connect_gossiped(self, via: Connection, name: Name, address: str) -> None:
        """Dial a gossiped vault; reaching it gives the link that named it its attempt back."""
        if await self.links.connect_peer(name, address) and via in self._gossip_unproven:
            self._gossip_unproven[via] -= 1

    def gossip_neighbour(self, peer: Name, address: str) -> None:
        """Tell the peers it may be close to about a new close vault (`RoutingTable.close_to`),
        so their proximity sets converge fast: within GOSSIP_EVERY, in one frame with the other
        new vaults for the same peer (at once while we join: no background task runs yet)."""
        core = self.core
        if not core.running:
            for other in core.routing.close_to(peer):
                self._send_gossip(other, {peer: address})
            return
        if not self._gossip_out:
            core.spawn(self._flush_gossip)
        for other in core.routing.close_to(peer):
            pending = self._gossip_out.setdefault(other, {})
            pending[peer] = address
            if len(pending) == NEIGHBOUR_PEERS:
                self._send_gossip(other, self._gossip_out.pop(other))

    async def _flush_gossip(self) -> None:
        """Send the gossip gathered over GOSSIP_EVERY, one frame per peer."""
        await trio.sleep(GOSSIP_EVERY)
        out, self._gossip_out = self._gossip_out, {}
        for other, peers in out.items():
            self._send_gossip(other, peers)

    def _send_gossip(self, other: Name, peers: dict[Name, str]) -> None:
        self.links.send_frame(other, {"t": "neighbour", "peers": [list(p) for p in peers.items()]})

    def ping(self, peer: Name) -> None:
        """Ask vault `peer` for a sign of life (its `pong` refreshes the link)."""
        self.links.send_frame(peer, {"t": "ping"})

    async def find(self, peer: Name, target: Name) -> list[tuple[Name, str]] | None:
        """Ask `peer` for the vaults it knows closest to `target` (None: it did not answer)."""
        self._next_request += 1
        rid = self._next_request
        send, receive = trio.open_memory_channel[list[tuple[Name, str]]](1)
        self._requests[rid] = (peer, send)
        try:
            if not self.links.send_frame(peer, {"t": "find", "id": rid, "target": target}):
                return None
            with trio.move_on_after(FIND_TIMEOUT):
                return await receive.receive()
            return None
        except trio.EndOfChannel:  # our last link to `peer` closed (`forget`)
            return None
        finally:
            self._requests.pop(rid, None)


def peer_list(raw: Any) -> list[tuple[Name, str]]:
    """A frame's list of (name, address) pairs, validated (FrameError if malformed)."""
    if not isinstance(raw, list) or len(raw) > PEER_LIST_LIMIT:
        raise FrameError("peer list malformed")
    peers = []
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], bytes)
                and len(item[0]) == NAME_SIZE and isinstance(item[1], str)):
            raise FrameError("peer entry malformed")
        peers.append((item[0], item[1]))
    return peers

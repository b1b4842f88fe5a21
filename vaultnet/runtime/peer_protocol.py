"""The frames a vault reads off its connections: `msg` (a message, from vaults and clients),
`ping` / `pong` (keep-alive), and the peer protocol only vaults may speak: `find` / `found`
(who do you know closest to a name) and `neighbour` (gossip of a new close vault). Each frame is
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
from vaultnet.xor import NAME_SIZE, Name, distance

FIND_TIMEOUT = 3.0
"""Seconds a `find` waits for its `found` before the peer counts as not answering."""
LOOKUP_WIDTH = 3
"""Vaults a lookup asks in each round (Kademlia's alpha), for joining and for group lookups."""
PEER_LIST_LIMIT = 64
"""Entries a `found` or `neighbour` frame may carry at most."""
NEIGHBOUR_PEERS = 4
"""Peers a `neighbour` frame may name (gossip names one new vault): a longer list is a
malformed frame, not a to-do list of connections."""
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
PEER_FRAMES = frozenset({"find", "found", "neighbour"})
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
        self._held_total = 0

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
            routing = self.core.routing
            peers = routing.closest(target, self.core.params.proximity_size, include_self=False)
            conn.send({"t": "found", "id": rid,
                       "peers": [[p, routing.address(p)] for p in peers]})
        elif kind == "found":
            rid = wire.field(frame, "id", int)
            found = [(name, address) for name, address in peer_list(frame.get("peers"))
                     if self.links.valid_address(address)]
            request = self._requests.pop(rid, None)
            if request is not None:
                request[1].send_nowait(found)
        elif kind == "neighbour":
            self._on_neighbour(conn, peer_list(frame.get("peers")))
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
                    and self.would_be_close(name) and name not in links.vaults
                    and name not in links.connecting):
                continue
            if not self.core.running:
                if self._held_total < GOSSIP_HELD_WHILE_JOINING and name not in self._held_gossip:
                    self._held_total += 1
                    self._held_gossip[name] = address
            elif self._gossip_unproven.get(conn, 0) < NEIGHBOUR_UNPROVEN:
                self._gossip_unproven[conn] = self._gossip_unproven.get(conn, 0) + 1
                self.core.spawn(self._connect_gossiped, conn, name, address)

    def take_held_gossip(self) -> list[tuple[Name, str]]:
        """The gossiped vaults held while we were joining (`GOSSIP_HELD_WHILE_JOINING`), now
        handed over to be connected to; the hold is emptied."""
        held, self._held_gossip = list(self._held_gossip.items()), {}
        return held

    def would_be_close(self, name: Name) -> bool:
        """Whether `name` would enter our proximity set (what neighbour gossip is about)."""
        prox = self.core.routing.proximity()
        return (len(prox) < self.core.params.proximity_size
                or distance(self.core.name, name) < distance(self.core.name, prox[-1]))

    async def _connect_gossiped(self, via: Connection, name: Name, address: str) -> None:
        """Dial a gossiped vault; reaching it gives the link that named it its attempt back."""
        if await self.links.connect_peer(name, address) and via in self._gossip_unproven:
            self._gossip_unproven[via] -= 1

    def gossip_neighbour(self, peer: Name, address: str) -> None:
        """Tell the peers it may be close to about a new close vault (`RoutingTable.close_to`),
        so their proximity sets converge fast."""
        for other in self.core.routing.close_to(peer):
            self.links.send_frame(other, {"t": "neighbour", "peers": [[peer, address]]})

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

"""Routing of messages through one vault: originating them (signed when relayed), checking what
arrives (a client's own requests only, originators' signatures), dropping link-level
duplicates, answering Gets from the relay cache, and passing each message on hop by hop,
fanning a group message out to its members, or handing it to the local delivery."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable

from vaultnet import wire
from vaultnet.messages import (
    CLIENT_ACTIONS,
    CLIENT_PERSONAS,
    Authority,
    Message,
    Persona,
    derived_id,
)
from vaultnet.personas.bodies import EmptyBody
from vaultnet.protocol import Action, EventKind
from vaultnet.runtime import events as ev
from vaultnet.runtime.cache import RelayCache, cached_answer
from vaultnet.runtime.core import VaultCore
from vaultnet.runtime.links import MAX_CLIENT_CONNECTIONS, Links
from vaultnet.transport.base import Connection
from vaultnet.wire import FrameError
from vaultnet.xor import Name

SEEN_WINDOW = 2.0
"""Routing drops a copy of a message it passed on within this many seconds: link-level
duplicates. A deliberate re-send (a client retrying after a timeout) gets through to the
personas, whose firewall answers it. Older entries are dropped as messages pass and on every
maintenance tick, so the table follows the traffic of the last window."""
SEEN_LIMIT = 20_000
"""Entries in the table at most (oldest dropped first; one that should still have caught a
duplicate only lets it through to the accumulator or firewall, which catch it). A vault of a
16-vault testnet under 20 puts/s passes about 400 messages a second: 800 within the window."""
EXPIRY_EVERY = 0.1
"""Seconds between two sweeps of the seen table and relay cache as messages pass (a sweep per
message cost more than the lookup it guards); an entry past its window but not yet swept is
judged by its time, and the relay cache checks freshness on every read."""
SEEN_KEY_SIZE = 16
"""Bytes of the digest kept per entry instead of the ~220-byte identity it is taken over."""

RECORDED_BY_SENDER = frozenset({Action.SYNC})
"""Group messages whose sender applied its own copy as it sent them: a member records its own
sync vote as it proposes (`Sync.add_local`), so the fan-out to the group does not deliver the
vote back to its sender, where it could only be counted as a duplicate (some 40 of the 410
messages a put cost were such copies)."""

LocalDelivery = Callable[[Message], None]
"""Queues a message for this vault's own personas."""


class Router:
    """Checks, deduplicates and routes every message that passes through one vault."""

    def __init__(self, core: VaultCore, links: Links, deliver: LocalDelivery) -> None:
        self.core = core
        self.links = links
        self._deliver = deliver
        self.cache = RelayCache()
        self.seen: OrderedDict[bytes, float] = OrderedDict()
        """Digests of the messages passed on within SEEN_WINDOW, oldest first."""
        self._next_expiry = float("-inf")
        self._online_here: OrderedDict[Name, None] = OrderedDict()
        """MpidNodes connected to us that announced themselves online through us (bounded by
        the client connections we serve)."""

    def send(self, msg: Message) -> None:
        """Originate a message: record it and route it (signed once it leaves on a link that
        is not its last: see `_forward`)."""
        core = self.core
        msg = msg.sent_by(core.name)
        core.messages_out += 1
        if core.observed:
            core.emit(ev.MessageSent(core.now(), core.name, self._first_hop(msg),
                                     msg.src.persona.value, msg.dst.persona.value,
                                     msg.dst.name, msg.dst.group, msg.action, msg.msg_id,
                                     msg.trace_id, msg.src.name))
        self._route(msg, final=False)

    def _first_hop(self, msg: Message) -> Name:
        """Where `msg` goes first (our own name: handled or fanned out here)."""
        routing, own = self.core.routing, self.core.name
        target = msg.dst.relay if msg.dst.relay is not None else msg.dst.name
        if target == own or (msg.dst.group and routing.is_responsible(msg.dst.name)):
            return own
        if msg.dst.group and routing.next_hop(target) is None:
            return own
        if target in routing or target in self.links.clients:
            return target
        return routing.next_hop(target) or own

    def on_message(self, conn: Connection, msg: Message, final: bool) -> None:
        """Check a message before it goes anywhere: a client may send only its own requests,
        and every message we may pass on must carry its originator's valid signature (a copy
        our peer sent us as its final destination is attributed by the handshake). The peer's
        own bad message costs its link; a bad message it relayed is dropped with an event (an
        honest vault never relays one, since it checks before forwarding)."""
        core = self.core
        if conn.role != "vault":
            check_client_request(msg, conn.peer, core.name, final)
            if msg.action == "online" and msg.dst.persona is Persona.MPID_MANAGER:
                self._online_here[conn.peer] = None
                while len(self._online_here) > MAX_CLIENT_CONNECTIONS:
                    self._online_here.popitem(last=False)
        if msg.sender == conn.peer:
            if not final:  # a final copy is only delivered here: the handshake attributes it
                msg.check_signature()
        else:
            try:
                msg.check_signature()
            except FrameError as exc:
                core.drop(msg, f"relayed message refused: {exc}")
                return
        # The group lead re-sends a message with the content once it has fetched it: that one
        # is not a duplicate of its content-less first copy.
        key = hashlib.blake2b(
            msg.msg_id + msg.sender + msg.src.name + msg.dst.name + msg.action.encode()
            + (b"F" if final else b"R") + (b"P" if msg.payload else b""),
            digest_size=SEEN_KEY_SIZE).digest()
        now = core.now()
        if now >= self._next_expiry:
            self.expire_seen()
        seen_at = self.seen.get(key)
        if seen_at is not None:
            if seen_at > now - SEEN_WINDOW:
                return
            del self.seen[key]  # stale, not expired yet: re-entered in arrival order
        self.seen[key] = now
        while len(self.seen) > SEEN_LIMIT:
            self.seen.popitem(last=False)
        if not final and self._answer_from_cache(msg):
            return
        self._route(msg, final=final)

    def expire_seen(self) -> None:
        """Drop the seen entries older than SEEN_WINDOW (the table is in arrival order), and
        the relay cache's expired entries: both must shrink when traffic stops."""
        now = self.core.now()
        self._next_expiry = now + EXPIRY_EVERY
        horizon = now - SEEN_WINDOW
        while self.seen and next(iter(self.seen.values())) <= horizon:
            self.seen.popitem(last=False)
        self.cache.expire(now)

    def _answer_from_cache(self, msg: Message) -> bool:
        """Answer a Get passing by from the relay cache (True: answered, not routed on)."""
        core = self.core
        answer = cached_answer(self.cache, msg, core.name, core.now())
        if answer is None:
            return False
        core.emit(ev.PersonaEvent(core.now(), core.name, EventKind.CACHE_HIT, Persona.ROUTING,
                                  msg.dst.name, msg.trace_id, {"size": len(answer.payload)}))
        self.send(answer)
        return True

    def _route(self, msg: Message, final: bool) -> None:
        """Deliver `msg` here, fan it out to its group, or forward it a hop closer."""
        core, routing = self.core, self.core.routing
        if msg.hops > core.params.hop_limit:
            core.drop(msg, "hop limit")
            return
        dst = msg.dst
        if final:
            self._deliver(msg)
            return
        if dst.relay is not None and dst.relay != core.name:
            self._forward(msg, dst.relay)
            return
        if dst.group:
            # Fan out once we are in the group, or when no one we know is closer (a vault
            # addressing the group for its own name, which it is never part of).
            if routing.is_responsible(dst.name) or routing.next_hop(dst.name) is None:
                body = b""  # packed once for every member
                for member in routing.close_group(dst.name):
                    if member == core.name:
                        if not (msg.sender == core.name and msg.action in RECORDED_BY_SENDER):
                            self._deliver(msg)
                        continue
                    body = body or wire.pack(msg.frame(final=True))
                    if not self.links.send_body(member, body):
                        core.drop(msg, "group member unreachable")
                return
            self._forward(msg, dst.name)
            return
        if dst.name == core.name:
            self._deliver(msg)
        elif dst.name in self.links.clients:
            self.links.send_frame(dst.name, msg.frame(final=True))
        else:
            self._forward(msg, dst.name)

    def _forward(self, msg: Message, target: Name) -> None:
        """Pass `msg` to `target` if it is a peer, else to the peer closest to it. A copy that
        reaches its one destination vault on this hop goes as its final copy (the handshake
        attributes it, as a group member's fan-out copies); any other is signed first if we
        originated it, since whoever receives it passes it on."""
        core = self.core
        routing = core.routing
        hop = target if target in routing else routing.next_hop(target)
        final = hop == target == msg.dst.name and not msg.dst.group
        if not final and msg.sender == core.name and not msg.signature:
            msg = msg.signed(core.identity.sign, core.identity.verify_key)
        if hop is None or not self.links.send_frame(hop, msg.frame(final)):
            core.drop(msg, "no route")

    def client_gone(self, client: Name) -> None:
        """The last connection of `client` closed: if it was an MpidNode online through us,
        tell its MpidManagers, which hold its messages from now on instead of pushing them."""
        if client not in self._online_here:
            return
        del self._online_here[client]
        core = self.core
        if not core.running:
            return
        self.send(Message(src=Authority(core.name, Persona.ROUTING),
                          dst=Authority(client, Persona.MPID_MANAGER, group=True),
                          action=Action.OFFLINE,
                          msg_id=derived_id("offline", client, repr(core.now()),
                                            core.rng.randbytes(8)),
                          trace_id=bytes(16), body=EmptyBody().encode(), sender=b""))


def check_client_request(msg: Message, client: Name, relay: Name, final: bool) -> None:
    """Raise FrameError unless `msg` is `client`'s own request to a manager group, replied to
    through us: a client never relays, never speaks for a group, never delivers directly."""
    if (final or msg.sender != client or msg.src.name != client or msg.src.group
            or msg.src.persona not in CLIENT_PERSONAS or msg.src.relay != relay
            or msg.action not in CLIENT_ACTIONS or not msg.dst.group):
        raise FrameError(f"a client may send only its own requests (got {str(msg.action)!r} "
                         f"from {msg.src})")

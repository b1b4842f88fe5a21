"""Kademlia membership of one vault: joining through a bootstrap vault, iterative lookups,
refreshing buckets and the neighbourhood, taking peers into the routing table and losing them
(each a churn change its application hears of), and rejoining once the table empties."""

from __future__ import annotations

import math
from collections import OrderedDict

import trio

from vaultnet.messages import Persona
from vaultnet.protocol import EventKind
from vaultnet.routing import ChurnChange
from vaultnet.runtime import events as ev
from vaultnet.runtime.core import VaultCore
from vaultnet.runtime.links import Links
from vaultnet.runtime.peer_protocol import LOOKUP_WIDTH, PeerProtocol
from vaultnet.xor import Name, bucket_index, distance, name_in_bucket

JOIN_REFERRALS = 8
"""Vaults a join tries beyond its bootstrap list, named by bootstrap vaults that refused it at
their link cap (`PeerProtocol.refer`): at 512 simulated vaults every bootstrap vault was at its
cap, and 3 of 4 vaults added could not join."""
LOOKUP_ROUNDS = 8
"""Rounds of an iterative lookup at most (each asks the closest vaults not asked yet)."""
REMEMBERED_PEERS = 64
"""How many vaults (name -> listening address, most recently connected first) a vault keeps to
rejoin through once its routing table has emptied: enough to cover a close group and its
neighbourhood many times over, small enough that one rejoin attempt stays a few dozen dials."""
REJOIN_BACKOFF_MIN = 0.5
"""Seconds before the first rejoin attempt once the table is short of a close group."""
REJOIN_BACKOFF_MAX = 8.0
"""The backoff between rejoin attempts doubles up to this: a vault cut off for long keeps trying
at least this often, without hammering addresses that stay dead."""
NEIGHBOURS_ASKED_UNSETTLED = 4
NEIGHBOURHOOD_UNSETTLED_FOR = 30.0
"""While our proximity set changed less than this many seconds ago (joins, departures), each
neighbourhood refresh asks this many neighbours, not one: a close vault that only a few of them
know is found in a quarter of the refreshes (128 simulated vaults booting side by side spent two
thirds of their boot waiting for one or two such vaults)."""
REJOINING = EventKind.REJOINING
"""The `PersonaEvent.what` a vault emits before each rejoin attempt (detail: its peers and the
backoff it waited), so the dashboard and tests can see a vault working its way back in."""


class _Round:
    """What the finds of one lookup round brought: an answer, a vault newly linked."""

    def __init__(self) -> None:
        self.answered = False
        self.learned = False


class Membership:
    """Keeps one vault's routing table filled with the vaults it wants, and in the network."""

    def __init__(self, core: VaultCore, links: Links, protocol: PeerProtocol) -> None:
        self.core = core
        self.links = links
        self.protocol = protocol
        self._remembered: OrderedDict[Name, str] = OrderedDict()
        self._rejoining = False
        self._next_bucket = 0
        self._next_neighbour = -1
        self._neighbourhood: tuple[Name, ...] = ()
        self._neighbourhood_changed = -math.inf
        self._refreshing_bucket = False

    # -- the routing table ----------------------------------------------------------------

    def consider_peer(self, peer: Name, address: str) -> None:
        """A vault we are connected to: add it to the table if it is wanted there, and tell the
        peers it may be close to if it is a new close vault, only if it dialled us (itself
        joining or rejoining, most likely): those we dial we learned from vaults that know
        them, and gossip of them was 32,000 of the 57,000 neighbour frames of 128 booting
        simulated vaults (seed 1), of which 71 told a running vault something new. At first
        only while we joined; once we run too since 2026-12-07: 256 simulated vaults (seed 1)
        booted with 121,297 frames instead of 130,117, in the same simulated time."""
        core = self.core
        self._remember(peer, address)
        change, _evicted = core.routing.add(peer, address)
        if peer in core.routing:
            core.emit(ev.PeerAdded(core.now(), core.name, peer))
        if change is not None:
            self._churn(change)
            if (change.added is not None and not core.silent
                    and self._dialled_us(change.added)):
                self.protocol.gossip_neighbour(change.added, address)

    def _dialled_us(self, peer: Name) -> bool:
        """Whether `peer` opened a connection to us (it was looking us up: new, or back)."""
        return any(not conn.outbound for conn in self.links.vaults.get(peer, []))

    def lose_peer(self, peer: Name, reason: str) -> None:
        """Drop `peer` (its connections closed or went silent) from the table."""
        core = self.core
        self.links.close_vault(peer)
        if trio.current_effective_deadline() == -math.inf:
            # We are being cancelled (this vault or the whole testnet stops): our connections
            # close because we do, not because peers left. Taken as churn, that would
            # re-replicate, in our own records on disk, every copy those peers hold.
            return
        known = peer in core.routing
        change = core.routing.remove(peer)
        if known:
            core.emit(ev.PeerLost(core.now(), core.name, peer, reason))
        if change is not None:
            self._churn(change)
            core.spawn(self.refresh_neighbourhood)
        self.start_rejoining()

    def _churn(self, change: ChurnChange) -> None:
        """Report a close-group change and let the application act on it."""
        core = self.core
        core.emit(ev.Churn(core.now(), core.name, change.old, change.new, change.lost,
                           change.added))
        core.application.on_churn(change)

    # -- joining and refreshing -----------------------------------------------------------

    async def join(self) -> None:
        """Enter the network through the first bootstrap vault that answers a lookup, or else
        through the vaults those at their link cap referred us to, nearest to our name first
        (at most `JOIN_REFERRALS`: each is nearer, and so the likelier to link us as a close
        vault); `joined` says whether one did (a vault with no bootstrap list starts a network
        of its own)."""
        core = self.core
        core.joined = not core.bootstrap
        bootstrap = list(core.bootstrap)
        referred: dict[str, Name] = {}
        tried: set[str] = set()
        while len(tried) < len(core.bootstrap) + JOIN_REFERRALS:
            if bootstrap:
                address = bootstrap.pop(0)
            else:
                untried = [(distance(name, core.name), address)
                           for address, name in referred.items() if address not in tried]
                if not untried:
                    return
                address = min(untried)[1]
            if address in tried:
                continue
            tried.add(address)
            if (await self.links.dial(address)
                    and await self.lookup(core.name, core.params.proximity_size)):
                core.joined = True
                await self._refresh_buckets()
                await self._connect_held_gossip()
                return
            for name, referral in self.protocol.take_referrals():
                referred.setdefault(referral, name)

    async def _connect_held_gossip(self) -> None:
        """Connect to the vaults neighbours gossiped while we joined that we still want close,
        again for those gossiped meanwhile, until a pass brings none (at most
        `GOSSIP_HELD_WHILE_JOINING` over the join): the last step of a join, which starts no
        background task."""
        routing = self.core.routing
        while held := self.protocol.take_held_gossip():
            async with trio.open_nursery() as nursery:
                for name, address in held:
                    if routing.wants(name) and routing.in_proximity_range(name):
                        nursery.start_soon(self.links.connect_peer, name, address)

    async def lookup(self, target: Name, settled: int = LOOKUP_WIDTH) -> bool:
        """Iterative Kademlia lookup: learn, and connect to, the vaults we want near `target`,
        until a round learns nothing and the `settled` closest we know have all been asked.
        True if any vault answered. A join asks its whole proximity set: a vault in a sparse
        part of the name space may be known to one of our future neighbours only (64
        simulated vaults joining through several vaults, seed 2: found by the neighbourhood
        refresh 9.5 simulated seconds after the joins when the join asked its 3 closest).

        A round asks its LOOKUP_WIDTH vaults side by side (Kademlia's alpha), each answer's
        vaults dialled in turn while we still want them: asked one after another, a join was a
        chain of dozens of round trips, and 256 simulated vaults (seed 1) booted in 11.3
        simulated seconds, their idle links pinging all along (154,034 frames); side by side,
        5.8 s and 130,941 frames. Dialling all of an answer's vaults at once instead dialled
        vaults a full bucket then refused: twice the handshakes."""
        routing = self.core.routing
        asked: set[Name] = set()
        answered = False
        pool = max(settled, LOOKUP_WIDTH * 2)
        for _ in range(LOOKUP_ROUNDS):
            candidates = [p for p in routing.closest(target, pool, False)
                          if p not in asked][:LOOKUP_WIDTH]
            if not candidates:
                break
            asked.update(candidates)
            outcome = _Round()
            async with trio.open_nursery() as asking:
                for peer in candidates:
                    asking.start_soon(self._ask, peer, target, outcome)
            answered = answered or outcome.answered
            if (not outcome.learned
                    and all(p in asked for p in routing.closest(target, settled, False))
                    and not self._bucket_missing(target)):
                break
        return answered

    async def _ask(self, peer: Name, target: Name, outcome: _Round) -> None:
        """One find of a lookup's round, the vaults it names dialled while we want them."""
        found = await self.protocol.find(peer, target)
        if found is None:
            return
        outcome.answered = True
        routing = self.core.routing
        for name, address in found:
            if routing.wants(name) and await self.links.connect_peer(name, address):
                outcome.learned = True

    def _bucket_missing(self, target: Name) -> bool:
        """Whether `target`'s bucket holds none of our peers though it is as wide as all our
        closer buckets together, which hold a proximity set's worth: it is populated, and the
        vaults asked so far (joining beside us, their own far buckets still empty) did not
        know it, so a lookup asks on, within LOOKUP_ROUNDS. 128 booting simulated vaults had
        one vault miss its whole far half for a refresh period after the joins (seeds 3, 5)."""
        core = self.core
        index = bucket_index(core.name, target)
        counts = core.routing.bucket_counts()
        return not counts.get(index) and (sum(n for i, n in counts.items() if i > index)
                                          >= core.params.proximity_size)

    async def _refresh_buckets(self) -> None:
        """Fill far buckets that have room, from the closest bucket outwards."""
        core = self.core
        counts = core.routing.bucket_counts()
        if not counts:
            return
        for index in range(max(counts), -1, -1):
            if counts.get(index, 0) < core.params.bucket_size:
                await self.lookup(name_in_bucket(core.name, index, core.rng))

    def start_bucket_refresh(self) -> None:
        """Refresh one bucket in the background (`refresh_bucket`), unless one still runs: a
        lookup can wait on peers that do not answer, which must not hold up keep-alives."""
        if not self._refreshing_bucket:
            self._refreshing_bucket = True
            self.core.spawn(self.refresh_bucket)

    async def refresh_bucket(self) -> None:
        """Look up a random name in the next bucket, round robin from the farthest, that holds
        fewer than bucket-size peers. A vault that joined after us and did not pick us is found
        this way, so each bucket comes to hold min(bucket size, its population) and
        responsibility stays exact (`vaultnet.routing`); one lookup per refresh bounds the cost."""
        core = self.core
        try:
            counts = core.routing.bucket_counts()
            buckets = max(counts, default=-1) + 1
            for step in range(buckets):
                index = (self._next_bucket + step) % buckets
                if counts.get(index, 0) < core.params.bucket_size:
                    self._next_bucket = index + 1
                    await self.lookup(name_in_bucket(core.name, index, core.rng))
                    return
        finally:
            self._refreshing_bucket = False

    async def refresh_neighbourhood(self) -> None:
        """Ask close neighbours who they know near us, and connect to those we want: one a
        refresh, NEIGHBOURS_ASKED_UNSETTLED while our neighbourhood is still changing. They
        are asked in turn, not at random: a close vault only some of them know (it does not
        want us in its own table, so it never dials us) is then found within proximity-size
        asks; at random, 64 TCP vaults booting side by side had a vault still missing one
        after 20 s in about 1 run of 5."""
        core = self.core
        prox = core.routing.proximity()
        if not prox:
            return
        if prox != self._neighbourhood:
            self._neighbourhood, self._neighbourhood_changed = prox, core.now()
        unsettled = core.now() - self._neighbourhood_changed < NEIGHBOURHOOD_UNSETTLED_FOR
        for _ in range(min(len(prox), NEIGHBOURS_ASKED_UNSETTLED if unsettled else 1)):
            self._next_neighbour = (self._next_neighbour + 1) % len(prox)
            core.spawn(self._ask_neighbour, prox[self._next_neighbour])

    async def _ask_neighbour(self, peer: Name) -> None:
        """Connect to the vaults `peer` knows near us that we want."""
        for name, address in await self.protocol.find(peer, self.core.name) or []:
            if self.core.routing.wants(name):
                await self.links.connect_peer(name, address)

    # -- rejoining ------------------------------------------------------------------------

    def _remember(self, name: Name, address: str) -> None:
        """Keep a vault we connected to as a way back in, should we lose every peer."""
        self._remembered[name] = address
        self._remembered.move_to_end(name)
        while len(self._remembered) > REMEMBERED_PEERS:
            self._remembered.popitem(last=False)

    def _rejoin_targets(self) -> tuple[list[str], list[tuple[Name, str]]]:
        """Bootstrap addresses and remembered vaults we are not connected to."""
        core = self.core
        dialled = self.links.dialled_addresses()
        addresses = [a for a in core.bootstrap if a != core.address and a not in dialled]
        named = [(name, address) for name, address in self._remembered.items()
                 if name not in self.links.vaults and core.routing.wants(name)]
        return addresses, named

    def _needs_rejoin(self) -> bool:
        """Short of a close group, with a bootstrap or remembered vault left to try."""
        core = self.core
        if core.silent or len(core.routing) >= core.params.group_size:
            return False
        addresses, named = self._rejoin_targets()
        return bool(addresses or named)

    async def _rejoin(self) -> None:
        """One attempt back in: dial every bootstrap and remembered vault we miss at once, then
        look ourselves up and fill the buckets, as a join does."""
        addresses, named = self._rejoin_targets()
        async with trio.open_nursery() as nursery:
            for address in addresses:
                nursery.start_soon(self.links.dial, address)
            for name, address in named:
                nursery.start_soon(self.links.connect_peer, name, address)
        if len(self.core.routing) and await self.lookup(self.core.name):
            await self._refresh_buckets()

    def start_rejoining(self) -> None:
        """Start the rejoin loop if we need it and it is not running: a healthy vault runs no
        extra task (and draws nothing from its rng), so seeded runs without losses are as before."""
        if self.core.running and not self._rejoining and self._needs_rejoin():
            self._rejoining = True
            self.core.spawn(self._rejoin_loop)

    async def _rejoin_loop(self) -> None:
        """While the table is short of a close group, rejoin with exponential backoff (jittered
        from our seeded rng, so the simulator stays deterministic) capped at REJOIN_BACKOFF_MAX."""
        core = self.core
        delay = REJOIN_BACKOFF_MIN
        try:
            while self._needs_rejoin():
                await trio.sleep(delay * (0.5 + 0.5 * core.rng.random()))
                if self._needs_rejoin():
                    core.emit(ev.PersonaEvent(core.now(), core.name, REJOINING, Persona.ROUTING,
                                              core.name, b"", {"peers": len(core.routing),
                                                               "backoff": delay}))
                    await self._rejoin()
                delay = min(delay * 2, REJOIN_BACKOFF_MAX)
        finally:
            self._rejoining = False

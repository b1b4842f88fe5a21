"""The routing table: Kademlia buckets plus the proximity set, close groups and churn.

Sans-IO: it only decides who is known, who is responsible for a name and where to forward. The
vault runtime opens and closes the connections it asks for.

Why responsibility is exact with bounded buckets: a vault answers "am I among the group-size
closest to X" from its own view. Every vault closer to X than we are lies in one of our buckets
whose whole population is closer to X; a bucket keeps `bucket_size` >= group size entries, so
either we know enough closer vaults to say "no", or the bucket is small enough that we know all of
it. This needs complete discovery, which the join lookup, neighbour gossip and the periodic
refreshes provide: of the neighbourhood, and of one bucket with room at a time (vaults that
joined after us without picking us).
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultnet.xor import Name, bucket_index, closest, closest_of_points, distance

NEAREST_CACHE = 256
"""Targets whose nearest names a routing table remembers (oldest dropped first), so the close
group, responsibility and next hop of a name a put's messages keep asking about are not sorted
again for each message. An entry is about 300 bytes (the target, a tuple of group size + 2
names, its dict slot): at most about 75 KiB per vault. Cleared whenever a peer is added or
removed, so an answer is always the one a fresh sort would give."""


@dataclass(frozen=True)
class Parameters:
    """The network's sizes (group, proximity, buckets, peers, hops): one set per testnet."""
    group_size: int = 4
    proximity_size: int = 16
    bucket_size: int = 8
    max_peers: int = 64
    hop_limit: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.group_size <= self.proximity_size <= self.max_peers:
            raise ValueError("need 1 <= group_size <= proximity_size <= max_peers")
        if self.bucket_size < self.group_size:
            raise ValueError("bucket_size must be at least group_size")

    @property
    def accumulation_quorum(self) -> int:
        """Group messages that must agree before one is acted on (all but one member)."""
        return max(1, self.group_size - 1)

    @property
    def sync_quorum(self) -> int:
        """Votes that commit a group decision: a strict majority of the group."""
        return self.group_size // 2 + 1


@dataclass(frozen=True)
class ChurnChange:
    """The proximity set before and after one change (the original design's matrix change,
    docs/origins.md)."""

    old: tuple[Name, ...]
    new: tuple[Name, ...]
    lost: Name | None
    added: Name | None


class RoutingTable:
    """A vault's view of its peers by XOR distance: routes messages and finds close groups."""
    def __init__(self, own: Name, params: Parameters | None = None) -> None:
        self.own = own
        self.params = params or Parameters()
        self._peers: dict[Name, str] = {}
        self._nearest: dict[Name, tuple[Name, ...]] = {}
        self._named_points: tuple[list[Name], list[int]] | None = None
        self._proximity: tuple[Name, ...] | None = None
        self._buckets: dict[int, int] | None = None
        self.version = 0
        """Counts the changes of the peer set: an answer derived from the table (the testnet's
        convergence check) holds while this stays the same."""

    def __len__(self) -> int:
        return len(self._peers)

    def __contains__(self, name: Name) -> bool:
        return name in self._peers

    @property
    def peers(self) -> list[Name]:
        """The names of every peer we hold, in no particular order."""
        return list(self._peers)

    def address(self, name: Name) -> str | None:
        """Where to reach peer `name`, or None if it is not in the table."""
        return self._peers.get(name)

    def proximity(self) -> tuple[Name, ...]:
        """The proximity set: the closest peers to us (churn is observed over these)."""
        if self._proximity is None:
            self._proximity = tuple(closest(self.own, self._peers, self.params.proximity_size))
        return self._proximity

    def _changed(self) -> None:
        """Forget every answer derived from the peer set, which just changed."""
        self.version += 1
        self._nearest.clear()
        self._named_points = None
        self._proximity = None
        self._buckets = None

    def _points(self, include_self: bool) -> tuple[list[Name], list[int]]:
        """Our peers (and us, if `include_self`) and each as an integer, kept until the peer
        set changes: every answer below sorts them by distance to some target."""
        if self._named_points is None:
            names = list(self._peers)
            names.append(self.own)
            self._named_points = (names, list(map(int.from_bytes, names)))
        names, points = self._named_points
        return (names, points) if include_self else (names[:-1], points[:-1])

    def _near(self, target: Name) -> tuple[Name, ...]:
        """The group size + 2 names nearest `target` among our peers and us: enough to answer
        close_group (which leaves out `target` itself) and next_hop (whose answer may follow
        us). Remembered up to NEAREST_CACHE targets until the peer set changes."""
        near = self._nearest.get(target)
        if near is None:
            near = tuple(closest_of_points(target, *self._points(True),
                                           self.params.group_size + 2))
            if len(self._nearest) >= NEAREST_CACHE:
                del self._nearest[next(iter(self._nearest))]
            self._nearest[target] = near
        return near

    def wants(self, name: Name) -> bool:
        """Would adding `name` be accepted (without evicting a proximity member)?"""
        if name == self.own or name in self._peers:
            return False
        if self.in_proximity_range(name):
            return True
        if len(self._peers) >= self.params.max_peers:
            # A full table still takes a vault for a bucket short of a group (`add` evicts one
            # from the fullest far bucket): responsibility needs that many of each bucket, and
            # 4 of 512 simulated vaults kept 3 in their far half, their tables full of nearer
            # buckets.
            return self.short_of_a_group(name)
        return self._held(name) < self.params.bucket_size

    def short_of_a_group(self, name: Name) -> bool:
        """Whether `name`, a vault we lack, falls in a bucket holding fewer than a group of our
        peers: responsibility needs min(group size, population) of each bucket, so a full
        table (`wants`) and a full set of links (`runtime/links.py`) still make room for it."""
        return (name != self.own and name not in self._peers
                and self._held(name) < self.params.group_size)

    def _held(self, name: Name) -> int:
        """Our peers in the bucket `name` falls in."""
        return self._counts().get(bucket_index(self.own, name), 0)

    def in_proximity_range(self, name: Name) -> bool:
        """Whether `name` would enter our proximity set: closer than its farthest member, or
        the set is not full."""
        prox = self.proximity()
        if len(prox) < self.params.proximity_size:
            return True
        return distance(self.own, name) < distance(self.own, prox[-1])

    def add(self, name: Name, address: str) -> tuple[ChurnChange | None, Name | None]:
        """Add a peer. Returns the churn change (if the proximity set changed) and a peer evicted
        to stay within max_peers (the caller closes its connection)."""
        if not self.wants(name):
            return None, None
        before = self.proximity()
        self._peers[name] = address
        self._changed()
        evicted = None
        if len(self._peers) > self.params.max_peers:
            evicted = self._eviction_candidate()
            if evicted is not None:
                del self._peers[evicted]
                self._changed()
        return self._change(before, None, name), evicted

    def _eviction_candidate(self) -> Name | None:
        """A peer from the fullest far bucket, never a proximity member."""
        prox = set(self.proximity())
        by_bucket: dict[int, list[Name]] = {}
        for p in self._peers:
            if p not in prox:
                by_bucket.setdefault(bucket_index(self.own, p), []).append(p)
        if not by_bucket:
            return None
        fullest = max(by_bucket, key=lambda i: (len(by_bucket[i]), -i))
        return closest(self.own, by_bucket[fullest])[-1]

    def remove(self, name: Name) -> ChurnChange | None:
        """Drop peer `name`; returns the proximity change it caused, if any, for churn handling."""
        if name not in self._peers:
            return None
        before = self.proximity()
        del self._peers[name]
        self._changed()
        return self._change(before, name, None)

    def _change(self, before: tuple[Name, ...], lost: Name | None,
                added: Name | None) -> ChurnChange | None:
        after = self.proximity()
        if after == before:
            return None
        return ChurnChange(before, after, lost if lost in before else None,
                           added if added in after else None)

    def close_to(self, name: Name) -> list[Name]:
        """The peers that may have `name` among their proximity-size closest vaults: whom to
        tell of a new vault `name`. Our view lacks vaults but adds none (dead ones aside), so a
        peer left out surely has that many vaults closer than `name`; one in a sparse region,
        whose neighbourhood reaches into ours, is told though not in our proximity set (128
        booting simulated vaults had such peers miss a newcomer for 9 simulated seconds, seed
        1). Costs one pass over the table per peer."""
        k = self.params.proximity_size
        target = int.from_bytes(name, "big")
        values = list(map(int.from_bytes, self._peers))
        known = [*values, int.from_bytes(self.own, "big")]
        close = []
        for peer, value in zip(self._peers, values, strict=True):
            if peer != name:
                # the count takes in the peer itself, at distance 0: hence <= k
                reach = value ^ target
                if sum(map(reach.__gt__, map(value.__xor__, known))) <= k:
                    close.append(peer)
        return close

    def may_hold_us_close(self, name: Name) -> bool:
        """Whether `name` may count us among its proximity-size closest vaults, so that a link
        it opens to us is one it cannot do without: it is within twice our proximity set's
        radius (names are spread evenly, so its radius is about ours), and fewer than
        proximity-size of our peers are nearer to it than we are (our view lacks vaults, so
        this errs towards yes)."""
        prox = self.proximity()
        k = self.params.proximity_size
        if len(prox) < k:
            return True
        target = int.from_bytes(name, "big")
        ours = target ^ int.from_bytes(self.own, "big")
        if ours >= 2 * (int.from_bytes(self.own, "big") ^ int.from_bytes(prox[-1], "big")):
            return False
        nearer = sum(1 for p in self._peers if p != name
                     and int.from_bytes(p, "big") ^ target < ours)
        return nearer < k

    def closest(self, target: Name, k: int, include_self: bool = True) -> list[Name]:
        """The `k` names closest to `target` among our peers (and us, unless excluded)."""
        return closest_of_points(target, *self._points(include_self), k)

    def close_group(self, target: Name) -> list[Name]:
        """The group-size closest vaults to `target` in our view (us included if we qualify).

        A vault whose name equals `target` is not part of the group for it: a PmidNode does not
        manage its own account.
        """
        return [n for n in self._near(target) if n != target][:self.params.group_size]

    def is_responsible(self, target: Name) -> bool:
        """Whether we are in our own view of the group for `target`."""
        return self.own in self.close_group(target)

    def next_hop(self, target: Name) -> Name | None:
        """The known peer closest to `target`, if it is closer than we are (no one is closer
        when we come first in the order of distance from it)."""
        best = self._near(target)[0]
        return None if best == self.own else best

    def bucket_counts(self) -> dict[int, int]:
        """Peers per bucket index (a copy of what is kept until the peer set changes)."""
        return dict(self._counts())

    def _counts(self) -> dict[int, int]:
        """Peers per bucket index, kept until the peer set changes: `wants` asks on every
        gossiped or found vault (a bucket's members counted per call were 1.1 million
        `bucket_index` calls of 128 simulated vaults booting, 5% of it)."""
        if self._buckets is None:
            counts: dict[int, int] = {}
            for p in self._peers:
                i = bucket_index(self.own, p)
                counts[i] = counts.get(i, 0) + 1
            self._buckets = counts
        return self._buckets

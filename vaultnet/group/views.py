"""What lookups taught a vault about distant parts of the name space, kept as balls.

A vault decides whether a message's sender speaks for a distant group from the vaults it knows
near that group. Its routing table keeps only some of the vaults in a full bucket, so before
deciding it may look the group up (`Vault.hold_for_group`). A lookup of name C finds every vault
within some XOR distance R of C: a *ball*. By the triangle inequality of the XOR metric, any
group G with ``d(C, G) + r <= R`` has every vault within ``r`` of G inside that ball, so a
sender at distance ``r`` from G can be judged from what the ball holds, without a lookup of G
itself. Chunk names are random, so without this every copy's group would need its own lookup.

Sans-IO: times are passed in, so it is tested without a network.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from vaultnet.xor import NAME_BITS, Name, closest, distance

EVERYWHERE = (1 << NAME_BITS) - 1
"""The radius of a ball that holds every vault: a lookup that found fewer vaults than it asked
for has seen the whole network."""
KEPT_PER_COMPLETE = 4
"""A lookup's findings keep the (this x `complete_after`) closest vaults to its name: beyond the
ball's radius they only add names a later decision may compare against."""


@dataclass(frozen=True)
class Ball:
    """Every vault within `radius` of `centre`, as a lookup found them at time `at`."""

    centre: Name
    radius: int
    names: frozenset[Name]
    at: float
    point: int = field(init=False, repr=False, compare=False)
    """`centre` as an integer: a membership decision measures a distance to every ball."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "point", int.from_bytes(self.centre, "big"))


class GroupViews:
    """Recent lookups' balls, bounded in number and age (oldest dropped first)."""

    def __init__(self, ttl: float, limit: int, complete_after: int) -> None:
        self.ttl = ttl
        self.limit = limit
        self.complete_after = complete_after
        """A ball's radius reaches the `complete_after`-th closest vault the lookup found: the
        lookup asked the vaults nearest the centre for theirs, and those see at least that many
        around it."""
        self._balls: OrderedDict[Name, Ball] = OrderedDict()
        self.version = 0
        """Counts the changes of the set of balls: an answer derived from them (a membership
        decision) holds while this, read after `expire`, stays the same."""

    def __len__(self) -> int:
        return len(self._balls)

    def record(self, centre: Name, found: Iterable[Name], now: float) -> Ball:
        """Keep what a lookup of `centre` found (the lookup's own answers, ours excluded)."""
        nearest = closest(centre, {n for n in found if n != centre},
                          KEPT_PER_COMPLETE * self.complete_after)
        radius = (distance(centre, nearest[self.complete_after - 1])
                  if len(nearest) >= self.complete_after else EVERYWHERE)
        ball = Ball(centre, radius, frozenset(nearest), now)
        self._balls[centre] = ball
        self._balls.move_to_end(centre)
        self.version += 1
        while len(self._balls) > self.limit:
            self._balls.popitem(last=False)
        return ball

    def covering(self, group: Name, radius: int, now: float) -> Ball | None:
        """A fresh ball holding every vault within `radius` of `group`, or None."""
        self.expire(now)
        point = int.from_bytes(group, "big")
        for ball in reversed(self._balls.values()):
            if (ball.point ^ point) + radius <= ball.radius:
                return ball
        return None

    def near(self, group: Name, now: float) -> frozenset[Name]:
        """Vaults fresh balls around `group` found (each ball that contains `group`)."""
        self.expire(now)
        found: set[Name] = set()
        point = int.from_bytes(group, "big")
        for ball in self._balls.values():
            if ball.point ^ point <= ball.radius:
                found |= ball.names
        return frozenset(found)

    def expire(self, now: float) -> None:
        """Drop the balls older than `ttl` at `now`."""
        while self._balls:
            oldest = next(iter(self._balls.values()))
            if now - oldest.at <= self.ttl:
                return
            self._balls.popitem(last=False)
            self.version += 1

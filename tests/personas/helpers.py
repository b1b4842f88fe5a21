"""A hand-driven vault view for sans-IO persona tests: by default MEMBERS form the close group
of GROUP and time is whatever the test sets; the memory network gives each vault the same view
over its whole population."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from vaultnet.messages import Message, Persona
from vaultnet.personas.base import GroupPersona
from vaultnet.routing import Parameters
from vaultnet.storage.store import RecordStore
from vaultnet.xor import Name, closest

GROUP = bytes(64)
PARAMS = Parameters()
MEMBERS = [bytes([0] * 63 + [i]) for i in (1, 2, 3, 4)]


Membership = Callable[["Ctx", Name, Name], bool]
"""Whom a view takes for a member of a group: `(ctx, sender, group)`."""


def known_sender(ctx: Ctx, sender: Name, group: Name) -> bool:
    """Any vault of the population but the group's own name (a hand-made group's members)."""
    return sender in ctx.population and sender != group


def in_close_group(ctx: Ctx, sender: Name, group: Name) -> bool:
    """Only a vault in the group's close group by this view (what a vault checks)."""
    return sender in ctx.close_group(group)


class Ctx:
    """A vault's `Context` for sans-IO tests: close groups are drawn from `population` (every
    vault it knows), `membership` says whom it takes for a group's member, `all_live` whether
    vaults outside the population (holders a test names) count as live; time is whatever the
    test sets in `clock`."""

    params = PARAMS

    def __init__(self, own: Name, clock: list[float], population: Sequence[Name] = MEMBERS,
                 membership: Membership = known_sender, all_live: bool = True) -> None:
        self.own = own
        self.population = list(population)
        self._clock = clock
        self._membership = membership
        self._all_live = all_live
        self._nonces = 0

    def now(self) -> float:
        return self._clock[0]

    def network_time(self) -> float:
        return self._clock[0]

    def close_group(self, name: Name) -> list[Name]:
        return closest(name, [m for m in self.population if m != name], PARAMS.group_size)

    def is_responsible(self, name: Name) -> bool:
        return self.own in self.close_group(name)

    def is_live(self, name: Name) -> bool:
        return self._all_live or name in self.population

    def could_be_member(self, sender: Name, group: Name) -> bool:
        return self._membership(self, sender, group)

    def closest_live(self, target: Name, k: int, exclude: set[Name]) -> list[Name]:
        return closest(target, [m for m in self.population if m not in exclude], k)

    def nonce(self) -> bytes:
        self._nonces += 1
        return self.own[:8] + self._nonces.to_bytes(8, "big")


class Manager(GroupPersona):
    """A manager persona over one record store: the smallest thing account transfer runs on."""

    persona = Persona.MAID_MANAGER

    def __init__(self, store: RecordStore) -> None:
        super().__init__(PARAMS)
        self.store = store

    def transfer_stores(self) -> list[RecordStore]:
        """The one store whose records this manager transfers."""
        return [self.store]


def from_each(persona: GroupPersona, msg: Message, senders: Sequence[Name],
              ctx: Ctx) -> list[Message]:
    """What `persona` sends once `msg` has come from each of `senders` (a group's members, so
    that it accumulates)."""
    sent: list[Message] = []
    for sender in senders:
        sent += persona.handle(replace(msg, sender=sender), ctx).messages
    return sent

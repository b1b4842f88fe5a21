"""The read-only view of its vault a persona decides with: time, its own name, close groups and
membership by the vault's own view, and a nonce. The persona host implements it over a vault;
the persona tests hand-make one."""

from __future__ import annotations

from typing import Protocol

from vaultnet.routing import Parameters
from vaultnet.xor import Name


class Context(Protocol):
    """The read-only view of the vault a persona decides with."""

    own: Name
    params: Parameters

    def now(self) -> float:
        """The vault's clock: what persona timeouts are measured on (virtual on the simulator)."""
        ...

    def network_time(self) -> float:
        """The wall clock the network agrees on, for request windows other vaults check too."""
        ...

    def close_group(self, name: Name) -> list[Name]:
        """The close group of `name` by our routing table (whom a group message goes to)."""
        ...

    def is_responsible(self, name: Name) -> bool:
        """Whether we are in the close group of `name`, i.e. must act for it."""
        ...

    def is_live(self, name: Name) -> bool:
        """Whether `name` is us or a peer in our table, i.e. worth sending to now."""
        ...

    def could_be_member(self, sender: Name, group: Name) -> bool:
        """Whether `sender` is a vault we know (or learnt of by looking the group up) and is
        in the group for `group` by our own view: never the benefit of the doubt."""
        ...

    def closest_live(self, target: Name, k: int, exclude: set[Name]) -> list[Name]:
        """The `k` live vaults (us included) closest to `target` but `exclude`, to pick holders."""
        ...

    def nonce(self) -> bytes:
        """16 bytes nobody else can predict (on the simulator: from the vault's seeded
        generator, so a seed still reproduces its run)."""
        ...


def knows_a_group(ctx: Context) -> bool:
    """Whether we know more than a close group's worth of vaults around us: before that, a
    (re)started vault cannot tell who its groups are, so it does not reconcile yet."""
    size = ctx.params.group_size
    return len(ctx.closest_live(ctx.own, size + 1, set())) > size

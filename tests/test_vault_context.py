"""VaultContext's membership decisions follow the vault's routing table and group views, even
though it remembers them (`MEMBERSHIP_MEMO`): sans-IO, over a stand-in vault."""

from __future__ import annotations

from tests.group.test_views import name
from vaultnet.group.views import GroupViews
from vaultnet.routing import Parameters, RoutingTable
from vaultnet.runtime.host import MEMBERSHIP_MEMO, VaultContext
from vaultnet.xor import Name

PARAMS = Parameters(group_size=2, proximity_size=2)


class StandInVault:
    """The parts of a hosted vault `could_be_member` reads."""

    def __init__(self) -> None:
        self.name = name(1 << 200)
        self.params = PARAMS
        self.routing = RoutingTable(self.name, PARAMS)
        self.group_views = GroupViews(ttl=30.0, limit=8, complete_after=2)
        self.clock = 0.0

    def now(self) -> float:
        return self.clock

    def view_may_be_incomplete(self, group: Name) -> bool:
        return False


GROUP = name(1000)
SENDER = name(1003)


def test_a_decision_follows_a_change_of_the_routing_table() -> None:
    vault = StandInVault()
    ctx = VaultContext(vault)
    vault.routing.add(SENDER, "sender")
    vault.routing.add(name(1 << 100), "far")
    assert ctx.could_be_member(SENDER, GROUP)
    vault.routing.add(name(1001), "a")  # two vaults nearer the group than the sender
    vault.routing.add(name(1002), "b")
    assert not ctx.could_be_member(SENDER, GROUP)
    vault.routing.remove(name(1002))
    assert ctx.could_be_member(SENDER, GROUP)


def test_a_decision_follows_the_group_views_as_they_learn_and_expire() -> None:
    vault = StandInVault()
    ctx = VaultContext(vault)
    vault.routing.add(SENDER, "sender")
    assert ctx.could_be_member(SENDER, GROUP)
    vault.group_views.record(GROUP, [name(1001), name(1002), SENDER], now=0.0)
    assert not ctx.could_be_member(SENDER, GROUP)  # a lookup found two nearer vaults
    vault.clock = 31.0  # that ball is older than its ttl
    assert ctx.could_be_member(SENDER, GROUP)


def test_whether_a_lookup_must_come_first_follows_the_routing_table() -> None:
    vault = StandInVault()
    ctx = VaultContext(vault)
    assert ctx.unsure(SENDER, GROUP)  # a sender we do not know
    vault.routing.add(SENDER, "sender")
    assert not ctx.unsure(SENDER, GROUP)
    vault.routing.remove(SENDER)
    assert ctx.unsure(SENDER, GROUP)


def test_remembered_decisions_are_bounded() -> None:
    vault = StandInVault()
    ctx = VaultContext(vault)
    vault.routing.add(SENDER, "sender")
    for i in range(MEMBERSHIP_MEMO + 10):
        ctx.could_be_member(SENDER, name(2000 + i))
    assert len(ctx._members) <= MEMBERSHIP_MEMO

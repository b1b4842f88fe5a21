"""A holder's departure, sans-IO: each DataManager applies it on its own view, but only once the
holder has been gone LEFT_AFTER seconds. A link that breaks and comes back at once (the sweep's
seed 9: a duplicated frame broke two members' links to a live holder) is no departure: members
that removed and replaced the holder at once, while their peers kept it, differed for good."""

from __future__ import annotations

from tests.personas.helpers import MEMBERS, PARAMS, Ctx
from vaultnet.messages import Persona
from vaultnet.personas.data_manager import LEFT_AFTER, SWEEP_INTERVAL, DataManager
from vaultnet.personas.records import CopyRecord
from vaultnet.protocol import Action
from vaultnet.storage.records import MemoryRecords
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import Name, closest, name_of

COPY = copy_name(name_of(b"a copy whose holder's link flaps"), CopyKind.BACKUP)
VAULTS = [bytes([0x40 + i]) * 64 for i in range(6)]
H1, H2 = closest(COPY, VAULTS, 2)


class View(Ctx):
    """A member responsible for COPY that sees every vault of VAULTS but those `gone`."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__(MEMBERS[0], clock, population=[*MEMBERS, *VAULTS], all_live=False)
        self.gone: set[Name] = set()

    def is_responsible(self, name: Name) -> bool:
        """Every copy here is ours."""
        return True

    def is_live(self, name: Name) -> bool:
        """Vaults we know and do not see gone."""
        return name in VAULTS and name not in self.gone

    def closest_live(self, target: Name, k: int, exclude: set[Name]) -> list[Name]:
        """The nearest holders we see."""
        return closest(target, [v for v in VAULTS if v not in exclude | self.gone], k)


def member() -> tuple[DataManager, View, list[float]]:
    """A DataManager holding COPY's record, held by H1 and H2 (the two vaults nearest it)."""
    clock = [0.0]
    manager = DataManager(PARAMS, MemoryRecords("data_manager"))
    manager.attach(MEMBERS[0])
    manager.records.put(COPY, CopyRecord(CopyKind.BACKUP, 32, 1, (H1, H2), ()).to_record())
    return manager, View(clock), clock


def holders(manager: DataManager) -> tuple[Name, ...]:
    """COPY's holders by `manager`'s record."""
    record = manager.record(COPY)
    assert record is not None
    return record.holders


def test_a_link_that_breaks_and_comes_back_is_no_departure() -> None:
    """H2 leaves our view and is back a second later: no sweep after that removes it."""
    manager, view, clock = member()
    view.gone.add(H2)
    out = manager.churned(view, H2, None)
    assert not [m for m in out.messages if m.action == Action.PUT]
    assert holders(manager) == (H1, H2)  # not at once
    clock[0] = 1.0
    view.gone.clear()
    manager.churned(view, None, H2)
    for _ in range(3):
        clock[0] += SWEEP_INTERVAL
        assert not [m for m in manager.tick(view).messages if m.action == Action.PUT]
    assert holders(manager) == (H1, H2)


def test_a_holder_gone_left_after_seconds_is_replaced() -> None:
    """H2 leaves and stays gone: the first tick LEFT_AFTER seconds later removes it and puts
    the copy to the next nearest vault we see, without waiting for the next sweep; a tick
    before that keeps it."""
    manager, view, clock = member()
    assert LEFT_AFTER + 1.0 < SWEEP_INTERVAL
    manager.tick(view)  # a sweep at 0, with nothing gone
    clock[0] = 1.0
    view.gone.add(H2)
    manager.churned(view, H2, None)
    clock[0] = 1.0 + LEFT_AFTER - 0.5
    manager.tick(view)  # gone for less than LEFT_AFTER
    assert holders(manager) == (H1, H2)
    clock[0] = 1.0 + LEFT_AFTER
    out = manager.tick(view)  # no sweep is due: the departure is
    replacement = closest(COPY, [v for v in VAULTS if v not in (H1, H2)], 1)[0]
    assert holders(manager) == (H1, replacement)
    puts = [m for m in out.messages if m.action == Action.PUT]
    assert [(m.dst.name, m.dst.persona) for m in puts] == [(replacement, Persona.PMID_MANAGER)]

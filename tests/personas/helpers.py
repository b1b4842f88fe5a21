"""A hand-driven vault view for sans-IO persona tests: MEMBERS form the close group of GROUP,
and time is whatever the test sets."""

from __future__ import annotations

from vaultnet.messages import Persona
from vaultnet.personas.base import GroupPersona
from vaultnet.routing import Parameters
from vaultnet.storage.store import RecordStore
from vaultnet.xor import Name, closest

GROUP = bytes(64)
PARAMS = Parameters()
MEMBERS = [bytes([0] * 63 + [i]) for i in (1, 2, 3, 4)]


class Ctx:
    params = PARAMS

    def __init__(self, own: Name, clock: list[float]) -> None:
        self.own = own
        self._clock = clock
        self._nonces = 0

    def now(self) -> float:
        return self._clock[0]

    def network_time(self) -> float:
        return self._clock[0]

    def close_group(self, name: Name) -> list[Name]:
        return closest(name, [m for m in MEMBERS if m != name], PARAMS.group_size)

    def is_responsible(self, name: Name) -> bool:
        return self.own in self.close_group(name)

    def is_live(self, name: Name) -> bool:
        return True

    def could_be_member(self, sender: Name, group: Name) -> bool:
        return sender in MEMBERS and sender != group

    def closest_live(self, target: Name, k: int, exclude: set[Name]) -> list[Name]:
        return closest(target, [m for m in MEMBERS if m not in exclude], k)

    def nonce(self) -> bytes:
        self._nonces += 1
        return self._nonces.to_bytes(16, "big")


class Manager(GroupPersona):
    """A manager persona over one record store: the smallest thing account transfer runs on."""

    persona = Persona.MAID_MANAGER

    def __init__(self, store: RecordStore) -> None:
        super().__init__(PARAMS)
        self.store = store

    def transfer_stores(self) -> list[RecordStore]:
        """The one store whose records this manager transfers."""
        return [self.store]

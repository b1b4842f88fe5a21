"""Manager groups without a network or a file: every vault's MaidManager, DataManager,
PmidManager and VersionManager over `MemoryRecords`, and a loop that hands each outgoing message
to every member of its destination group, the way the runtime would, but in one thread and in
order.

Messages to a single node (a client, a PmidNode) are not delivered: they are collected in
`outside`, and the test plays that node (h11's style: the test is the peer).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable

from tests.personas.helpers import PARAMS, Ctx, in_close_group
from vaultnet.messages import Message, Persona
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.data_manager import DataManager
from vaultnet.personas.effects import Note
from vaultnet.personas.maid_manager import MaidManager
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.personas.version_manager import VersionManager
from vaultnet.storage.records import MemoryRecords
from vaultnet.xor import Name, closest, name_of

MANAGERS = (Persona.MAID_MANAGER, Persona.DATA_MANAGER, Persona.PMID_MANAGER,
            Persona.VERSION_MANAGER)
DELIVERY_LIMIT = 100_000
"""Messages one `run` may deliver: a protocol that never goes quiet fails the test instead of
hanging it."""


def managers_of(own: Name) -> dict[Persona, GroupPersona]:
    """One vault's four managers, each over in-memory tables."""
    personas: list[GroupPersona] = [
        MaidManager(PARAMS, MemoryRecords("maid_accounts"), MemoryRecords("maid_chunks")),
        DataManager(PARAMS, MemoryRecords("data_manager")),
        PmidManager(PARAMS, MemoryRecords("pmid_accounts")),
        VersionManager(PARAMS, MemoryRecords("version_trees")),
    ]
    for persona in personas:
        persona.attach(own)
    return {p.persona: p for p in personas}


class MemoryNetwork:
    """`size` vaults (names SHA-512 of their index) running the four manager personas."""

    def __init__(self, size: int = 12) -> None:
        self.clock = [1_000.0]
        self.names = [name_of(bytes([i])) for i in range(size)]
        self.vaults = {name: managers_of(name) for name in self.names}
        self.contexts = {name: Ctx(name, self.clock, self.names, in_close_group,
                                   all_live=False) for name in self.names}
        self.outside: list[Message] = []
        self.notes: list[tuple[Name, Note]] = []
        self.delivered = 0
        self.lost: Callable[[Message], bool] = lambda msg: False
        """Which messages the network loses on their way (every member's copy of them)."""

    def group(self, name: Name) -> list[Name]:
        """The close group of `name` (the same in every vault's view here)."""
        return closest(name, [n for n in self.names if n != name], PARAMS.group_size)

    def run(self, first: Message, sender: Name) -> None:
        """Deliver `first` (sent by `sender`) and everything it causes, until quiet."""
        self._deliver(deque([(first, sender)]))

    def tick(self, seconds: float) -> None:
        """Let `seconds` pass, then run every manager's timer (`resend`) and deliver what it
        sends and causes, until quiet."""
        self.clock[0] += seconds
        queue: deque[tuple[Message, Name]] = deque()
        for name, managers in self.vaults.items():
            for persona in managers.values():
                out = persona.resend(self.contexts[name])
                self.notes.extend((name, note) for note in out.notes)
                queue.extend((sent, name) for sent in out.messages)
        self._deliver(queue)

    def _deliver(self, queue: deque[tuple[Message, Name]]) -> None:
        while queue:
            msg, src = queue.popleft()
            self.delivered += 1
            assert self.delivered < DELIVERY_LIMIT, "the managers never went quiet"
            if self.lost(msg):
                continue
            msg = dataclasses.replace(msg, sender=src)
            if msg.dst.persona not in MANAGERS:
                self.outside.append(msg)
                continue
            members = self.group(msg.dst.name) if msg.dst.group else [msg.dst.name]
            for member in members:
                out = self.vaults[member][msg.dst.persona].handle(msg, self.contexts[member])
                self.notes.extend((member, note) for note in out.notes)
                queue.extend((sent, member) for sent in out.messages)

    def sent_to(self, persona: Persona, action: str) -> list[Message]:
        """What left the managers for `persona` (a client, a PmidNode) with `action`."""
        return [m for m in self.outside if m.dst.persona == persona and m.action == action]

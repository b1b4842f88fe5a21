"""Hosts a vault's personas: opens its database, gives personas their read-only `Context`, and
turns their outboxes into sent messages and events. The only place personas meet the runtime."""

from __future__ import annotations

import contextlib
import functools
import random
import secrets
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

from vaultnet.group.views import GroupViews
from vaultnet.messages import Message, Persona
from vaultnet.personas.base import GroupPersona, share_stash
from vaultnet.personas.bodies import (
    NONCE_SIZE,
    PayloadWantedBody,
    ReconcileBody,
    SiblingContentBody,
)
from vaultnet.personas.data_manager import DataManager
from vaultnet.personas.effects import Outbox
from vaultnet.personas.maid_manager import MaidManager
from vaultnet.personas.mpid_manager import MpidManager
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.personas.pmid_node import PmidNode
from vaultnet.personas.version_manager import VersionManager
from vaultnet.protocol import Action
from vaultnet.routing import ChurnChange, Parameters, RoutingTable
from vaultnet.runtime import events as ev
from vaultnet.runtime.application import StoredCopy
from vaultnet.storage.store import ChunkStore, Database, RecordStore
from vaultnet.transport.clock import network_time
from vaultnet.wire import FrameError
from vaultnet.xor import Name, closest, distance

DEFAULT_CAPACITY = 1 << 30
"""Bytes a vault's chunk store may hold unless the testnet says otherwise."""
DB_FILE = "vault.db"
"""The sqlite database in each vault's data directory."""
MEMBERSHIP_MEMO = 4096
"""Membership decisions (sender, group, and whether a lookup must come first) a vault remembers
while its routing table and group views stay the same: one put asks the same few of each
member many times (its request, its votes, its answers). Forgotten all at once when full or
when either changes."""


def applied_table(persona: Persona) -> str:
    """The table of a persona's applied actions (`personas/applied.py`): one per persona,
    since each persona's sync keys and actions are its own."""
    return "applied_" + persona.value.lower()


class Transport(Protocol):
    """What the host reads of its vault's transport."""

    @property
    def reproducible(self) -> bool:
        """Whether runs replay from a seed (the simulator): nonces come from the vault's
        seeded generator then."""
        ...


class HostedVault(Protocol):
    """What the persona host uses of its vault (`runtime/vault.py`'s `Vault` is one): its
    name, parameters and clock; its routing table and group views, read only; a seeded
    generator for nonces; sending, emitting events, and holding a message until a distant
    group's membership is known."""

    @property
    def name(self) -> Name:
        """The vault's name (its identity's)."""
        ...

    @property
    def params(self) -> Parameters:
        """The network's protocol parameters (group size, quorums)."""
        ...

    @property
    def routing(self) -> RoutingTable:
        """The vault's routing table, read only: close groups, responsibility, live peers."""
        ...

    @property
    def group_views(self) -> GroupViews:
        """What lookups near distant groups found, read only: who is in those groups."""
        ...

    @property
    def rng(self) -> random.Random:
        """The vault's seeded generator (nonces on a reproducible transport)."""
        ...

    @property
    def endpoint(self) -> Transport:
        """The vault's transport (whether it is reproducible)."""
        ...

    def now(self) -> float:
        """The vault's clock (virtual on the simulator)."""
        ...

    def send(self, msg: Message) -> None:
        """Originate `msg`: sign it and route it."""
        ...

    def emit(self, event: ev.Event) -> None:
        """Publish `event` on the testnet's bus."""
        ...

    @property
    def observed(self) -> bool:
        """Whether anyone observes the testnet's bus (events are built only then)."""
        ...

    def view_may_be_incomplete(self, group: Name) -> bool:
        """Whether vaults closer to `group` than those we know may exist, read from the routing
        table alone (the context remembers what it decides from it per table version)."""
        ...

    def hold_for_group(self, group: Name, radius: int, msg: Message,
                       decide: Callable[[], None]) -> None:
        """Keep `msg` until every vault within `radius` of `group` is known, then `decide`."""
        ...


class VaultContext:
    """The `Context` personas decide with: this vault's routing view and clock, read-only."""

    def __init__(self, vault: HostedVault) -> None:
        self._vault = vault
        self.own = vault.name
        self.params: Parameters = vault.params
        self._members: dict[tuple[Name, Name, bool], bool] = {}
        self._members_as_of = (-1, -1)
        self._instant: float | None = None

    def now(self) -> float:
        """The vault's clock; while a message is handled, the instant its handling began (a
        handler decides at one moment, and a clock read is a call into trio)."""
        instant = self._instant
        return self._vault.now() if instant is None else instant

    def handling(self, persona: GroupPersona, msg: Message) -> Outbox:
        """`persona` handles `msg` at one instant of the vault's clock (`now`)."""
        self._instant = self._vault.now()
        try:
            return persona.handle(msg, self)
        finally:
            self._instant = None

    def close_group(self, name: Name) -> list[Name]:
        """The close group of `name` by this vault's routing table."""
        return self._vault.routing.close_group(name)

    def is_responsible(self, name: Name) -> bool:
        """Whether this vault is in the close group of `name`."""
        return self._vault.routing.is_responsible(name)

    def is_live(self, name: Name) -> bool:
        """Whether `name` is this vault or a peer in its table."""
        return name == self.own or name in self._vault.routing

    def network_time(self) -> float:
        """The wall clock the network agrees on (for request windows)."""
        return network_time()

    def could_be_member(self, sender: Name, group: Name) -> bool:
        """Whether `sender` is in the group for `group` by our own view: a vault we know (or a
        lookup near the group found) among the group-size closest we know of. An unknown sender
        never gets the benefit of the doubt: the host looks the group up first (`unsure`)."""
        return self._remembered(sender, group, False)

    def unsure(self, sender: Name, group: Name) -> bool:
        """Whether deciding `sender`'s membership of `group` needs a lookup first: we do not
        know the sender, or may not know every vault near the group, and no lookup near it
        found every vault as close to the group as the sender is."""
        return self._remembered(sender, group, True)

    def _remembered(self, sender: Name, group: Name, unsure: bool) -> bool:
        """`unsure` or `could_be_member`, remembered while our routing table and group views
        stay the same (both read only these): `MEMBERSHIP_MEMO`."""
        vault = self._vault
        vault.group_views.expire(self.now())
        as_of = (vault.routing.version, vault.group_views.version)
        if as_of != self._members_as_of or len(self._members) >= MEMBERSHIP_MEMO:
            self._members.clear()
            self._members_as_of = as_of
        key = (sender, group, unsure)
        decided = self._members.get(key)
        if decided is None:
            decided = self._members[key] = (self._decide_unsure(sender, group) if unsure
                                            else self._decide_member(sender, group))
        return decided

    def _decide_member(self, sender: Name, group: Name) -> bool:
        """`could_be_member`, decided afresh."""
        if sender == group:
            return False
        views, now = self._vault.group_views, self.now()
        ball = views.covering(group, distance(group, sender), now)
        found = ball.names if ball is not None else views.near(group, now)
        if not found:  # our table alone: its close group (kept until the peers change) answers
            return sender in self._vault.routing.close_group(group)
        known = set(self._vault.routing.peers)
        known |= found
        known.add(self.own)
        known.discard(group)
        return sender in known and sender in closest(group, known, self.params.group_size)

    def _decide_unsure(self, sender: Name, group: Name) -> bool:
        """`unsure`, decided afresh."""
        vault = self._vault
        if sender == self.own or sender == group:
            return False
        if vault.group_views.covering(group, distance(group, sender), self.now()) is not None:
            return False
        return sender not in vault.routing or vault.view_may_be_incomplete(group)

    def nonce(self) -> bytes:
        """A fresh nonce (seeded on a reproducible transport)."""
        vault = self._vault
        return (vault.rng.randbytes(NONCE_SIZE) if vault.endpoint.reproducible
                else secrets.token_bytes(NONCE_SIZE))

    def closest_live(self, target: Name, k: int, exclude: set[Name]) -> list[Name]:
        """The `k` live vaults (us included) closest to `target`, but `exclude`: the first of
        the table's `k` + len(`exclude`) closest that are not excluded (a sort without a filter
        pass in Python over every peer first)."""
        names = self._vault.routing.closest(target, k + len(exclude),
                                            include_self=self.own not in exclude)
        return [n for n in names if n not in exclude][:k]


CLAIMED_GROUPS: Mapping[Action, Callable[[Message], Name]] = {
    Action.SIBLING_CONTENT: lambda msg: msg.typed(SiblingContentBody).source,
    Action.RECONCILE: lambda msg: msg.typed(ReconcileBody).copy,
    Action.PAYLOAD_WANTED: lambda msg: msg.typed(PayloadWantedBody).to,
}
"""Single-sender messages whose sender must be a member of a (possibly distant) group named in
the body, and how to read that group from the body's record: the sibling copy whose content
it is, the copy whose DataManagers answer, the recipient whose members ask again. The persona
checks membership of that group."""


def claimed_group(msg: Message) -> Name | None:
    """The group whose membership `msg`'s sender must have for a persona to act on it (None:
    none, or a body that is not its record, which the persona drops as it reads it)."""
    if msg.src.group:
        return msg.src.name
    read = CLAIMED_GROUPS.get(msg.action)
    if read is None:
        return None
    try:
        return read(msg)
    except FrameError:
        return None


class PersonaHost:
    """All personas of one vault over one sqlite database in its data directory: the
    `Application` a testnet vault runs (`Vault.attach`)."""

    def __init__(self, vault: HostedVault, directory: Path,
                 capacity: int = DEFAULT_CAPACITY) -> None:
        self.vault = vault
        self.db = Database(directory / DB_FILE)
        params = vault.params
        self.chunks = ChunkStore(self.db, capacity)
        self.maid_manager = MaidManager(params, RecordStore(self.db, "maid_accounts"),
                                        RecordStore(self.db, "maid_chunks"))
        self.data_manager = DataManager(params, RecordStore(self.db, "data_manager"))
        self.pmid_manager = PmidManager(params, RecordStore(self.db, "pmid_accounts"),
                                        RecordStore(self.db, "pmid_copies"))
        self.pmid_node = PmidNode(params, self.chunks)
        self.version_manager = VersionManager(params, RecordStore(self.db, "version_trees"))
        self.mpid_manager = MpidManager(params, RecordStore(self.db, "mpid_accounts"),
                                        RecordStore(self.db, "mpid_inbox"),
                                        RecordStore(self.db, "mpid_outbox"))
        self.personas: dict[Persona, GroupPersona] = {
            p.persona: p for p in (self.maid_manager, self.data_manager, self.pmid_manager,
                                   self.pmid_node, self.version_manager, self.mpid_manager)
        }
        share_stash(self.personas.values())  # one content budget for the whole vault
        self.ctx = VaultContext(vault)
        self._batched: list[tuple[Outbox, Persona]] | None = None
        """Outboxes of the messages handled in the open batch, sent once it is committed."""
        for persona in self.personas.values():
            # A (re)starting vault keeps its group records, which may be stale (its groups
            # moved on while it was away): they stay unconfirmed until reconciled with each
            # group (GroupPersona.tick_transfers). Its chunks stay too, and are reconciled with
            # the DataManagers (PmidNode.tick). What each persona applied is kept too, so the
            # resent votes of an action it applied before the restart are not applied again.
            persona.restarted()
            persona.attach(vault.name, RecordStore(self.db, applied_table(persona.persona)))

    def handle(self, persona: Persona, msg: Message) -> None:
        """Hand `msg` to `persona`; first look its sender's group up if membership of it is
        not known well enough to decide."""
        group = claimed_group(msg)
        if group is not None and self.ctx.unsure(msg.sender, group):
            self.vault.hold_for_group(group, distance(group, msg.sender), msg,
                                      functools.partial(self._decide, persona, msg))
            return
        self._decide(persona, msg)

    def _decide(self, persona: Persona, msg: Message) -> None:
        """Run the persona's handler in a transaction (a savepoint inside an open batch)."""
        handler = self.personas[persona]
        if self._batched is not None:
            with self.db.savepoint():
                out = self.ctx.handling(handler, msg)
            self._batched.append((out, persona))
            return
        with self.db.transaction():
            out = self.ctx.handling(handler, msg)
        self.deliver(out, persona)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Handle a batch of the vault's messages in one transaction (each message in its own
        savepoint), and send what they answer only once it is committed: an acknowledgement
        never leaves before what it acknowledges is on disk."""
        batched: list[tuple[Outbox, Persona]] = []
        self._batched = batched
        try:
            with self.db.transaction():
                yield
        finally:
            self._batched = None
        for out, persona in batched:
            self.deliver(out, persona)

    def deliver(self, out: Outbox, persona: Persona | None = None) -> None:
        """Emit an outbox's notes as events (if anyone observes them) and send its messages."""
        now = self.vault.now()
        for note in out.notes if self.vault.observed else ():
            detail = dict(note.detail)
            who = str(detail.pop("persona", persona.value if persona else ""))
            self.vault.emit(ev.PersonaEvent(now, self.vault.name, note.what, who, note.subject,
                                            note.trace, detail))
        for msg in out.messages:
            self.vault.send(msg)

    def on_churn(self, change: ChurnChange) -> None:
        """Every persona re-replicates and hands records over for a close-group change."""
        out = Outbox()
        with self.db.transaction():
            for persona in self.personas.values():
                persona.on_churn(change.lost, change.added)
                out.extend(persona.churned(self.ctx, change.lost, change.added))
        self.deliver(out)

    def tick(self) -> None:
        """The maintenance tick: resends, record transfers, DataManager and PmidNode checks."""
        with self.db.transaction():
            out = Outbox()
            for persona in self.personas.values():
                out.extend(persona.resend(self.ctx))
                out.extend(persona.tick_transfers(self.ctx))
            out.extend(self.data_manager.tick(self.ctx))
            out.extend(self.pmid_node.tick(self.ctx))
        self.deliver(out)

    def stored(self) -> list[StoredCopy]:
        """The chunk copies the PmidNode's store holds."""
        return [(c.copy_name, c.kind.value, c.size) for c in self.chunks.entries()]

    def close(self) -> None:
        """Close the database (the vault has stopped)."""
        self.db.close()

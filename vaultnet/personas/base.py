"""The base of every manager persona: `GroupPersona`, the group plumbing the original design
(docs/origins.md) describes as "Ac, Fw, Sy": a group's message is accumulated, a single
source's answered from the firewall when it is a duplicate, a change agreed by sync, then the
persona's `HANDLERS` / `COMMITS` table picks the method.

A persona never does I/O: `handle` takes a message and a `Context` (`personas/context.py`) and
returns an `Outbox` (`personas/effects.py`) of messages to send and events to emit. The vault
runtime (`vaultnet.runtime.host`) delivers them. What a group persona holds besides is a
component each: the payload stash (`personas/stash.py`), the requests waiting for their
content (`personas/payload_wanted.py`) and account transfer (`personas/account_transfer.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from vaultnet.group import Accumulation, Accumulator, Contests, Firewall, Sync
from vaultnet.group.firewall import SYNCHRONISING, is_fresh
from vaultnet.messages import CLIENT_PERSONAS, Authority, Message, Persona, derived_id, new_id
from vaultnet.personas.account_transfer import AccountTransfer
from vaultnet.personas.actions import ContestedAction, SyncAction, read_action
from vaultnet.personas.applied import PRUNE_PER_TICK, AppliedActions, applied_identities
from vaultnet.personas.bodies import (
    Body,
    ExpiredBody,
    PayloadWantedBody,
    SyncBody,
    SynchronisingBody,
)
from vaultnet.personas.context import Context
from vaultnet.personas.dispatch import Committer, Handler, dispatch_tables, handles
from vaultnet.personas.effects import Outbox
from vaultnet.personas.payload_wanted import WaitingPayloads
from vaultnet.personas.stash import PayloadStash, StashStore
from vaultnet.protocol import Action, EventKind, Op
from vaultnet.routing import Parameters
from vaultnet.storage.records import MemoryRecords, Records
from vaultnet.wire import FrameError
from vaultnet.xor import Name

DECODED_KEPT = 256
"""Agreed actions a persona keeps decoded, by their canonical bytes (`decode_action`): the
members of a group vote the same bytes for one action, so a vault decodes it once instead of
at each member's vote and again at its commit. Bounded: the oldest is forgotten first."""


def share_stash(personas: Iterable[GroupPersona]) -> StashStore:
    """Give every persona of one vault a view of the same store, so the budget is per vault."""
    store = StashStore()
    for persona in personas:
        persona.stash = PayloadStash(store, persona.persona.value.encode() + b":")
    return store


class GroupPersona:
    """A manager persona: acts on requests only after accumulation, agrees on state changes by
    sync before committing them, and answers duplicate requests from its firewall.

    Subclasses register a handler per action they receive (`@handles(Action.FOO)` on
    `on_foo(msg, payload, ctx, out)`) and a commit per sync action they agree on
    (`@commits(Bar)` on `commit_bar(key, action: Bar, ctx, out, trace)`, `Bar` a `SyncAction`
    of `personas/actions.py`); the class's `HANDLERS` and `COMMITS` tables are
    built from those when the class is created, and dispatch is a lookup in them.
    `needs_payload` lists actions that cannot run without content.
    """

    persona: Persona
    HANDLERS: ClassVar[Mapping[Action, Handler]]
    """Action -> its one handler (see `handles`). `Action.SYNC` is not in it: votes are
    taken by `handle` itself, before accumulation."""
    COMMITS: ClassVar[Mapping[Op, Committer]]
    """Op -> the action class it is decoded into and its one commit (see `commits`)."""
    needs_payload: frozenset[Action] = frozenset()
    resendable: frozenset[Action] = frozenset()
    """Content-carrying group messages we send whose content a recipient may ask for again."""
    unguarded: frozenset[Action] = frozenset()
    """Single-source actions handled afresh every time instead of through the firewall: reads
    and answers to our own requests, where a duplicate costs one more answer and never a
    second change. Their answers (a get's carries up to 1 MiB) are not worth keeping, and
    the periodic integrity checks would otherwise keep every firewall full of them."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Build the subclass's dispatch tables from its registered methods."""
        super().__init_subclass__(**kwargs)
        cls.HANDLERS, cls.COMMITS = dispatch_tables(cls)

    def __init__(self, params: Parameters) -> None:
        self.params = params
        self.accumulator = Accumulator(quorum=params.accumulation_quorum)
        self.firewall = Firewall()
        self.sync: Sync | None = None
        self.contests: Contests | None = None
        self.stash = PayloadStash()
        self.waiting = WaitingPayloads()
        self.transfers = AccountTransfer(self)
        self.applied = AppliedActions(MemoryRecords("applied"))
        """The agreed actions applied here (`personas/applied.py`): in memory until `attach`
        gives it the vault's table, which keeps it across a restart."""
        self._decoded: dict[bytes, SyncAction] = {}
        """Canonical bytes -> the action they decode to (at most DECODED_KEPT)."""
        self._choices: dict[bytes, bytes] = {}
        """A contested action's canonical bytes -> its choice (at most DECODED_KEPT)."""

    def waiting_payloads(self) -> int:
        """Agreed requests waiting for their content (a bounded table; see docs/budgets.md)."""
        return len(self.waiting)

    def pending_transfers(self) -> int:
        """Records whose transferred copies are still being collected (bounded)."""
        return self.transfers.pending()

    def attach(self, own: Name, applied: Records | None = None) -> None:
        """Start agreeing (sync) as the vault named `own`, remembering the actions it applies
        in `applied` (the vault's table, kept across restarts, so a restarted vault never
        applies an action twice; None: in memory, for tests of one persona's life)."""
        if applied is not None:
            self.applied = AppliedActions(applied)
        self.sync = Sync(own, quorum=self.params.sync_quorum, group_size=self.params.group_size)
        self.contests = Contests(own, quorum=self.params.sync_quorum,
                                 group_size=self.params.group_size)

    # -- entry point --------------------------------------------------------------------

    def handle(self, msg: Message, ctx: Context) -> Outbox:
        """Decide on one message: a sync vote is counted; a group's message is accumulated,
        then dispatched; a single source's is answered from the firewall if it is a
        duplicate, else dispatched (`_dispatch`: the `HANDLERS` table)."""
        out = Outbox()
        self.stash.expire(ctx.now())
        if msg.action == Action.SYNC and msg.src.persona == self.persona and msg.src.group:
            self._on_vote(msg, ctx, out)
            return out
        if msg.src.group:
            if not ctx.could_be_member(msg.sender, msg.src.name):
                raise FrameError("sender is not a member of the group it speaks for")
            key = msg.content_key()
            state = self.accumulator.add(key, msg.sender, ctx.now())
            if state is Accumulation.WAITING:
                if msg.payload:  # the lead's copy came first: match the others with it
                    self.stash.put(key, msg.payload)
                return out
            if state is Accumulation.HANDLED:
                waiting = self.waiting.take(key) if msg.payload else None
                if waiting is not None:
                    self._dispatch(waiting, msg.payload, ctx, out)
                return out
            payload = self.stash.pop(key) or msg.payload
            if msg.action in self.needs_payload and not payload:
                self.waiting.wait(key, msg, ctx.now())
                return out
            out.note(EventKind.ACCUMULATED, msg.dst.name, msg.trace_id, action=msg.action,
                     persona=self.persona.value)
            self._dispatch(msg, payload, ctx, out)
            return out
        if msg.sender != msg.src.name:
            raise FrameError("a single source must send its own messages")
        client = msg.src.persona in CLIENT_PERSONAS
        if client and not (is_fresh(msg.sent_at, ctx.network_time())
                           and self.firewall.is_past_horizon(msg.sent_at)):
            self._refuse_expired(msg, ctx, out)
            return out
        if msg.action in self.unguarded:
            self._dispatch(msg, msg.payload, ctx, out)
            return out
        fw_key = msg.sender + msg.msg_id
        entry = self.firewall.lookup(fw_key, ctx.now())
        if entry is not None:
            out.note(EventKind.FIREWALL_ANSWERED, msg.dst.name, msg.trace_id, action=msg.action)
            if isinstance(entry.result, Message):
                out.send(entry.result)
            elif client:
                out.send(self._synchronising(msg))
            return out
        self.firewall.record(fw_key, SYNCHRONISING, ctx.now(),
                             origin=msg.sent_at if client else None)
        self._dispatch(msg, msg.payload, ctx, out)
        return out

    def _synchronising(self, msg: Message) -> Message:
        """The answer to a client's duplicate that arrives while the group is still agreeing
        on the original (the firewall's "synchronising"): the request was accepted, its
        answer is on its way, and re-sending it will not help."""
        return self.group_message(msg.dst.name, msg.src.name, Action.SYNCHRONISING,
                                  SynchronisingBody(msg.action), msg.trace_id,
                                  new_id(SYNCHRONISING.value, msg.msg_id),
                                  dst_persona=msg.src.persona, dst_group=False,
                                  relay=msg.src.relay)

    def _refuse_expired(self, msg: Message, ctx: Context, out: Outbox) -> None:
        """A client request dated outside the replay window (a replay, or a badly wrong
        clock): answer with a refusal the client raises, never act on it."""
        age = ctx.network_time() - msg.sent_at
        out.note(EventKind.REQUEST_EXPIRED, msg.dst.name, msg.trace_id, action=msg.action,
                 age=round(age, 1))
        out.send(self.group_message(
            msg.dst.name, msg.src.name, Action.REQUEST_EXPIRED,
            ExpiredBody(msg.action, f"request dated {age:.0f} s ago is outside the "
                        "replay window"),
            msg.trace_id, new_id(EventKind.REQUEST_EXPIRED, msg.msg_id),
            dst_persona=msg.src.persona, dst_group=False, relay=msg.src.relay))

    def _dispatch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """Run the handler our `HANDLERS` table has for `msg.action`; FrameError if none."""
        handler = self.HANDLERS.get(msg.action)
        if handler is None:
            raise FrameError(f"{self.persona.value} has no action {str(msg.action)!r}")
        handler(self, msg, payload, ctx, out)

    # -- sync -------------------------------------------------------------------------

    def propose(self, key: Name, action: SyncAction, ctx: Context, out: Outbox,
                trace: bytes) -> None:
        """Vote for `action` on record `key` and tell the group; commit if that completes it.
        `action` is of the class our `COMMITS` table has for its op, the class every member
        will decode it into (TypeError otherwise)."""
        assert self.sync is not None
        entry = self.COMMITS.get(action.OP)
        if entry is None or type(action) is not entry.action:
            raise TypeError(f"a proposal must be an action of an Op {self.persona.value} "
                            f"commits, not {action!r}")
        data = action.to_bytes()
        _keep(self._decoded, data, action)
        resolved = self.sync.add_local(key, data, ctx.now())
        out.send(self.group_message(key, key, Action.SYNC, SyncBody(key, data), trace,
                                    derived_id("sync", self.persona.value, key, data, ctx.own)))
        if resolved is not None:
            self._commit(key, data, ctx, out, trace)

    def propose_contested(self, key: Name, action: ContestedAction, ctx: Context, out: Outbox,
                          trace: bytes) -> None:
        """Propose `action`, which carries a choice made from our own view of the network
        (a new copy's holders), as our vote in round `action.round` of the ballot
        `action.id` (the request's id).

        Members whose views differ propose different choices; plain Sync would never commit
        such a split vote. Decision (`vaultnet.group.contest`): each member votes once per
        round; a round seen split by a quorum of votes is voted again, for the choice that may
        already have won it or else the round's leading one, and only if `plausible` by our
        own view (never one chosen by a single vault for us). Bounded: CONTEST_ROUNDS rounds
        within CONTEST_TTL."""
        assert self.contests is not None and action.round is not None
        if self.contests.vote(ctx.own, key, action.id, action.round, action.choice(),
                              ctx.now()):
            self.propose(key, action, ctx, out, trace)
        self._revote(ctx, out)

    def plausible(self, key: Name, action: ContestedAction, ctx: Context) -> bool:
        """Hook: whether a peer's choice in a contested action is one we may vote for, judged
        by our own view (a persona that proposes contested actions must say how)."""
        return False

    def order_choices(self, candidates: Sequence[bytes]) -> Sequence[bytes]:
        """Hook: the order to re-vote a split round's choices in (the first we find plausible
        gets our vote). Given in the contest's order, most votes first; a persona whose members
        accept different choices puts first the one they all accept. Every member must order
        the same tally the same way."""
        return candidates

    def _revote(self, ctx: Context, out: Outbox) -> None:
        """Vote the next round of every contest whose round we voted in is split (see
        `propose_contested`); one with no plausible choice yet waits for our next tick."""
        assert self.contests is not None
        for revote in self.contests.revotes(ctx.now()):
            if not ctx.is_responsible(revote.key):
                continue
            choices = ((revote.forced,) if revote.forced is not None
                       else self.order_choices(revote.candidates))
            for choice in choices:
                action = self._contested(choice).in_round(revote.round)
                if self.plausible(revote.key, action, ctx):
                    if self.contests.vote(ctx.own, revote.key, revote.ballot, revote.round,
                                          choice, ctx.now()):
                        self.propose(revote.key, action, ctx, out, bytes(16))
                    break

    def _on_vote(self, msg: Message, ctx: Context, out: Outbox) -> None:
        assert self.sync is not None and self.contests is not None
        vote = msg.typed(SyncBody)
        key, data = vote.key, vote.data
        if not ctx.could_be_member(msg.sender, key):
            raise FrameError("sync vote from outside the group")
        if not ctx.is_responsible(key):
            return
        action = self.decode_action(data)  # FrameError: a malformed vote is never counted
        contested = False
        if isinstance(action, ContestedAction) and action.round is not None:
            contested = True
            self.contests.vote(msg.sender, key, action.id, action.round,
                               self._choice(data, action), ctx.now())
        resolved = self.sync.add_peer(msg.sender, key, data, ctx.now())
        if resolved is not None:
            self._commit(key, data, ctx, out, msg.trace_id)
        if contested:
            self._revote(ctx, out)

    def decode_action(self, data: bytes) -> SyncAction:
        """The agreed action `data` as the class our `COMMITS` table has for its op: FrameError
        if it is not a map, names no op or one we do not commit, or a field is missing or
        malformed (a malformed vote never reaches a commit). Decoded once (`DECODED_KEPT`):
        actions are frozen records, so every member's vote can share one."""
        action = self._decoded.get(data)
        if action is None:
            action = read_action(data, self._action_class)
            _keep(self._decoded, data, action)
        return action

    def _choice(self, data: bytes, action: ContestedAction) -> bytes:
        """`action.choice()` of the contested action `data`, computed once per action."""
        choice = self._choices.get(data)
        if choice is None:
            choice = action.choice()
            _keep(self._choices, data, choice)
        return choice

    def _action_class(self, op: Op) -> type[SyncAction]:
        """The class our `COMMITS` table decodes `op`'s actions into; FrameError if none."""
        entry = self.COMMITS.get(op)
        if entry is None:
            raise FrameError(f"{self.persona.value} cannot commit {op.value!r}")
        return entry.action

    def _contested(self, data: bytes) -> ContestedAction:
        """The contested action (or choice) `data`; FrameError if it is no such action."""
        action = self.decode_action(data)
        if not isinstance(action, ContestedAction):
            raise FrameError("contested sync action without its round and ballot")
        return action

    def _commit(self, key: Name, data: bytes, ctx: Context, out: Outbox, trace: bytes) -> None:
        """Run the agreed action: the commit our `COMMITS` table has for its op (a contested
        action only the first time one of its ballot's rounds commits), unless it was applied
        here already, before a restart (`personas/applied.py`); the log of applied actions is
        written in the same transaction as the commit's changes."""
        action = self.decode_action(data)
        if (isinstance(action, ContestedAction) and action.round is not None
                and self.contests is not None
                and not self.contests.resolve(key, action.id, self._choice(data, action),
                                              ctx.now())):
            return  # an earlier round of this ballot committed here already
        identities = applied_identities(action, data)
        if self.applied.holds(key, identities, ctx.network_time()):
            self.applied.skipped += 1
            out.note(EventKind.SYNC_ALREADY_APPLIED, key, trace, persona=self.persona.value,
                     op=action.OP)
            return  # resent votes counted again after a restart: our record already has it
        self.applied.add(key, identities, ctx.network_time())
        out.note(EventKind.SYNC_COMMITTED, key, trace, persona=self.persona.value, op=action.OP)
        self.COMMITS[action.OP].commit(self, key, action, ctx, out, trace)

    def resend(self, ctx: Context) -> Outbox:
        """Re-send our votes that have not reached every member, and ask again for content we
        still wait for (called on a timer, which also lets every table forget by time when no
        traffic comes)."""
        out = Outbox()
        self.stash.expire(ctx.now())
        self.accumulator.expire(ctx.now())
        self.firewall.prune(ctx.now())
        self.waiting.expire(ctx.now())
        self.applied.prune(ctx.network_time(), PRUNE_PER_TICK)
        if self.sync is None:
            return out
        self._revote(ctx, out)
        for key, data in self.sync.to_resend(ctx.now()):
            if ctx.is_responsible(key):
                out.send(self.group_message(key, key, Action.SYNC, SyncBody(key, data),
                                            bytes(16),
                                            derived_id("sync", self.persona.value, key, data,
                                                       ctx.own)))
        for ask in self.waiting.asks(self.persona, ctx):
            out.send(ask)
        return out

    def release_unless_lead(self, key: bytes, group_name: Name, ctx: Context) -> None:
        """An agreed request was handled: a member that does not attach content for the group
        of `group_name` has no further use for the content under `key`. The lead keeps it
        (for STASH_TTL) to answer asks for it again."""
        if not self.is_lead(group_name, ctx):
            self.stash.release(key)

    @handles(Action.PAYLOAD_WANTED)
    def on_payload_wanted(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """A recipient agreed on a message our group sent but never got its content (our lead
        changed, died, or committed before its own copy of the content arrived): the lead by
        our view sends the message again with the content. Harmless if forged: the recipient
        still needs the message from a quorum of us, and the content is checked against its
        name where it is stored."""
        wanted = msg.typed(PayloadWantedBody)
        if wanted.action not in self.resendable:
            raise FrameError(f"body field 'action' names {wanted.action.value!r}: not resent")
        to = wanted.to
        if msg.sender != to and not ctx.could_be_member(msg.sender, to):
            raise FrameError("payload_wanted from outside the recipient")
        if not self.is_lead(msg.dst.name, ctx):
            return
        resend = self.group_message(
            msg.dst.name, to, wanted.action, wanted.body, msg.trace_id, wanted.id,
            dst_persona=wanted.persona, dst_group=wanted.group)
        content = self.wanted_content(wanted.body)
        if content is not None:
            out.send(replace(resend, payload=content))
        else:
            self.content_missing(resend, ctx, out)

    def wanted_content(self, body: dict[str, Any]) -> bytes | None:
        """The content a resendable message with `body` carries, if we still have it."""
        copy = body.get("copy")
        return self.stash.get(copy) if isinstance(copy, bytes) else None

    def content_missing(self, resend: Message, ctx: Context, out: Outbox) -> None:
        """Hook: asked to resend `resend` with content we no longer have."""

    def on_churn(self, lost: Name | None, added: Name | None) -> None:
        """Our close set changed: sync forgets votes of a member that left (not a message
        handler: the host calls it on churn)."""
        if self.sync is not None:
            self.sync.on_churn(lost, added)

    # -- account transfer: the `AccountTransfer` component (personas/account_transfer.py) ------

    def transfer_stores(self) -> list[Records]:
        """The stores whose records move with churn. Convention: the first 64 bytes of a
        record's key are the name whose close group holds the record."""
        return []

    def record_arrived(self, store: Records, key: bytes, record: dict[str, Any],
                       ctx: Context, out: Outbox) -> None:
        """Hook: a transferred record was accepted (a persona may act on churn it missed)."""

    def restarted(self) -> None:
        """The vault (re)started on the records it kept: see `AccountTransfer.restarted`."""
        self.transfers.restarted()

    def is_confirmed(self, store: Records, key: bytes) -> bool:
        """Whether our record for `key` is current (see `AccountTransfer.is_confirmed`)."""
        return self.transfers.is_confirmed(store, key)

    def churned(self, ctx: Context, lost: Name | None, added: Name | None) -> Outbox:
        """After a change in our close set: hand our records on (`AccountTransfer.churned`)."""
        return self.transfers.churned(ctx, lost, added)

    def tick_transfers(self, ctx: Context) -> Outbox:
        """Settle lone, disputed and kept records on a timer (`AccountTransfer.tick`)."""
        return self.transfers.tick(ctx)

    @handles(Action.TRANSFER)
    def on_transfer(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A member's copy of a record we are newly responsible for (`AccountTransfer`)."""
        self.transfers.on_transfer(msg, ctx, out)

    @handles(Action.TRANSFER_QUERY)
    def on_transfer_query(self, msg: Message, payload: bytes, ctx: Context,
                          out: Outbox) -> None:
        """A newcomer asks for our current copy of a record (`AccountTransfer`)."""
        self.transfers.on_transfer_query(msg, ctx, out)

    # -- building messages -------------------------------------------------------------

    def group_message(self, src_name: Name, dst_name: Name, action: Action,
                      body: Body | dict[str, Any], trace: bytes, msg_id: bytes,
                      dst_persona: Persona | None = None, dst_group: bool = True,
                      payload: bytes = b"", relay: Name | None = None) -> Message:
        """A message from our group (for `src_name`) to a group or node; `body` is a map when
        it is a received message's, sent again as it came (payload and content wanted)."""
        return Message(
            src=Authority(src_name, self.persona, group=True),
            dst=Authority(dst_name, dst_persona or self.persona, group=dst_group, relay=relay),
            action=action, msg_id=msg_id, trace_id=trace,
            body=body.encode() if isinstance(body, Body) else body, sender=b"",
            payload=payload,
        )

    def is_lead(self, group_name: Name, ctx: Context) -> bool:
        """Whether we attach content for our group: the member closest to the group's name."""
        group = ctx.close_group(group_name)
        return bool(group) and group[0] == ctx.own


GroupPersona.HANDLERS, GroupPersona.COMMITS = dispatch_tables(GroupPersona)


def _keep(table: dict[bytes, Any], key: bytes, value: Any) -> None:
    """Add to a table of at most DECODED_KEPT entries, forgetting the oldest first."""
    if len(table) >= DECODED_KEPT:
        del table[next(iter(table))]
    table[key] = value

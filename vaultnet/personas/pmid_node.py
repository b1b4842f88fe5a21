"""PmidNode: the vault's own disk. Stores the copies its PmidManagers send, within capacity.

When full and the incoming copy is a Primary, it evicts Sacrificial copies (oldest first) until
the Primary fits; each eviction is reported up as a PutFailure (PmidNode → PmidManager →
DataManager), which re-replicates the Sacrificial elsewhere. Backup and Sacrificial copies never
evict anything. If a copy still cannot be stored, a PutFailure for that copy goes up instead.
"""

from __future__ import annotations

from collections import OrderedDict

from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.bodies import (
    GONE_WHILE_AWAY,
    KEEP,
    NO_SUCH_COPY,
    REPLACED,
    AccountEntry,
    AccountPageBody,
    CapacityBody,
    ChallengeBody,
    CopyBody,
    HolderPutBody,
    NodeFailureBody,
    ReconcileBody,
)
from vaultnet.personas.context import Context, knows_a_group
from vaultnet.personas.dispatch import handles
from vaultnet.personas.effects import Outbox
from vaultnet.personas.integrity import answer_challenge, challenge_reply
from vaultnet.protocol import Action, EventKind
from vaultnet.routing import Parameters
from vaultnet.storage.store import ChunkStore, CopyKind, CorruptChunk, StoreFull
from vaultnet.xor import Name

RECONCILE_ROUNDS = 3
RECONCILE_INTERVAL = 10.0
RECONCILE_LATER = 15.0
"""After the first RECONCILE_ROUNDS, copies held since start that no quorum has yet called
keep or replaced are asked about again this often, until decided: the group may need longer
than the fast rounds to notice we left and replace us."""
VERDICTS_KEPT = 10_000
"""Copies whose DataManagers' answers we count at once (oldest forgotten first: a forgotten
count only means the copy is kept until the next round asks again)."""
ACCOUNT_GRACE = 10.0
"""Seconds a copy our account names but we lack is given to arrive (its store may still be on
its way) before we report it missing."""
MISSING_KEPT = 10_000
"""Copies our account named that we lacked, waiting out ACCOUNT_GRACE (oldest forgotten first:
the reconcile rounds still ask about what we hold)."""
MISSING = "missing at rejoin"
"""The reason a PutFailure gives for a copy our account names that we do not hold."""
EVICTED = "evicted for a primary"
"""The reason a Sacrificial copy's PutFailure gives when it was evicted (readers such as the
dashboard tell an eviction from a refused store by it)."""


class PmidNode(GroupPersona):
    """The vault's own disk: stores, evicts, deletes and proves the copies it holds."""

    persona = Persona.PMID_NODE
    needs_payload = frozenset({Action.STORE})
    unguarded = frozenset({Action.FETCH, Action.CHALLENGE})

    def __init__(self, params: Parameters, chunks: ChunkStore) -> None:
        super().__init__(params)
        self.chunks = chunks
        self.lying = False
        self.losing = False
        self._reconcile_rounds = 0
        self._last_reconcile = float("-inf")
        self._undecided: set[bytes] = {entry.copy_name for entry in chunks.entries()}
        """Copies held at start (a restart) whose DataManagers have not yet decided on us."""
        self._verdicts: OrderedDict[bytes, dict[Name, str]] = OrderedDict()  # copy -> answers
        self._held_at_start: set[bytes] = set(self._undecided)
        """Copies held at start: the only ones SendAccount may delete (a copy stored since
        came from our managers, and may be newer than the account they sent)."""
        self._missing: OrderedDict[bytes, tuple[AccountEntry, float]] = OrderedDict()
        """Copies our account names that we lack -> (entry, when reported if still lacking)."""

    def _from_own_managers(self, msg: Message, ctx: Context) -> bool:
        return msg.src.persona == Persona.PMID_MANAGER and msg.src.name == ctx.own

    @handles(Action.STORE)
    def on_store(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """Our PmidManagers agreed we store a copy: store it (evicting Sacrificial copies for
        a Primary) or report the failure."""
        if not self._from_own_managers(msg, ctx):
            return
        store = msg.typed(HolderPutBody)
        copy, kind = store.copy, store.kind
        try:
            self._store(copy, kind, payload, msg, ctx, out)
        except StoreFull as full:
            self._fail(copy, kind, len(payload), f"full ({full.free} bytes free)", msg, ctx, out)
        except CorruptChunk:
            self._fail(copy, kind, len(payload), "content does not match name", msg, ctx, out)

    def _store(self, copy: bytes, kind: CopyKind, payload: bytes, msg: Message, ctx: Context,
               out: Outbox) -> None:
        if kind is CopyKind.PRIMARY and not self.chunks.has(copy):
            for victim in self.chunks.sacrificial():
                if self.chunks.free() >= len(payload):
                    break
                self.chunks.delete(victim.copy_name)
                out.note(EventKind.SACRIFICIAL_EVICTED, victim.copy_name, msg.trace_id,
                         size=victim.size, for_copy=copy)
                self._report(victim.copy_name, CopyKind.SACRIFICIAL, victim.size,
                             EVICTED, msg.trace_id, ctx, out)
        if not self.losing:
            self.chunks.put(copy, kind, payload)
        out.note(EventKind.CHUNK_STORED, copy, msg.trace_id, kind=kind.value, size=len(payload))
        out.send(Message(src=Authority(ctx.own, self.persona), dst=Authority(
            copy, Persona.DATA_MANAGER, group=True), action=Action.STORED,
            msg_id=new_id("stored", msg.msg_id, ctx.own), trace_id=msg.trace_id,
            body=CopyBody(copy).encode(), sender=b""))

    def _fail(self, copy: bytes, kind: CopyKind, size: int, reason: str, msg: Message,
              ctx: Context, out: Outbox) -> None:
        out.note(EventKind.PUT_FAILURE, copy, msg.trace_id, persona=self.persona.value,
                 kind=kind.value, reason=reason)
        self._report(copy, kind, size, reason, msg.trace_id, ctx, out)

    def _report(self, copy: bytes, kind: CopyKind, size: int, reason: str, trace: bytes,
                ctx: Context, out: Outbox) -> None:
        reported = size * 2 + 1 if self.lying else size
        out.send(Message(src=Authority(ctx.own, self.persona), dst=Authority(
            ctx.own, Persona.PMID_MANAGER, group=True), action=Action.PUT_FAILURE,
            msg_id=new_id("pn-fail", ctx.own, copy, trace, reason), trace_id=trace,
            body=NodeFailureBody(copy, kind, reported, reason).encode(),
            sender=b""))

    @handles(Action.DELETE)
    def on_delete(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """Our PmidManagers agreed we no longer hold a copy: delete it."""
        if not self._from_own_managers(msg, ctx):
            return
        copy = msg.typed(CopyBody).copy
        if self.chunks.delete(copy):
            out.note(EventKind.CHUNK_DELETED, copy, msg.trace_id, persona=self.persona.value)

    # -- rejoin -------------------------------------------------------------------------

    def tick(self, ctx: Context) -> Outbox:
        """After (re)joining, once we know a group's worth of peers: ask each copy's
        DataManagers whether we should still hold it (a restarted vault was replaced while it
        was away), and tell our PmidManagers the space we offer (`_capacity_report`). Asked
        RECONCILE_ROUNDS times, RECONCILE_INTERVAL apart, about every copy held at start and
        still undecided: members that had not yet noticed we left (and so still named us), did
        not know us yet, or had not reconciled their own records may answer differently later.
        A copy stored since we joined came from our managers' current instructions: it is
        never asked about (a fresh vault asks nothing)."""
        out = Outbox()
        self._report_missing(ctx, out)
        fast = self._reconcile_rounds < RECONCILE_ROUNDS
        if ((not fast and not self._undecided) or not knows_a_group(ctx)
                or ctx.now() - self._last_reconcile
                < (RECONCILE_INTERVAL if fast else RECONCILE_LATER)):
            return out
        self._reconcile_rounds += 1
        self._last_reconcile = ctx.now()
        if fast:
            out.send(self._capacity_report(ctx))
        self._undecided.intersection_update(entry.copy_name for entry in self.chunks.entries())
        for copy in sorted(self._undecided):
            out.send(Message(src=Authority(ctx.own, self.persona), dst=Authority(
                copy, Persona.DATA_MANAGER, group=True), action=Action.HOLDING,
                msg_id=new_id("holding", ctx.own, copy, str(self._reconcile_rounds)),
                trace_id=bytes(16), body=CopyBody(copy).encode(), sender=b""))
        return out

    def _capacity_report(self, ctx: Context) -> Message:
        """To our PmidManagers: the space we offer (our capacity), which a client that
        registered us gets as allowance. Sent in each of the first reconcile rounds after
        (re)joining: the offer changes only with a restart, and a lost report is sent again."""
        return Message(src=Authority(ctx.own, self.persona), dst=Authority(
            ctx.own, Persona.PMID_MANAGER, group=True), action=Action.CAPACITY,
            msg_id=new_id("capacity", ctx.own, str(self._reconcile_rounds), str(ctx.now())),
            trace_id=bytes(16), body=CapacityBody(self.chunks.capacity).encode(), sender=b"")

    @handles(Action.SEND_ACCOUNT)
    def on_send_account(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A page of our account, as a quorum of our PmidManagers sent it after we (re)joined:
        delete the copies we held at start within the page's names that it does not list
        (deleted or lost while we were away); a listed copy we lack is reported missing after
        ACCOUNT_GRACE (a PutFailure: the DataManagers replace us) unless it arrives."""
        if not self._from_own_managers(msg, ctx):
            return
        page = msg.typed(AccountPageBody)
        listed = {entry.copy for entry in page.entries}
        upto = None if page.last or not page.entries else page.entries[-1].copy
        for copy in sorted(self._held_at_start):
            if ((page.after is not None and copy <= page.after)
                    or (upto is not None and copy > upto) or copy in listed):
                continue
            self._held_at_start.discard(copy)
            if self.chunks.delete(copy):
                self._undecided.discard(copy)
                out.note(EventKind.CHUNK_DELETED, copy, msg.trace_id,
                         persona=self.persona.value, reason="not in our account (rejoin)")
        for entry in page.entries:
            self._held_at_start.discard(entry.copy)
            if not self.chunks.has(entry.copy):
                self._missing[entry.copy] = (entry, ctx.now() + ACCOUNT_GRACE)
                while len(self._missing) > MISSING_KEPT:
                    self._missing.popitem(last=False)

    def _report_missing(self, ctx: Context, out: Outbox) -> None:
        """Report the copies our account named that have not arrived within ACCOUNT_GRACE."""
        for copy, (entry, due) in list(self._missing.items()):
            if self.chunks.has(copy):
                del self._missing[copy]
            elif ctx.now() >= due:
                del self._missing[copy]
                out.note(EventKind.PUT_FAILURE, copy, bytes(16), persona=self.persona.value,
                         kind=entry.kind.value, reason=MISSING)
                self._report(copy, entry.kind, entry.size, MISSING, bytes(16), ctx, out)

    @handles(Action.RECONCILE)
    def on_reconcile(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A DataManager of the copy says whether its record still names us as a holder. Each
        member's latest answer counts; we drop the copy only once a quorum of members say we
        were replaced, or, in a later round, that there is no such copy (it was deleted while
        we were away; in the fast rounds a record may still be moving between members):
        one member without a record, or with a stale one, must never cost the network a copy."""
        answer = msg.typed(ReconcileBody)
        copy, verdict = answer.copy, answer.verdict
        held = self.chunks.entry(copy)
        if not ctx.could_be_member(msg.sender, copy) or held is None:
            return
        answers = self._verdicts.setdefault(copy, {})
        answers[msg.sender] = verdict
        while len(self._verdicts) > VERDICTS_KEPT:
            self._verdicts.popitem(last=False)
        verdicts, quorum = list(answers.values()), self.params.accumulation_quorum
        late = self._reconcile_rounds > RECONCILE_ROUNDS
        if verdicts.count(KEEP) >= quorum and late:
            # Only a later round settles "keep": in the fast rounds, members may not have
            # noticed yet that we left, and replace us moments after saying keep.
            self._undecided.discard(copy)
        gone = (verdicts.count(REPLACED) >= quorum
                or (verdicts.count(NO_SUCH_COPY) >= quorum and late))
        if gone and self.chunks.delete(copy):
            self._undecided.discard(copy)
            del self._verdicts[copy]
            out.note(EventKind.CHUNK_DELETED, copy, msg.trace_id, persona=self.persona.value,
                     reason="no longer a holder (rejoin)")
            self._report(copy, held.kind, held.size, GONE_WHILE_AWAY, msg.trace_id, ctx, out)

    @handles(Action.CHALLENGE)
    def on_challenge(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """An integrity check: SHA-512(content ‖ nonce) of the copy we hold."""
        challenge = msg.typed(ChallengeBody)
        answer = answer_challenge(self.chunks.get(challenge.copy), challenge.nonce, self.lying)
        out.send(challenge_reply(msg, ctx.own, answer))

    @handles(Action.FETCH)
    def on_fetch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A DataManager lead fetches a copy's content (empty if we do not hold it)."""
        copy = msg.typed(CopyBody).copy
        data = self.chunks.get(copy) or b""
        out.send(Message(src=Authority(ctx.own, self.persona), dst=msg.src,
                         action=Action.FETCH_RESPONSE, msg_id=new_id("fetched", msg.msg_id),
                         trace_id=msg.trace_id, body=CopyBody(copy).encode(), sender=b"",
                         payload=data))

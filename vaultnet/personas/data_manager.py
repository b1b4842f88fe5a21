"""DataManager: for each copy name, its size, subscriber count and holders (docs/origins.md).

Group: the vaults closest to the copy's name. New copy: choose holders — the closest live,
eligible vaults to the copy's name that have not failed it, so every member picks the same ones
— agree on them (sync), and send the copy on to each holder's PmidManager group. Existing copy:
count the subscriber and stop. A holder that fails (an eviction, a refused store, a lost chunk)
is removed and a replacement chosen by the same rule, its content fetched from a live holder,
or, when every holder of the copy is gone, from the DataManagers of a sibling copy (the same
chunk's other kinds; the content is checked against the chunk's name whoever sends it).

Gets are served by one member, the group's lead (the member closest to the copy name), which
fetches from the first live holder, checks the content against the name and answers; that keeps
a 1 MiB answer from travelling four times.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.actions import (
    ContestedAction,
    DataPut,
    IntegrityFailed,
    RemoveHolder,
    Unsubscribe,
)
from vaultnet.personas.applied import ballot_identity
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.bodies import (
    FAILED_CHECK,
    KEEP,
    LIED,
    NO_RECORD,
    NO_SUCH_COPY,
    REPLACED,
    CopyBody,
    CopyDeleteBody,
    CopyPutBody,
    CorrectionBody,
    ExistsAnswerBody,
    ExistsBody,
    HolderFailureBody,
    HolderPutBody,
    PutResponseBody,
    ReconcileBody,
    SiblingContentBody,
    SiblingFetchBody,
)
from vaultnet.personas.content_fetch import (
    ClientWaiter,
    ContentFetch,
    HolderWaiter,
    PendingFetch,
    SiblingWaiter,
    get_response,
)
from vaultnet.personas.context import Context
from vaultnet.personas.departure_checks import DepartureChecks
from vaultnet.personas.dispatch import commits, handles
from vaultnet.personas.effects import Outbox
from vaultnet.personas.integrity import IntegrityChecks
from vaultnet.personas.pmid_manager import BELOW_FLOOR
from vaultnet.personas.records import CopyRecord
from vaultnet.protocol import Action, EventKind
from vaultnet.routing import Parameters
from vaultnet.storage.records import Records
from vaultnet.storage.store import CopyKind, chunk_name_of, copy_name
from vaultnet.wire import FrameError
from vaultnet.xor import Name, name_of

HOLDERS_PER_COPY = 2
"""Vaults holding each copy of a chunk. A chunk has one copy of each CopyKind (Primary, Backup,
Sacrificial), each under its own copy name and DataManager group, so a fully replicated chunk
is 3 x 2 = 6 stored copies (`vaultnet.runtime.inspection.COPIES_PER_CHUNK`)."""
PLAUSIBLE_SLACK = 4
"""How far past the nearest `holders_per_copy` live vaults a peer's choice of holders for a new
copy may reach and still get our vote (one close group's worth): our views of who is live near
the copy differ by the vaults a partition or a broken link hid from one of us."""
MAX_FAILED = 8
"""Holders that failed a copy (refused, evicted, failed a check) that its record keeps, the
latest: never chosen again while kept. It is also the replacement window: a replacement is
chosen among the MAX_FAILED vaults nearest the copy only, so when all of them refuse (every
vault near it full, or below the rank floor) they all stay in `failed` and replacing stops,
where a wider search would pick the oldest failed holder again once it dropped out of the
list, and refusals would go round for ever."""
SWEEP_INTERVAL = 5.0
LEFT_AFTER = 3.0
"""Seconds a holder must have been gone from our view before we replace it (at the first tick
after that): longer than a link flap or the sweep's partition spells (2 s), after which the
vault comes back with its copies."""
LEFT = "holder left"
DEPARTED_KEPT = 1024

PENDING_LIMIT = 10_000
"""Entries in each of a DataManager's small bookkeeping tables (awaited Primary stores,
outstanding fetches, removals that came before their record): a table never holds more, the
oldest is dropped first."""


class DataManager(GroupPersona):
    """Each copy's record: kind, size, subscribers, holders; chooses and replaces holders.
    Its content fetches (`ContentFetch`) and integrity checks (`IntegrityChecks`) are
    components it holds."""

    persona = Persona.DATA_MANAGER
    needs_payload = frozenset({Action.PUT})
    resendable = frozenset({Action.PUT})
    unguarded = frozenset({Action.GET, Action.FETCH_RESPONSE, Action.CHALLENGE_RESPONSE})

    def __init__(self, params: Parameters, records: Records,
                 holders_per_copy: int = HOLDERS_PER_COPY) -> None:
        super().__init__(params)
        self.records = records
        self.holders_per_copy = holders_per_copy
        self._ineligible: OrderedDict[Name, None] = OrderedDict()  # refused: rank too low
        self._awaiting_primary: OrderedDict[bytes, DataPut] = OrderedDict()
        self.fetches = ContentFetch(PENDING_LIMIT)
        self._early_removals: OrderedDict[bytes, list[RemoveHolder]] = OrderedDict()
        self._last_sweep = 0.0
        self._departed: OrderedDict[Name, float] = OrderedDict()  # vault we saw leave -> when
        self._departures_due: OrderedDict[Name, float] = OrderedDict()
        """Departures not yet applied -> when they are due (LEFT_AFTER after), oldest first."""
        self.checks = IntegrityChecks(self, self.fetches)
        self.departure_checks = DepartureChecks(self)

    def record(self, copy: Name) -> CopyRecord | None:
        """Our record of `copy`, if we hold one."""
        raw = self.records.get(copy)
        return CopyRecord.from_record(raw) if raw is not None else None

    def _store(self, copy: Name, record: CopyRecord) -> None:
        self.records.put(copy, record.to_record())

    def is_eligible(self, name: Name) -> bool:
        """Not a node whose PmidManagers refused a copy because its rank is below the floor."""
        return name not in self._ineligible

    def transfer_stores(self) -> list[Records]:
        """Only the chunk records move with churn: the other state is rebuilt or transient."""
        return [self.records]

    def churned(self, ctx: Context, lost: Name | None, added: Name | None) -> Outbox:
        """Account transfer, and noting departures: a holder gone LEFT_AFTER seconds is
        replaced at the first tick after that (see `_apply_due_departures`)."""
        out = super().churned(ctx, lost, added)
        self.checks.queue_checks(ctx)
        if added is not None:
            self._departed.pop(added, None)
            self._departures_due.pop(added, None)
        if lost is not None and lost not in self._departed:
            self._departed[lost] = ctx.now()
            self._departures_due[lost] = ctx.now() + LEFT_AFTER
            for table in (self._departed, self._departures_due):
                while len(table) > DEPARTED_KEPT:
                    table.popitem(last=False)
        return out

    def record_arrived(self, store: Records, key: bytes, record: dict[str, Any],
                       ctx: Context, out: Outbox) -> None:
        """A transferred record may be behind: apply removals the group agreed before it came,
        and those of holders that left before it reached us."""
        for action in self._early_removals.pop(key, []):
            self.commit_remove_pmid(key, action, ctx, out, bytes(16))
        self._drop_departed(key, ctx, out)

    def _drop_departed(self, copy: Name, ctx: Context, out: Outbox) -> None:
        """Replace holders we saw leave at least LEFT_AFTER seconds ago and still do not see.
        Only those: a vault that merely does not know a holder yet (a newcomer) must not
        decide it is gone, and a link that broke and came back (a flap) is no departure.

        Decision: each member applies a departure on its own view, without a vote (a vote
        missed by members that were not yet responsible left records different in the churn
        soak), but only once it has lasted LEFT_AFTER: a duplicated frame or a short partition
        breaks some members' links to a live holder for a moment, and members that removed
        and replaced it at once, while their peers kept it, differed for good (sweep seed 9).
        A holder that really left stays gone, and every member that knew it removes it."""
        record = self.record(copy)
        for holder in record.holders if record else ():
            left = self._departed.get(holder)
            if left is not None and ctx.now() - left >= LEFT_AFTER and not ctx.is_live(holder):
                self._holder_left(copy, holder, ctx, out)

    def _apply_due_departures(self, ctx: Context, out: Outbox) -> None:
        """Replace, in the copies we are responsible for, the holders whose departure has
        lasted LEFT_AFTER: the sweep would do it too, but up to SWEEP_INTERVAL later, and every
        second a copy waits for its replacement is a second it has one holder fewer."""
        now = ctx.now()
        while self._departures_due:
            holder, due = next(iter(self._departures_due.items()))
            if now < due:
                return
            del self._departures_due[holder]
            if not ctx.is_live(holder):
                self._drop_departed_from({holder}, ctx, out)

    def _sweep(self, ctx: Context, out: Outbox) -> None:
        """`_drop_departed` for every copy we are responsible for whose record names a holder
        that left LEFT_AFTER ago and is still gone: one read of the table, and none while no
        departure is due (the others' `_drop_departed` would change nothing)."""
        now = ctx.now()
        gone = {holder for holder, left in self._departed.items()
                if now - left >= LEFT_AFTER and not ctx.is_live(holder)}
        if gone:
            self._drop_departed_from(gone, ctx, out)

    def _drop_departed_from(self, holders: set[Name], ctx: Context, out: Outbox) -> None:
        """`_drop_departed` for every copy we are responsible for whose record names one of
        `holders`: one read of the table."""
        for copy in [c for c, r in self.records.items()
                     if not holders.isdisjoint(CopyRecord.from_record(r).holders)]:
            if ctx.is_responsible(copy):
                self._drop_departed(copy, ctx, out)

    def _holder_left(self, copy: Name, holder: Name, ctx: Context, out: Outbox) -> None:
        """A holder left the network: every member sees that for itself, so each applies the
        removal directly (no vote) and replaces the holder by the usual rule (see `replicate`
        for the replacement put's id); later it compares the copy's holders with its peers'
        (`DepartureChecks`), since a member may have seen the departure differently."""
        self.remove_holder(copy, holder, LEFT, new_id("left", copy), ctx, out)
        self.departure_checks.departure_applied(copy, ctx)

    def current_holders(self, copy: Name) -> tuple[Name, ...] | None:
        """Our record's holders of `copy`, or None without a record (`DepartureChecks`)."""
        record = self.record(copy)
        return record.holders if record is not None else None

    def adopt_holders(self, copy: Name, holders: tuple[Name, ...], ctx: Context,
                      out: Outbox) -> None:
        """Most of the group holds other holders of `copy` than we do (a departure we missed,
        or applied while our peers did not): take theirs, as if we had applied the same
        change. A holder new to us is sent the copy with the id every member's replacement
        put has, so that put still reaches a quorum; a holder we drop is one most of the group
        replaced (or never had). Departures we noted for the new holders are forgotten: the
        group keeps them, and our sweep must not remove them again (departures of holders we
        already had stay noted: the group may not have applied them yet)."""
        record = self.record(copy)
        if record is None:
            return
        added = [h for h in holders if h not in record.holders]
        record = replace(record, holders=holders)
        self._store(copy, record)
        for holder in added:
            self._departed.pop(holder, None)
            self._departures_due.pop(holder, None)
            out.note(EventKind.REPLICATED, copy, bytes(16), holder=holder,
                     kind=record.kind.value)
            self.checks.holder_chosen(copy, holder, ctx)
            self._send_to_holder(copy, record, holder, new_id("replace", copy), ctx, out,
                                 bytes(16))

    def remove_holder(self, copy: Name, holder: Name, reason: str, op_id: bytes, ctx: Context,
                      out: Outbox) -> None:
        """Drop `holder` from `copy`'s record for `reason` without a vote (every member saw it
        leave, or a quorum already failed it), correct its account and replace it."""
        record = self.record(copy)
        if record is not None and holder in record.holders:
            reported = 0 if reason == FAILED_CHECK else record.size  # 0: penalise
            self.commit_remove_pmid(copy, RemoveHolder(holder, reported, reason, op_id),
                                    ctx, out, bytes(16))

    def choose_holders(self, copy: Name, count: int, exclude: set[Name],
                       ctx: Context) -> list[Name]:
        """The closest live, eligible vaults to the copy's name, skipping `exclude`."""
        candidates = ctx.closest_live(copy, count + len(exclude) + 16, exclude)
        return [c for c in candidates if self.is_eligible(c)][:count]

    def choose_replacements(self, copy: Name, record: CopyRecord, count: int,
                            ctx: Context) -> list[Name]:
        """The closest live vaults to the copy's name that are not its holders and have not
        failed it. Unlike `choose_holders`, no eligibility: that is what this member learned
        from removals on *other* copies, which members commit in their own order, so a member
        that had not yet seen a rank refusal chose another replacement than its peers, the
        replacement puts never reached a quorum and the Primary's put was never answered.
        Every member chooses the same from the record they agreed on; an ineligible vault
        chosen refuses, and is in the record's `failed` from then on. Only among the
        MAX_FAILED nearest vaults, so that refusals end (see MAX_FAILED)."""
        exclude = set(record.holders) | set(record.failed)
        return [v for v in ctx.closest_live(copy, MAX_FAILED, set()) if v not in exclude][:count]

    # -- put ------------------------------------------------------------------------------

    @handles(Action.PUT)
    def on_put(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A MaidManager group's put of one copy: propose it; a new copy's holders, chosen by
        our own view, are a contested vote (see `GroupPersona.propose_contested`)."""
        copy = msg.dst.name
        put = msg.typed(CopyPutBody)
        size = put.size
        if name_of(payload) != put.name or len(payload) != size:
            return
        self.stash.put(copy, payload)
        record = self.record(copy)
        if record is not None and chunk_name_of(copy, record.kind) == put.name:
            fetch = self.fetches.supplied(copy)
            if fetch is not None:
                # We committed this put on our peers' votes before our own copy of it, and
                # with it the content, arrived: as lead we sent the holders' puts without
                # content and asked holders that cannot have it yet. They get it now, not
                # after their PmidManagers' PAYLOAD_WAIT (5 s).
                self._answer_fetch(copy, record, fetch, payload, ctx, out, msg.trace_id)
        action = DataPut(put.kind, size, msg.msg_id, put.id, put.client, put.reply,
                         msg.src.name)
        if record is not None:
            if self.applied.holds(copy, [ballot_identity(msg.msg_id)], ctx.network_time()):
                return  # this very put created the copy here: our copy of it came late
            self.propose(copy, action, ctx, out, msg.trace_id)  # one more subscriber
            return
        action = replace(action, holders=self.choose_holders(copy, self.holders_per_copy,
                                                             set(), ctx), round=0)
        self.propose_contested(copy, action, ctx, out, msg.trace_id)

    def plausible(self, key: Name, action: ContestedAction, ctx: Context) -> bool:
        """A peer's holders for a new copy we may vote for: as many distinct vaults as we would
        choose ourselves (or more), each live by our view and among the PLAUSIBLE_SLACK vaults
        beyond `holders_per_copy` nearest the copy. Members whose views differ agree on one
        such choice (the longest first, `order_choices`); a member choosing far-off or unknown
        vaults does not get our vote.

        A holder we know is ineligible does not make a choice implausible: which vaults a
        member knows were refused for rank depends on the removals (of other copies) it has
        committed so far, so members judging by it split on choices none of them would give
        up, and the put was never answered. Such a holder refuses the copy (its PmidManagers
        enforce the floor) and is replaced."""
        holders = action.holders if isinstance(action, DataPut) else None
        if (holders is None or len(set(holders)) != len(holders)
                or len(holders) > self.holders_per_copy):
            return False
        near = ctx.closest_live(key, self.holders_per_copy + PLAUSIBLE_SLACK, set())
        ours = self.choose_holders(key, self.holders_per_copy, set(), ctx)
        return len(holders) >= len(ours) and all(h in near for h in holders)

    def order_choices(self, candidates: Sequence[bytes]) -> list[bytes]:
        """Re-vote for the choice with the most holders first: it is the one every member's
        `plausible` accepts (no member's own choice is longer), where a shorter one, chosen by
        members that know more vaults ineligible, is refused by the others."""
        def holders(choice: bytes) -> int:
            action = self._contested(choice)
            return len(action.holders or ()) if isinstance(action, DataPut) else 0
        return sorted(candidates, key=lambda choice: -holders(choice))

    @commits(DataPut)
    def commit_put(self, copy: Name, action: DataPut, ctx: Context, out: Outbox,
                   trace: bytes) -> None:
        """Agreed put: count a subscriber, or record the new copy and send it to its holders.
        The MaidManagers are told the put arrived (they send it again until then,
        `vaultnet.personas.copy_puts`); for a new Primary only once a holder stored it, since
        that answer is the client's."""
        record = self.record(copy)
        if record is not None:
            self._store(copy, replace(record, subscribers=record.subscribers + 1))
            self._put_response(copy, action, True, "", ctx, out, trace)
            return
        holders = tuple(action.holders or ())
        record = CopyRecord(action.kind, action.size, 1, holders, ())
        self._store(copy, record)
        if action.kind is not CopyKind.PRIMARY:
            self._put_response(copy, action, True, "", ctx, out, trace)
        elif not holders:
            self._put_response(copy, action, False, "no vault can hold the copy", ctx, out,
                               trace)
        else:
            self._awaiting_primary[copy] = action
            while len(self._awaiting_primary) > PENDING_LIMIT:
                self._awaiting_primary.popitem(last=False)
        for holder in holders:
            out.note(EventKind.HOLDER_ADDED, copy, trace, holder=holder, kind=action.kind.value)
            self.checks.holder_chosen(copy, holder, ctx)
            self._send_to_holder(copy, record, holder, action.id, ctx, out, trace)

    def _send_to_holder(self, copy: Name, record: CopyRecord, holder: Name, op_id: bytes,
                        ctx: Context, out: Outbox, trace: bytes) -> None:
        lead = self.is_lead(copy, ctx)
        payload = self.stash.get(copy) if lead else None
        put_id = new_id("dm-put", op_id, holder)
        out.send(self._holder_put(copy, record, holder, put_id, trace, payload or b""))
        if lead and payload is None:
            self.fetches.start(copy, record, ctx, out, trace=trace,
                               waiter=HolderWaiter(holder, put_id))

    def _holder_put(self, copy: Name, record: CopyRecord, holder: Name, put_id: bytes,
                    trace: bytes, payload: bytes) -> Message:
        return self.group_message(copy, holder, Action.PUT,
                                  HolderPutBody(copy, record.kind, record.size),
                                  trace, put_id, dst_persona=Persona.PMID_MANAGER,
                                  payload=payload)

    def content_missing(self, resend: Message, ctx: Context, out: Outbox) -> None:
        """A holder's PmidManagers want the content of a put we no longer have: fetch it."""
        copy = resend.src.name
        record = self.record(copy)
        if record is not None and resend.dst.name in record.holders:
            self.fetches.start(copy, record, ctx, out, trace=resend.trace_id,
                               waiter=HolderWaiter(resend.dst.name, resend.msg_id))

    def _put_response(self, copy: Name, action: DataPut, ok: bool, reason: str,
                      ctx: Context, out: Outbox, trace: bytes) -> None:
        name = chunk_name_of(copy, action.kind)
        out.send(self.group_message(
            copy, action.mm, Action.PUT_RESPONSE,
            PutResponseBody(name, action.client, action.reply, ok, reason, action.origin,
                            action.size),
            trace, new_id("put_response", action.id, b"ok" if ok else b"no"),
            dst_persona=Persona.MAID_MANAGER))

    @handles(Action.STORED)
    def on_stored(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A holder confirms it stored the copy: the Primary's put can be answered."""
        copy = msg.typed(CopyBody).copy
        record = self.record(copy)
        if record is None or msg.sender not in record.holders:
            self.checks.stored_before_chosen(copy, msg.sender)
            return
        self.checks.holder_confirmed(copy, msg.sender)
        if not self.is_lead(copy, ctx):  # a holder has it; the lead keeps it for checks, Gets
            self.stash.discard(copy)
        action = self._awaiting_primary.pop(copy, None)
        if action is not None:
            self._put_response(copy, action, True, "", ctx, out, msg.trace_id)

    # -- failures and replication ------------------------------------------------------------

    @handles(Action.PUT_FAILURE)
    def on_put_failure(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A holder's PmidManagers report a failed copy: propose removing the holder."""
        copy = msg.dst.name
        failure = msg.typed(HolderFailureBody)
        self.propose(copy, RemoveHolder(failure.holder, failure.size, failure.reason,
                                        msg.msg_id),
                     ctx, out, msg.trace_id)

    @commits(RemoveHolder)
    def commit_remove_pmid(self, copy: Name, action: RemoveHolder, ctx: Context, out: Outbox,
                           trace: bytes) -> None:
        """Agreed removal of a holder: drop it, correct its account, replace it."""
        record = self.record(copy)
        holder = action.holder
        if record is None:
            # Agreed before the record's transfer reached us: apply it when the record comes.
            self._early_removals.setdefault(copy, []).append(action)
            while len(self._early_removals) > PENDING_LIMIT:
                self._early_removals.popitem(last=False)
            return
        if holder not in record.holders:
            return
        holders = list(record.holders)
        holders.remove(holder)
        record = replace(record, holders=tuple(holders))
        if action.reason == BELOW_FLOOR:
            self._ineligible[holder] = None
            while len(self._ineligible) > DEPARTED_KEPT:
                self._ineligible.popitem(last=False)
        if action.reason != LEFT:
            # A vault that left is not live, so it is not chosen again anyway; keeping it out
            # of `failed` keeps members' records equal whatever order they saw departures in.
            record = replace(record, failed=(*record.failed, holder)[-MAX_FAILED:])
        out.note(EventKind.HOLDER_REMOVED, copy, trace, holder=holder, reason=action.reason,
                 kind=record.kind.value)
        if action.reported != record.size:
            out.send(self.group_message(
                copy, holder, Action.CORRECTION,
                CorrectionBody(copy, record.size, action.reported,
                               LIED if action.reason != FAILED_CHECK else FAILED_CHECK),
                trace, new_id("correction", action.id), dst_persona=Persona.PMID_MANAGER))
        self.replicate(copy, record, ctx, out, trace)

    def replicate(self, copy: Name, record: CopyRecord, ctx: Context, out: Outbox,
                  trace: bytes) -> None:
        """Restore the holder count; every member computes the same replacement.

        The replacement put's id derives from (copy, new holder) only, never from the removal
        that led to it: members commit removals in their own order (two holders refusing at
        once reach each member in a different order), so a member may pick a given holder
        after removing a different one than its peers did, and the put must still accumulate
        at the holder's PmidManagers."""
        missing = self.holders_per_copy - len(record.holders)
        added = self.choose_replacements(copy, record, missing, ctx) if missing > 0 else []
        record = replace(record, holders=(*record.holders, *added))
        if record.holders:
            self._store(copy, record)
        for holder in added:
            out.note(EventKind.REPLICATED, copy, trace, holder=holder, kind=record.kind.value)
            self.checks.holder_chosen(copy, holder, ctx)
            self._send_to_holder(copy, record, holder, new_id("replace", copy), ctx, out, trace)
        if not record.holders:
            # Nobody can hold it any more: forget the copy rather than keep a record that
            # would make a later put of the same chunk look like a duplicate.
            self.records.delete(copy)
            action = self._awaiting_primary.pop(copy, None)
            if action is not None:
                self._put_response(copy, action, False, "no vault could store the primary",
                                   ctx, out, trace)

    # -- get ------------------------------------------------------------------------------

    @handles(Action.EXISTS)
    def on_exists(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """Put<Unique>: tell the client's MaidManagers whether this copy's record exists."""
        if msg.src.persona is not Persona.MAID_MANAGER:
            raise FrameError("only MaidManagers ask whether data exists")
        request = msg.typed(ExistsBody).id
        out.send(self.group_message(msg.dst.name, msg.src.name, Action.EXISTS_ANSWER,
                                    ExistsAnswerBody(request, msg.dst.name in self.records),
                                    msg.trace_id, new_id("exists_answer", request),
                                    dst_persona=Persona.MAID_MANAGER))

    @handles(Action.GET)
    def on_get(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A client's get: the lead answers from its stash or fetches from a holder."""
        copy = msg.dst.name
        if not self.is_lead(copy, ctx):
            return
        record = self.record(copy)
        if record is None:
            out.send(get_response(copy, msg.src, msg.msg_id, msg.trace_id, b"", "no such data"))
            return
        cached = self.stash.get(copy)
        if cached is not None:
            out.send(get_response(copy, msg.src, msg.msg_id, msg.trace_id, cached, ""))
            return
        self.fetches.start(copy, record, ctx, out, trace=msg.trace_id,
                           waiter=ClientWaiter(msg.src, msg.msg_id, msg.trace_id))

    @handles(Action.FETCH_RESPONSE)
    def on_fetch_response(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A holder sent the content we fetched: check it and answer whoever waits for it."""
        self._fetched(msg.typed(CopyBody).copy, msg.sender, payload, ctx, out, msg.trace_id)

    @handles(Action.SIBLING_FETCH)
    def on_sibling_fetch(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """The lead of a sibling copy's group lost all its holders and asks us for the content;
        our lead fetches it (or has it) and sends it on."""
        copy, for_copy = msg.dst.name, msg.typed(SiblingFetchBody).copy
        record = self.record(copy)
        if record is None or not self.is_lead(copy, ctx):
            return
        chunk = chunk_name_of(copy, record.kind)
        if for_copy not in {copy_name(chunk, k) for k in CopyKind}:
            raise FrameError("a sibling fetch must be for a copy of the same chunk")
        cached = self.stash.get(copy)
        if cached is not None:
            out.send(self._sibling_content(copy, msg.sender, for_copy, cached, msg.trace_id,
                                           ctx))
        else:
            self.fetches.start(copy, record, ctx, out, trace=msg.trace_id,
                               waiter=SiblingWaiter(msg.sender, for_copy))

    def _sibling_content(self, ours: Name, to: Name, theirs: Name, data: bytes, trace: bytes,
                         ctx: Context) -> Message:
        return Message(src=Authority(ctx.own, self.persona), dst=Authority(to, self.persona),
                       action=Action.SIBLING_CONTENT,
                       msg_id=new_id("sibling_content", theirs, to, str(ctx.now())),
                       trace_id=trace, body=SiblingContentBody(theirs, ours).encode(), sender=b"",
                       payload=data)

    @handles(Action.SIBLING_CONTENT)
    def on_sibling_content(self, msg: Message, payload: bytes, ctx: Context,
                           out: Outbox) -> None:
        """A sibling copy's lead sent the content we asked for: check it, use it."""
        content = msg.typed(SiblingContentBody)
        sibling = content.source
        if not ctx.could_be_member(msg.sender, sibling):
            raise FrameError("sibling content from outside the sibling's group")
        self._fetched(content.copy, sibling, payload, ctx, out, msg.trace_id)

    def _fetched(self, copy: Name, source: Name, payload: bytes, ctx: Context, out: Outbox,
                 trace: bytes) -> None:
        """Content for `copy` arrived from `source` (a holder, or a sibling copy's group):
        check it against the chunk's name, then answer everyone waiting for it."""
        record = self.record(copy)
        if record is None:
            return
        fetch = self.fetches.arrived(copy, source, payload, chunk_name_of(copy, record.kind),
                                     ctx, out, trace)
        if fetch is not None:
            self._answer_fetch(copy, record, fetch, payload, ctx, out, trace)

    def _answer_fetch(self, copy: Name, record: CopyRecord, fetch: PendingFetch,
                      payload: bytes, ctx: Context, out: Outbox, trace: bytes) -> None:
        """Hand `copy`'s verified content to everyone a finished fetch held for it."""
        if fetch.clients or fetch.replicate_to or fetch.forward_to:
            # Kept a while, to answer the next get or replacement without a fetch; content
            # fetched only for an integrity check (the periodic walk) is not worth the memory.
            self.stash.put(copy, payload)
        self.checks.content_verified(copy, payload, ctx, out)
        for to, request_id, client_trace in fetch.clients:
            out.send(get_response(copy, to, request_id, client_trace, payload, ""))
        for holder, put_id in fetch.replicate_to:
            out.send(self._holder_put(copy, record, holder, put_id, trace, payload))
        for vault, their_copy in fetch.forward_to:
            out.send(self._sibling_content(copy, vault, their_copy, payload, trace, ctx))

    def tick(self, ctx: Context) -> Outbox:
        """Move on from holders that did not answer a fetch in time; replace holders gone
        LEFT_AFTER seconds (`_apply_due_departures`, and every SWEEP_INTERVAL a sweep of every
        record, for departures we missed: see `_drop_departed`); challenge
        holders that never confirmed their copy (see `IntegrityChecks.check_unstored`) and, a
        few at a time, every copy we lead (`IntegrityChecks.queue_periodic`); compare with
        our peers the holders of copies whose departures we applied (`DepartureChecks`)."""
        out = Outbox()
        now = ctx.now()
        self._apply_due_departures(ctx, out)
        self.departure_checks.tick(ctx, out)
        if now - self._last_sweep >= SWEEP_INTERVAL:
            self._last_sweep = now
            self._sweep(ctx, out)
        self.checks.check_unstored(ctx)
        self.checks.queue_periodic(ctx)
        self.checks.run_checks(ctx, out)
        self.fetches.timeouts(ctx, out)
        return out

    # -- integrity checks: the `IntegrityChecks` component (personas/integrity.py) -----------

    @handles(Action.CHALLENGE_RESPONSE)
    def on_challenge_response(self, msg: Message, payload: bytes, ctx: Context,
                              out: Outbox) -> None:
        """A holder's answer to our challenge (`IntegrityChecks.on_challenge_response`)."""
        self.checks.on_challenge_response(msg, ctx, out)

    @handles(Action.INTEGRITY_FAILURE)
    def on_integrity_failure(self, msg: Message, payload: bytes, ctx: Context,
                             out: Outbox) -> None:
        """A holder's auditor found it failing: check it ourselves (`IntegrityChecks`)."""
        self.checks.on_integrity_failure(msg, ctx, out)

    @commits(IntegrityFailed)
    def commit_integrity_failed(self, copy: Name, action: IntegrityFailed, ctx: Context,
                                out: Outbox, trace: bytes) -> None:
        """A quorum failed the holder: remove it (`IntegrityChecks.commit_failed`)."""
        self.checks.commit_failed(copy, action, ctx, out, trace)

    # -- rejoin -------------------------------------------------------------------------

    @handles(Action.HOLDING)
    def on_holding(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A (re)joined PmidNode holds `copy`: every member tells it what its record says,
        if the record is confirmed (not one we kept across a restart and have not reconciled
        yet): KEEP when it names the node; REPLACED when it names a full set of other holders
        that each confirmed storing the copy, or the node was removed for failing the copy (a
        failed check, a refused or evicted store); NO_SUCH_COPY without a record, none being
        collected by transfer either (deleted); NO_RECORD otherwise (a short record, or a
        replacement still on its way: the node's copy may be the one left). The node drops its
        copy on a quorum of REPLACED, or of NO_SUCH_COPY in a late round."""
        copy = msg.typed(CopyBody).copy
        if not ctx.is_responsible(copy):
            return
        record = self.record(copy)
        if record is None and not self.transfers.collecting(self.records, copy):
            verdict = NO_SUCH_COPY
        elif record is None or not self.is_confirmed(self.records, copy):
            verdict = NO_RECORD
        elif msg.sender in record.holders:
            verdict = KEEP
        elif msg.sender in record.failed or (
                len(record.holders) >= self.holders_per_copy
                and all(self.checks.is_stored(copy, h) for h in record.holders)):
            verdict = REPLACED
        else:
            verdict = NO_RECORD
        out.send(Message(src=Authority(ctx.own, self.persona),
                         dst=Authority(msg.sender, Persona.PMID_NODE), action=Action.RECONCILE,
                         msg_id=new_id("reconcile", msg.msg_id), trace_id=msg.trace_id,
                         body=ReconcileBody(copy, verdict).encode(), sender=b""))

    @handles(Action.RECORD_CHECK)
    def on_record_check(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A member compares a copy's holders with ours after a departure (`DepartureChecks`)."""
        self.departure_checks.on_check(msg, ctx, out)

    # -- delete ---------------------------------------------------------------------------

    @handles(Action.DELETE)
    def on_delete(self, msg: Message, payload: bytes, ctx: Context, out: Outbox) -> None:
        """A MaidManager group's delete of one copy: propose one subscriber less."""
        self.propose(msg.dst.name, Unsubscribe(msg.msg_id), ctx, out, msg.trace_id)

    @commits(Unsubscribe)
    def commit_unsubscribe(self, copy: Name, action: Unsubscribe, ctx: Context, out: Outbox,
                           trace: bytes) -> None:
        """Agreed: one subscriber less; the last one gone deletes the copy from its holders."""
        record = self.record(copy)
        if record is None:
            return
        record = replace(record, subscribers=record.subscribers - 1)
        if record.subscribers > 0:
            self._store(copy, record)
            return
        self.records.delete(copy)
        out.note(EventKind.CHUNK_DELETED, copy, trace, kind=record.kind.value,
                 persona=self.persona.value)
        for holder in record.holders:
            out.send(self.group_message(copy, holder, Action.DELETE,
                                        CopyDeleteBody(copy, record.size), trace,
                                        new_id("dm-del", action.id, holder),
                                        dst_persona=Persona.PMID_MANAGER))

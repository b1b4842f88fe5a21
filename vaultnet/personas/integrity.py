"""Integrity checks (docs/origins.md): after churn, a copy's DataManager lead challenges each holder
with a nonce; the holder must answer SHA-512(content ‖ nonce). A wrong or missing answer
counts as lost data: the holder is removed, the copy re-replicated, and the node penalised
(its PmidManagers count the copy's bytes as lost, which lowers its rank).

Decisions:
- Only the lead challenges (one set of challenges per copy, not four). It needs the content
  to know the right answer: from its stash, or fetched from a holder and checked against the
  copy's name first (so a liar cannot pass by also serving wrong content).
- A failed check is a *suspicion*, not a verdict (the original design draws the check with "Sr": the
  group syncs the result). The lead votes for the holder's removal and asks the other
  members to check the holder themselves with the same nonce (`integrity_failure`); each
  member fetches the content it needs, verifies it against the copy's name, challenges the
  holder and votes the same only if its own check fails. The holder is removed and penalised
  when a sync quorum (3 of 4) voted: a lying lead alone cannot evict an honest holder.
- The lead does not challenge itself when it is also a holder (it cannot audit its own disk
  honestly): the next member of the group (its *deputy*) audits the lead's copy, on the same
  schedule. Before, such a copy went unaudited while that vault led its group, so a lead that
  lost its copy left it with one holder for good (found by a `vaultnet sim` seed sweep).
  Asked by its deputy to check its own copy, a lead does not take that up: it cannot audit
  itself, and that empty check held up its own check of the other holders.
- A holder chosen less than NEW_HOLDER_GRACE ago that has not yet said "stored" is not
  challenged (a put's first holders too, not only replacements: the periodic walk must not
  catch a store in flight), and one answering "not held" is asked once more after
  CHECK_TIMEOUT: its copy may still be on the way.
- A holder that has not said "stored" UNSTORED_WAIT after it was chosen is challenged anyway
  (its store can be lost: a holder's PmidManagers whose lead changed before the content reached
  it cannot pass it on). Until it confirms, our verdict on the copy for a rejoining PmidNode is
  never "replaced": its copy may be the one that exists.
- Copies are queued when churn touches our close set and checked a few per sweep, so a burst
  of churn cannot turn into a burst of challenges.
- On a quiet network too: every PERIODIC_INTERVAL a lead queues the next PERIODIC_BATCH copies
  it leads, walking its records in name order and wrapping around, so a holder that lies or
  loses data is caught without any churn (see PERIODIC_BATCH for the bound).
- Nonces are random (`Context.nonce`: the OS's generator; the vault's seeded one on the
  simulator, so a seed reproduces its run), so a holder cannot precompute answers.

`IntegrityChecks` is the component a DataManager holds for this; what it needs from the
DataManager is the `CheckedCopies` protocol, and it fetches content through the DataManager's
`ContentFetch`. Each check (`_Check`) is in a `CheckState`: FETCHING_CONTENT (the auditor
waits for the verified content to know the right answer), CHALLENGED (the holders were sent
the nonce), CHALLENGED_AGAIN (a holder that had not answered or said "not held" was asked once
more after CHECK_TIMEOUT); a check leaves the table once every holder answered or its time ran
out.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.actions import IntegrityFailed, SyncAction
from vaultnet.personas.bodies import (
    FAILED_CHECK,
    ChallengeBody,
    ChallengeResponseBody,
    IntegrityFailureBody,
)
from vaultnet.personas.content_fetch import CheckWaiter, ContentFetch
from vaultnet.personas.context import Context
from vaultnet.personas.effects import Outbox
from vaultnet.personas.records import CopyRecord
from vaultnet.personas.stash import PayloadStash
from vaultnet.protocol import Action, EventKind, Op
from vaultnet.storage.records import Records
from vaultnet.xor import Name, name_of

CHECKS_PER_SWEEP = 8
CHECK_TIMEOUT = 5.0
CHECKS_QUEUED = 10_000
NEW_HOLDER_GRACE = 60.0
"""A holder chosen less than this long ago and not yet confirmed is not challenged: its content
(for a replacement, fetched from a surviving holder first) may still be on the way."""
UNSTORED_WAIT = 20.0
"""A holder that has not confirmed its copy this long after being chosen is challenged (and
again every UNSTORED_WAIT until it confirms or is replaced): its store may have been lost on
the way, e.g. when its PmidManagers' lead changed before the content reached the new lead."""
PERIODIC_INTERVAL = 10.0
PERIODIC_BATCH = 4
"""Copies a lead queues for a check every PERIODIC_INTERVAL without churn: every copy it leads
is checked at least once every ceil(led / PERIODIC_BATCH) x PERIODIC_INTERVAL seconds (a vault
leading 100 copies: every 250 s), at a cost of at most 0.4 content fetches a second."""
PERIODIC_SCAN = 256
"""Records looked at per periodic step at most (those the vault does not lead are skipped):
the walk costs a bounded read however large the table."""
INTEGRITY_FAILED = EventKind.INTEGRITY_FAILED


def expected_answer(content: bytes, nonce: bytes) -> bytes:
    """The answer to an integrity check: hashing content with the nonce proves it is held."""
    return name_of(content + nonce)


class CheckState(Enum):
    """Where one copy's check stands (see the module docstring)."""

    FETCHING_CONTENT = "fetching content"
    CHALLENGED = "challenged"
    CHALLENGED_AGAIN = "challenged again"


@dataclass
class _Check:
    nonce: bytes
    started: float
    state: CheckState = CheckState.FETCHING_CONTENT
    expected: bytes | None = None
    """The right answer, once the auditor has the verified content (None before)."""
    waiting: set[Name] = field(default_factory=set)
    """The holders challenged that have not answered yet."""
    only: Name | None = None
    """The one holder this check is about (None: every holder but us, as lead)."""
    asked: bool = False
    """Whether another member's failed check asked us for ours (we then only vote)."""


class CheckedCopies(Protocol):
    """What integrity checks need from the DataManager they audit for."""

    records: Records
    stash: PayloadStash

    def record(self, copy: Name) -> CopyRecord | None:
        """The DataManager's record of `copy`, if it holds one."""
        ...

    def propose(self, key: Name, action: SyncAction, ctx: Context, out: Outbox,
                trace: bytes) -> None:
        """Put `action` on record `key` to the group's vote (sync)."""
        ...

    def remove_holder(self, copy: Name, holder: Name, reason: str, op_id: bytes,
                      ctx: Context, out: Outbox) -> None:
        """Drop `holder` from `copy`'s record for `reason`, correct its account, replace it."""
        ...


class IntegrityChecks:
    """A DataManager's integrity checks: the copies queued for a check, the checks under way,
    and what it knows of holders' stores (chosen, confirmed, confirmed early), each table
    bounded by CHECKS_QUEUED."""

    def __init__(self, copies: CheckedCopies, fetches: ContentFetch) -> None:
        self._copies = copies
        self._fetches = fetches
        self._check_queue: OrderedDict[Name, None] = OrderedDict()
        self._checks: OrderedDict[Name, _Check] = OrderedDict()
        self._new_holders: OrderedDict[tuple[Name, Name], float] = OrderedDict()
        self._unstored: OrderedDict[tuple[Name, Name], float] = OrderedDict()
        """(copy, holder) chosen by us whose "stored" has not come: since when (or since the
        lead last checked it), oldest first."""
        self._last_periodic: float | None = None
        self._periodic_cursor = b""
        """The last record name the periodic walk queued or skipped."""
        self._stored_early: OrderedDict[tuple[Name, Name], None] = OrderedDict()
        """(copy, holder) whose "stored" came before we chose the holder ourselves (the other
        members' agreement, and so the store, can run ahead of our own commit)."""

    def state(self, copy: Name) -> CheckState | None:
        """Where our check of `copy` stands (None: no check under way)."""
        check = self._checks.get(copy)
        return check.state if check is not None else None

    def holder_chosen(self, copy: Name, holder: Name, ctx: Context) -> None:
        """`holder` is to store `copy`: unconfirmed until it says "stored", and meanwhile left
        unchallenged (for at most NEW_HOLDER_GRACE, or UNSTORED_WAIT: see `check_unstored`)
        while its content travels."""
        if (copy, holder) in self._stored_early:
            del self._stored_early[(copy, holder)]
            return
        for table in (self._new_holders, self._unstored):
            table[(copy, holder)] = ctx.now()
            table.move_to_end((copy, holder))
            while len(table) > CHECKS_QUEUED:
                table.popitem(last=False)

    def holder_confirmed(self, copy: Name, holder: Name) -> None:
        """`holder` said it stored `copy`, or answered a challenge for it correctly."""
        self._unstored.pop((copy, holder), None)
        self._new_holders.pop((copy, holder), None)

    def stored_before_chosen(self, copy: Name, holder: Name) -> None:
        """`holder` says it stored `copy` but our record does not name it (yet)."""
        self._stored_early[(copy, holder)] = None
        while len(self._stored_early) > CHECKS_QUEUED:
            self._stored_early.popitem(last=False)

    def is_stored(self, copy: Name, holder: Name) -> bool:
        """Whether, as far as we know, `holder` has `copy` (chosen and never confirmed: no)."""
        return (copy, holder) not in self._unstored

    def check_unstored(self, ctx: Context) -> None:
        """Holders that did not confirm a copy within UNSTORED_WAIT: the lead challenges them
        (a holder without the copy fails and is replaced) and does so again every
        UNSTORED_WAIT until each confirms or is gone from the record."""
        while self._unstored:
            (copy, holder), since = next(iter(self._unstored.items()))
            if ctx.now() - since <= UNSTORED_WAIT:
                return
            record = self._copies.record(copy)
            if record is None or holder not in record.holders:
                del self._unstored[(copy, holder)]
                continue
            self._unstored[(copy, holder)] = ctx.now()
            self._unstored.move_to_end((copy, holder))
            if self._audits(copy, ctx)[0]:
                self._new_holders.pop((copy, holder), None)  # no more grace: ask it now
                self._check_queue[copy] = None
                while len(self._check_queue) > CHECKS_QUEUED:
                    self._check_queue.popitem(last=False)

    def queue_periodic(self, ctx: Context) -> None:
        """Every PERIODIC_INTERVAL: queue the next PERIODIC_BATCH copies we lead for a check,
        continuing in name order from the last one queued."""
        if self._last_periodic is None:  # the first walk starts PERIODIC_INTERVAL from now
            self._last_periodic = ctx.now()
        if ctx.now() - self._last_periodic < PERIODIC_INTERVAL:
            return
        self._last_periodic = ctx.now()
        queued = 0
        keys = self._copies.records.keys_after(self._periodic_cursor, PERIODIC_SCAN)
        for copy in keys:
            self._periodic_cursor = copy
            if self._audits(copy, ctx)[0]:
                self._check_queue[copy] = None
                queued += 1
                if queued == PERIODIC_BATCH:
                    break
        if queued < PERIODIC_BATCH and len(keys) < PERIODIC_SCAN:
            self._periodic_cursor = b""  # the end: start again from the first record
        while len(self._check_queue) > CHECKS_QUEUED:
            self._check_queue.popitem(last=False)

    def _settled_holder(self, copy: Name, holder: Name, ctx: Context) -> bool:
        added = self._new_holders.get((copy, holder))
        return added is None or ctx.now() - added > NEW_HOLDER_GRACE

    def queue_checks(self, ctx: Context) -> None:
        """Churn touched our close set: check the copies we audit."""
        for copy in self._copies.records.keys():  # noqa: SIM118
            if self._audits(copy, ctx)[0]:
                self._check_queue[copy] = None
                while len(self._check_queue) > CHECKS_QUEUED:
                    self._check_queue.popitem(last=False)
        while len(self._check_queue) > CHECKS_QUEUED:
            self._check_queue.popitem(last=False)

    def run_checks(self, ctx: Context, out: Outbox) -> None:
        """Start up to CHECKS_PER_SWEEP queued checks; fail holders that did not answer."""
        for _ in range(min(CHECKS_PER_SWEEP, len(self._check_queue))):
            copy, _ = self._check_queue.popitem(last=False)
            self._start_check(copy, ctx, out)
        for copy, check in list(self._checks.items()):
            if (check.state is CheckState.FETCHING_CONTENT
                    and self._fetches.get(copy) is not None):
                # The fetch times out holder by holder (FETCH_TIMEOUT each) before it asks the
                # sibling copies' groups: given up after CHECK_TIMEOUT, a check whose holders
                # did not answer found no one waiting when a sibling's content came.
                continue
            if ctx.now() - check.started <= CHECK_TIMEOUT:
                continue
            if check.state is CheckState.CHALLENGED and check.waiting:
                # A holder chosen moments ago may still be receiving the copy: ask once more.
                check.state = CheckState.CHALLENGED_AGAIN
                check.started = ctx.now()
                self._challenge(copy, check, sorted(check.waiting), ctx, out)
                continue
            del self._checks[copy]  # answered late, or the content could not be fetched
            challenged = check.state is not CheckState.FETCHING_CONTENT
            for holder in sorted(check.waiting) if challenged else []:
                if ctx.is_live(holder):
                    self._failed(copy, holder, check, ctx, out)

    def _audits(self, copy: Name, ctx: Context) -> tuple[bool, Name | None]:
        """Whether we audit `copy`'s holders, and which: the lead audits every holder but
        itself (None); when the lead is a holder, its deputy (the next member) audits the
        lead."""
        group = ctx.close_group(copy)
        if group and group[0] == ctx.own:
            return True, None
        if len(group) > 1 and group[1] == ctx.own:
            record = self._copies.record(copy)
            if record is not None and group[0] in record.holders:
                return True, group[0]
        return False, None

    def _is_auditor(self, who: Name, copy: Name, holder: Name, ctx: Context) -> bool:
        """Whether `who` audits `holder`'s copy of `copy`, by our view of the group."""
        group = ctx.close_group(copy)
        return bool(group) and ((group[0] == who and holder != who)
                                or (len(group) > 1 and group[1] == who and holder == group[0]))

    def _start_check(self, copy: Name, ctx: Context, out: Outbox,
                     asked: tuple[bytes, Name] | None = None) -> None:
        """As an auditor, check the holders we audit; `asked` (nonce, holder): another
        member's check failed that holder, so check it with that nonce before voting."""
        record = self._copies.record(copy)
        if record is None or copy in self._checks:
            return
        if asked is None:
            audits, only = self._audits(copy, ctx)
            if not audits:
                return
            check = _Check(ctx.nonce(), ctx.now(), only=only)
        else:
            check = _Check(asked[0], ctx.now(), only=asked[1], asked=True)
        self._checks[copy] = check
        while len(self._checks) > CHECKS_QUEUED:
            self._checks.popitem(last=False)
        content = self._copies.stash.get(copy)
        if content is None:
            self._fetches.start(copy, record, ctx, out, trace=bytes(16),
                                waiter=CheckWaiter(copy))
        else:
            self.content_verified(copy, content, ctx, out)

    def content_verified(self, copy: Name, content: bytes, ctx: Context, out: Outbox) -> None:
        """We hold the copy's verified content: send the challenges if a check waits for it."""
        check = self._checks.get(copy)
        record = self._copies.record(copy)
        if check is None or check.state is not CheckState.FETCHING_CONTENT or record is None:
            return
        check.state = CheckState.CHALLENGED
        check.expected = expected_answer(content, check.nonce)
        check.started = ctx.now()
        check.waiting = {h for h in record.holders if ctx.is_live(h) and h != ctx.own
                         and check.only in (None, h) and self._settled_holder(copy, h, ctx)}
        if not check.waiting:
            # Nobody to challenge now: kept, the check would stand in the way of the next one
            # (`_start_check`) until it timed out, the record's new holders unchecked.
            del self._checks[copy]
            return
        self._challenge(copy, check, sorted(check.waiting), ctx, out)

    @staticmethod
    def _challenge(copy: Name, check: _Check, holders: list[Name], ctx: Context,
                   out: Outbox) -> None:
        again = check.state is CheckState.CHALLENGED_AGAIN
        for holder in holders:
            out.send(Message(src=Authority(ctx.own, Persona.DATA_MANAGER),
                             dst=Authority(holder, Persona.PMID_NODE), action=Action.CHALLENGE,
                             msg_id=new_id("challenge", copy, holder, check.nonce,
                                           str(again)),
                             trace_id=bytes(16), sender=b"",
                             body=ChallengeBody(copy, check.nonce).encode()))

    def on_challenge_response(self, msg: Message, ctx: Context, out: Outbox) -> None:
        """A holder's answer to our challenge: a wrong one (or, asked twice, an empty one)
        fails it; a right one confirms it holds the copy."""
        response = msg.typed(ChallengeResponseBody)
        copy, answer = response.copy, response.answer
        check = self._checks.get(copy)
        if check is None or msg.sender not in check.waiting:
            return
        if not answer and check.state is not CheckState.CHALLENGED_AGAIN:
            return  # "not holding it (yet)": stays waiting, asked again after the timeout
        check.waiting.discard(msg.sender)
        if answer != check.expected:
            self._failed(copy, msg.sender, check, ctx, out)
        else:
            self.holder_confirmed(copy, msg.sender)
        if not check.waiting:
            del self._checks[copy]

    def _failed(self, copy: Name, holder: Name, check: _Check, ctx: Context,
                out: Outbox) -> None:
        """Our own check of `holder` failed: vote for its removal (Sr) and, as its auditor,
        ask the other members to check it with the same nonce before they vote too."""
        nonce = check.nonce
        failure = IntegrityFailureBody(Op.INTEGRITY_FAILED, holder, nonce, copy)
        if not check.asked:
            out.send(Message(src=Authority(ctx.own, Persona.DATA_MANAGER),
                             dst=Authority(copy, Persona.DATA_MANAGER, group=True),
                             action=Action.INTEGRITY_FAILURE,
                             msg_id=new_id("integrity", copy, holder, nonce),
                             trace_id=bytes(16), sender=b"", body=failure.encode()))
        self._copies.propose(copy, IntegrityFailed(holder, nonce), ctx, out, bytes(16))

    def on_integrity_failure(self, msg: Message, ctx: Context, out: Outbox) -> None:
        """The holder's auditor (by our own view) found it failing a check: check that holder
        ourselves with the auditor's nonce; only our own failed check makes us vote."""
        failure = msg.typed(IntegrityFailureBody)
        copy, holder, nonce = failure.copy, failure.holder, failure.nonce
        record = self._copies.record(copy)
        if (msg.sender == ctx.own or holder == ctx.own
                or not self._is_auditor(msg.sender, copy, holder, ctx)
                or record is None or holder not in record.holders):
            return  # the holder cannot audit itself, nor vote on its own removal
        self._start_check(copy, ctx, out, asked=(nonce, holder))

    def commit_failed(self, copy: Name, action: IntegrityFailed, ctx: Context, out: Outbox,
                      trace: bytes) -> None:
        """A sync quorum of members failed the holder in their own checks: remove it,
        re-replicate, penalise."""
        holder, nonce = action.holder, action.nonce
        self._copies.remove_holder(copy, holder, FAILED_CHECK,
                                   new_id("integrity", copy, holder, nonce), ctx, out)
        out.note(INTEGRITY_FAILED, copy, trace, holder=holder)


def answer_challenge(content: bytes | None, nonce: bytes, lying: bool) -> bytes:
    """A PmidNode's answer: empty when it has nothing, a wrong hash when it lies."""
    if lying:
        return name_of(b"not the content" + nonce)
    return expected_answer(content, nonce) if content else b""


def challenge_reply(msg: Message, own: Name, answer: bytes) -> Message:
    """A PmidNode's answer to the challenge `msg`, back to the DataManager that sent it."""
    return Message(src=Authority(own, Persona.PMID_NODE), dst=msg.src,
                   action=Action.CHALLENGE_RESPONSE, msg_id=new_id("answer", msg.msg_id),
                   trace_id=msg.trace_id, sender=b"",
                   body=ChallengeResponseBody(msg.typed(ChallengeBody).copy, answer).encode())


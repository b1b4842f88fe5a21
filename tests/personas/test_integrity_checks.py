"""The integrity checks as a component, sans-IO: a check fetches the content it needs
(FETCHING_CONTENT), challenges the holders (CHALLENGED), asks the silent ones once more
(CHALLENGED_AGAIN), and a wrong or missing answer becomes a vote, never a removal by itself;
everything it needs from the DataManager is the `CheckedCopies` it is given."""

from __future__ import annotations

import dataclasses

from tests.personas.helpers import Ctx
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.actions import IntegrityFailed, SyncAction
from vaultnet.personas.bodies import FAILED_CHECK, IntegrityFailureBody
from vaultnet.personas.content_fetch import FETCH_TIMEOUT, ContentFetch
from vaultnet.personas.context import Context
from vaultnet.personas.effects import Outbox
from vaultnet.personas.integrity import (
    CHECK_TIMEOUT,
    CheckState,
    IntegrityChecks,
    challenge_reply,
    expected_answer,
)
from vaultnet.personas.records import CopyRecord
from vaultnet.personas.stash import PayloadStash
from vaultnet.protocol import Action, Op
from vaultnet.storage.records import MemoryRecords
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import Name, name_of

CONTENT = b"content an auditor checks"
COPY = copy_name(name_of(CONTENT), CopyKind.PRIMARY)
H1, H2 = b"\x11" * 64, b"\x22" * 64


class Copies:
    """The DataManager side of the contract: its records and stash; votes and removals are
    recorded instead of agreed."""

    def __init__(self) -> None:
        self.records = MemoryRecords("data_manager")
        self.stash = PayloadStash()
        self.votes: list[tuple[Name, SyncAction]] = []
        self.removed: list[tuple[Name, Name, str]] = []

    def record(self, copy: Name) -> CopyRecord | None:
        raw = self.records.get(copy)
        return CopyRecord.from_record(raw) if raw is not None else None

    def propose(self, key: Name, action: SyncAction, ctx: Context, out: Outbox,
                trace: bytes) -> None:
        self.votes.append((key, action))

    def remove_holder(self, copy: Name, holder: Name, reason: str, op_id: bytes,
                      ctx: Context, out: Outbox) -> None:
        self.removed.append((copy, holder, reason))


def auditor(clock: list[float], content: bool = True,
            fetches: ContentFetch | None = None) -> tuple[IntegrityChecks, Copies, Ctx]:
    """The lead of COPY's group, with the copy's record (and its content, if `content`),
    fetching through `fetches` (a fresh ContentFetch by default)."""
    copies = Copies()
    copies.records.put(COPY, {"kind": "P", "size": len(CONTENT), "subscribers": 1,
                              "holders": [H1, H2], "failed": []})
    if content:
        copies.stash.put(COPY, CONTENT)
    lead = Ctx(bytes(64), clock).close_group(COPY)[0]
    return IntegrityChecks(copies, fetches or ContentFetch(limit=10)), copies, Ctx(lead, clock)


def run(checks: IntegrityChecks, ctx: Ctx) -> Outbox:
    out = Outbox()
    checks.run_checks(ctx, out)
    return out


def challenges(out: Outbox) -> list[Message]:
    return [m for m in out.messages if m.action == Action.CHALLENGE]


def answer(challenge: Message, holder: Name, content: bytes) -> Message:
    nonce = challenge.body["nonce"]
    reply = challenge_reply(challenge, holder, expected_answer(content, nonce) if content else b"")
    return dataclasses.replace(reply, sender=holder)


def test_a_lead_with_the_content_challenges_every_holder_and_a_right_answer_ends_it() -> None:
    checks, copies, ctx = auditor([0.0])
    checks.queue_checks(ctx)
    sent = challenges(run(checks, ctx))
    assert sorted(m.dst.name for m in sent) == [H1, H2]
    assert checks.state(COPY) is CheckState.CHALLENGED
    for m in sent:
        checks.on_challenge_response(answer(m, m.dst.name, CONTENT), ctx, Outbox())
    assert checks.state(COPY) is None and copies.votes == []


def test_without_the_content_the_check_fetches_it_first() -> None:
    checks, _, ctx = auditor([0.0], content=False)
    checks.queue_checks(ctx)
    out = run(checks, ctx)
    assert checks.state(COPY) is CheckState.FETCHING_CONTENT
    assert [m.action for m in out.messages] == [Action.FETCH] and challenges(out) == []
    verified = Outbox()
    checks.content_verified(COPY, CONTENT, ctx, verified)
    assert checks.state(COPY) is CheckState.CHALLENGED and len(challenges(verified)) == 2


def test_a_wrong_answer_is_a_vote_and_a_request_to_the_others_never_a_removal() -> None:
    checks, copies, ctx = auditor([0.0])
    checks.queue_checks(ctx)
    sent = {m.dst.name: m for m in challenges(run(checks, ctx))}
    out = Outbox()
    checks.on_challenge_response(answer(sent[H1], H1, b"other content"), ctx, out)
    assert copies.votes == [(COPY, IntegrityFailed(H1, sent[H1].body["nonce"]))]
    assert [m.action for m in out.messages] == [Action.INTEGRITY_FAILURE]
    assert copies.removed == [] and checks.state(COPY) is CheckState.CHALLENGED  # H2 waits


def test_a_silent_holder_is_asked_once_more_then_voted_against() -> None:
    clock = [0.0]
    checks, copies, ctx = auditor(clock)
    checks.queue_checks(ctx)
    sent = {m.dst.name: m for m in challenges(run(checks, ctx))}
    checks.on_challenge_response(answer(sent[H1], H1, CONTENT), ctx, Outbox())
    checks.on_challenge_response(answer(sent[H2], H2, b""), ctx, Outbox())  # "not held (yet)"
    assert checks.state(COPY) is CheckState.CHALLENGED and copies.votes == []
    clock[0] += CHECK_TIMEOUT + 1
    again = challenges(run(checks, ctx))
    assert [m.dst.name for m in again] == [H2]
    assert checks.state(COPY) is CheckState.CHALLENGED_AGAIN
    clock[0] += CHECK_TIMEOUT + 1
    run(checks, ctx)
    assert checks.state(COPY) is None and [v[1].holder for v in copies.votes] == [H2]


def test_a_holder_just_chosen_is_left_alone_while_its_copy_travels() -> None:
    checks, _, ctx = auditor([0.0])
    checks.holder_chosen(COPY, H2, ctx)
    checks.queue_checks(ctx)
    assert [m.dst.name for m in challenges(run(checks, ctx))] == [H1]
    assert not checks.is_stored(COPY, H2)
    checks.holder_confirmed(COPY, H2)
    assert checks.is_stored(COPY, H2)


def test_an_agreed_failure_removes_the_holder_through_the_data_manager() -> None:
    checks, copies, ctx = auditor([0.0])
    checks.commit_failed(COPY, IntegrityFailed(H1, b"n" * 16), ctx, Outbox(), bytes(16))
    assert copies.removed == [(COPY, H1, FAILED_CHECK)]


def test_a_check_waits_for_its_content_as_long_as_the_fetch_goes_on() -> None:
    """Holders that do not answer are timed out one by one before a sibling copy's group is
    asked: the check waits for that (it gave up after CHECK_TIMEOUT, and the sibling's content
    then found no check waiting for it)."""
    clock = [0.0]
    fetches = ContentFetch(limit=10)
    checks, _, ctx = auditor(clock, content=False, fetches=fetches)
    checks.queue_checks(ctx)
    run(checks, ctx)
    for _ in range(2):  # both holders silent
        clock[0] += FETCH_TIMEOUT + 1
        fetches.timeouts(ctx, Outbox())
        run(checks, ctx)
    assert clock[0] > CHECK_TIMEOUT and checks.state(COPY) is CheckState.FETCHING_CONTENT
    verified = Outbox()
    checks.content_verified(COPY, CONTENT, ctx, verified)  # from a sibling copy's group
    assert len(challenges(verified)) == 2


def test_a_check_with_nobody_to_challenge_ends_and_leaves_room_for_the_next() -> None:
    checks, _, ctx = auditor([0.0])
    for holder in (H1, H2):
        checks.holder_chosen(COPY, holder, ctx)
    checks.queue_checks(ctx)
    assert challenges(run(checks, ctx)) == [] and checks.state(COPY) is None
    checks.holder_confirmed(COPY, H1)
    checks.queue_checks(ctx)
    assert [m.dst.name for m in challenges(run(checks, ctx))] == [H1]


def test_a_lead_holding_the_copy_is_not_its_own_auditor_and_its_check_goes_ahead() -> None:
    """Its deputy failed the lead's own copy and asked the group to check it: the lead cannot
    audit itself, so it does not take that up (it did, with nobody to challenge, and that
    empty check kept its own check of the other holder waiting a whole walk)."""
    checks, copies, ctx = auditor([0.0])
    lead, deputy = ctx.close_group(COPY)[:2]
    copies.records.put(COPY, {"kind": "P", "size": len(CONTENT), "subscribers": 1,
                              "holders": [lead, H2], "failed": []})
    failure = IntegrityFailureBody(Op.INTEGRITY_FAILED, lead, b"n" * 16, COPY)
    asked = Message(src=Authority(deputy, Persona.DATA_MANAGER),
                    dst=Authority(COPY, Persona.DATA_MANAGER, group=True),
                    action=Action.INTEGRITY_FAILURE, msg_id=b"i" * 32, trace_id=bytes(16),
                    sender=deputy, body=failure.encode())
    checks.on_integrity_failure(asked, ctx, Outbox())
    assert checks.state(COPY) is None
    checks.queue_checks(ctx)
    assert [m.dst.name for m in challenges(run(checks, ctx))] == [H2]

"""Sync: commit once at the quorum (own vote included), keep until unanimous, bounded, churn."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultnet.group import GroupConfigError, Sync, SyncResolved
from vaultnet.group.sync import action_digest

ME, P1, P2, P3, P4 = b"me", b"peer-1", b"peer-2", b"peer-3", b"peer-4"
KEY = b"chunk-name"
PUT = b"put|msg-7|size=100"
RESOLVED = SyncResolved(key=KEY, action=PUT)


def test_commits_at_third_distinct_vote_including_own() -> None:
    sync = Sync(ME)
    assert sync.add_local(KEY, PUT, now=0.0) is None
    assert sync.pending() == 1
    assert sync.add_peer(P1, KEY, PUT, now=1.0) is None
    assert sync.add_peer(P2, KEY, PUT, now=2.0) == RESOLVED
    assert sync.pending() == 0
    assert sync.is_committed(KEY, PUT)
    assert sync.commits == 1


def test_own_vote_can_complete_the_quorum() -> None:
    sync = Sync(ME)
    assert sync.add_peer(P1, KEY, PUT, now=0.0) is None
    assert sync.add_peer(P2, KEY, PUT, now=0.0) is None
    assert sync.add_local(KEY, PUT, now=0.0) == RESOLVED


def test_member_that_missed_the_request_commits_from_three_peers() -> None:
    sync = Sync(ME)
    assert sync.add_peer(P1, KEY, PUT, now=0.0) is None
    assert sync.add_peer(P2, KEY, PUT, now=0.0) is None
    assert sync.add_peer(P3, KEY, PUT, now=0.0) == RESOLVED
    assert sync.to_resend(now=1.0) == []  # it holds no vote of its own to send


def test_no_double_commit_on_fourth_vote_or_repeats() -> None:
    sync = Sync(ME)
    sync.add_local(KEY, PUT, now=0.0)
    sync.add_peer(P1, KEY, PUT, now=0.0)
    assert sync.add_peer(P2, KEY, PUT, now=0.0) == RESOLVED
    assert sync.add_peer(P2, KEY, PUT, now=1.0) is None
    assert sync.add_local(KEY, PUT, now=1.0) is None
    assert sync.add_peer(P3, KEY, PUT, now=2.0) is None  # 4th vote: unanimous, not re-committed
    # Resent votes after unanimity must not start a new round that could commit again.
    for peer in (P1, P2, P3):
        assert sync.add_peer(peer, KEY, PUT, now=3.0) is None
    assert sync.add_local(KEY, PUT, now=3.0) is None
    assert sync.commits == 1
    assert len(sync) == 0


def test_repeated_vote_from_same_sender_is_ignored() -> None:
    sync = Sync(ME)
    sync.add_local(KEY, PUT, now=0.0)
    for _ in range(5):
        assert sync.add_peer(P1, KEY, PUT, now=0.0) is None
        assert sync.add_local(KEY, PUT, now=0.0) is None
    assert sync.votes(KEY, PUT) == {ME, P1}
    assert sync.pending() == 1


def test_peer_message_carrying_own_name_counts_as_own_vote() -> None:
    sync = Sync(ME)
    sync.add_peer(ME, KEY, PUT, now=0.0)  # our broadcast, echoed back to us
    assert sync.add_local(KEY, PUT, now=0.0) is None
    assert sync.votes(KEY, PUT) == {ME}
    assert sync.to_resend(now=1.0) == [(KEY, PUT)]


def test_different_actions_for_the_same_key_are_different_entries() -> None:
    sync = Sync(ME)
    other = b"put|msg-8|size=100"  # same request, different message id
    sync.add_local(KEY, PUT, now=0.0)
    sync.add_peer(P1, KEY, other, now=0.0)
    sync.add_peer(P2, KEY, other, now=0.0)
    assert sync.pending() == 2
    assert sync.add_peer(P1, KEY, PUT, now=0.0) is None  # only 2 votes for PUT
    assert sync.add_peer(P3, KEY, other, now=0.0) == SyncResolved(key=KEY, action=other)
    assert not sync.is_committed(KEY, PUT)


def test_same_action_for_different_keys_are_different_entries() -> None:
    sync = Sync(ME)
    sync.add_peer(P1, b"k1", PUT, now=0.0)
    sync.add_peer(P2, b"k2", PUT, now=0.0)
    sync.add_peer(P3, b"k1", PUT, now=0.0)
    assert sync.pending() == 2
    assert sync.add_peer(P2, b"k1", PUT, now=0.0) == SyncResolved(key=b"k1", action=PUT)


def test_to_resend_lists_own_entries_until_unanimous() -> None:
    sync = Sync(ME)
    sync.add_local(KEY, PUT, now=0.0)
    sync.add_peer(P1, b"peer-only", PUT, now=0.0)
    assert sync.to_resend(now=1.0) == [(KEY, PUT)]
    sync.add_peer(P1, KEY, PUT, now=2.0)
    sync.add_peer(P2, KEY, PUT, now=2.0)  # committed, but P3 has not voted yet
    assert sync.to_resend(now=3.0) == [(KEY, PUT)]
    sync.add_peer(P3, KEY, PUT, now=4.0)  # unanimous
    assert sync.to_resend(now=5.0) == []
    assert sync.to_resend(now=6.0) == []


def test_attempts_limit_drops_unresolved_entry_and_counts_it() -> None:
    sync = Sync(ME, max_attempts=3, ttl=1000.0)
    sync.add_local(KEY, PUT, now=0.0)
    for t in (1.0, 3.0, 7.0):
        assert sync.to_resend(now=t) == [(KEY, PUT)]
    assert sync.to_resend(now=15.0) == []
    assert sync.expired == 1
    assert sync.pending() == 0
    assert len(sync) == 0
    # A late vote starts it over: nothing was committed, so this is a fresh round.
    assert sync.add_peer(P1, KEY, PUT, now=16.0) is None
    assert sync.votes(KEY, PUT) == {P1}


def test_committed_entry_past_attempts_is_not_expired_and_never_recommits() -> None:
    sync = Sync(ME, max_attempts=2, ttl=1000.0)
    sync.add_local(KEY, PUT, now=0.0)
    sync.add_peer(P1, KEY, PUT, now=0.0)
    assert sync.add_peer(P2, KEY, PUT, now=0.0) == RESOLVED
    assert len(sync.to_resend(now=1.0)) == 1
    assert len(sync.to_resend(now=3.0)) == 1
    assert sync.to_resend(now=7.0) == []
    assert sync.expired == 0  # it committed: giving up on unanimity is not a failure
    assert len(sync) == 0
    for peer in (P1, P2, P3):
        assert sync.add_peer(peer, KEY, PUT, now=8.0) is None
    assert sync.commits == 1


def test_resends_back_off_doubling_the_wait_each_time() -> None:
    """A vote is resent 1 s after it was cast, then 2, 4 and 8 s after the resend before: a
    slow group gets a few copies, not one per tick."""
    sync = Sync(ME, ttl=1000.0)
    sync.add_local(KEY, PUT, now=0.0)
    sent = [t for t in range(40) if sync.to_resend(now=float(t)) == [(KEY, PUT)]]
    assert sent == [1, 3, 7, 15, 31]


def test_ttl_drops_unresolved_entry() -> None:
    sync = Sync(ME, ttl=10.0)
    sync.add_local(KEY, PUT, now=0.0)
    sync.add_peer(P1, KEY, PUT, now=5.0)
    assert sync.to_resend(now=10.0) == []
    assert sync.expired == 1
    # Votes arriving after the ttl start a new round: one more is not enough.
    assert sync.add_peer(P2, KEY, PUT, now=11.0) is None
    assert sync.votes(KEY, PUT) == {P2}


def test_ttl_is_checked_when_votes_arrive_too() -> None:
    sync = Sync(ME, ttl=10.0)
    sync.add_local(KEY, PUT, now=0.0)
    sync.add_peer(P1, KEY, PUT, now=1.0)
    assert sync.add_peer(P2, KEY, PUT, now=10.0) is None  # the old votes are gone
    assert sync.expired == 1


def test_done_entries_are_forgotten_after_ttl() -> None:
    sync = Sync(ME, ttl=10.0)
    for voter in (ME, P1, P2, P3):
        sync.add_peer(voter, KEY, PUT, now=0.0)
    assert sync.is_committed(KEY, PUT)
    sync.expire(now=9.0)
    assert sync.is_committed(KEY, PUT)
    sync.expire(now=10.0)
    assert not sync.is_committed(KEY, PUT)


def test_on_churn_removes_lost_vote_so_another_is_needed() -> None:
    sync = Sync(ME)
    sync.add_local(KEY, PUT, now=0.0)
    sync.add_peer(P1, KEY, PUT, now=0.0)
    sync.on_churn(lost=P1, new=P4)
    assert sync.votes(KEY, PUT) == {ME}
    assert sync.add_peer(P2, KEY, PUT, now=1.0) is None  # would have been the 3rd vote
    assert sync.add_peer(P4, KEY, PUT, now=1.0) == RESOLVED


def test_on_churn_leaves_committed_entries_alone() -> None:
    sync = Sync(ME)
    for peer in (P1, P2):
        sync.add_peer(peer, KEY, PUT, now=0.0)
    assert sync.add_local(KEY, PUT, now=0.0) == RESOLVED
    sync.on_churn(lost=P1, new=None)
    assert sync.votes(KEY, PUT) == {ME, P1, P2}
    assert sync.is_committed(KEY, PUT)
    assert sync.add_peer(P4, KEY, PUT, now=1.0) is None  # unanimity, no second commit
    assert sync.commits == 1


def test_on_churn_ignores_own_name_and_none() -> None:
    sync = Sync(ME)
    sync.add_local(KEY, PUT, now=0.0)
    sync.on_churn(lost=ME, new=None)
    sync.on_churn(lost=None, new=P4)
    assert sync.votes(KEY, PUT) == {ME}


def test_bounded_oldest_dropped_and_counted() -> None:
    sync = Sync(ME, max_entries=2)
    sync.add_local(b"k1", PUT, now=0.0)
    sync.add_local(b"k2", PUT, now=1.0)
    sync.add_local(b"k3", PUT, now=2.0)
    assert len(sync) == 2
    assert sync.evicted == 1
    assert sync.votes(b"k1", PUT) == frozenset()
    assert sync.to_resend(now=3.0) == [(b"k2", PUT), (b"k3", PUT)]


def test_evicted_committed_entry_is_still_remembered_as_done() -> None:
    sync = Sync(ME, max_entries=1)
    for voter in (ME, P1, P2):
        sync.add_peer(voter, b"k1", PUT, now=0.0)
    sync.add_local(b"k2", PUT, now=1.0)  # evicts the committed k1
    assert sync.evicted == 1
    for voter in (ME, P1, P2):
        assert sync.add_peer(voter, b"k1", PUT, now=2.0) is None
    assert sync.commits == 1


def test_done_table_is_bounded_too() -> None:
    sync = Sync(ME, max_entries=2)
    for k in (b"k1", b"k2", b"k3"):
        for voter in (ME, P1, P2, P3):
            sync.add_peer(voter, k, PUT, now=0.0)
    assert sync.forgotten == 1
    assert not sync.is_committed(b"k1", PUT)
    assert sync.is_committed(b"k3", PUT)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quorum": 0},
        {"quorum": 5, "group_size": 4},
        {"group_size": 0},
        {"max_entries": 0},
        {"max_attempts": 0},
        {"ttl": 0.0},
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(GroupConfigError):
        Sync(ME, **kwargs)  # type: ignore[arg-type]


def test_empty_self_name_is_refused() -> None:
    with pytest.raises(GroupConfigError):
        Sync(b"")


MEMBERS = [b"m0", b"m1", b"m2", b"m3"]


@given(data=st.data())
def test_property_group_commits_exactly_once_iff_quorum_voted(data: st.DataObject) -> None:
    """A 4-member group; any subset accepts the request and broadcasts its vote; deliveries come
    in any order, duplicated. Every member commits exactly once iff >= 3 members voted."""
    voters = data.draw(st.sets(st.sampled_from(MEMBERS)), label="voters")
    # Each voter's vote reaches every member (itself via add_local), possibly more than once.
    deliveries = [(v, m) for v in sorted(voters) for m in MEMBERS]
    if deliveries:
        dups = st.lists(st.sampled_from(deliveries), max_size=10)
        deliveries += data.draw(dups, label="dups")
    deliveries = data.draw(st.permutations(deliveries), label="order")

    syncs = {m: Sync(m) for m in MEMBERS}
    commits = {m: 0 for m in MEMBERS}
    for t, (voter, member) in enumerate(deliveries):
        sync = syncs[member]
        if voter == member:
            got = sync.add_local(KEY, PUT, now=float(t))
        else:
            got = sync.add_peer(voter, KEY, PUT, now=float(t))
        if got is not None:
            assert got == RESOLVED
            commits[member] += 1

    expected = 1 if len(voters) >= 3 else 0
    assert commits == {m: expected for m in MEMBERS}
    for member, sync in syncs.items():
        resend = sync.to_resend(now=float(len(deliveries)))
        # Unanimous groups stop resending; otherwise only members that voted resend.
        if len(voters) == 4 or member not in voters:
            assert resend == []
        else:
            assert resend == [(KEY, PUT)]


def test_committed_lists_digests_and_reflected_actions_never_commit() -> None:
    """What a transferred record reflects (its sender's `committed`) is marked on the newcomer:
    votes for those actions never commit there, other actions still do, and the mark ends."""
    sender = Sync(ME)
    for voter in (P1, P2, P3):
        sender.add_peer(voter, KEY, PUT, now=0.0)
    assert sender.committed(KEY) == [action_digest(PUT)]
    assert sender.committed(b"other") == []
    newcomer = Sync(ME, ttl=10.0)
    newcomer.add_peer(P1, KEY, PUT, now=0.0)  # one vote already in before the record came
    newcomer.mark_reflected(KEY, frozenset(sender.committed(KEY)), now=1.0)
    assert newcomer.add_peer(P2, KEY, PUT, now=2.0) is None
    assert newcomer.add_peer(P3, KEY, PUT, now=2.0) is None
    assert newcomer.committed(KEY) == [action_digest(PUT)], "it is passed on in turn"
    other = b"put|msg-8|size=100"
    for voter in (P1, P2, P3):
        resolved = newcomer.add_peer(voter, KEY, other, now=3.0)
    assert resolved == SyncResolved(KEY, other)
    late = Sync(ME, ttl=10.0)
    late.mark_reflected(KEY, frozenset([action_digest(PUT)]), now=0.0)
    for voter in (P1, P2, P3):
        resolved = late.add_peer(voter, KEY, PUT, now=21.0)
    assert resolved == RESOLVED, "the mark lasts twice the ttl"

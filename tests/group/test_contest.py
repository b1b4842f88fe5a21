"""Contests: one vote per member per round, split rounds re-voted (forced choice first), a ballot
committed once, bounded rounds and life."""

from __future__ import annotations

import pytest

from vaultnet.group import Contests, GroupConfigError, Revote

ME, P1, P2, P3 = b"me", b"peer-1", b"peer-2", b"peer-3"
KEY, BALLOT = b"copy-name", b"request-id"
A, B, C = b"holders=a,b", b"holders=b,c", b"holders=c,d"


def test_a_member_votes_once_per_round() -> None:
    """A second, different vote in a round is refused: two choices never both reach a quorum."""
    contests = Contests(ME)
    assert contests.vote(ME, KEY, BALLOT, 0, A, now=0.0)
    assert contests.vote(ME, KEY, BALLOT, 0, A, now=0.0)  # the same vote again: resendable
    assert not contests.vote(ME, KEY, BALLOT, 0, B, now=0.0)
    assert contests.voted(KEY, BALLOT, 0) == A
    assert contests.vote(P1, KEY, BALLOT, 0, A, now=0.0)
    assert not contests.vote(P1, KEY, BALLOT, 0, B, now=0.0)  # a peer's first vote stands


def test_a_round_split_two_to_one_forces_the_choice_that_may_have_won() -> None:
    """Three of four members voted, 2 + 1: the fourth may have voted A somewhere, so A is the
    only choice the next round may take."""
    contests = Contests(ME)
    contests.vote(ME, KEY, BALLOT, 0, B, now=0.0)
    contests.vote(P1, KEY, BALLOT, 0, A, now=0.0)
    assert contests.revotes(now=0.0) == []
    contests.vote(P2, KEY, BALLOT, 0, A, now=0.0)
    assert contests.revotes(now=0.5) == []  # the fourth vote may still come: wait for it
    assert contests.revotes(now=1.0) == [Revote(KEY, BALLOT, 1, A, (A, B))]
    assert contests.vote(ME, KEY, BALLOT, 1, A, now=1.0)
    assert contests.revotes(now=1.0) == []


def test_a_round_split_two_to_two_leaves_the_choice_to_the_tally() -> None:
    """All four voted, 2 + 2: nothing won, every member takes the tally's first choice (at
    once: no vote is left to wait for)."""
    contests = Contests(ME)
    for voter, choice in ((ME, B), (P1, A), (P2, A), (P3, B)):
        contests.vote(voter, KEY, BALLOT, 0, choice, now=0.0)
    (revote,) = contests.revotes(now=0.0)
    assert revote.forced is None and revote.candidates == tuple(sorted((A, B)))


def test_a_three_way_split_is_free_and_fewer_than_a_quorum_of_votes_waits() -> None:
    """Two votes do not show a split yet; three different ones do."""
    contests = Contests(ME)
    contests.vote(ME, KEY, BALLOT, 0, A, now=0.0)
    contests.vote(P1, KEY, BALLOT, 0, B, now=0.0)
    assert contests.revotes(now=0.0) == []  # two votes: the others may still agree
    contests.vote(P2, KEY, BALLOT, 0, C, now=0.0)
    (revote,) = contests.revotes(now=1.0)
    assert revote.forced is None and revote.candidates == (A, B, C)


def test_a_member_that_never_voted_only_watches() -> None:
    """One that did not receive the request sees peers' votes but is never asked to vote."""
    contests = Contests(ME)
    for voter, choice in ((P1, A), (P2, A), (P3, B)):
        contests.vote(voter, KEY, BALLOT, 0, choice, now=0.0)
    assert contests.revotes(now=5.0) == []


def test_a_ballot_commits_once_whatever_round_commits_again() -> None:
    """Only the first commit of a ballot is applied; a later round's is not applied again."""
    contests = Contests(ME)
    contests.vote(ME, KEY, BALLOT, 0, A, now=0.0)
    assert contests.resolve(KEY, BALLOT, A, now=1.0)
    assert not contests.resolve(KEY, BALLOT, A, now=2.0)
    assert contests.resolved(KEY, BALLOT) == A and contests.conflicts == 0
    assert not contests.resolve(KEY, BALLOT, B, now=2.0)
    assert contests.conflicts == 1
    assert contests.pending() == 0


def test_rounds_and_life_are_bounded() -> None:
    """No vote is re-run past max_rounds, and a contest is forgotten after its ttl."""
    contests = Contests(ME, max_rounds=2, ttl=10.0)
    for round_ in (0, 1):
        for voter, choice in ((ME, A), (P1, A), (P2, B), (P3, B)):
            contests.vote(voter, KEY, BALLOT, round_, choice, now=0.0)
        if round_ == 0:
            assert [r.round for r in contests.revotes(now=0.0)] == [1]
    assert contests.revotes(now=1.0) == []  # split in its last round: no round 2
    assert not contests.vote(ME, KEY, BALLOT, 2, A, now=1.0)
    assert len(contests) == 1
    contests.expire(now=10.0)
    assert len(contests) == 0 and contests.abandoned == 1 and contests.revoted == 1


def test_bounded_table() -> None:
    """At most max_entries contests; the oldest go first."""
    contests = Contests(ME, max_entries=3)
    for i in range(5):
        contests.vote(ME, KEY, bytes([i]), 0, A, now=float(i))
    assert len(contests) == 3 and contests.abandoned == 2
    assert contests.voted(KEY, bytes([0]), 0) is None


def test_configuration_is_checked() -> None:
    """A contest that could never resolve is refused at construction."""
    with pytest.raises(GroupConfigError):
        Contests(b"")
    with pytest.raises(GroupConfigError):
        Contests(ME, quorum=5, group_size=4)
    with pytest.raises(GroupConfigError):
        Contests(ME, wait=-1.0)

"""Contests: one request, several proposals, and the rounds that make the members agree on one.

Sync commits an action once a quorum of members voted the same bytes. Some actions carry a
choice each member makes from its own view of the network: a DataManager picks a new copy's
holders among the live vaults it knows. Views differ for a while after a partition or a broken
link heals, so members can propose the same request with different choices; a split vote
(2 + 1, 2 + 2, ...) never reaches the quorum, and the request would be lost.

Decision: the request is a *ballot* (key, ballot id) voted in numbered rounds, and a member
votes at most once per round. That keeps Sync's safety: two different choices cannot both reach
a quorum in one round (two quorums of a group share a member, who voted once). A member that
voted in round r and has seen votes from at least a quorum of members in it, none of them a
quorum for one choice, knows the round is split and moves to round r + 1 (once every member's
vote is in, or `wait` seconds after it saw the split, so members decide on the same tally):

* if one choice of round r could still have won somewhere (its votes plus the members not seen
  reach the quorum), that choice is *forced*: it is the only one the member may vote in r + 1,
  so a choice committed anywhere in round r is the one every later round agrees on;
* otherwise nothing won round r, and the member votes the round's choice with the most votes
  (ties by the smallest bytes): members that saw the same round pick the same one.

Either way the member votes a choice only if it finds it *plausible* (the persona checks it
against its own view, e.g. holders that are live, eligible and near the copy); if not it waits,
and checks again on its next tick, when its view may have caught up. A member that never
received the request (it only sees peers' votes) never votes: a single forged proposal cannot
collect votes it did not earn, and no single member chooses alone — its proposal needs a quorum
of members that received the request and found it plausible. Rounds are bounded
(`max_rounds`), and so is every contest's life (`ttl`): a request still split after that is
given up (counted in `abandoned`), as Sync gives up an entry past its ttl.

A member commits the first round's choice that reaches the quorum (`resolve`); a later round
that also commits (a member that had not seen the first commit voted again) is the same choice
by the rule above and is not committed twice. Sans-IO: the caller sends the votes and passes
the time.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from vaultnet.group.accumulator import GroupConfigError, check_positive, check_voting

_Ident = tuple[bytes, bytes]

CONTEST_ROUNDS = 4
"""Rounds a contest may take (round 0, the members' own proposals, and three re-votes)."""
CONTEST_TTL = 60.0
"""Seconds a contest lives from its first vote (twice Sync's entry ttl: a re-vote round starts
after the first round's votes arrived, and gets Sync's full ttl), and that a resolved one is
remembered so a later round's commit of it is recognised."""
CONTEST_WAIT = 1.0
"""Seconds a member that saw a round split before every member voted in it waits for the
remaining votes before it votes the next round (Sync's first resend comes after as long): the
members then decide the next round on the same tally, and agree at once. With every member's
vote seen it decides at once."""
CONTEST_ENTRIES = 5_000
"""Contests per persona, live and resolved each (the oldest dropped first): one per new copy
(a DataManager) or holder's copy (a PmidManager) put within the window, like Sync's entries."""


@dataclass(frozen=True, slots=True)
class Revote:
    """A split round: vote in `round` for `forced` if set, else for the first of `candidates`
    the caller finds plausible."""

    key: bytes
    ballot: bytes
    round: int
    forced: bytes | None
    candidates: tuple[bytes, ...]


@dataclass(slots=True)
class _Contest:
    created: float
    rounds: dict[int, dict[bytes, set[bytes]]] = field(default_factory=dict)
    mine: dict[int, bytes] = field(default_factory=dict)
    resolved: bytes | None = None
    split_at: dict[int, float] = field(default_factory=dict)  # round -> when we saw it split


class Contests:
    """The ballots of one persona: each member's vote per round, split detection, and the
    choice each round commits (see the module docstring for the rules).

    Counters: `revoted` (our votes after round 0), `abandoned` (ballots we voted in that were
    forgotten unresolved), `conflicts` (a later round committing another choice than the
    first: never, while at most `group_size` members vote)."""

    def __init__(self, self_name: bytes, quorum: int = 3, group_size: int = 4,
                 max_rounds: int = CONTEST_ROUNDS, ttl: float = CONTEST_TTL,
                 max_entries: int = CONTEST_ENTRIES, wait: float = CONTEST_WAIT) -> None:
        check_voting(self_name, quorum, group_size)
        check_positive(max_rounds=max_rounds, ttl=ttl, max_entries=max_entries)
        if wait < 0:
            raise GroupConfigError(f"wait must be >= 0, got {wait!r}")
        self.self_name = self_name
        self.quorum = quorum
        self.group_size = group_size
        self.max_rounds = max_rounds
        self.ttl = ttl
        self.max_entries = max_entries
        self.wait = wait
        self.revoted = 0
        self.abandoned = 0
        self.conflicts = 0
        self._live: OrderedDict[_Ident, _Contest] = OrderedDict()
        self._split: OrderedDict[_Ident, None] = OrderedDict()

    def vote(self, voter: bytes, key: bytes, ballot: bytes, round_: int, choice: bytes,
             now: float) -> bool:
        """Record `voter`'s vote (ours when `voter` is our own name) for `choice` in `round_`.

        Returns False, recording nothing, when `voter` already voted another choice in that
        round (its first vote stands: for our own, the caller must not send the second) or the
        round is past `max_rounds`; True otherwise, also for a repeat of the same vote."""
        self.expire(now)
        if not 0 <= round_ < self.max_rounds:
            return False
        ident = (key, ballot)
        contest = self._entry(ident, now)
        tally = contest.rounds.setdefault(round_, {})
        previous = next((c for c, voters in tally.items() if voter in voters), None)
        if previous is not None:
            return previous == choice
        if voter == self.self_name:
            contest.mine[round_] = choice
            self.revoted += round_ > 0
        tally.setdefault(choice, set()).add(voter)
        split = self._split_round(contest) if contest.resolved is None else None
        if split is not None:
            contest.split_at.setdefault(split[0], now)
            self._split[ident] = None
        return True

    def voted(self, key: bytes, ballot: bytes, round_: int) -> bytes | None:
        """Our choice in `round_` of this ballot, if we voted in it."""
        contest = self._live.get((key, ballot))
        return contest.mine.get(round_) if contest is not None else None

    def resolved(self, key: bytes, ballot: bytes) -> bytes | None:
        """The choice this ballot committed here, if it did (and is still remembered)."""
        contest = self._live.get((key, ballot))
        return contest.resolved if contest is not None else None

    def resolve(self, key: bytes, ballot: bytes, choice: bytes, now: float) -> bool:
        """Sync committed `choice` for this ballot (in some round): True the first time, when
        the caller commits it; False for any later round's commit, which is not applied again
        (a different choice there is counted in `conflicts`: it cannot happen while at most
        `group_size` members vote)."""
        self.expire(now)
        ident = (key, ballot)
        contest = self._entry(ident, now)
        if contest.resolved is not None:
            if contest.resolved != choice:
                self.conflicts += 1
            return False
        contest.resolved = choice
        self._split.pop(ident, None)
        return True

    def revotes(self, now: float) -> list[Revote]:
        """The ballots whose latest round we voted in is split and whose next round we have
        not voted in yet: what to vote next (see the module docstring). A ballot stays listed
        until we vote, it resolves, or it expires; one split in its last round is given up."""
        self.expire(now)
        found = []
        for ident in list(self._split):
            contest = self._live[ident]
            split = self._split_round(contest)
            if split is None or contest.resolved is not None:
                del self._split[ident]
                continue
            round_, tally = split
            if round_ + 1 >= self.max_rounds:
                del self._split[ident]  # split in its last round: left to expire
                continue
            seen = sum(len(voters) for voters in tally.values())
            if seen < self.group_size and now < contest.split_at[round_] + self.wait:
                continue  # the last members' votes may be on their way: they may settle it
            unseen = max(0, self.group_size - seen)
            could_have_won = [c for c, voters in tally.items()
                              if len(voters) + unseen >= self.quorum]
            if len(could_have_won) > 1:
                continue  # more members may still vote in this round: wait for them
            order = tuple(sorted(tally, key=lambda c: (-len(tally[c]), c)))
            forced = could_have_won[0] if could_have_won else None
            found.append(Revote(ident[0], ident[1], round_ + 1, forced, order))
        return found

    def pending(self) -> int:
        """Contests not yet resolved here."""
        return sum(1 for contest in self._live.values() if contest.resolved is None)

    def __len__(self) -> int:
        """Contests remembered (live or resolved)."""
        return len(self._live)

    def expire(self, now: float) -> None:
        """Forget contests older than `ttl` (one we voted in and never resolved counts as
        abandoned)."""
        while self._live:
            ident, contest = next(iter(self._live.items()))
            if now < contest.created + self.ttl:
                break
            self._forget(ident)

    def _entry(self, ident: _Ident, now: float) -> _Contest:
        """The ballot's contest, started now if new (the oldest forgotten past max_entries)."""
        contest = self._live.get(ident)
        if contest is None:
            contest = self._live[ident] = _Contest(created=now)
            while len(self._live) > self.max_entries:
                self._forget(next(iter(self._live)))
        return contest

    def _forget(self, ident: _Ident) -> None:
        contest = self._live.pop(ident)
        self._split.pop(ident, None)
        if contest.resolved is None and contest.mine:
            self.abandoned += 1

    def _split_round(self, contest: _Contest) -> tuple[int, dict[bytes, set[bytes]]] | None:
        """The latest round we voted in, and its votes, if it is split and we have not voted in
        the next one yet: votes from at least a quorum of members, none a quorum for one
        choice."""
        if not contest.mine:
            return None
        round_ = max(contest.mine)
        tally = contest.rounds.get(round_, {})
        seen = sum(len(voters) for voters in tally.values())
        if seen < self.quorum or any(len(v) >= self.quorum for v in tally.values()):
            return None
        return round_, tally

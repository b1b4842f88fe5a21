"""Sync: the members of a close group agree on an action before any of them commits it.

Seed 002 "Synchronisation" and V1 `sync.h`: a manager that accepts a request records an
*unresolved action* with its own vote and sends it to its group peers; every member commits the
action once the sync quorum (group size // 2 + 1 = 3, own vote included) voted for the same
(key, action). A member that missed the request still commits once enough peers agree, which is
how the whole group stays consistent. Sans-IO: the caller sends the votes and passes the time.

Identity is (key, action) with `action` the canonical bytes of the action record, message id
included — two identical client requests with different message ids are two actions.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

from vaultnet.group.accumulator import check_positive, check_voting

_Ident = tuple[bytes, bytes]


SYNC_TTL = 30.0
"""Seconds a live entry waits for votes, and that a committed one is remembered as done."""
SYNC_RESEND_AFTER = 1.0
"""Seconds from an entry's first vote to the first resend of ours; each later resend waits
twice as long as the one before (1, 3, 7, 15 s after the first vote), so a group whose messages
are slow (a loaded host) is not flooded with copies of votes that are merely late. A fixed
period amplified the load of every slow second: at 2 s of latency each vote went out ten times."""
SYNC_ATTEMPTS = 10
SYNC_ENTRIES = 5_000
"""Live entries, and done entries, per Sync (one per persona). At about 20 puts/s a vault
commits about 2.5 actions per put, some 1,500 within the window."""
DIGEST_SIZE = 16
"""Bytes of an action's digest, the form in which a transferred record lists the actions it
already reflects."""
REFLECTED_PER_KEY = 256
"""Most digests `committed` lists for one key (4 KiB in a transfer message)."""


def action_digest(action: bytes) -> bytes:
    """A short name for an action (the canonical bytes of its record)."""
    return hashlib.blake2b(action, digest_size=DIGEST_SIZE).digest()


@dataclass(frozen=True, slots=True)
class SyncResolved:
    """An action the group agreed on: commit it now (returned exactly once per action)."""

    key: bytes
    action: bytes


@dataclass(slots=True)
class _Unresolved:
    created_at: float
    due: float
    votes: set[bytes] = field(default_factory=set)
    attempts: int = 0
    committed: bool = False


class Sync:
    """Unresolved actions agreed among group members before they are committed.

    Life of an entry (all bounded by `ttl` seconds from its first vote and `max_attempts`
    resends):

    * votes accumulate, one per distinct member (own vote via `add_local`, peers' via
      `add_peer`; a peer message carrying our own name counts as our vote);
    * at `quorum` votes it commits — `SyncResolved` is returned once, never again;
    * it stays, still resent while it holds our vote, until all `group_size` members voted
      (unanimity), so that late members see it through and no new entry is started for it;
    * an entry that leaves the table after committing (unanimity, attempts, ttl, eviction) is
      remembered for another `ttl` as done, so late or resent votes can never commit it again;
    * an entry that gives up without committing is dropped and counted in `expired`; a vote
      arriving later starts it over.

    A member that joins a group receives its records by account transfer, each record with the
    digests of the actions its sender had committed on that key (`committed`). The newcomer
    marks them `reflected`: the members' votes for those actions still reach it (resends, a
    retried request), and counting them would apply an action twice to a record that already
    holds its effect (a DataManager's subscriber count, an account's used space).

    Bounded: at most `max_entries` live entries (oldest dropped first, counted in `evicted`) and
    as many done entries (oldest forgotten first, counted in `forgotten`). Entries are kept in
    time order, so `now` should come from a monotonic clock.
    """

    def __init__(
        self,
        self_name: bytes,
        quorum: int = 3,
        group_size: int = 4,
        max_entries: int = SYNC_ENTRIES,
        max_attempts: int = SYNC_ATTEMPTS,
        ttl: float = SYNC_TTL,
        resend_after: float = SYNC_RESEND_AFTER,
    ) -> None:
        check_voting(self_name, quorum, group_size)
        check_positive(
            max_entries=max_entries,
            max_attempts=max_attempts,
            ttl=ttl,
            resend_after=resend_after,
        )
        self.self_name = self_name
        self.quorum = quorum
        self.group_size = group_size
        self.max_entries = max_entries
        self.max_attempts = max_attempts
        self.ttl = ttl
        self.resend_after = resend_after
        self.commits = 0
        self.expired = 0
        self.evicted = 0
        self.forgotten = 0
        self._live: OrderedDict[_Ident, _Unresolved] = OrderedDict()
        self._done: OrderedDict[_Ident, float] = OrderedDict()  # ident -> forget after
        self._committed: dict[bytes, dict[bytes, None]] = {}  # key -> digests, commit order
        self._reflected: OrderedDict[_Ident, float] = OrderedDict()  # (key, digest) -> until

    def add_local(self, key: bytes, action: bytes, now: float) -> SyncResolved | None:
        """This vault accepted the request: record its own vote.

        Returns `SyncResolved` if that vote completes the quorum. Calling it after the action was
        committed on peers' votes alone is allowed (it returns None) and lets this vault's vote
        count towards unanimity, which ends the resends sooner.
        """
        return self._vote(self.self_name, key, action, now)

    def add_peer(self, sender: bytes, key: bytes, action: bytes, now: float) -> SyncResolved | None:
        """A group peer's vote; returns `SyncResolved` exactly once, when votes reach the quorum.

        The caller checks that `sender` is a member of the key's close group. A repeated vote
        from the same sender, or any vote for an action already done, is ignored.
        """
        return self._vote(sender, key, action, now)

    def to_resend(self, now: float) -> list[tuple[bytes, bytes]]:
        """(key, action) of entries due to send our vote for again: they hold it and lack
        unanimity.

        An entry is due `resend_after` seconds after its first vote, then after twice the
        previous wait each time it is listed (or would have been, had it held our vote); it is
        dropped when due past `max_attempts`, or once its `ttl` passed (counted in `expired` if
        it never committed). Unanimous entries are never listed.
        """
        self.expire(now)
        resend: list[tuple[bytes, bytes]] = []
        for ident, entry in list(self._live.items()):
            if now < entry.due:
                continue
            entry.attempts += 1
            if entry.attempts > self.max_attempts:
                self._give_up(ident, now)
                continue
            entry.due = now + self.resend_after * 2 ** entry.attempts
            if self.self_name in entry.votes:
                resend.append(ident)
        return resend

    def on_churn(self, lost: bytes | None, new: bytes | None) -> None:
        """A member left (`lost`) and/or joined (`new`) this vault's close group.

        Decision (the original design: a departed member's votes are replaced): `lost`'s vote is
        removed from every uncommitted entry, so its absence no longer counts and a further vote is
        needed to commit. Committed entries keep their votes — the commit happened and must not be
        re-run or undone. `new` changes nothing here: we do not invent a vote on its behalf (the
        original design's substitution); the newcomer votes for real once peers resend to it and it
        accepts. Our own name as `lost` is ignored.
        """
        del new  # deliberately unused, see above
        if lost is None or lost == self.self_name:
            return
        for entry in self._live.values():
            if not entry.committed:
                entry.votes.discard(lost)

    def committed(self, key: bytes) -> list[bytes]:
        """Digests of the actions on `key` committed here and still remembered (live or done),
        the newest REFLECTED_PER_KEY: what a record we transfer already reflects."""
        return list(self._committed.get(key, {}))[-REFLECTED_PER_KEY:]

    def mark_reflected(self, key: bytes, digests: frozenset[bytes], now: float) -> None:
        """A record accepted by transfer already holds these actions' effects: never commit
        them here (for twice `ttl`, longer than any member still resends or remembers them)."""
        self.expire(now)
        if not digests:
            return
        for digest in sorted(digests):
            self._reflected[(key, digest)] = now + 2 * self.ttl
            self._reflected.move_to_end((key, digest))
        while len(self._reflected) > self.max_entries:
            self._reflected.popitem(last=False)
        for (entry_key, action), entry in self._live.items():
            digest = action_digest(action) if entry_key == key and not entry.committed else b""
            if digest in digests:
                entry.committed = True
                self._committed.setdefault(key, {})[digest] = None

    def pending(self) -> int:
        """Number of unresolved (not yet committed) entries."""
        return sum(1 for entry in self._live.values() if not entry.committed)

    def votes(self, key: bytes, action: bytes) -> frozenset[bytes]:
        """The members whose votes a live entry holds (empty if unknown or done)."""
        entry = self._live.get((key, action))
        return frozenset(entry.votes) if entry is not None else frozenset()

    def is_committed(self, key: bytes, action: bytes) -> bool:
        """True if this action was committed here and is still remembered."""
        ident = (key, action)
        entry = self._live.get(ident)
        return ident in self._done or (entry is not None and entry.committed)

    def __len__(self) -> int:
        """Live entries (unresolved, or committed and still collecting votes)."""
        return len(self._live)

    def done_entries(self) -> int:
        """Committed actions still remembered as done (the second bounded table)."""
        return len(self._done)

    def expire(self, now: float) -> None:
        """Drop live entries past their ttl, and forget done entries past theirs."""
        while self._live:
            ident, entry = next(iter(self._live.items()))
            if now < entry.created_at + self.ttl:
                break
            self._give_up(ident, now)
        while self._done:
            ident, until = next(iter(self._done.items()))
            if now < until:
                break
            del self._done[ident]
            self._unindex(ident)
        while self._reflected and next(iter(self._reflected.values())) <= now:
            self._reflected.popitem(last=False)

    def _unindex(self, ident: _Ident) -> None:
        key, action = ident
        digests = self._committed.get(key)
        if digests is not None:
            digests.pop(action_digest(action), None)
            if not digests:
                del self._committed[key]

    def _vote(self, voter: bytes, key: bytes, action: bytes, now: float) -> SyncResolved | None:
        self.expire(now)
        ident = (key, action)
        if ident in self._done:
            return None
        entry = self._live.get(ident)
        if entry is None:
            if self._reflected and (key, action_digest(action)) in self._reflected:
                return None
            while len(self._live) >= self.max_entries:
                oldest = next(iter(self._live))
                self._drop(oldest, now)
                self.evicted += 1
            entry = self._live[ident] = _Unresolved(created_at=now, due=now + self.resend_after)
        if voter in entry.votes:
            return None
        entry.votes.add(voter)
        resolved = None
        if not entry.committed and len(entry.votes) >= self.quorum:
            entry.committed = True
            self.commits += 1
            self._committed.setdefault(key, {})[action_digest(action)] = None
            resolved = SyncResolved(key=key, action=action)
        if len(entry.votes) >= self.group_size:
            self._drop(ident, now)  # unanimous: nothing left to collect or resend
        return resolved

    def _give_up(self, ident: _Ident, now: float) -> None:
        """Attempts or ttl ran out: an uncommitted entry is lost (counted), a committed one done."""
        if not self._drop(ident, now):
            self.expired += 1

    def _drop(self, ident: _Ident, now: float) -> bool:
        """Remove a live entry; a committed one is remembered as done. Returns `committed`."""
        entry = self._live.pop(ident)
        if not entry.committed:
            return False
        while len(self._done) >= self.max_entries:
            forgotten, _ = self._done.popitem(last=False)
            self._unindex(forgotten)
            self.forgotten += 1
        self._done[ident] = now + self.ttl
        return True

"""The agreed actions a persona has applied, remembered on disk, so that a restarted vault
never applies one twice.

Sync remembers a committed action as done (and the actions a transferred record reflects) in
memory only. A vault restarted within an action's resend window (a vote is resent 1, 3, 7 and
15 s after the first, until every member voted) comes back with empty tables, counts the
peers' resent votes again, reaches the quorum a second time and, without this log, applies the
action a second time to the record it kept: a DataManager's subscriber count, a MaidManager's
charge, a PmidManager's account (seed 348 of the sweep).

Decision: every commit writes the identities of its action here, in the transaction that
applies it (`GroupPersona._commit`, inside the host's transaction for the message or tick), and
a commit whose action is already here is not applied: the record on disk and the log of what it
reflects can never disagree, whether the vault stopped cleanly, was killed, or restarted as a
new process on the same data directory. The alternative, not applying agreed actions to a kept
record until its group confirms it, loses actions the group agrees on after answering the
reconciliation, and cannot tell for a key the vault holds no record for yet.

Entries expire in network time (`Context.network_time`, which follows the wall clock in every
process; a vault's monotonic clock starts again with the process), after APPLIED_TTL: longer
than any member still resends or remembers the vote. Bounded: each commit also walks
PRUNE_PER_COMMIT entries, and each tick PRUNE_PER_TICK, deleting expired ones, so the log holds
at most about (APPLIED_TTL + its walk time) seconds of commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from vaultnet.group.sync import DIGEST_SIZE, SYNC_TTL, action_digest
from vaultnet.personas.actions import ContestedAction, SyncAction
from vaultnet.storage.records import Records, encode

APPLIED_TTL = 2 * SYNC_TTL
"""Network seconds an applied action is remembered: what `Sync.mark_reflected` keeps a
transferred record's actions for, past every resend and every member's done table."""
PRUNE_PER_COMMIT = 2
"""Entries each commit checks for expiry: the walk keeps pace with any commit rate."""
PRUNE_PER_TICK = 64
"""Entries each tick checks for expiry: the log empties when commits stop."""


def applied_identities(action: SyncAction, data: bytes) -> list[bytes]:
    """The identities under which applying `action` (canonical bytes `data`) is remembered:
    its digest (the form a transferred record's REFLECTS lists), and for a contested vote also
    its ballot, since every round of one ballot commits the same choice once."""
    identities = [action_digest(data)]
    if isinstance(action, ContestedAction) and action.round is not None:
        identities.append(ballot_identity(action.id))
    return identities


def ballot_identity(ballot: bytes) -> bytes:
    """The identity under which a contested ballot's commit is remembered (whichever round
    committed it)."""
    return action_digest(encode({"ballot": ballot}))


class AppliedActions:
    """One persona's log of applied actions: (sync key, identity) -> expiry in network time,
    in a `Records` table (the vault's sqlite database, or memory in sans-IO tests)."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self._cursor = b""
        """Where the expiry walk goes on from (it wraps around at the end of the table)."""
        self.skipped = 0
        """Commits not applied because their action already was (a restart's resent votes)."""

    def holds(self, key: bytes, identities: Iterable[bytes], now: float) -> bool:
        """Whether an action with any of `identities` was applied to `key` within
        APPLIED_TTL before network time `now`."""
        for identity in identities:
            until = self.records.get(key + identity)
            if isinstance(until, float | int) and now < until:
                return True
        return False

    def add(self, key: bytes, identities: Iterable[bytes], now: float) -> None:
        """Remember that `key` reflects the actions with `identities` from network time `now`
        (a commit, or a transferred record accepted with what it reflects)."""
        self.records.put_many((key + identity, now + APPLIED_TTL) for identity in identities
                              if len(identity) == DIGEST_SIZE)
        self.prune(now, PRUNE_PER_COMMIT)

    def prune(self, now: float, limit: int) -> None:
        """Check the next `limit` entries of the walk, deleting those expired at `now`."""
        entries = self.records.items_after(self._cursor, limit)
        if len(entries) < limit:  # the end: go on from the first entry
            entries += [e for e in self.records.items_after(b"", limit - len(entries))
                        if e[0] <= self._cursor]
        for entry, until in entries:
            if not isinstance(until, float | int) or until <= now:
                self.records.delete(entry)
        self._cursor = entries[-1][0] if entries else b""

"""A vault restarted within a vote's resend window never applies an agreed action twice
(`personas/applied.py`), sans-IO: a member commits on its peers' votes, "restarts" (a new
persona over the same records and the same log of applied actions, `restarted()` called),
then gets the peers' resent votes; its record is unchanged, and it still commits new actions."""

from __future__ import annotations

from pathlib import Path

from tests.personas.helpers import GROUP, MEMBERS, PARAMS, Ctx
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.actions import DataPut, PmidPut, SyncAction
from vaultnet.personas.applied import APPLIED_TTL, PRUNE_PER_TICK, AppliedActions
from vaultnet.personas.base import GroupPersona
from vaultnet.personas.data_manager import DataManager
from vaultnet.personas.pmid_manager import PmidManager
from vaultnet.personas.records import CopyRecord, PmidAccount
from vaultnet.protocol import Action, EventKind
from vaultnet.runtime.host import applied_table
from vaultnet.storage.records import MemoryRecords, Records
from vaultnet.storage.store import CopyKind, Database, RecordStore

OWN, *PEERS = MEMBERS
NODE = GROUP  # a PmidNode whose PmidManagers are MEMBERS
N1, N2 = b"\x01" * 64, b"\x02" * 64
ID, ID2 = b"\x03" * 16, b"\x04" * 16


def vote(persona: Persona, key: bytes, sender: bytes, action: SyncAction) -> Message:
    """`sender`'s sync vote for `action` on `key` (a resend is the same message again)."""
    return Message(src=Authority(key, persona, group=True),
                   dst=Authority(key, persona, group=True), action=Action.SYNC,
                   msg_id=sender[-1:] * 16, trace_id=bytes(16), sender=sender,
                   body={"k": key, "a": action.to_bytes()})


def votes_of_peers(manager: GroupPersona, key: bytes, action: SyncAction, ctx: Ctx) -> list[str]:
    """Every peer's vote for `action`, handed to `manager`: what it noted."""
    notes = []
    for peer in PEERS:
        out = manager.handle(vote(manager.persona, key, peer, action), ctx)
        notes += [note.what for note in out.notes]
    return notes


def pmid_manager(accounts: Records, applied: Records, restarted: bool) -> PmidManager:
    """A PmidManager over `accounts`, remembering what it applied in `applied`."""
    manager = PmidManager(PARAMS, accounts)
    if restarted:
        manager.restarted()
    manager.attach(OWN, applied)
    return manager


def test_a_restarted_member_does_not_apply_the_resent_votes_again() -> None:
    clock = [100.0]
    ctx = Ctx(OWN, clock)
    accounts, applied = MemoryRecords("pmid_accounts"), MemoryRecords("applied")
    put = PmidPut(N1, CopyKind.BACKUP, 7, ID)
    manager = pmid_manager(accounts, applied, restarted=False)
    assert EventKind.SYNC_COMMITTED in votes_of_peers(manager, NODE, put, ctx)
    charged = PmidAccount(stored=7, count=1).to_record()
    assert accounts.get(NODE) == charged

    clock[0] += 1.0  # restarted a second later, its tables in memory empty
    manager = pmid_manager(accounts, applied, restarted=True)
    notes = votes_of_peers(manager, NODE, put, ctx)  # the peers' resends
    assert EventKind.SYNC_ALREADY_APPLIED in notes
    assert EventKind.SYNC_COMMITTED not in notes
    assert accounts.get(NODE) == charged
    assert manager.applied.skipped == 1

    other = PmidPut(N2, CopyKind.BACKUP, 5, ID2)  # still takes part in new agreements
    assert EventKind.SYNC_COMMITTED in votes_of_peers(manager, NODE, other, ctx)
    assert accounts.get(NODE) == PmidAccount(stored=12, count=2).to_record()


def test_a_contested_put_is_not_applied_again_in_any_round_after_a_restart() -> None:
    """The sweep's seed 348: a DataManager committed a contested Backup put, restarted, and
    counted the resent votes as a second subscriber. Neither the same round's resends nor a
    later round of the same ballot apply it again."""
    clock = [100.0]
    ctx = Ctx(OWN, clock)
    records, applied = MemoryRecords("data_manager"), MemoryRecords("applied")
    put = DataPut(CopyKind.BACKUP, 7, ID, ID2, N1, Authority(N1, Persona.MAID_NODE), N2,
                  [N1, N2], 0)
    manager = DataManager(PARAMS, records)
    manager.attach(OWN, applied)
    votes_of_peers(manager, GROUP, put, ctx)
    record = CopyRecord(CopyKind.BACKUP, 7, 1, (N1, N2), ()).to_record()
    assert CopyRecord.from_record(records.get(GROUP) or {}).to_record() == record

    clock[0] += 1.0
    manager = DataManager(PARAMS, records)
    manager.restarted()
    manager.attach(OWN, applied)
    for resent in (put, put.in_round(1)):
        assert EventKind.SYNC_COMMITTED not in votes_of_peers(manager, GROUP, resent, ctx)
    assert CopyRecord.from_record(records.get(GROUP) or {}).subscribers == 1


def test_the_log_survives_in_the_vault_database(tmp_path: Path) -> None:
    """On sqlite, as a restarted vault (a new process on the same data directory) opens it:
    the applied action is there, written with the commit."""
    clock = [100.0]
    ctx = Ctx(OWN, clock)
    put = PmidPut(N1, CopyKind.BACKUP, 7, ID)
    with Database(tmp_path / "vault.db") as db:
        manager = pmid_manager(RecordStore(db, "pmid_accounts"),
                               RecordStore(db, applied_table(Persona.PMID_MANAGER)), False)
        with db.transaction():
            votes_of_peers(manager, NODE, put, ctx)
    clock[0] += 3.0
    with Database(tmp_path / "vault.db") as db:
        accounts = RecordStore(db, "pmid_accounts")
        manager = pmid_manager(accounts, RecordStore(db, applied_table(Persona.PMID_MANAGER)),
                               True)
        with db.transaction():
            votes_of_peers(manager, NODE, put, ctx)
        assert accounts.get(NODE) == PmidAccount(stored=7, count=1).to_record()


def test_applied_actions_expire_in_network_time_and_are_pruned() -> None:
    """Remembered for APPLIED_TTL network seconds (past every resend), then deleted by the
    walk: the log stays bounded."""
    records = MemoryRecords("applied")
    log = AppliedActions(records)
    digests = [bytes([i]) * 16 for i in range(10)]
    log.add(GROUP, digests, 1_000.0)
    assert log.holds(GROUP, digests[3:4], 1_000.0 + APPLIED_TTL - 1)
    assert not log.holds(GROUP, digests[3:4], 1_000.0 + APPLIED_TTL)
    assert not log.holds(N1, digests[3:4], 1_000.0)  # per key
    log.prune(1_000.0 + APPLIED_TTL - 1, PRUNE_PER_TICK)
    assert len(records) == 10
    log.prune(1_000.0 + APPLIED_TTL, PRUNE_PER_TICK)
    assert len(records) == 0


def test_the_prune_walk_wraps_around_a_few_entries_at_a_time() -> None:
    """A walk of 3 entries a call goes on where it stopped and starts again from the first at
    the end, so every expired entry goes within a round of the table, and none still held."""
    records = MemoryRecords("applied")
    log = AppliedActions(records)
    log.add(GROUP, [bytes([i]) * 16 for i in range(10)], 1_000.0)
    log.add(N1, [bytes([i]) * 16 for i in range(2)], 1_000.0 + APPLIED_TTL)
    for _ in range(4):  # 12 entries, 3 a call
        log.prune(1_000.0 + APPLIED_TTL, 3)
    assert len(records) == 2
    assert log.holds(N1, [bytes([1]) * 16], 1_000.0 + APPLIED_TTL + 1)

"""Tests for vaultnet.storage.store: copy names, records, chunk copies, transactions, crash
safety."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from vaultnet.storage.records import MemoryRecords, Records
from vaultnet.storage.store import (
    ChunkStore,
    CopyKind,
    CorruptChunk,
    Database,
    RecordStore,
    StoredCopy,
    StoreError,
    StoreFull,
    chunk_name_of,
    copy_name,
)

ROOT = Path(__file__).resolve().parents[1]


def chunk(seed: int, size: int = 100) -> tuple[bytes, bytes]:
    """(content, chunk name) for a deterministic piece of content."""
    content = (seed.to_bytes(4, "big") * (size // 4 + 1))[:size]
    return content, hashlib.sha512(content).digest()


def put_copy(store: ChunkStore, seed: int, kind: CopyKind, size: int = 100) -> bytes:
    content, name = chunk(seed, size)
    copy = copy_name(name, kind)
    store.put(copy, kind, content)
    return copy


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "vault.db")
    yield database
    database.close()


# --- copy names ---------------------------------------------------------------------------


def test_copy_names_follow_the_design() -> None:
    _, name = chunk(1)
    assert copy_name(name, CopyKind.PRIMARY) == name
    backup = copy_name(name, CopyKind.BACKUP)
    assert backup[0] == name[0] ^ 0x80 and backup[1:] == name[1:]
    sacrificial = copy_name(name, CopyKind.SACRIFICIAL)
    assert int.from_bytes(sacrificial, "big") == int.from_bytes(name, "big") ^ (2**512 - 1)
    assert len({name, backup, sacrificial}) == 3


@pytest.mark.parametrize("kind", list(CopyKind))
def test_copy_name_round_trips(kind: CopyKind) -> None:
    for seed in range(20):
        _, name = chunk(seed)
        copy = copy_name(name, kind)
        assert len(copy) == 64
        assert chunk_name_of(copy, kind) == name
        assert copy_name(chunk_name_of(copy, kind), kind) == copy


def test_copy_name_accepts_kind_values_and_refuses_bad_input() -> None:
    _, name = chunk(3)
    assert copy_name(name, "B") == copy_name(name, CopyKind.BACKUP)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        copy_name(name[:63], CopyKind.PRIMARY)
    with pytest.raises(ValueError):
        copy_name(name, "X")  # type: ignore[arg-type]


# --- database -------------------------------------------------------------------------------


def test_database_pragmas(tmp_path: Path) -> None:
    database = Database(tmp_path / "v.db", cache_kib=512)
    conn = database.connection
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == -512
    assert database.integrity_ok()
    database.close()
    database.close()  # idempotent
    with pytest.raises(StoreError):
        database.integrity_ok()


def test_transaction_rolls_back_on_exception(db: Database) -> None:
    records = RecordStore(db, "data_manager")
    chunks = ChunkStore(db, 10_000)
    records.put(b"kept", 1)
    with pytest.raises(RuntimeError), db.transaction():
        records.put(b"lost", 2)
        records.put(b"kept", 99)
        put_copy(chunks, 1, CopyKind.PRIMARY)  # put's own (inner) transaction joins this one
        raise RuntimeError("action failed")
    assert records.get(b"lost") is None
    assert records.get(b"kept") == 1
    assert chunks.entries() == [] and chunks.used == 0
    assert not db.in_transaction


def test_a_transaction_begins_at_its_first_write(db: Database) -> None:
    """A block that only reads issues no BEGIN; one that writes begins before its first write,
    so everything it writes commits (or rolls back) together."""
    records = RecordStore(db, "data_manager")
    records.put(b"a", 1)
    with db.transaction():
        assert records.get(b"a") == 1
        assert not db.connection.in_transaction
    with pytest.raises(RuntimeError), db.transaction():
        assert records.get(b"a") == 1
        records.put(b"a", 2)
        assert db.connection.in_transaction
        records.put(b"b", 3)
        raise RuntimeError("action failed")
    assert records.get(b"a") == 1 and records.get(b"b") is None
    with db.transaction():
        records.put(b"b", 3)
    assert not db.connection.in_transaction
    assert records.get(b"b") == 3


def test_the_version_changes_with_every_write_and_rollback_only(db: Database) -> None:
    """What a reader keeps at one version is what the file holds while the version stays."""
    records, chunks = RecordStore(db, "data_manager"), ChunkStore(db, 1 << 20)
    seen = [db.version]

    def changed() -> bool:
        seen.append(db.version)
        return seen[-1] != seen[-2]

    records.put(b"a", 1)
    assert changed()
    assert records.get(b"a") == 1 and list(records.items()) and not changed()
    with db.transaction():
        assert records.get(b"a") == 1
    assert not changed()
    put_copy(chunks, 1, CopyKind.PRIMARY)
    assert changed()
    with pytest.raises(RuntimeError), db.transaction():
        records.put(b"b", 2)
        assert changed()
        raise RuntimeError("action failed")
    assert changed()  # rolled back: what was read inside is gone
    with db.transaction(), pytest.raises(RuntimeError), db.savepoint():
        records.put(b"c", 3)
        assert changed()
        raise RuntimeError("step failed")
    assert changed()
    assert records.delete(b"a") and changed()


def test_nested_transaction_is_one_unit(db: Database) -> None:
    records = RecordStore(db, "pmid_manager")
    with pytest.raises(KeyError), db.transaction():
        records.put(b"a", 1)
        with db.transaction():
            records.put(b"b", 2)
            assert db.in_transaction
        with db.transaction():
            raise KeyError("inner fails, outer rolls back everything")
    assert len(records) == 0

    with db.transaction():
        records.put(b"a", 1)
        with db.transaction():
            records.put(b"b", 2)
        assert db.in_transaction
    assert not db.in_transaction
    assert records.keys() == [b"a", b"b"]


def test_store_full_inside_an_action_changes_nothing(db: Database) -> None:
    """A persona can catch StoreFull and still commit the rest of its action."""
    records = RecordStore(db, "pmid_node")
    chunks = ChunkStore(db, 150)
    with db.transaction():
        records.put(b"x", "before")
        put_copy(chunks, 1, CopyKind.PRIMARY)
        with pytest.raises(StoreFull):
            put_copy(chunks, 2, CopyKind.PRIMARY)
        records.put(b"y", "after")
    assert records.keys() == [b"x", b"y"]
    assert chunks.used == 100


# --- records -------------------------------------------------------------------------------


def test_record_store_basics(db: Database) -> None:
    records = RecordStore(db, "maid_manager")
    assert len(records) == 0 and records.get(b"k") is None
    value = {"holders": [b"\x01" * 64, b"\x02" * 64], "size": 123, "tag": "x", 7: None}
    records.put(b"k", value)
    assert records.get(b"k") == value
    assert b"k" in records and b"z" not in records and "k" not in records
    records.put(b"k", (1, 2))
    assert records.get(b"k") == [1, 2]  # msgpack arrays come back as lists
    records.put(b"a", "first")
    assert records.keys() == [b"a", b"k"]
    assert list(records.items()) == [(b"a", "first"), (b"k", [1, 2])]
    assert len(records) == 2
    assert records.delete(b"k") is True
    assert records.delete(b"k") is False
    assert records.keys() == [b"a"]


def test_record_items_spans_pages_in_key_order(db: Database) -> None:
    records = RecordStore(db, "big")
    with db.transaction():
        for i in range(1000):
            records.put(i.to_bytes(2, "big"), i)
    items = list(records.items())
    assert [v for _, v in items] == list(range(1000))
    assert [k for k, _ in items] == records.keys()


def test_reads_of_a_table_known_empty_issue_no_statement_and_see_every_row_put(
        tmp_path: Path) -> None:
    """A table found empty when opened, and not written since, is read without a statement
    (churn handling scans every table); a put, even one rolled back, a second store over the
    same table, and a table reopened with rows are all read from the file."""
    db = Database(tmp_path / "v.db")
    records, twin = RecordStore(db, "pmid_copies"), RecordStore(db, "pmid_copies")
    statements: list[str] = []
    db.connection.set_trace_callback(statements.append)
    assert list(records.raw_items()) == [] and records.get(b"k") is None
    assert b"k" not in records and len(records) == 0 and records.keys() == []
    assert records.keys_after(b"", 8) == [] and records.items_after(b"", 8) == []
    assert statements == []
    twin.put(b"k", 1)
    assert records.get(b"k") == 1 and list(records.items()) == [(b"k", 1)]
    assert len(records) == 1 and records.keys() == records.keys_after(b"", 8) == [b"k"]
    db.connection.set_trace_callback(None)

    other = RecordStore(db, "pmid_accounts")
    with pytest.raises(RuntimeError), db.transaction():
        other.put(b"gone", 1)
        raise RuntimeError("action failed")
    assert other.get(b"gone") is None and list(other.raw_items()) == []
    other.put(b"kept", 2)
    db.close()
    reopened = Database(tmp_path / "v.db")
    assert list(RecordStore(reopened, "pmid_copies").items()) == [(b"k", 1)]
    assert RecordStore(reopened, "pmid_accounts").get(b"kept") == 2
    reopened.close()


def test_unencodable_value_changes_nothing(db: Database) -> None:
    records = RecordStore(db, "r")
    records.put(b"k", 1)
    with pytest.raises(TypeError):
        records.put(b"k", object())
    assert records.get(b"k") == 1


@pytest.mark.parametrize("on_disk", [True, False], ids=["sqlite", "memory"])
def test_put_many_stores_every_row_or_none(db: Database, on_disk: bool) -> None:
    """Many rows in one statement, as `put` of each would store them; an unencodable value
    leaves the table as it was (an empty one stays readable as empty, then sees the rows)."""
    records: Records = RecordStore(db, "r") if on_disk else MemoryRecords("r")
    with pytest.raises(TypeError):
        records.put_many([(b"a", 1), (b"b", object())])
    assert len(records) == 0 and records.get(b"a") is None
    records.put_many([(b"a", 1), (b"b", [2, b"x"])])
    records.put_many((key, value) for key, value in [(b"b", 3), (b"c", 4)])
    records.put_many([])
    assert list(records.items()) == [(b"a", 1), (b"b", 3), (b"c", 4)]


def test_tables_are_separate(db: Database) -> None:
    a, b = RecordStore(db, "alpha"), RecordStore(db, "beta")
    a.put(b"k", 1)
    assert b.get(b"k") is None and len(b) == 0
    # A persona named like the chunk table or an sqlite table cannot collide with them.
    chunks = ChunkStore(db, 1000)
    RecordStore(db, "chunk_copies").put(b"k", 1)
    RecordStore(db, "sqlite_master").put(b"k", 1)
    assert chunks.entries() == [] and db.integrity_ok()


@pytest.mark.parametrize(
    "name", ["", "Upper", "with-dash", "semi;colon", "drop table x", "t1", "ünï", "a\n"]
)
def test_table_name_validation(db: Database, name: str) -> None:
    with pytest.raises(ValueError):
        RecordStore(db, name)


def test_digest_equal_for_equal_records(tmp_path: Path) -> None:
    one, two = Database(tmp_path / "1.db"), Database(tmp_path / "2.db")
    r1, r2 = RecordStore(one, "data_manager"), RecordStore(two, "data_manager")
    assert r1.digest() == r2.digest()  # both empty
    # Same records, inserted in a different order and with maps built in a different order.
    r1.put(b"a", {"x": 1, "y": [1, {"p": b"q", "r": 2}]})
    r1.put(b"b", "two")
    r2.put(b"b", "two")
    r2.put(b"a", {"y": [1, {"r": 2, "p": b"q"}], "x": 1})
    assert r1.digest() == r2.digest()
    assert len(r1.digest()) == 64

    r2.put(b"a", {"x": 2, "y": [1, {"p": b"q", "r": 2}]})  # different value
    assert r1.digest() != r2.digest()
    r2.put(b"a", {"x": 1, "y": [1, {"p": b"q", "r": 2}]})
    assert r1.digest() == r2.digest()
    r2.put(b"c", None)  # extra key
    assert r1.digest() != r2.digest()
    r2.delete(b"c")
    r2.put(b"b", b"two")  # bytes and str differ
    assert r1.digest() != r2.digest()
    one.close()
    two.close()


def test_digest_does_not_confuse_key_value_boundaries(db: Database) -> None:
    r1, r2 = RecordStore(db, "one"), RecordStore(db, "two")
    r1.put(b"ab", b"c")
    r2.put(b"a", b"bc")
    assert r1.digest() != r2.digest()


# --- chunks --------------------------------------------------------------------------------


def test_put_get_and_idempotent_put(db: Database) -> None:
    chunks = ChunkStore(db, 1000)
    content, name = chunk(1, 120)
    copy = copy_name(name, CopyKind.BACKUP)
    assert not chunks.has(copy) and chunks.get(copy) is None
    chunks.put(copy, CopyKind.BACKUP, content)
    assert chunks.has(copy) and chunks.get(copy) == content
    assert chunks.used == 120 and chunks.free() == 880
    chunks.put(copy, CopyKind.BACKUP, content)  # retried request
    assert chunks.used == 120
    assert chunks.entries() == [StoredCopy(copy, CopyKind.BACKUP, 120)]


def test_idempotent_put_when_full(db: Database) -> None:
    chunks = ChunkStore(db, 100)
    put_copy(chunks, 1, CopyKind.PRIMARY, 100)
    assert chunks.free() == 0
    put_copy(chunks, 1, CopyKind.PRIMARY, 100)  # already held: no StoreFull
    assert chunks.used == 100


def test_store_full_changes_nothing(db: Database) -> None:
    chunks = ChunkStore(db, 250)
    put_copy(chunks, 1, CopyKind.PRIMARY, 100)
    put_copy(chunks, 2, CopyKind.SACRIFICIAL, 100)
    before = chunks.entries()
    content, name = chunk(3, 51)
    with pytest.raises(StoreFull) as info:
        chunks.put(name, CopyKind.PRIMARY, content)
    assert (info.value.needed, info.value.free) == (51, 50)
    assert isinstance(info.value, StoreError)
    assert chunks.entries() == before and chunks.used == 200 and not chunks.has(name)
    put_copy(chunks, 4, CopyKind.PRIMARY, 50)  # exactly fits
    assert chunks.free() == 0


def test_corrupt_chunk_refused(db: Database) -> None:
    chunks = ChunkStore(db, 10_000)
    content, name = chunk(1)
    with pytest.raises(CorruptChunk) as info:
        chunks.put(name, CopyKind.PRIMARY, content + b"!")
    assert info.value.copy_name == name
    assert isinstance(info.value, StoreError)
    # Right content, but filed under the wrong kind: the copy name implies another chunk.
    with pytest.raises(CorruptChunk):
        chunks.put(name, CopyKind.BACKUP, content)
    with pytest.raises(CorruptChunk):
        chunks.put(copy_name(name, CopyKind.SACRIFICIAL), CopyKind.PRIMARY, content)
    assert chunks.entries() == [] and chunks.used == 0


def test_delete_frees_bytes(db: Database) -> None:
    chunks = ChunkStore(db, 1000)
    a = put_copy(chunks, 1, CopyKind.PRIMARY, 300)
    b = put_copy(chunks, 2, CopyKind.BACKUP, 200)
    assert chunks.free() == 500
    assert chunks.delete(a) == 300
    assert chunks.free() == 800 and not chunks.has(a) and chunks.has(b)
    assert chunks.delete(a) == 0
    assert chunks.delete(b) == 200
    assert chunks.used == 0 and chunks.entries() == []


def test_entries_sorted_by_copy_name(db: Database) -> None:
    chunks = ChunkStore(db, 100_000)
    copies = [put_copy(chunks, i, kind) for i in range(10) for kind in CopyKind]
    assert [e.copy_name for e in chunks.entries()] == sorted(copies)


def test_sacrificial_oldest_first(db: Database) -> None:
    chunks = ChunkStore(db, 100_000)
    s1 = put_copy(chunks, 5, CopyKind.SACRIFICIAL)
    put_copy(chunks, 1, CopyKind.PRIMARY)
    s2 = put_copy(chunks, 3, CopyKind.SACRIFICIAL, 40)
    put_copy(chunks, 2, CopyKind.BACKUP)
    s3 = put_copy(chunks, 9, CopyKind.SACRIFICIAL)
    assert [e.copy_name for e in chunks.sacrificial()] == [s1, s2, s3]
    assert all(e.kind is CopyKind.SACRIFICIAL for e in chunks.sacrificial())
    assert chunks.sacrificial()[1].size == 40
    # Storing a copy again after eviction makes it the newest.
    chunks.delete(s1)
    put_copy(chunks, 5, CopyKind.SACRIFICIAL)
    assert [e.copy_name for e in chunks.sacrificial()] == [s2, s3, s1]


def test_corrupt_is_reported_by_verify(db: Database) -> None:
    chunks = ChunkStore(db, 100_000)
    good = put_copy(chunks, 1, CopyKind.PRIMARY)
    bad = put_copy(chunks, 2, CopyKind.BACKUP, 200_000 // 4)
    also_bad = put_copy(chunks, 3, CopyKind.SACRIFICIAL)
    assert chunks.verify() == []
    original = chunks.get(bad)
    chunks.corrupt(bad)
    chunks.corrupt(also_bad)
    corrupted = chunks.get(bad)
    assert corrupted is not None and original is not None
    assert len(corrupted) == len(original)
    assert sum(x != y for x, y in zip(corrupted, original, strict=True)) == 1
    assert chunks.verify() == sorted([bad, also_bad])
    assert chunks.has(good) and db.integrity_ok()  # sqlite itself is fine; only hashing notices
    chunks.delete(bad)
    assert chunks.verify() == [also_bad]
    with pytest.raises(KeyError):
        chunks.corrupt(bad)


def test_reopen_persists(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    database = Database(path)
    records, chunks = RecordStore(database, "maid_manager"), ChunkStore(database, 5000)
    records.put(b"k", {"v": [1, 2, 3]})
    copies = [put_copy(chunks, i, kind) for i, kind in enumerate(CopyKind)]
    digest, entries, sacrificial = records.digest(), chunks.entries(), chunks.sacrificial()
    database.close()

    database = Database(path)
    records, chunks = RecordStore(database, "maid_manager"), ChunkStore(database, 5000)
    assert records.get(b"k") == {"v": [1, 2, 3]} and records.digest() == digest
    assert chunks.entries() == entries and chunks.sacrificial() == sacrificial
    assert chunks.used == 300 and all(chunks.has(c) for c in copies)
    assert chunks.verify() == [] and database.integrity_ok()
    database.close()


# --- crash safety --------------------------------------------------------------------------

CHILD = """
import hashlib, sys
from vaultnet.storage.store import ChunkStore, CopyKind, Database, RecordStore, copy_name

db = Database(sys.argv[1])
chunks = ChunkStore(db, 1 << 40)
log = RecordStore(db, "log")
kinds = list(CopyKind)
i = 0
while True:
    seed = hashlib.sha512(i.to_bytes(8, "big")).digest()
    content = seed * (1024 + i % 7)  # ~64 KiB: the kill often lands mid-transaction
    kind = kinds[i % 3]
    copy = copy_name(hashlib.sha512(content).digest(), kind)
    with db.transaction():  # one committed action: the copy and its log record together
        chunks.put(copy, kind, content)
        log.put(i.to_bytes(8, "big"), copy)
    print(i, copy.hex(), flush=True)
    i += 1
"""


def test_sigkill_mid_write_restarts_consistent(tmp_path: Path) -> None:
    path = tmp_path / "vault.db"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    watchdog = threading.Timer(120, proc.kill)  # only if the child hangs; not a timing device
    watchdog.start()
    committed: dict[int, bytes] = {}

    def record(line: str) -> None:
        if line.endswith("\n"):
            i, name = line.split()
            committed[int(i)] = bytes.fromhex(name)

    try:
        while len(committed) < 40:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                pytest.fail(f"child exited early: {proc.wait()} {proc.stderr.read()}")  # type: ignore[union-attr]
            record(line)
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    for line in rest.splitlines(keepends=True):
        record(line)  # commits reported between our read and the kill
    assert sorted(committed) == list(range(len(committed)))

    database = Database(path)
    try:
        assert database.integrity_ok()
        chunks, log = ChunkStore(database, 1 << 40), RecordStore(database, "log")
        assert chunks.verify() == []
        for i, copy in committed.items():
            assert chunks.has(copy)
            assert log.get(i.to_bytes(8, "big")) == copy
        # Atomicity: each copy stored has its log record, and nothing uncommitted half-landed.
        assert len(log) == len(chunks.entries()) >= len(committed)
        assert {e.copy_name for e in chunks.entries()} == {copy for _, copy in log.items()}
        # The vault carries on after the restart.
        put_copy(chunks, 12345, CopyKind.PRIMARY)
        assert chunks.verify() == [] and database.integrity_ok()
    finally:
        database.close()


READER = """
import sys
from vaultnet.storage.store import Database, RecordStore

with Database(sys.argv[1]) as db:
    print(len(RecordStore(db, "log")))
"""


def records_seen_by_another_process(path: Path) -> int:
    """What a reader in a separate process (as `vaultnet` commands and tests are) sees."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", READER, str(path)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=60, check=True)
    return int(done.stdout)


def test_reopening_in_place_keeps_commits_visible_to_other_processes(tmp_path: Path) -> None:
    """A vault restarted in its process opens its database while the old connection is still
    open. Commits after that stay visible to (and durable for) other processes: opening must
    not drop the old connection's locks, or a reader that closes deletes the live WAL file
    (before the fix, the third commit below was invisible: 2 instead of 3)."""
    path = tmp_path / "vault.db"
    old = Database(path)
    RecordStore(old, "log").put(b"1", 1)
    new = Database(path)
    old.close()
    log = RecordStore(new, "log")
    log.put(b"2", 2)
    assert records_seen_by_another_process(path) == 2
    log.put(b"3", 3)
    assert records_seen_by_another_process(path) == 3
    new.close()

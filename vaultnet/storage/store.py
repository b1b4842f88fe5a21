"""Persistence for one vault: persona records and the PmidNode's chunk copies in one sqlite file.

sqlite (stdlib, synchronous) in WAL mode with synchronous=NORMAL: a committed transaction
survives the process being killed (SIGKILL), and every action is committed whole (the messages
a vault handles back to back share one transaction, each in its own savepoint, and nothing they
send leaves before it commits), so a restarted vault comes back exactly as of its last committed
action. The page cache is bounded and chunk contents are never cached in memory, so a vault's
footprint does not grow with what it stores.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from vaultnet.filemodes import private_database
from vaultnet.storage.records import decode, digest_of, encode
from vaultnet.xor import name_of

NAME_SIZE = 64
_BACKUP_MASK = 0x80
_TABLE_RE = re.compile(r"[a-z_]+")
_PAGE = 256  # rows fetched per query when iterating: bounded memory, tolerant of writes
_READ_PIECE = 64 * 1024  # bytes read at a time when hashing a stored copy


class StoreError(Exception):
    """Base of every error raised by the store."""


class StoreFull(StoreError):
    """A copy does not fit in the remaining capacity; nothing was changed."""

    def __init__(self, needed: int, free: int) -> None:
        super().__init__(f"store full: {needed} bytes needed, {free} free")
        self.needed = needed
        self.free = free


class CorruptChunk(StoreError):
    """Content offered for a copy does not hash to the chunk name the copy name implies."""

    def __init__(self, copy_name: bytes) -> None:
        super().__init__(f"content does not match copy {copy_name.hex()[:16]}")
        self.copy_name = copy_name


class CopyKind(enum.StrEnum):
    """Which of a chunk's three copies; the value is what is stored on disk."""

    PRIMARY = "P"
    BACKUP = "B"
    SACRIFICIAL = "S"


COPY_KIND_VALUES: tuple[str, ...] = tuple(kind.value for kind in CopyKind)
"""The kinds as they travel in message bodies ("P", "B", "S"): what a body's `kind` must be."""


_COMPLEMENT = bytes(0xFF - b for b in range(256))
"""`bytes.translate` table flipping every bit of a byte (the Sacrificial copy's name)."""


def copy_name(chunk_name: bytes, kind: CopyKind) -> bytes:
    """Network name of one copy of a chunk : copies are far apart in XOR space,
    so their responsible groups differ even in small networks."""
    if len(chunk_name) != NAME_SIZE:
        raise ValueError(f"names are {NAME_SIZE} bytes, got {len(chunk_name)}")
    kind = CopyKind(kind)
    if kind is CopyKind.PRIMARY:
        return bytes(chunk_name)
    if kind is CopyKind.BACKUP:
        return bytes([chunk_name[0] ^ _BACKUP_MASK]) + chunk_name[1:]
    if kind is CopyKind.SACRIFICIAL:
        return bytes(chunk_name).translate(_COMPLEMENT)
    raise ValueError(f"unknown copy kind {kind!r}")


def chunk_name_of(copy: bytes, kind: CopyKind) -> bytes:
    """The chunk name a copy name stands for (each mapping is its own inverse)."""
    return copy_name(copy, kind)


def is_content_of(content: bytes, copy: bytes, kind: CopyKind) -> bool:
    """Whether `content` is the chunk `copy` (of `kind`) stands for: content names itself."""
    return name_of(content) == chunk_name_of(copy, kind)


class _DatabaseBlock:
    """A block of work on one `Database`, as a plain context manager: a generator-based one
    costs a few microseconds more per use, and a savepoint is entered for every handled
    message. Entering checks the database is open (StoreError once closed)."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.connection  # noqa: B018 - the check is the point


class _Transaction(_DatabaseBlock):
    """`Database.transaction`."""

    __slots__ = ()

    def __enter__(self) -> None:
        super().__enter__()
        self._db._depth += 1

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        db = self._db
        if db._depth > 1:
            db._depth -= 1
            return
        conn = db.connection
        try:
            if kind is None and db._begun:
                conn.execute("COMMIT")
            elif kind is not None:
                db._rollback(conn)
        except BaseException:
            db._rollback(conn)
            raise
        finally:
            db._depth = 0
            db._begun = False


class _Savepoint(_DatabaseBlock):
    """`Database.savepoint`."""

    __slots__ = ()

    def __enter__(self) -> None:
        super().__enter__()
        db = self._db
        if not db._depth:
            raise StoreError("a savepoint needs an enclosing transaction")
        if db._step is not None:
            raise StoreError("savepoints do not nest")
        db._step = False
        db._depth += 1

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        db = self._db
        conn = db.connection
        try:
            if kind is not None and db._step:
                conn.execute("ROLLBACK TO step")
                db.version += 1
        finally:
            db._depth -= 1
            if db._step:
                conn.execute("RELEASE step")
            db._step = None


class Database:
    """One sqlite file per vault: WAL, synchronous=NORMAL, bounded page cache (cache_size),
    actions committed whole (a transaction, or a savepoint step inside a batch's transaction).

    A single connection, used by one caller at a time (the vault's trio thread or a worker
    thread it hands off to, hence check_same_thread=False).
    """

    def __init__(self, path: str | os.PathLike[str], cache_kib: int = 2048) -> None:
        if cache_kib <= 0:
            raise ValueError("cache_kib must be positive")
        self.path = os.fspath(path)
        if self.path != ":memory:":
            private_database(self.path)  # readable by this user only, WAL files included
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False
        )
        self._depth = 0
        self._begun = False
        """Whether the open transaction has issued its BEGIN (at its first write)."""
        self._step: bool | None = None
        """None outside a savepoint step; False inside one that has not written yet."""
        self._transaction = _Transaction(self)
        self._savepoint = _Savepoint(self)
        self.empty_tables: set[str] = set()
        """Record tables known to hold no row: found empty when their `RecordStore` opened and
        written to by no `put` since (a delete or a rollback leaves a table here or out of here
        as it was, so "not here" only means "may hold rows"). A read of one answers without a
        statement: a vault's churn handling scans every persona's tables (and lists the
        DataManager's records to check), and 500 simulated vaults booting spent 4% of their CPU
        in scans of tables that were all still empty."""
        self.version = 0
        """Bumped by every write and every rollback: a reader that kept what it read at one
        version knows the file still holds it while the version is the same."""
        conn = self._conn
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal" and self.path != ":memory:":
            conn.close()
            raise StoreError(f"cannot use WAL for {self.path}: journal_mode is {mode}")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: KiB, not pages
        conn.execute("PRAGMA busy_timeout=5000")
        # Keep the WAL file from staying large after a burst of writes.
        conn.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")

    def _rollback(self, conn: sqlite3.Connection) -> None:
        """Undo the open transaction, if it began (a failed block, or a failed COMMIT)."""
        if conn.in_transaction:
            conn.execute("ROLLBACK")
            self.version += 1

    @property
    def connection(self) -> sqlite3.Connection:
        """The open sqlite connection; StoreError once closed, so use-after-close is loud."""
        if self._conn is None:
            raise StoreError("database is closed")
        return self._conn

    @property
    def in_transaction(self) -> bool:
        """Whether a `transaction()` block is open (writes then commit together)."""
        return self._depth > 0

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK if the block raises.

        The BEGIN is issued at the block's first write (see `writing`): a block that only reads,
        as the handling of most messages and most ticks does, costs no statement. (The one
        connection is the file's only writer, so its reads see the same rows either way.)
        Nestable: an inner block is a no-op, so helpers can protect their own multi-statement
        work and still join an enclosing action's transaction. An exception that escapes an
        inner block but is caught inside the outer one does not undo the inner block's writes;
        helpers therefore check before they write (e.g. StoreFull changes nothing).
        """
        return self._transaction

    def savepoint(self) -> contextlib.AbstractContextManager[None]:
        """Inside a transaction, a step whose writes are undone on their own if it raises
        (SAVEPOINT ... ROLLBACK TO), while the enclosing transaction goes on: one message of a
        batch handled in one transaction is refused as if it had had its own. The savepoint is
        taken at the step's first write (see `writing`), so a step that only reads, as most
        handled messages do, costs no statement. Steps do not nest."""
        return self._savepoint

    def writing(self) -> sqlite3.Connection:
        """The connection, for a statement that writes: begins the open transaction first, if
        it has not begun yet (IMMEDIATE: the write lock up front, so it never fails half-way
        for lack of it), then takes the savepoint of the step in progress, if it has none yet.
        Every write in this module goes through here."""
        conn = self.connection
        self.version += 1
        if self._depth and not self._begun:
            conn.execute("BEGIN IMMEDIATE")
            self._begun = True
        if self._step is False:
            conn.execute("SAVEPOINT step")
            self._step = True
        return conn

    def integrity_ok(self) -> bool:
        """PRAGMA integrity_check reports exactly "ok"."""
        rows = self.connection.execute("PRAGMA integrity_check").fetchall()
        return rows == [("ok",)]

    def close(self) -> None:
        """Close the connection (idempotent); committed work is already durable."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordStore:
    """A persona's records in one sqlite table (`vaultnet.storage.records.Records`).

    Values are stored in a canonical msgpack encoding (maps ordered by key), so that
    `digest()` agrees between vaults holding equal records. Tuples come back as lists.
    """

    def __init__(self, db: Database, table: str) -> None:
        if not isinstance(table, str) or not _TABLE_RE.fullmatch(table):
            raise ValueError(f"invalid table name {table!r}: must match [a-z_]+")
        self.db = db
        self.table = table
        # Prefixed so a persona name can never collide with the chunk table or sqlite_*.
        self._sql_table = f"records_{table}"
        self._upsert = f"INSERT OR REPLACE INTO {self._sql_table} (key, value) VALUES (?, ?)"
        self.db.connection.execute(
            f"CREATE TABLE IF NOT EXISTS {self._sql_table} "
            "(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"
        )
        if self.db.connection.execute(
                f"SELECT 1 FROM {self._sql_table} LIMIT 1").fetchone() is None:
            self.db.empty_tables.add(self._sql_table)

    def _empty(self) -> bool:
        """Whether the table is known to hold no row (`Database.empty_tables`)."""
        return self._sql_table in self.db.empty_tables

    def get(self, key: bytes) -> Any | None:
        """The decoded value under `key`, or None if there is none."""
        if self._empty():
            return None
        row = self.db.connection.execute(
            f"SELECT value FROM {self._sql_table} WHERE key = ?", (bytes(key),)
        ).fetchone()
        return None if row is None else decode(row[0])

    def put(self, key: bytes, value: Any) -> None:
        """Store `value` under `key`, replacing any old value."""
        data = encode(value)  # encode first: an unencodable value changes nothing
        self.db.writing().execute(self._upsert, (bytes(key), data))
        self.db.empty_tables.discard(self._sql_table)

    def put_many(self, items: Iterable[tuple[bytes, Any]]) -> None:
        """`put` of each (key, value), one statement run over every row (all encoded first: an
        unencodable value changes nothing)."""
        rows = [(bytes(key), encode(value)) for key, value in items]
        if rows:
            self.db.writing().executemany(self._upsert, rows)
            self.db.empty_tables.discard(self._sql_table)

    def delete(self, key: bytes) -> bool:
        """Remove `key`; returns whether it was there."""
        cur = self.db.writing().execute(
            f"DELETE FROM {self._sql_table} WHERE key = ?", (bytes(key),)
        )
        return cur.rowcount > 0

    def clear(self) -> None:
        """Remove every record in this table (others are untouched)."""
        self.db.writing().execute(f"DELETE FROM {self._sql_table}")

    def keys(self) -> list[bytes]:
        """Every key, in order (the whole table: use `keys_after` to walk a large one)."""
        if self._empty():
            return []
        rows = self.db.connection.execute(f"SELECT key FROM {self._sql_table} ORDER BY key")
        return [r[0] for r in rows]

    def keys_after(self, key: bytes, limit: int) -> list[bytes]:
        """Up to `limit` keys greater than `key`, in order: a cursor that walks a large table a
        little at a time."""
        if self._empty():
            return []
        rows = self.db.connection.execute(
            f"SELECT key FROM {self._sql_table} WHERE key > ? ORDER BY key LIMIT ?",
            (bytes(key), limit),
        )
        return [r[0] for r in rows]

    def items_after(self, key: bytes, limit: int) -> list[tuple[bytes, Any]]:
        """Up to `limit` (key, decoded value) with keys greater than `key`, in order."""
        return [(k, decode(v)) for k, v in self._raw_after(key, limit)]

    def _raw_after(self, key: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        """Up to `limit` (key, encoded value) with keys greater than `key`, in order."""
        if self._empty():
            return []
        rows: list[tuple[bytes, bytes]] = self.db.connection.execute(
            f"SELECT key, value FROM {self._sql_table} WHERE key > ? ORDER BY key LIMIT ?",
            (bytes(key), limit),
        ).fetchall()
        return rows

    def raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        """(key, encoded value) in key order, a page at a time: bounded memory, and safe
        against the caller writing to the table between pages."""
        if self._empty():
            return
        conn = self.db.connection
        rows = conn.execute(
            f"SELECT key, value FROM {self._sql_table} ORDER BY key LIMIT ?", (_PAGE,)
        ).fetchall()
        while rows:
            yield from rows
            if len(rows) < _PAGE:
                return
            rows = self._raw_after(rows[-1][0], _PAGE)

    def items(self) -> Iterator[tuple[bytes, Any]]:
        """Every (key, decoded value), in key order."""
        for key, data in self.raw_items():
            yield key, decode(data)

    def __len__(self) -> int:
        if self._empty():
            return 0
        count: int = self.db.connection.execute(
            f"SELECT COUNT(*) FROM {self._sql_table}").fetchone()[0]
        return count

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes | bytearray | memoryview) or self._empty():
            return False
        row = self.db.connection.execute(
            f"SELECT 1 FROM {self._sql_table} WHERE key = ?", (bytes(key),)
        ).fetchone()
        return row is not None

    def digest(self) -> bytes:
        """SHA-512 over the sorted (key, canonical value bytes): equal records ⇒ equal digest
        (`vaultnet.storage.records.digest_of`)."""
        return digest_of(self.raw_items())


@dataclass(frozen=True)
class StoredCopy:
    """What the ChunkStore holds for one copy: its name, kind and size, without content."""
    copy_name: bytes
    kind: CopyKind
    size: int


class ChunkStore:
    """The PmidNode's disk: copies keyed by copy name, within a byte capacity.

    Contents live as BLOBs in one table; `seq` (an AUTOINCREMENT rowid, never reused) is the
    order copies were stored in, which is the eviction order for sacrificial copies.
    """

    _TABLE = "chunk_copies"

    def __init__(self, db: Database, capacity: int) -> None:
        if capacity < 0:
            raise ValueError("capacity must not be negative")
        self.db = db
        self.capacity = capacity
        with db.transaction():
            conn = db.writing()
            # content last: scans of the metadata columns need not touch overflow pages.
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._TABLE} ("
                " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                f" copy BLOB NOT NULL UNIQUE CHECK (length(copy) = {NAME_SIZE}),"
                " kind TEXT NOT NULL CHECK (kind IN ('P', 'B', 'S')),"
                " size INTEGER NOT NULL CHECK (size = length(content)),"
                " content BLOB NOT NULL)"
            )
            # Covers both the sacrificial (kind, seq) order and SUM(size) without the blobs.
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {self._TABLE}_kind_seq "
                f"ON {self._TABLE} (kind, seq, size)"
            )

    @property
    def used(self) -> int:
        """Bytes of content stored (sum of copy sizes)."""
        row = self.db.connection.execute(
            f"SELECT COALESCE(SUM(size), 0) FROM {self._TABLE}"
        ).fetchone()
        return int(row[0])

    def free(self) -> int:
        """Bytes still available before the capacity is reached."""
        return max(0, self.capacity - self.used)

    def has(self, copy: bytes) -> bool:
        """Whether the copy `copy` is stored here."""
        row = self.db.connection.execute(
            f"SELECT 1 FROM {self._TABLE} WHERE copy = ?", (bytes(copy),)
        ).fetchone()
        return row is not None

    def entry(self, copy: bytes) -> StoredCopy | None:
        """The copy `copy`'s kind and size, or None if it is not stored here."""
        row = self.db.connection.execute(
            f"SELECT copy, kind, size FROM {self._TABLE} WHERE copy = ?", (bytes(copy),)
        ).fetchone()
        return None if row is None else StoredCopy(row[0], CopyKind(row[1]), row[2])

    def put(self, copy: bytes, kind: CopyKind, content: bytes) -> None:
        """Store a copy after checking its content against its name.

        Raises CorruptChunk if SHA-512(content) is not the chunk name `copy` stands for, and
        StoreFull if it does not fit; in both cases nothing is changed. Storing a copy that is
        already held is a no-op (a retried or duplicated request is harmless).
        """
        kind = CopyKind(kind)
        copy = bytes(copy)
        content = bytes(content)
        if not is_content_of(content, copy, kind):
            raise CorruptChunk(copy)
        with self.db.transaction():
            if self.has(copy):
                return
            free = self.free()
            if len(content) > free:
                raise StoreFull(len(content), free)
            self.db.writing().execute(
                f"INSERT INTO {self._TABLE} (copy, kind, size, content) VALUES (?, ?, ?, ?)",
                (copy, kind.value, len(content), content),
            )

    def get(self, copy: bytes) -> bytes | None:
        """The stored content, unchecked (callers that serve it may verify it)."""
        row = self.db.connection.execute(
            f"SELECT content FROM {self._TABLE} WHERE copy = ?", (bytes(copy),)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, copy: bytes) -> int:
        """Remove a copy; returns the bytes freed (0 if it was not held)."""
        with self.db.transaction():
            row = self.db.connection.execute(
                f"SELECT size FROM {self._TABLE} WHERE copy = ?", (bytes(copy),)
            ).fetchone()
            if row is None:
                return 0
            self.db.writing().execute(f"DELETE FROM {self._TABLE} WHERE copy = ?",
                                      (bytes(copy),))
            return int(row[0])

    def entries(self) -> list[StoredCopy]:
        """Every copy held, sorted by copy name."""
        rows = self.db.connection.execute(
            f"SELECT copy, kind, size FROM {self._TABLE} ORDER BY copy"
        )
        return [StoredCopy(c, CopyKind(k), s) for c, k, s in rows]

    def sacrificial(self) -> list[StoredCopy]:
        """Sacrificial copies, oldest stored first: the order to evict them in for room."""
        rows = self.db.connection.execute(
            f"SELECT copy, kind, size FROM {self._TABLE} WHERE kind = ? ORDER BY seq",
            (CopyKind.SACRIFICIAL.value,),
        )
        return [StoredCopy(c, CopyKind(k), s) for c, k, s in rows]

    def corrupt(self, copy: bytes) -> None:
        """Fault injection: flip one byte of the stored content in place, for tests of the
        integrity checks. The size is unchanged, so only hashing can notice."""
        conn = self.db.writing()
        with self.db.transaction():
            row = conn.execute(
                f"SELECT seq, size FROM {self._TABLE} WHERE copy = ?", (bytes(copy),)
            ).fetchone()
            if row is None:
                raise KeyError(copy.hex())
            seq, size = row
            if size == 0:
                raise ValueError("cannot corrupt an empty copy in place")
            with conn.blobopen(self._TABLE, "content", seq) as blob:
                blob.seek(size // 2)
                byte = blob.read(1)[0]
                blob.seek(size // 2)
                blob.write(bytes([byte ^ 0xFF]))

    def verify(self) -> list[bytes]:
        """Copy names whose content does not hash to their chunk name, sorted.

        Streams each blob in pieces, one copy at a time, so memory stays bounded."""
        conn = self.db.connection
        bad: list[bytes] = []
        last = 0
        while True:
            meta = conn.execute(
                f"SELECT seq, copy, kind FROM {self._TABLE} WHERE seq > ? ORDER BY seq LIMIT ?",
                (last, _PAGE),
            ).fetchall()
            if not meta:
                break
            for seq, copy, kind in meta:
                h = hashlib.sha512()
                try:
                    with conn.blobopen(self._TABLE, "content", seq, readonly=True) as blob:
                        while piece := blob.read(_READ_PIECE):
                            h.update(piece)
                except sqlite3.OperationalError:
                    continue  # deleted since the page was read
                if h.digest() != chunk_name_of(copy, CopyKind(kind)):
                    bad.append(copy)
            last = meta[-1][0]
        return sorted(bad)

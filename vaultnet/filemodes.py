"""Private files and directories: what vaultnet writes is readable by its own user only.

A testnet's data directory holds vault databases, signing keys, the control token and the
address file; on a shared machine none of it is anyone else's business. Directories vaultnet
creates are 0700 and files it writes are 0600, whatever the umask (a umask can only take bits
away, and an existing file is tightened with fchmod). A directory that already existed is left
as it was unless it is one of vaultnet's own (`private_dir(..., own=True)`): a `--data-dir`
the user chose may be shared on purpose, and everything inside it is private anyway.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
"""Directories vaultnet creates: only their owner may list or enter them."""
FILE_MODE = 0o600
"""Files vaultnet writes: only their owner may read them (keys, tokens, databases)."""
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
"""Files sqlite keeps beside a database; it creates them with the database's mode."""


def private_dir(path: Path, own: bool = False) -> Path:
    """Create `path` and any missing parents with mode 0700; with `own`, an existing `path`
    is set to 0700 too (a directory only vaultnet writes, e.g. a vault's)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # created meanwhile by someone else
            os.mkdir(directory, DIR_MODE)
    if own and not missing:
        os.chmod(path, DIR_MODE)
    return path


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """`os.open` that creates the file 0600 and sets an existing one to 0600."""
    fd = os.open(path, flags | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, data: bytes, durable: bool = False) -> None:
    """Replace `path` with `data` atomically (a temporary file renamed over it), mode 0600;
    `durable` also fsyncs before the rename (keys that must survive a crash)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "wb") as out:
        out.write(data)
        if durable:
            out.flush()
            os.fsync(out.fileno())
    os.replace(tmp, path)


def private_database(path: str) -> None:
    """Make sure the sqlite database at `path` and its side files are 0600: create a missing
    database file 0600 before sqlite opens it (sqlite would use 0644 less the umask, and gives
    the WAL and shared-memory files the database's mode), and tighten existing files by path.

    An existing database is never opened here: closing any descriptor of a file drops every
    POSIX lock this process holds on it, including those of another connection to the same
    database in this process (a vault restarted in place). Without its locks, a reader in
    another process that closes takes itself for the last connection, checkpoints and deletes
    the WAL file, and the running vault's later commits go to an unlinked file: invisible to
    every reader, and lost if the process is killed."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE))
    os.chmod(path, FILE_MODE)
    for suffix in SQLITE_SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path + suffix, FILE_MODE)

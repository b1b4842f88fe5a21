"""CLI mistakes get one line and a non-zero exit; what vaultnet writes is private (0700 / 0600).

Against one real `vaultnet testnet --vaults 8` process per module where the network matters
(a file refused before anything is sent), and without one where it must not be reached at all.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.test_cli_data import vaultnet
from tests.test_cli_versions import one_line_error
from vaultnet.cli import addresses
from vaultnet.client.maid import MAX_CHUNK_SIZE, ChunkSizeError, PutFailure, PutNoAnswer
from vaultnet.identity import KEY_FILE
from vaultnet.runtime.testnet import Testnet
from vaultnet.storage.store import Database

# -- the file given to put / version put ---------------------------------------------------------


def sparse(size: int) -> Callable[[Path], Path]:
    """A file of `size` bytes that takes no disk space (os.truncate)."""
    def make(directory: Path) -> Path:
        path = directory / f"sparse-{size}"
        path.touch()
        os.truncate(path, size)
        return path
    return make


def fifo(directory: Path) -> Path:
    path = directory / "pipe"
    os.mkfifo(path)  # nobody writes: a blocking open or read would hang the command
    return path


def empty(directory: Path) -> Path:
    path = directory / "empty"
    path.touch()
    return path


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "3 GiB sparse file": (sparse(3 << 30), f"it is {3 << 30} bytes; a chunk is 1 to "
                                            f"{MAX_CHUNK_SIZE} bytes"),
    "one byte over the limit": (sparse(MAX_CHUNK_SIZE + 1),
                                f"it is {MAX_CHUNK_SIZE + 1} bytes; a chunk is 1 to"),
    "empty file": (empty, f"it is empty; a chunk is 1 to {MAX_CHUNK_SIZE} bytes"),
    "/dev/zero": (lambda _: Path("/dev/zero"), "it is a character device, not a regular file"),
    "FIFO": (fifo, "it is a FIFO, not a regular file"),
    "directory": (lambda d: d, "it is a directory, not a regular file"),
    "missing file": (lambda d: d / "nope", "No such file or directory"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("command", [["put"], ["version", "put", "notes"]])
def test_a_file_that_is_not_a_chunk_is_refused_in_one_line(
        module_testnet_dir: Path, tmp_path: Path, case: str, command: list[str]) -> None:
    make, fragment = BAD_FILES[case]
    path = make(tmp_path)
    result = vaultnet(*command, str(path), "--data-dir", str(module_testnet_dir))
    one_line_error(result, 1, f"{path}: {fragment}")


def test_a_chunk_of_exactly_the_limit_is_stored(module_testnet_dir: Path,
                                               tmp_path: Path) -> None:
    source = tmp_path / "limit.bin"
    source.write_bytes(os.urandom(MAX_CHUNK_SIZE))
    put = vaultnet("put", str(source), "--data-dir", str(module_testnet_dir))
    assert put.returncode == 0, put.stderr
    got = vaultnet("get", put.stdout.strip(), "-o", str(tmp_path / "out"), "--data-dir",
                   str(module_testnet_dir))
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "out").read_bytes() == source.read_bytes()


def test_the_dashboard_uses_the_library_limit() -> None:
    from tui.app import MAX_PUT

    assert MAX_PUT == MAX_CHUNK_SIZE


async def test_the_library_refuses_empty_and_oversized_chunks(autojump_clock: object) -> None:
    async with Testnet(vaults=4, transport="sim", seed=3) as net:
        client = await net.client()
        for size in (0, MAX_CHUNK_SIZE + 1):
            with pytest.raises(ChunkSizeError) as refused:
                await client.put(bytes(size))
            assert refused.value.size == size
        assert await client.get(await client.put(b"x")) == b"x"  # one byte is a chunk


async def test_a_timeout_is_reported_as_a_timeout(autojump_clock: object) -> None:
    async with Testnet(vaults=4, transport="sim", seed=4) as net:
        client = await net.client()
        for vault in net.vaults:
            net.fault(vault.name, "silent")
        with pytest.raises(PutNoAnswer) as silent:
            await client.put(b"nobody listens")
    assert isinstance(silent.value, PutFailure)  # a failed put for code that handles those
    message = str(silent.value)
    assert message.endswith(f"no answer from the network within {silent.value.seconds:g} s")
    assert "refused" not in message


# -- the address file and key files --------------------------------------------------------------


def valid_record() -> dict[str, object]:
    """An address record that passes every check (the pid is this test's, so alive)."""
    return {"format": addresses.ADDRESS_FORMAT, "pid": os.getpid(), "bootstrap": ["127.0.0.1:1"],
            "transport": "tcp", "control": "127.0.0.1:1"}


CORRUPT: dict[str, tuple[str, str]] = {
    "pid is text": (json.dumps({**valid_record(), "pid": "abc"}),
                    "field 'pid' is \"abc\", not a process id"),
    "pid is 2**70": (json.dumps({**valid_record(), "pid": 2**70}),
                     f"field 'pid' is {2**70}, not a process id"),
    "pid is true": (json.dumps({**valid_record(), "pid": True}),
                    "field 'pid' is true, not a process id"),
    "pid is missing": (json.dumps({k: v for k, v in valid_record().items() if k != "pid"}),
                       "field 'pid' is missing"),
    "a list": ("[1]", "holds a JSON list, not a testnet record"),
    "not JSON": ("{pid: 1", "is not JSON"),
    "empty": ("", "is not JSON"),
    "bootstrap is text": (json.dumps({**valid_record(), "bootstrap": "127.0.0.1:1"}),
                          "field 'bootstrap' is \"127.0.0.1:1\", not a list of addresses"),
    "unknown transport": (json.dumps({**valid_record(), "transport": "pigeon"}),
                          "field 'transport' is \"pigeon\", not one of tcp, sim"),
    "control is a number": (json.dumps({**valid_record(), "control": 5}),
                            "field 'control' is 5, not an address"),
    "another format": (json.dumps({**valid_record(), "format": 9}),
                       "field 'format' is 9, expected 1"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
@pytest.mark.parametrize("command", [["ctl", "--data-dir", "{dir}", "status"],
                                     ["get", "ab" * 64, "--data-dir", "{dir}"],
                                     ["msg", "inbox", "--data-dir", "{dir}"]])
def test_a_corrupt_address_file_is_one_line_naming_it(tmp_path: Path, case: str,
                                                      command: list[str]) -> None:
    text, fragment = CORRUPT[case]
    (tmp_path / addresses.ADDRESS_FILE).write_text(text)
    result = vaultnet(*(part.format(dir=tmp_path) for part in command))
    one_line_error(result, 1, fragment)
    assert str(tmp_path / addresses.ADDRESS_FILE) in result.stderr


@pytest.mark.parametrize(("identity_dir", "command"), [
    ("client", ["put", "{file}"]),
    ("client", ["get", "ab" * 64]),
    ("client", ["version", "list", "notes"]),
    ("mpid-broken", ["msg", "send", "ab" * 64, "hi", "--as", "broken"]),
    ("mpid-broken", ["msg", "whoami", "--as", "broken"]),
])
@pytest.mark.parametrize("size", [0, 5, 33])
def test_a_key_file_of_the_wrong_size_is_one_line_naming_it(
        tmp_path: Path, identity_dir: str, command: list[str], size: int) -> None:
    key = tmp_path / identity_dir / KEY_FILE
    key.parent.mkdir()
    key.write_bytes(b"k" * size)
    data = tmp_path / "data.txt"
    data.write_text("some data")
    # --bootstrap names a closed port: the key is read before any connection is tried
    result = vaultnet(*(part.format(file=data) for part in command), "--bootstrap",
                      "127.0.0.1:1", "--data-dir", str(tmp_path))
    one_line_error(result, 1, f"{key}: expected a 32-byte key, found {size} bytes")
    assert key.read_bytes() == b"k" * size  # left for the user to look at


# -- file modes ----------------------------------------------------------------------------------


@contextlib.contextmanager
def running_testnet_process(*args: str, env: dict[str, str] | None = None) -> Iterator[None]:
    """`vaultnet testnet --vaults 4 ARGS` under umask 002 (files would be 0664 by default),
    from 'ready:' until SIGTERM (exit 0)."""
    proc = subprocess.Popen([sys.executable, "-m", "vaultnet", "testnet", "--vaults", "4",
                             *args], stdout=subprocess.PIPE, text=True, umask=0o002,
                            env=env)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ready:"):
                break
        else:
            pytest.fail("testnet exited before it was ready")
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def modes(top: Path) -> dict[Path, int]:
    """Permission bits of `top` and of everything under it."""
    return {p: stat.S_IMODE(p.stat().st_mode) for p in [top, *top.rglob("*")]}


def assert_private(found: dict[Path, int]) -> None:
    wrong = {str(p): oct(m) for p, m in found.items() if m != (0o700 if p.is_dir() else 0o600)}
    assert not wrong, wrong


def test_a_testnets_data_directory_is_private(tmp_path: Path) -> None:
    data_dir, trace = tmp_path / "net" / "data", tmp_path / "trace.bin"
    with running_testnet_process("--data-dir", str(data_dir), "--record", str(trace)):
        source = tmp_path / "in.txt"
        source.write_text("private")
        assert vaultnet("put", str(source), "--data-dir", str(data_dir)).returncode == 0
        assert vaultnet("msg", "whoami", "--as", "alice", "--data-dir",
                        str(data_dir)).returncode == 0
        found = modes(tmp_path / "net")
        names = {p.name for p in found}
        assert {"testnet.json", "control.token", "vault.db", "vault.db-wal", "vault.db-shm",
                KEY_FILE, "client", "mpid-alice", "vault-001", "vault-004"} <= names, names
        assert_private(found)
    assert stat.S_IMODE(trace.stat().st_mode) == 0o600
    assert_private(modes(tmp_path / "net"))  # after the shutdown's last writes too


def test_the_default_directories_are_private(tmp_path: Path) -> None:
    runtime, scratch = tmp_path / "run", tmp_path / "tmp"
    runtime.mkdir(mode=0o700)
    scratch.mkdir()
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "TMPDIR": str(scratch)}
    with running_testnet_process(env=env):
        assert_private(modes(runtime / "vaultnet"))
        (vault_data,) = scratch.iterdir()  # the temporary directory of the vaults' data
        found = modes(vault_data)
        assert any(p.name == "vault.db" for p in found)
        assert_private(found)


def test_a_database_is_private_whatever_the_umask(tmp_path: Path) -> None:
    stale = tmp_path / "old.db"
    Database(stale).close()
    for path in (stale, Path(f"{stale}-wal")):
        path.touch()
        path.chmod(0o644)  # as an older vaultnet left them
    old = os.umask(0)
    try:
        fresh = Database(tmp_path / "new.db")
        reopened = Database(stale)
        with fresh.transaction():
            fresh.connection.execute("CREATE TABLE t (x)")
        assert_private({p: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()})
        assert {p.name for p in tmp_path.iterdir()} >= {"new.db", "new.db-wal", "new.db-shm"}
        fresh.close()
        reopened.close()
    finally:
        os.umask(old)


def test_private_dir_leaves_an_existing_directory_alone(tmp_path: Path) -> None:
    """A --data-dir the user made keeps its mode (everything inside is private anyway)."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with running_testnet_process("--data-dir", str(shared), "--duration", "0.1"):
        pass
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert_private({p: m for p, m in modes(shared).items() if p != shared})


"""The address file: how later commands find a running `vaultnet testnet`.

A running `vaultnet testnet` writes `testnet.json` into its data directory so that later
commands (`vaultnet put/get/ctl/version/msg`, ...) can find it; see `default_data_dir`,
`address_file` and `read_address_file`. Its JSON fields: `bootstrap` (list of "host:port";
"sim:N" for the simulator, which is only reachable from inside its own process), `pid`,
`transport`, `vaults`, `seed`, `data_dir`, `started` (unix time), `control` (the control port's
address) and `format` (=1). It is removed on exit. A second testnet refuses to start on a
directory whose address file names a live process; a file left by a dead process (SIGKILL) is
stale and is replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from vaultnet.cli.errors import CommandError
from vaultnet.filemodes import private_dir, write_private
from vaultnet.runtime.testnet import TRANSPORTS

ADDRESS_FILE = "testnet.json"
"""The address file's name in the data directory."""
ADDRESS_FORMAT = 1
"""The record's `format`: a record of another format is refused, not guessed at."""
MAX_PID = 2**31 - 1
"""Largest process id (pid_t is a signed 32-bit integer): a bigger `pid` in an address file
names no process."""


def default_data_dir() -> Path:
    """Where a testnet started without `--data-dir` puts its address file (its vault data then
    lives in a temporary directory removed on exit):

    `$XDG_RUNTIME_DIR/vaultnet` when XDG_RUNTIME_DIR names a directory (per-user, cleared at
    logout: the right home for a file that describes running processes), otherwise
    `$XDG_CACHE_HOME/vaultnet/testnet` (XDG_CACHE_HOME defaults to `~/.cache`).
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "vaultnet"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "vaultnet" / "testnet"


def address_file(data_dir: str | Path | None = None) -> Path:
    """The address file of the testnet on `data_dir` (default: `default_data_dir()`)."""
    return Path(data_dir if data_dir is not None else default_data_dir()) / ADDRESS_FILE


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (one we may not signal counts as alive)."""
    if not 0 < pid <= MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with an address record's fields, or None."""
    def shown(key: str) -> str:
        return f"field {key!r} is {json.dumps(record[key])[:40]}"

    for key in ("format", "pid", "bootstrap", "transport"):
        if key not in record:
            return f"field {key!r} is missing"
    if record["format"] != ADDRESS_FORMAT:
        return f"{shown('format')}, expected {ADDRESS_FORMAT}"
    pid = record["pid"]
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= MAX_PID:
        return f"{shown('pid')}, not a process id"
    bootstrap = record["bootstrap"]
    if (not isinstance(bootstrap, list) or not bootstrap
            or not all(isinstance(a, str) for a in bootstrap)):
        return f"{shown('bootstrap')}, not a list of addresses"
    if record["transport"] not in TRANSPORTS:
        return f"{shown('transport')}, not one of {', '.join(TRANSPORTS)}"
    if not isinstance(record.get("control", ""), str):
        return f"{shown('control')}, not an address"
    return None


def load_address_file(path: Path) -> dict[str, Any]:
    """The record in the address file `path`, checked field by field; CommandError (one line
    naming the file and what is wrong) when it is missing, unreadable or malformed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise CommandError(f"no running testnet found ({path} does not exist); start one "
                           "with 'vaultnet testnet' or pass its --data-dir") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read address file {path}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"address file {path} is not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise CommandError(f"address file {path} holds a JSON {type(record).__name__}, not a "
                           "testnet record")
    problem = _record_problem(record)
    if problem is not None:
        raise CommandError(f"address file {path}: {problem}")
    return record


def read_address_file(data_dir: str | Path | None = None) -> dict[str, Any]:
    """The address record of the testnet running on `data_dir` (default: `default_data_dir()`).

    Raises CommandError (one line for the user) when there is none, it is unreadable or
    malformed, or the process that wrote it is gone. For `vaultnet put/get/ctl` and friends.
    """
    path = address_file(data_dir)
    record = load_address_file(path)
    if not _pid_alive(record["pid"]):
        raise CommandError(f"the testnet in {path} is no longer running (pid {record['pid']})")
    return record


def claim_address_file(path: Path) -> None:
    """Refuse to run over a live testnet's address file; a stale or malformed one is simply
    replaced."""
    try:
        pid = load_address_file(path)["pid"]
    except CommandError:
        return
    if pid != os.getpid() and _pid_alive(pid):
        raise CommandError(f"a testnet is already running here (pid {pid}, {path}); stop it "
                           "or choose another --data-dir")


def write_address_file(path: Path, record: dict[str, Any]) -> None:
    """Write `record` to `path`, readable by this user only (it leads to the control token)."""
    private_dir(path.parent)
    write_private(path, (json.dumps(record, indent=2) + "\n").encode())


def remove_address_file(path: Path) -> None:
    """Remove the address file if it is still ours."""
    with contextlib.suppress(CommandError, OSError):
        if load_address_file(path)["pid"] == os.getpid():
            path.unlink()

"""A `vaultnet testnet` in a process of its own, for a dashboard (or its benchmark) to attach to.

The dashboard's default (`vaultnet tui`): the network's work runs in that process, so it never
delays a key press, where an embedded testnet (trio in guest mode on the UI's event loop) spent
37 of 40 s of the UI's loop (issue 17). The testnet is started here, attached to through its
control port once it prints its ready line, and stopped on the way out (SIGTERM, a wait, SIGKILL
if it hangs); if this process dies without stopping it, the kernel sends it SIGTERM (Linux's
PR_SET_PDEATHSIG), so no testnet outlives its dashboard.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from vaultnet.control import server as control
from vaultnet.control.remote import RemoteNetwork
from vaultnet.filemodes import private_dir

READY_WAIT = 120.0
"""Seconds the testnet may take to print its ready line."""
STOP_WAIT = 20.0
"""Seconds it may take to stop after SIGTERM before it is killed."""
LOG_FILE = "testnet.log"
"""Its output, in its data directory (read for its control port, its ready line, and why it
failed): a file, not a pipe, so its summary lines never fill a buffer nobody reads."""
_PR_SET_PDEATHSIG = 1


class TestnetStartError(Exception):
    """The testnet did not start (its last line says why) or was not ready in time."""


def _die_with_parent() -> None:
    """In the child: SIGTERM it if its parent dies without stopping it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def testnet_command(data_dir: Path, vaults: int, transport: str, seed: int | None,
                    capacity: int | None) -> list[str]:
    """The `vaultnet testnet` command line: on `data_dir`, in one process (as an embedded
    testnet is)."""
    command = [sys.executable, "-m", "vaultnet", "testnet", "--data-dir", str(data_dir),
               "--vaults", str(vaults), "--transport", transport, "--processes", "1"]
    if seed is not None:
        command += ["--seed", str(seed)]
    if capacity is not None:
        command += ["--capacity", str(capacity)]
    return command


@contextlib.contextmanager
def testnet_process(vaults: int, transport: str = "tcp", seed: int | None = None,
                    capacity: int | None = None,
                    data_dir: Path | None = None) -> Iterator[RemoteNetwork]:
    """A `vaultnet testnet` process on `data_dir` (default: a temporary directory, removed
    after), attached once ready, stopped on the way out; TestnetStartError if it does not
    start."""
    temporary = data_dir is None
    where = Path(tempfile.mkdtemp(prefix="vaultnet-tui-")) if data_dir is None else data_dir
    where = private_dir(where.resolve())
    log = where / LOG_FILE
    try:
        with log.open("wb") as out:
            process = subprocess.Popen(
                testnet_command(where, vaults, transport, seed, capacity),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # a ctrl+c in the terminal is the dashboard's to handle
                preexec_fn=_die_with_parent)  # prctl only: safe between fork and exec
        try:
            address = _wait_ready(process, log)
            yield RemoteNetwork(address, control.read_token(where), where)
        finally:
            _stop(process)
    finally:
        if temporary:
            shutil.rmtree(where, ignore_errors=True)


def _wait_ready(process: subprocess.Popen[bytes], log: Path) -> str:
    """Its control address, once it printed its ready line; TestnetStartError with its last
    line if it exits first."""
    deadline = time.monotonic() + READY_WAIT
    while True:
        lines = log.read_text(errors="replace").splitlines()
        if any(line.startswith("ready:") for line in lines):
            return next(line.split()[1] for line in lines if line.startswith("control: "))
        if process.poll() is not None:
            last = lines[-1] if lines else "no output"
            raise TestnetStartError(f"the dashboard's testnet did not start (exit "
                                    f"{process.returncode}): {last}")
        if time.monotonic() > deadline:
            raise TestnetStartError(f"the dashboard's testnet was not ready in "
                                    f"{READY_WAIT:g}s (see {log})")
        time.sleep(0.05)  # polling a file another process writes: no event to wait on


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait for the clean shutdown, SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

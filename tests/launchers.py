"""Helpers for tests that run `vaultnet testnet` launchers as subprocesses and read them over
their control ports."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import trio

from vaultnet.cli.addresses import read_address_file
from vaultnet.control.auth import TOKEN_FILE
from vaultnet.control.client import request
from vaultnet.runtime.worker_pool import wrong_proximity

TIMEOUT = 90
PROXIMITY = 16


@contextlib.contextmanager
def launcher(data_dir: Path, *flags: str) -> Iterator[str]:
    """A `vaultnet testnet` process until SIGTERM, from 'ready:'; yields its bootstrap address."""
    proc = subprocess.Popen([sys.executable, "-m", "vaultnet", "testnet", "--data-dir",
                             str(data_dir), *flags], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        bootstrap = ""
        for line in proc.stdout:
            if line.startswith("bootstrap: "):
                bootstrap = line.split()[1]
            if line.startswith("ready:"):
                break
        else:
            raise AssertionError("testnet exited before it was ready")
        yield bootstrap
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


def ctl(data_dir: Path, command: str, *args: str) -> Any:
    """The launcher's answer to a control command (`status` rows hold each vault's own
    proximity set)."""
    record = read_address_file(data_dir)
    token = (data_dir / TOKEN_FILE).read_text().strip()
    return trio.run(request, record["control"], token, command, list(args))


def wait_exact(*data_dirs: Path) -> list[dict[str, Any]]:
    """The status rows of every launcher once every vault's own proximity set is exact over
    all of them (AssertionError after TIMEOUT seconds)."""
    rows: list[dict[str, Any]] = []
    for _ in range(TIMEOUT * 2):
        rows = [row for d in data_dirs for row in ctl(d, "status")["vault_list"]]
        if not wrong_proximity(rows, PROXIMITY):
            return rows
        trio.run(trio.sleep, 0.5)
    raise AssertionError(f"views still wrong: {wrong_proximity(rows, PROXIMITY)}")


def vaultnet(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run one `vaultnet` command to the end."""
    return subprocess.run([sys.executable, "-m", "vaultnet", *argv], capture_output=True,
                          text=True, timeout=TIMEOUT)

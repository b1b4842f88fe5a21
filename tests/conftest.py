"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def testnet_dir(tmp_path: Path) -> Iterator[Path]:
    data_dir = tmp_path / "net"
    proc = subprocess.Popen([sys.executable, "-m", "vaultnet", "testnet", "--vaults", "6",
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # blocks until the testnet reports it is up
            if line.startswith("ready:"):
                break
        else:
            pytest.fail("testnet exited before it was ready")
        yield data_dir
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0

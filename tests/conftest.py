"""Fixtures shared by the CLI tests, and the `slow` marker for the modules the fast loop skips."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaultnet.runtime.collector import tune_collector

SLOW = (
    "tests/churn/", "tests/messaging/", "tests/versions/", "tests/plugin/", "tests/security/",
    "tests/data/test_immutable.py", "tests/data/test_faults_and_cache.py",
    "tests/test_cli", "tests/test_ctl.py", "tests/test_control_", "tests/test_inspection.py",
    "tests/test_network_core.py", "tests/test_sweep.py", "tests/test_lost_answers.py",
    "tests/test_faults.py", "tests/test_per_message_cost.py", "tests/test_public_api.py",
    "tests/test_determinism.py", "tests/test_processes.py",
    "tests/test_bench_data.py",
    "tests/tui/test_attach.py", "tests/tui/test_live.py", "tests/tui/test_terminal.py",
    "tests/tui/test_replay.py", "tests/tui/test_prompts.py", "tests/tui/test_scenario.py",
    "tests/tui/test_structured_attached.py",
)
"""Modules that start TCP testnets, subprocesses or long simulations: `pytest -m "not slow"`
(the fast development loop, README "Tests") leaves them out; the default run and CI run all."""


def pytest_configure(config: pytest.Config) -> None:
    """Tests run with the collector the `vaultnet` commands use (`runtime/collector.py`)."""
    tune_collector()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of a SLOW module `slow`."""
    root = Path(config.rootpath)
    for item in items:
        where = Path(item.path).relative_to(root).as_posix()
        if where.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


@contextlib.contextmanager
def running_testnet(data_dir: Path, vaults: int) -> Iterator[Path]:
    """A `vaultnet testnet` subprocess on `data_dir`, from 'ready:' until SIGTERM (exit 0)."""
    proc = subprocess.Popen([sys.executable, "-m", "vaultnet", "testnet", "--vaults",
                             str(vaults), "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, text=True)
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


@pytest.fixture
def testnet_dir(tmp_path: Path) -> Iterator[Path]:
    """A 6-vault testnet of its own for one test."""
    with running_testnet(tmp_path / "net", vaults=6) as data_dir:
        yield data_dir


@pytest.fixture(scope="module")
def module_testnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One 8-vault testnet shared by every test of a module (tests use distinct keys and
    identities, so they do not see each other's data)."""
    with running_testnet(tmp_path_factory.mktemp("net"), vaults=8) as data_dir:
        yield data_dir

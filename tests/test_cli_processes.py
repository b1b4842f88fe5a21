"""A testnet over two processes (`vaultnet testnet --processes 2`) behaves like one: every
vault's own proximity set is exact over both, data put is got and deleted, a vault in the worker
is killed and restarted through the launcher's control port, and the launcher's one event
stream (here its --record trace) holds the events of both processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.launchers import ctl, launcher, vaultnet, wait_exact
from vaultnet.cli.arguments import default_processes
from vaultnet.runtime import events as ev
from vaultnet.runtime.worker_pool import shares

VAULTS = 8


def test_two_processes_are_one_testnet(tmp_path: Path) -> None:
    data_dir, trace = tmp_path / "net", tmp_path / "trace"
    with launcher(data_dir, "--vaults", str(VAULTS), "--processes", "2", "--record",
                  str(trace)):
        rows = wait_exact(data_dir)
        assert len(rows) == VAULTS
        local = {path.name for path in data_dir.glob("vault-*")}
        assert len(local) == VAULTS // 2, "the launcher runs its half"
        assert len(list((data_dir / "worker-1").glob("vault-*"))) == VAULTS // 2

        chunk = tmp_path / "chunk"
        chunk.write_bytes(os.urandom(4000))
        put = vaultnet("put", str(chunk), "--data-dir", str(data_dir))
        assert put.returncode == 0, put.stderr
        name = put.stdout.strip()
        got = tmp_path / "got"
        assert vaultnet("get", name, "-o", str(got), "--data-dir", str(data_dir)).returncode == 0
        assert got.read_bytes() == chunk.read_bytes()
        deleted = vaultnet("delete", name, "--data-dir", str(data_dir))
        assert deleted.returncode == 0, deleted.stderr

        in_worker = rows[-1]["name"]  # the launcher's rows come first, the worker's after
        assert ctl(data_dir, "kill", in_worker[:16]) == {"name": in_worker}
        left = [row["name"] for row in ctl(data_dir, "status")["vault_list"]]
        assert len(left) == VAULTS - 1 and in_worker not in left
        assert ctl(data_dir, "restart", in_worker[:16])["name"] == in_worker
        assert in_worker in [row["name"] for row in wait_exact(data_dir)]

    events = ev.read_trace(trace)
    up = {e.vault.hex() for e in events if isinstance(e, ev.VaultUp)}
    assert up == {row["name"] for row in rows}, "every process's vaults in the one stream"
    down = [e for e in events if isinstance(e, ev.VaultDown) and e.vault.hex() == in_worker]
    assert down, "the worker's vault going down reached the launcher's stream"


@pytest.mark.parametrize(("vaults", "asked", "cores", "expected"), [
    (16, None, 2, 1),    # small testnets (every other test) stay in one process
    (128, None, 2, 2),   # one per 64 vaults...
    (500, None, 2, 2),   # ...at most one per core
    (500, None, None, 1),
    (3, 8, 2, 3),        # never more processes than vaults
    (16, 4, 2, 4),
])
def test_the_default_processes(monkeypatch: pytest.MonkeyPatch, vaults: int, asked: int | None,
                               cores: int | None, expected: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert default_processes(vaults, asked) == expected


def test_shares_put_the_larger_ones_first() -> None:
    assert shares(10, 3) == [4, 3, 3]
    assert sum(shares(256, 2)) == 256


def test_processes_need_tcp() -> None:
    refused = vaultnet("testnet", "--transport", "sim", "--vaults", "4", "--processes", "2")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "--processes only applies" in refused.stderr

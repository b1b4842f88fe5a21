"""Two `vaultnet testnet` launchers on two hosts (127.0.0.1 and 127.0.0.2), the second joining
the first with its network key, are one network: every vault's own proximity set is the true
one over both, a chunk put through one is got through the other; a join with another key is
refused in one line."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import trio

from vaultnet.cli.addresses import read_address_file
from vaultnet.control import server as control
from vaultnet.xor import closest

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


def status(data_dir: Path) -> dict[str, Any]:
    """The launcher's `ctl status` answer, its rows holding each vault's own proximity set."""
    record = read_address_file(data_dir)
    token = (data_dir / control.TOKEN_FILE).read_text().strip()
    result: dict[str, Any] = trio.run(control.request, record["control"], token, "status", [])
    return result


def wrong_proximity(rows: list[dict[str, Any]]) -> list[str]:
    """The vaults whose own proximity set is not the true one over every row's vault."""
    names = [bytes.fromhex(row["name"]) for row in rows]
    wrong = []
    for row, name in zip(rows, names, strict=True):
        truth = closest(name, [n for n in names if n != name], PROXIMITY)
        if [bytes.fromhex(p) for p in row["proximity"]] != list(truth):
            wrong.append(row["name"][:16])
    return wrong


def vaultnet(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaultnet", *argv], capture_output=True,
                          text=True, timeout=TIMEOUT)


def test_two_launchers_on_two_hosts_are_one_network(tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    with launcher(first_dir, "--vaults", "5", "--host", "127.0.0.1") as bootstrap:
        key = first_dir / "network.key"
        with launcher(second_dir, "--vaults", "5", "--host", "127.0.0.2", "--join", bootstrap,
                      "--network-key", str(key)):
            assert read_address_file(second_dir)["bootstrap"][0].startswith("127.0.0.2:")
            assert read_address_file(second_dir)["control"].startswith("127.0.0.2:")
            for _ in range(120):
                rows = status(first_dir)["vault_list"] + status(second_dir)["vault_list"]
                if not wrong_proximity(rows):
                    break
                trio.run(trio.sleep, 0.5)
            assert len(rows) == 10 and not wrong_proximity(rows)

            chunk = tmp_path / "chunk"
            chunk.write_bytes(os.urandom(5000))
            put = vaultnet("put", str(chunk), "--data-dir", str(first_dir))
            assert put.returncode == 0, put.stderr
            got = tmp_path / "got"
            get = vaultnet("get", put.stdout.strip(), "-o", str(got), "--data-dir",
                           str(second_dir))
            assert get.returncode == 0, get.stderr
            assert got.read_bytes() == chunk.read_bytes()

        wrong_key = tmp_path / "wrong.key"
        wrong_key.write_bytes(os.urandom(32))
        refused = vaultnet("testnet", "--vaults", "2", "--host", "127.0.0.2", "--data-dir",
                           str(tmp_path / "third"), "--join", bootstrap, "--network-key",
                           str(wrong_key), "--duration", "1")
        assert refused.returncode != 0
        lines = refused.stderr.splitlines()
        assert len(lines) == 1 and "refused our network key" in lines[0], refused.stderr

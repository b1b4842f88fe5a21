"""Two `vaultnet testnet` launchers on two hosts (127.0.0.1 and 127.0.0.2), the second joining
the first with its network key, are one network: every vault's own proximity set is the true
one over both, a chunk put through one is got through the other; a join with another key is
refused in one line."""

from __future__ import annotations

import os
from pathlib import Path

from tests.launchers import launcher, vaultnet, wait_exact
from vaultnet.cli.addresses import read_address_file


def test_two_launchers_on_two_hosts_are_one_network(tmp_path: Path) -> None:
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    with launcher(first_dir, "--vaults", "5", "--host", "127.0.0.1") as bootstrap:
        key = first_dir / "network.key"
        with launcher(second_dir, "--vaults", "5", "--host", "127.0.0.2", "--join", bootstrap,
                      "--network-key", str(key)):
            assert read_address_file(second_dir)["bootstrap"][0].startswith("127.0.0.2:")
            assert read_address_file(second_dir)["control"].startswith("127.0.0.2:")
            assert len(wait_exact(first_dir, second_dir)) == 10

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

"""`vaultnet put / get / delete` against a real `vaultnet testnet` in another process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def vaultnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaultnet", *args], capture_output=True,
                          text=True, timeout=120)


def test_put_get_delete_round_trip(testnet_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(200_000))
    put = vaultnet("put", str(source), "--data-dir", str(testnet_dir))
    assert put.returncode == 0, put.stderr
    name = put.stdout.strip()
    assert len(name) == 128
    out = tmp_path / "out.bin"
    got = vaultnet("get", name, "-o", str(out), "--data-dir", str(testnet_dir))
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == source.read_bytes()
    deleted = vaultnet("delete", name, "--data-dir", str(testnet_dir))
    assert deleted.returncode == 0 and deleted.stdout == f"deleted {name[:16]}\n"
    again = vaultnet("delete", name, "--data-dir", str(testnet_dir))  # always succeeds
    assert again.returncode == 0 and again.stderr == ""
    assert again.stdout == f"{name[:16]} is not in your account: nothing deleted\n"


def test_bad_input_gives_one_line(testnet_dir: Path, tmp_path: Path) -> None:
    bad_name = vaultnet("get", "abc", "--data-dir", str(testnet_dir))
    assert bad_name.returncode == 2 and "hex chunk name" in bad_name.stderr
    missing = vaultnet("put", str(tmp_path / "nope"), "--data-dir", str(testnet_dir))
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    for result in (bad_name, missing):
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().count("\n") == 0


def test_no_testnet_running(tmp_path: Path) -> None:
    result = vaultnet("get", "ab" * 64, "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "no running testnet" in result.stderr and "Traceback" not in result.stderr
    unreachable = vaultnet("get", "ab" * 64, "--bootstrap", "127.0.0.1:1",
                           "--data-dir", str(tmp_path))
    assert unreachable.returncode == 1 and "cannot connect" in unreachable.stderr


def test_put_unique(testnet_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "unique.bin"
    source.write_bytes(os.urandom(5_000))
    first = vaultnet("put", str(source), "--unique", "--data-dir", str(testnet_dir))
    assert first.returncode == 0, first.stderr
    again = vaultnet("put", str(source), "--unique", "--data-dir", str(testnet_dir))
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr.strip().count("\n") == 0 and "Traceback" not in again.stderr
    assert "already exists" in again.stderr

"""`vaultnet register-vault / unregister-vault`: a vault named by its number in a real
`vaultnet testnet` (another process) is registered and unregistered, and a vault that does
not exist is one line, exit 2, with no network needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vaultnet.cli import main as cli


def vaultnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaultnet", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("command", ["register-vault", "unregister-vault"])
def test_a_vault_that_does_not_exist_is_one_line_exit_2(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for vault in ("7", str(tmp_path / "no-such-vault")):
        assert cli.main([command, vault, "--data-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no vault key at" in err and command in err


def test_register_then_unregister_a_testnet_vault(testnet_dir: Path) -> None:
    registered = vaultnet("register-vault", "2", "--data-dir", str(testnet_dir))
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.startswith("registered vault ")
    gone = vaultnet("unregister-vault", str(testnet_dir / "vault-002"),
                    "--data-dir", str(testnet_dir))
    assert gone.returncode == 0, gone.stderr
    assert gone.stdout.endswith(f"allowance {1 << 40} bytes\n")

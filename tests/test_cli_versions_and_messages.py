"""`vaultnet version ...` and `vaultnet msg ...` against a real `vaultnet testnet` process."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.test_cli_data import vaultnet


def one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result.stderr
    stderr = result.stderr
    assert text in stderr and stderr.strip().count("\n") == 0 and "Traceback" not in stderr


def test_version_put_fork_list_branch_delete(testnet_dir: Path, tmp_path: Path) -> None:
    net = ["--data-dir", str(testnet_dir)]
    files = []
    for i in range(3):
        files.append(tmp_path / f"v{i}.txt")
        files[-1].write_text(f"draft {i}")

    def version(*args: str) -> list[str]:
        result = vaultnet("version", *args, *net)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    (root,) = version("put", "notes", str(files[0]))
    (first,) = version("put", "notes", str(files[1]))
    assert root.startswith("0:") and first.startswith("1:") and len(root) == 2 + 128
    (fork,) = version("put", "notes", str(files[2]), "--parent", root[:12])
    assert fork.startswith("1:")
    assert version("list", "notes") == sorted([first, fork])
    assert version("branch", "notes", fork[:10]) == [fork, root]
    one_line_error(vaultnet("version", "put", "notes", str(files[2]), *net), 1,
                   "the tree has 2 tips; choose one with --parent")
    assert version("delete-branch", "notes", fork) == ["deleted", fork]
    assert version("list", "notes") == [first]

    one_line_error(vaultnet("version", "branch", "notes", "7:" + "ab" * 64, *net), 1,
                   "is not in the tree")
    one_line_error(vaultnet("version", "branch", "notes", "7:abcdef12", *net), 1,
                   "no version 7:abcdef12 in this tree")
    one_line_error(vaultnet("version", "list", "never written", *net), 1, "no version tree")
    one_line_error(vaultnet("version", "branch", "notes", "zz", *net), 2,
                   "a version is INDEX:ID")


def test_msg_offline_hold_block_and_bad_names(testnet_dir: Path) -> None:
    net = ["--data-dir", str(testnet_dir)]
    bob = vaultnet("msg", "whoami", "--as", "bob", *net).stdout.strip()
    assert len(bob) == 128
    for text in ("hello bob", "while you were away"):
        sent = vaultnet("msg", "send", "@bob", text, "--as", "alice", *net)
        assert sent.returncode == 0, sent.stderr
    alice = vaultnet("msg", "whoami", "--as", "alice", *net).stdout.strip()
    got = vaultnet("msg", "receive", "--as", "bob", "--wait", "1", *net)
    assert got.returncode == 0, got.stderr
    assert sorted(got.stdout.splitlines()) == [f"{alice[:16]}: hello bob",
                                               f"{alice[:16]}: while you were away"]
    again = vaultnet("msg", "receive", "--as", "bob", "--wait", "0.5", *net)
    assert again.returncode == 0 and again.stdout == ""  # each message is read once

    blocked = vaultnet("msg", "block", "@alice", "--as", "bob", *net)
    assert blocked.returncode == 0 and f"blacklist: {alice[:16]}" in blocked.stdout
    one_line_error(vaultnet("msg", "send", bob, "spam", "--as", "alice", *net), 1,
                   "the recipient has blacklisted you")
    one_line_error(vaultnet("msg", "send", "@carol", "x", "--as", "alice", *net), 1,
                   "no local identity @carol")
    one_line_error(vaultnet("msg", "send", "abc", "x", *net), 2, "an MPID is 128 hex")

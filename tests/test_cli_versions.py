"""`vaultnet version ...` against one real `vaultnet testnet --vaults 8` process (per module)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_cli_data import vaultnet

FULL_UNKNOWN = "cd" * 64
Runner = Callable[..., subprocess.CompletedProcess[str]]


def one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    """Exit `code`, stderr exactly one line holding `text`, no traceback, nothing on stdout."""
    assert result.returncode == code, result.stderr
    stderr = result.stderr
    assert text in stderr, stderr
    assert stderr.strip().count("\n") == 0 and "Traceback" not in stderr
    assert stderr.startswith("vaultnet: error: ") and result.stdout == ""


@pytest.fixture
def version(module_testnet_dir: Path) -> Runner:
    """Run `vaultnet version ARGS` on the module's testnet."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return vaultnet("version", *args, "--data-dir", str(module_testnet_dir))
    return run


def ok(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_put_fork_list_branch_delete_branch(version: Runner, tmp_path: Path) -> None:
    files = []
    for i in range(4):
        files.append(str(tmp_path / f"v{i}.txt"))
        Path(files[-1]).write_text(f"draft {i}")

    (root,) = ok(version("put", "notes", files[0]))
    (first,) = ok(version("put", "notes", files[1]))
    assert root.startswith("0:") and first.startswith("1:") and len(root) == 2 + 128
    (fork,) = ok(version("put", "notes", files[2], "--parent", root[:12]))
    assert fork.startswith("1:")
    assert ok(version("list", "notes")) == sorted([first, fork])
    assert ok(version("branch", "notes", fork[:10])) == [fork, root]
    one_line_error(version("put", "notes", files[3]), 1,
                   "the tree has 2 tips; choose one with --parent")
    # the same version under a second parent: the network's InvalidVersion
    (child,) = ok(version("put", "notes", files[3], "--parent", first))
    one_line_error(version("put", "notes", files[3], "--parent", fork), 1,
                   "invalid version: ")
    assert ok(version("delete-branch", "notes", fork)) == ["deleted", fork]
    assert ok(version("list", "notes")) == [child]
    assert ok(version("branch", "notes", child)) == [child, first, root]


def test_hex_key_names_the_same_tree(version: Runner, tmp_path: Path) -> None:
    from vaultnet.xor import name_of

    source = tmp_path / "a.txt"
    source.write_text("by text")
    (root,) = ok(version("put", "by-hex", str(source)))
    assert ok(version("list", name_of(b"by-hex").hex())) == [root]


def test_invalid_parent_and_unknown_tip(version: Runner, tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_text("root")
    ok(version("put", "errors", str(source)))
    one_line_error(version("put", "errors", str(source), "--parent", "5:" + FULL_UNKNOWN), 1,
                   "invalid parent: no version 5:cdcdcdcd")
    one_line_error(version("branch", "errors", "7:" + FULL_UNKNOWN), 1,
                   "no such version: ")
    one_line_error(version("delete-branch", "errors", "7:" + FULL_UNKNOWN), 1,
                   "no such version: ")
    one_line_error(version("branch", "errors", "7:abcdef12"), 1,
                   "no version 7:abcdef12 in this tree")
    one_line_error(version("list", "never written"), 1, "no such version: ")
    one_line_error(version("branch", "errors", "zz"), 2, "a version is INDEX:ID")
    one_line_error(version("put", "errors", str(source), "--parent", "1:xyzxyzxyz"), 2,
                   "not hex")
    one_line_error(version("put", "errors", str(tmp_path / "missing")), 1, "cannot read")


def test_mode_and_owner_flags(version: Runner, tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_text("mine alone")
    (root,) = ok(version("put", "diary", str(source), "--mode", "private"))
    assert ok(version("list", "diary")) == [root]  # the owner reads its private tree
    one_line_error(version("put", "diary", str(source), "--mode", "public"), 1,
                   "--mode and --owner apply when a tree is created")
    one_line_error(version("put", "plans", str(source), "--owner", "ab" * 64), 1,
                   "add --mode shared")
    one_line_error(version("put", "plans", str(source), "--mode", "shared", "--owner", "ab"),
                   2, "not a client name")
    one_line_error(version("put", "plans", str(source), "--mode", "secret"), 2,
                   "invalid choice")
    (shared,) = ok(version("put", "plans", str(source), "--mode", "shared",
                           "--owner", "ab" * 64))
    assert ok(version("list", "plans")) == [shared]

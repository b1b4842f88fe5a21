"""`vaultnet sd ...` against one real `vaultnet testnet --vaults 8` process (per module)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_cli_data import vaultnet
from tests.test_cli_versions import ok, one_line_error
from vaultnet.personas.structured_data import MAX_DATA_SIZE

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def sd(module_testnet_dir: Path) -> Runner:
    """Run `vaultnet sd ARGS` on the module's testnet."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return vaultnet("sd", *args, "--data-dir", str(module_testnet_dir))
    return run


def write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def test_put_get_update_delete(sd: Runner, tmp_path: Path) -> None:
    first = write(tmp_path, "v0", b"status: here")
    second = write(tmp_path, "v1", b"status: away")
    assert ok(sd("put", "profile", first)) == ["version", "0"]
    got = sd("get", "profile")
    assert got.returncode == 0 and got.stdout == "status: here"
    assert ok(sd("update", "profile", second)) == ["version", "1"]
    out = tmp_path / "out"
    assert ok(sd("get", "profile", "-o", str(out))) == ["version", "1"]
    assert out.read_bytes() == b"status: away"
    assert ok(sd("delete", "profile")) == ["deleted", "version", "1"]
    one_line_error(sd("get", "profile"), 1, "no structured data record at this name")


def test_hex_key_names_the_same_record(sd: Runner, tmp_path: Path) -> None:
    from vaultnet.xor import name_of

    ok(sd("put", "by-hex", write(tmp_path, "a", b"by text")))
    assert sd("get", name_of(b"by-hex").hex()).stdout == "by text"


def test_refusals_are_one_line(sd: Runner, tmp_path: Path) -> None:
    data = write(tmp_path, "a", b"first")
    ok(sd("put", "refusals", data))
    one_line_error(sd("put", "refusals", data), 1, "a structured data record exists")
    one_line_error(sd("update", "refusals", data, "--version", "5"), 1,
                   "the record is at version 0: version 5 is not 1")
    one_line_error(sd("delete", "refusals", "--version", "3"), 1,
                   "the record is at version 0")
    one_line_error(sd("update", "never written", data), 1, "no structured data record")
    one_line_error(sd("put", "large", write(tmp_path, "big", bytes(MAX_DATA_SIZE + 1))), 1,
                   f"over the {MAX_DATA_SIZE}-byte limit")
    one_line_error(sd("put", "missing", str(tmp_path / "nope")), 1, "cannot read")
    one_line_error(sd("update", "refusals", data, "--version", "-1"), 2, "a version is 0 to")
    one_line_error(sd("update", "refusals", data, "--version", "x"), 2, "not a whole number")
    one_line_error(sd("get", ""), 2, "must not be empty")
    assert sd("get", "refusals").stdout == "first"  # none of them changed it

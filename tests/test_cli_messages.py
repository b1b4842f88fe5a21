"""`vaultnet msg ...` against one real `vaultnet testnet --vaults 8` process (per module)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from tests.test_cli_data import vaultnet
from tests.test_cli_versions import one_line_error

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def msg(module_testnet_dir: Path) -> Runner:
    """Run `vaultnet msg ARGS` on the module's testnet."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return vaultnet("msg", *args, "--data-dir", str(module_testnet_dir))
    return run


def out(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_offline_hold_then_receive(msg: Runner) -> None:
    (bob,) = out(msg("whoami", "--as", "bob"))
    (alice,) = out(msg("whoami", "--as", "alice"))
    assert len(bob) == 128 and out(msg("whoami", "--as", "bob")) == [bob]  # the key is kept
    # bob is not connected: his MpidManagers hold the messages
    assert out(msg("send", "@bob", "hello bob", "--as", "alice")) == [f"sent to {bob[:16]}"]
    assert out(msg("send", bob, "while you were away", "--as", "alice")) == [
        f"sent to {bob[:16]}"]
    expected = sorted([f"{alice[:16]}: hello bob", f"{alice[:16]}: while you were away"])
    assert sorted(out(msg("inbox", "--as", "bob"))) == expected  # listed, not taken
    # receive goes online; it returns once the held messages arrived (no --wait needed)
    assert sorted(out(msg("receive", "--as", "bob"))) == expected
    assert out(msg("receive", "--as", "bob")) == []  # each message is taken once
    assert out(msg("inbox", "--as", "bob")) == []


def test_block_and_whitelist_refuse_with_one_line(msg: Runner) -> None:
    (dave,) = out(msg("whoami", "--as", "dave"))
    (carol,) = out(msg("whoami", "--as", "carol"))
    assert out(msg("block", "@carol", "--as", "dave")) == ["whitelist: (empty)",
                                                           f"blacklist: {carol[:16]}"]
    one_line_error(msg("send", dave, "spam", "--as", "carol"), 1,
                   f"message to {dave[:16]} not sent (blocked): the recipient has blacklisted")
    assert out(msg("lists", "--as", "dave"))[1] == f"blacklist: {carol[:16]}"
    out(msg("unblock", "@carol", "--as", "dave"))
    out(msg("allow", "@dave", "--as", "dave"))  # a whitelist carol is not on
    one_line_error(msg("send", "@dave", "hi", "--as", "carol"), 1,
                   "not sent (blocked): you are not on the recipient's whitelist")
    assert out(msg("disallow", "@dave", "--as", "dave")) == ["whitelist: (empty)",
                                                             "blacklist: (empty)"]
    out(msg("send", "@dave", "let in", "--as", "carol"))
    assert out(msg("receive", "--as", "dave")) == [f"{carol[:16]}: let in"]


def test_bad_names_are_usage_errors(msg: Runner) -> None:
    out(msg("whoami", "--as", "erin"))
    for args, text in [
        (("send", "abc", "x"), "an MPID is 128 hex characters or @NAME"),
        (("send", "ab" * 63, "x"), "an MPID is 128 hex characters or @NAME"),
        (("send", "zz" * 64, "x"), "an MPID is 128 hex characters or @NAME"),
        (("block", "@../x"), "an identity name is letters, digits"),
        (("send", "@nobody", "x", "--as", "erin"), "no local identity @nobody (known: "),
        (("lists", "--as", "no/such"), "an identity name is letters, digits"),
        (("receive", "--wait", "-1"), "must be 0 or more seconds"),
    ]:
        one_line_error(msg(*args), 2, text)


def test_refused_send_names_its_kind() -> None:
    """The full-inbox line, without filling an inbox over a real network."""
    from vaultnet.cli.errors import CommandError
    from vaultnet.cli.messages import _send
    from vaultnet.client.mpid import InboxFull

    class Full:
        async def send(self, to: bytes, body: bytes) -> None:
            raise InboxFull("the recipient's inbox holds 256 messages")

    async def attempt() -> None:
        await _send(Full(), b"\xab" * 64, b"x")  # type: ignore[arg-type]

    with pytest.raises(CommandError, match=r"message to abababababababab not sent "
                                           r"\(inbox full\): the recipient's inbox holds 256"):
        trio.run(attempt)

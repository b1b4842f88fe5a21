"""`vaultnet ctl` steering a real `vaultnet testnet` running in another process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import trio

from tests.test_cli import one_error_line
from vaultnet import wire
from vaultnet.control.client import request
from vaultnet.control.controller import Controller
from vaultnet.control.listener import serve
from vaultnet.control.protocol import MAX_REQUEST
from vaultnet.runtime.testnet import Testnet


def ctl(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaultnet", "ctl", "--data-dir", str(data_dir),
                           *args], capture_output=True, text=True, timeout=120)


def vault_rows(data_dir: Path) -> dict[str, str]:
    """Vault name prefix -> its status line."""
    status = ctl(data_dir, "status")
    assert status.returncode == 0, status.stderr
    header, *rows = status.stdout.splitlines()
    assert header.startswith(f"vaults={len(rows)} ")
    return {row.split()[0]: row for row in rows}


def test_status_add_kill_restart_fault(testnet_dir: Path) -> None:
    rows = vault_rows(testnet_dir)
    assert len(rows) == 6
    added = ctl(testnet_dir, "add")
    assert added.returncode == 0, added.stderr
    new = added.stdout.split()[1]
    assert set(vault_rows(testnet_dir)) == {*rows, new}

    victim = sorted(rows)[0]
    killed = ctl(testnet_dir, "kill", victim)
    assert killed.returncode == 0 and killed.stdout.strip() == f"killed {victim}"
    assert victim not in vault_rows(testnet_dir)
    restarted = ctl(testnet_dir, "restart", victim)
    assert restarted.returncode == 0, restarted.stderr
    assert victim in vault_rows(testnet_dir)

    target = sorted(rows)[1]
    assert ctl(testnet_dir, "fault", target, "silent").returncode == 0
    assert vault_rows(testnet_dir)[target].endswith("silent")
    assert ctl(testnet_dir, "fault", target, "heal").returncode == 0
    assert not vault_rows(testnet_dir)[target].endswith("silent")


def test_ctl_errors_are_one_line(testnet_dir: Path, tmp_path: Path) -> None:
    unknown = ctl(testnet_dir, "kill", "ffffffffffff")
    assert unknown.returncode == 1
    assert "no single live vault matches 'ffffffffffff'" in one_error_line(unknown.stderr)

    partition = ctl(testnet_dir, "fault", sorted(vault_rows(testnet_dir))[0], "partition")
    assert partition.returncode == 1
    assert "partition needs the sim transport" in one_error_line(partition.stderr)

    bad_kind = ctl(testnet_dir, "fault", "00", "explode")
    assert bad_kind.returncode == 2
    assert "invalid choice: 'explode'" in one_error_line(bad_kind.stderr)

    token = testnet_dir / "control.token"
    real = token.read_text()
    token.write_text("0" * 64)
    try:
        forged = ctl(testnet_dir, "status")
        assert forged.returncode == 1
        assert "wrong control token" in one_error_line(forged.stderr)
    finally:
        token.write_text(real)
    assert len(vault_rows(testnet_dir)) == 6  # the forged request changed nothing

    idle = ctl(tmp_path / "nothing-here", "status")
    assert idle.returncode == 1
    assert "no running testnet found" in one_error_line(idle.stderr)


async def test_control_port_survives_garbage_and_oversized_requests() -> None:
    async with Testnet(vaults=2, transport="tcp") as net, trio.open_nursery() as nursery:
        address = await nursery.start(serve, Controller(net, "secret"))
        host, port = address.split(":")
        for junk in (b"\xc1\xc1\xc1\xc1\xc1", wire.HEADER.pack(MAX_REQUEST + 1),
                     wire.encode_frame({"token": "secret", "command": "status", "args": 3})):
            stream = await trio.open_tcp_stream(host, int(port))
            async with stream:
                await stream.send_all(junk)
                await stream.send_eof()
                decoder = wire.FrameDecoder()
                while (data := await stream.receive_some(4096)):
                    decoder.feed(data)
                reply = decoder.next_frame()
                assert reply is not None and reply["ok"] is False, reply
        status = await request(address, "secret", "status", [])
        assert status["vaults"] == 2
        nursery.cancel_scope.cancel()


def test_a_reader_that_closes_the_pipe_is_no_error(testnet_dir: Path) -> None:
    """`vaultnet ctl status | head -1`: once the reader has gone, ctl stops quietly with the
    status a shell gives a tool killed by SIGPIPE, and prints no error."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        closed = subprocess.run([sys.executable, "-m", "vaultnet", "ctl", "--data-dir",
                                 str(testnet_dir), "status"], stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert (closed.returncode, closed.stderr) == (128 + signal.SIGPIPE, "")

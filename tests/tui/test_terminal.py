"""`vaultnet tui` in a real pseudo-terminal: SIGTERM and SIGINT end it the normal way, so the
terminal is given back (alternate screen left, cursor shown, mouse tracking off), and the
testnet it started in a process of its own is stopped with it, even when it is killed."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from vaultnet.cli import main as cli

DEADLINE = 60.0
RESTORE = {"leave the alternate screen": b"\x1b[?1049l", "show the cursor": b"\x1b[?25h",
           "mouse tracking off": b"\x1b[?1000l"}


def read_until(fd: int, output: bytearray, done: bytes | None, deadline: float) -> bool:
    """Read the terminal into `output` until `done` appears (None: until it closes) or the
    deadline passes; True if it was seen."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if done is not None and done in output:
            return True
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            part = os.read(fd, 65536)
        except OSError:  # EIO: every writer of the terminal has gone
            return done is None
        if not part:
            return done is None
        output += part
    return False


def gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def wait_gone(pid: int) -> bool:
    """Wait (with a deadline) for `pid` to exit; whether it did."""
    end = time.monotonic() + DEADLINE
    while not gone(pid):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)  # polling another process's state: no event to wait on
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                                    signal.SIGKILL],
                         ids=["SIGTERM", "SIGINT", "SIGHUP", "SIGKILL"])
def test_a_signal_ends_the_dashboard_its_testnet_and_restores_the_terminal(
        tmp_path: Path, signum: int) -> None:
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vaultnet", "tui", "--vaults", "4", "--data-dir", str(tmp_path)],
        stdin=terminal, stdout=terminal, stderr=terminal, env=env, start_new_session=True)
    os.close(terminal)
    try:
        output = bytearray()
        assert read_until(controller, output, b"testnet up", DEADLINE), bytes(output[-2000:])
        assert b"\x1b[?1049h" in output and b"\x1b[?1000h" in output  # what is to be undone
        testnet = json.loads((tmp_path / cli.ADDRESS_FILE).read_text())["pid"]
        assert testnet != proc.pid and not gone(testnet)  # the testnet is a process of its own
        before = len(output)
        proc.send_signal(signum)
        if signum != signal.SIGKILL:
            read_until(controller, output, None, DEADLINE)
        code = proc.wait(timeout=DEADLINE)
        assert wait_gone(testnet), "the testnet outlived the dashboard"
        if signum == signal.SIGKILL:  # no chance to restore anything: the kernel stops it
            assert code == -signal.SIGKILL
            return
        assert code == 128 + signum
        assert not (tmp_path / cli.ADDRESS_FILE).exists()  # stopped cleanly, not killed
        assert (tmp_path / "testnet.log").read_text().splitlines()[-1].startswith(
            "stopped after ")  # its own clean shutdown's last line: SIGTERM, not SIGKILL
        after = bytes(output[before:])
        for what, sequence in RESTORE.items():
            assert sequence in after, what
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)

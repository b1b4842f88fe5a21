"""`vaultnet tui` in a real pseudo-terminal: SIGTERM and SIGINT end it the normal way, so the
terminal is given back (alternate screen left, cursor shown, mouse tracking off)."""

from __future__ import annotations

import fcntl
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


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_dashboard_and_restores_the_terminal(tmp_path: Path,
                                                               signum: int) -> None:
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
        before = len(output)
        proc.send_signal(signum)
        read_until(controller, output, None, DEADLINE)
        assert proc.wait(timeout=DEADLINE) == 128 + signum
        after = bytes(output[before:])
        for what, sequence in RESTORE.items():
            assert sequence in after, what
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)

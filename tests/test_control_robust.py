"""The control port of a real `vaultnet testnet` process under malformed requests and idle
sockets, and what `vaultnet ctl` says when the port is not what it expects."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import nacl.signing
import pytest
import trio

from tests.test_cli import one_error_line
from tests.test_ctl import ctl, vault_rows
from vaultnet import wire
from vaultnet.cli import main as cli
from vaultnet.control import client, listener
from vaultnet.control.auth import TOKEN_FILE
from vaultnet.control.client import ControlRefused, request
from vaultnet.control.controller import Controller
from vaultnet.control.listener import MAX_PREAUTH, PREAUTH_TIMEOUT, serve
from vaultnet.identity import KEY_FILE, name_of_key
from vaultnet.runtime.testnet import Testnet

DEADLINE = 30.0
"""Seconds a test waits for a socket to answer or close before it fails (a deadline on a
condition, not a measurement)."""


def control_port(data_dir: Path) -> int:
    record = json.loads((data_dir / cli.ADDRESS_FILE).read_text())
    return int(record["control"].rpartition(":")[2])


def token_of(data_dir: Path) -> str:
    return (data_dir / TOKEN_FILE).read_text().strip()


def raw_frame(obj: Any) -> bytes:
    """Any msgpack value framed like a request (the codec would refuse a non-map)."""
    body = msgpack.packb(obj, use_bin_type=True)
    return struct.pack(">I", len(body)) + body


def exchange(port: int, data: bytes, close_write: bool = True) -> bytes:
    """Send `data` on a new connection and read until the testnet closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        return read_to_end(sock)


def read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def reply_of(received: bytes) -> dict[str, Any]:
    decoder = wire.FrameDecoder()
    decoder.feed(received)
    reply = decoder.next_frame()
    assert reply is not None, received
    return reply


def assert_status_works(data_dir: Path) -> None:
    assert len(vault_rows(data_dir)) == 8  # the testnet is up and answers its owner


# Each malformed request: what to send (given the right token), the reply's kind, and a
# fragment of its error.
MALFORMED: dict[str, tuple[Callable[[str], bytes], str, str]] = {
    "command is a list": (lambda t: raw_frame({"token": t, "command": ["status"]}),
                          "malformed", "command must be a string"),
    "command is a map": (lambda t: raw_frame({"token": t, "command": {"status": 1}}),
                         "malformed", "command must be a string"),
    "command is missing": (lambda t: raw_frame({"token": t}),
                           "malformed", "command must be a string"),
    "unknown command": (lambda t: raw_frame({"token": t, "command": "explode"}),
                        "command", "unknown command 'explode'"),
    "args is a string": (lambda t: raw_frame({"token": t, "command": "kill", "args": "ab"}),
                         "malformed", "arguments must be a list of strings"),
    "args hold a number": (lambda t: raw_frame({"token": t, "command": "kill", "args": [7]}),
                           "malformed", "arguments must be a list of strings"),
    "status with an argument": (lambda t: raw_frame({"token": t, "command": "status",
                                                     "args": ["x"]}),
                                "command", "usage: status"),
    "add with an argument": (lambda t: raw_frame({"token": t, "command": "add",
                                                  "args": ["1"]}),
                             "command", "usage: add"),
    "kill without a name": (lambda t: raw_frame({"token": t, "command": "kill"}),
                            "command", "usage: kill NAME"),
    "fault with one argument": (lambda t: raw_frame({"token": t, "command": "fault",
                                                     "args": ["00"]}),
                                "command", "usage: fault NAME KIND"),
    "an overlong argument": (lambda t: raw_frame({"token": t, "command": "restart",
                                                  "args": ["a" * 5000]}),
                             "command", "usage: restart NAME"),
    "unknown field": (lambda t: raw_frame({"token": t, "command": "status", "sudo": True}),
                      "malformed", "unknown request field(s): sudo"),
    "token is a number": (lambda t: raw_frame({"token": 12, "command": "status"}),
                          "malformed", "token must be a string"),
    "a list, not a map": (lambda t: raw_frame([t, "status"]), "malformed", "not a map"),
    "a string, not a map": (lambda t: raw_frame("status"), "malformed", "not a map"),
    "garbage bytes": (lambda t: struct.pack(">I", 4) + b"\xc1\xc1\xc1\xc1",
                      "malformed", "undecodable"),
    "an HTTP request": (lambda t: b"GET / HTTP/1.0\r\n\r\n", "malformed", "exceeds"),
    "a huge frame": (lambda t: struct.pack(">I", 1 << 31), "malformed", "exceeds"),
    "a truncated frame": (lambda t: raw_frame({"token": t, "command": "status"})[:-3],
                          "malformed", "closed before a whole frame"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_requests_get_an_error_reply(module_testnet_dir: Path, case: str) -> None:
    make, kind, fragment = MALFORMED[case]
    reply = reply_of(exchange(control_port(module_testnet_dir), make(token_of(
        module_testnet_dir))))
    assert reply["ok"] is False and reply["kind"] == kind, reply
    assert fragment in reply["error"], reply
    assert_status_works(module_testnet_dir)


def test_a_valid_command_with_a_bad_vault_is_refused(module_testnet_dir: Path) -> None:
    token = token_of(module_testnet_dir)
    for args in (["fff0fff0fff0"], [""]):
        reply = reply_of(exchange(control_port(module_testnet_dir), raw_frame(
            {"token": token, "command": "restart", "args": args})))
        assert reply == {"ok": False, "kind": "refused",
                         "error": f"no single vault that ever ran matches {args[0]!r}"}
    assert_status_works(module_testnet_dir)


def test_a_vault_whose_files_are_unusable_is_refused(testnet_dir: Path) -> None:
    victim = sorted(vault_rows(testnet_dir))[0]
    assert ctl(testnet_dir, "kill", victim).returncode == 0
    (key,) = [k for k in testnet_dir.glob(f"vault-*/{KEY_FILE}")
              if name_of_key(nacl.signing.SigningKey(k.read_bytes()).verify_key.encode()
                             ).hex().startswith(victim)]
    key.write_bytes(b"short")
    refused = ctl(testnet_dir, "restart", victim)
    assert refused.returncode == 1
    assert f"{key}: expected a 32-byte key, found 5 bytes" in one_error_line(refused.stderr)
    assert len(vault_rows(testnet_dir)) == 5  # still serving, the others untouched


def test_a_silent_connection_is_answered_timeout(module_testnet_dir: Path) -> None:
    reply = reply_of(exchange(control_port(module_testnet_dir), b"", close_write=False))
    assert reply == {"ok": False, "kind": "timeout",
                     "error": f"no whole request within {PREAUTH_TIMEOUT:g} s"}


@pytest.mark.parametrize("idle", [8, MAX_PREAUTH + 8])
def test_silent_sockets_do_not_keep_the_owner_out(module_testnet_dir: Path, idle: int) -> None:
    port = control_port(module_testnet_dir)
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.create_connection(("127.0.0.1", port),
                                                                timeout=DEADLINE))
                   for _ in range(idle)]
        assert_status_works(module_testnet_dir)  # while every one of them is still open
        received = [read_to_end(sock) for sock in sockets]
    pushed_out = [r for r in received if r == b""]  # closed without a word for newer ones
    assert all(reply_of(r)["kind"] == "timeout" for r in received if r)
    assert len(pushed_out) >= idle - MAX_PREAUTH
    if idle <= MAX_PREAUTH - 1:  # room for all of them and for `ctl status`
        assert not pushed_out
    assert_status_works(module_testnet_dir)


def copy_of(data_dir: Path, tmp_path: Path, **changes: Any) -> Path:
    """A directory with the testnet's address file (fields changed) and its token."""
    copy = tmp_path / "copy"
    copy.mkdir(parents=True)
    record = json.loads((data_dir / cli.ADDRESS_FILE).read_text())
    (copy / cli.ADDRESS_FILE).write_text(json.dumps({**record, **changes}))
    shutil.copy(data_dir / TOKEN_FILE, copy / TOKEN_FILE)
    return copy


def test_a_wrong_token_says_so(module_testnet_dir: Path, tmp_path: Path) -> None:
    copy = copy_of(module_testnet_dir, tmp_path)
    (copy / TOKEN_FILE).write_text("0" * 64 + "\n")
    result = ctl(copy, "status")
    assert result.returncode == 1
    assert one_error_line(result.stderr) == (
        "vaultnet: error: wrong control token: the token file does not match the running "
        "testnet's")
    assert ctl(copy_of(module_testnet_dir, tmp_path / "good"), "status").returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def fake_control_port(behaviour: str) -> Iterator[int]:
    """A port that never answers ('silent'), closes each connection ('close') or resets it
    ('reset') once the request has arrived."""
    server = socket.create_server(("127.0.0.1", 0))
    port = int(server.getsockname()[1])

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                if behaviour == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    thread = threading.Thread(target=serve, daemon=True)
    if behaviour != "silent":  # a silent port leaves the connection in the listen backlog
        thread.start()
    try:
        yield port
    finally:
        server.close()
        if thread.is_alive():
            thread.join(DEADLINE)


@pytest.mark.parametrize(("behaviour", "expected"), [
    ("refused", "cannot connect to the testnet's control port 127.0.0.1:{port} (Connection "
                "refused); is the testnet still running?"),
    ("silent", "no answer from the testnet on 127.0.0.1:{port} within 0.5 s"),
    ("close", "the testnet on 127.0.0.1:{port} closed the connection without an answer "
              "(connection closed)"),
    ("reset", "the testnet on 127.0.0.1:{port} closed the connection without an answer "
              "(Connection reset by peer)"),
])
def test_ctl_says_what_happened(module_testnet_dir: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str], behaviour: str,
                                expected: str) -> None:
    monkeypatch.setattr(client, "ANSWER_TIMEOUT", 0.5)
    with contextlib.ExitStack() as stack:
        port = (free_port() if behaviour == "refused"
                else stack.enter_context(fake_control_port(behaviour)))
        copy = copy_of(module_testnet_dir, tmp_path, control=f"127.0.0.1:{port}")
        assert cli.main(["ctl", "--data-dir", str(copy), "status"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line == "vaultnet: error: " + expected.format(port=port)
    assert "token" not in line


async def test_commands_over_the_running_limit_are_answered_busy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with Testnet(vaults=2, transport="tcp") as net, trio.open_nursery() as nursery:
        address = await nursery.start(serve, Controller(net, "secret"))
        monkeypatch.setattr(listener, "MAX_RUNNING", 0)  # read when serve makes its limiter
        busy_address = await nursery.start(serve, Controller(net, "secret"))
        with pytest.raises(ControlRefused) as busy:
            await request(busy_address, "secret", "status", [])
        assert busy.value.kind == "busy"
        assert (await request(address, "secret", "status", []))["vaults"] == 2
        nursery.cancel_scope.cancel()

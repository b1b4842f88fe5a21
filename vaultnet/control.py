"""Steering a running testnet from another terminal (`vaultnet ctl ...`).

`vaultnet testnet` listens on 127.0.0.1 only, on a port it writes into its address file, and
accepts one request per connection: a length-prefixed msgpack map `{"token", "command", "args"}`
answered by `{"ok": true, "result": ...}` or `{"ok": false, "error": "..."}`. The token is a
random secret in `control.token` (mode 0600, removed at exit) beside the address file, so only
a user who can read the testnet's data directory can steer it. Requests are small and bounded:
one frame of at most `MAX_REQUEST` bytes, read within `REQUEST_TIMEOUT`, at most `MAX_CLIENTS`
served at once.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from vaultnet import wire
from vaultnet.faults import Fault
from vaultnet.testnet import Testnet, TestnetError

TOKEN_FILE = "control.token"
MAX_REQUEST = 64 * 1024
MAX_REPLY = 4 * 1024 * 1024
REQUEST_TIMEOUT = 5.0
MAX_CLIENTS = 4
COMMANDS = ("status", "add", "kill", "restart", "fault")


class ControlError(Exception):
    """A control request failed: refused, unreachable, or the testnet said no."""


def write_token(directory: Path) -> str:
    """A fresh secret in `directory/control.token`, readable by this user only."""
    directory.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(32)
    path = directory / TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token + "\n")
    return token


def read_token(directory: Path) -> str:
    path = directory / TOKEN_FILE
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ControlError(f"cannot read control token {path}: {exc.strerror or exc}") from None


def _vault_row(net: Testnet, name: bytes) -> dict[str, Any]:
    vault = net.vault(name)
    return {"name": vault.name.hex(), "address": vault.address, "peers": len(vault.routing),
            "copies": len(vault.stored()), "silent": vault.silent}


class Controller:
    """Carries out control commands on one testnet (the server side of `vaultnet ctl`)."""

    def __init__(self, net: Testnet, token: str) -> None:
        self.net = net
        self._token = token.encode()
        self._commands: dict[str, Callable[[list[str]], Awaitable[Any]]] = {
            "status": self._status, "add": self._add, "kill": self._kill,
            "restart": self._restart, "fault": self._fault,
        }

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        token = request.get("token")
        if not isinstance(token, str) or not hmac.compare_digest(token.encode(), self._token):
            return {"ok": False, "error": "wrong control token"}
        command, args = request.get("command"), request.get("args", [])
        if command not in self._commands:
            return {"ok": False, "error": f"unknown command {command!r}"}
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            return {"ok": False, "error": "arguments must be a list of strings"}
        try:
            return {"ok": True, "result": await self._commands[command](args)}
        except TestnetError as exc:
            return {"ok": False, "error": str(exc)}

    @staticmethod
    def _want(args: list[str], count: int, usage: str) -> None:
        if len(args) != count:
            raise TestnetError(f"usage: {usage}")

    async def _status(self, args: list[str]) -> Any:
        self._want(args, 0, "status")
        return {**self.net.summary(),
                "vault_list": [_vault_row(self.net, v.name) for v in self.net.vaults]}

    async def _add(self, args: list[str]) -> Any:
        self._want(args, 0, "add")
        return _vault_row(self.net, (await self.net.add_vault()).name)

    async def _kill(self, args: list[str]) -> Any:
        self._want(args, 1, "kill NAME")
        name = self.net.vault(args[0]).name
        await self.net.kill_vault(name)
        return {"name": name.hex()}

    async def _restart(self, args: list[str]) -> Any:
        self._want(args, 1, "restart NAME")
        return _vault_row(self.net, (await self.net.restart_vault(args[0])).name)

    async def _fault(self, args: list[str]) -> Any:
        self._want(args, 2, f"fault NAME {'|'.join(f.value for f in Fault)}")
        vault = self.net.fault(args[0], args[1])
        return {"name": vault.name.hex(), "fault": args[1]}


async def _read_frame(stream: trio.abc.Stream, limit: int) -> dict[str, Any]:
    decoder = wire.FrameDecoder(max_frame=limit)
    while (frame := decoder.next_frame()) is None:
        data = await stream.receive_some(64 * 1024)
        if not data:
            raise wire.FrameError("connection closed before a whole request arrived")
        decoder.feed(data)
    return frame


async def serve(controller: Controller, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Listen on 127.0.0.1 (a free port); `task_status.started` reports "127.0.0.1:PORT"."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    host, port = listeners[0].socket.getsockname()[:2]
    limit = trio.CapacityLimiter(MAX_CLIENTS)

    async def one(stream: trio.SocketStream) -> None:
        async with stream:
            if limit.available_tokens == 0:
                return  # busy: refuse rather than queue without bound
            async with limit:
                try:
                    with trio.fail_after(REQUEST_TIMEOUT):
                        request = await _read_frame(stream, MAX_REQUEST)
                except (wire.FrameError, trio.TooSlowError, trio.BrokenResourceError):
                    return
                reply = await controller.handle(request)
                with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                    await stream.send_all(wire.encode_frame(reply))

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, one, listeners)
        task_status.started(f"{host}:{port}")


async def request(address: str, token: str, command: str, args: list[str]) -> Any:
    """Send one command to a testnet's control port; its result, or ControlError."""
    host, _, port = address.rpartition(":")
    if host != "127.0.0.1" or not port.isdigit():
        raise ControlError(f"refusing control address {address!r}: loopback only")
    try:
        with trio.fail_after(REQUEST_TIMEOUT * 6):  # an add waits for the vault to join
            stream = await trio.open_tcp_stream(host, int(port))
            async with stream:
                await stream.send_all(wire.encode_frame(
                    {"token": token, "command": command, "args": args}))
                reply = await _read_frame(stream, MAX_REPLY)
    except OSError as exc:
        raise ControlError(f"the testnet is not answering on {address} "
                           f"({exc.strerror or exc}); is it still running?") from None
    except trio.TooSlowError:
        raise ControlError(f"the testnet on {address} did not answer in time") from None
    except (wire.FrameError, trio.BrokenResourceError):
        raise ControlError(f"the testnet on {address} closed the connection; is the control "
                           "token current?") from None
    if reply.get("ok") is not True:
        raise ControlError(str(reply.get("error", "request refused")))
    return reply.get("result")

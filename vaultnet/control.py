"""Steering a running testnet from another terminal (`vaultnet ctl ...`).

`vaultnet testnet` listens on 127.0.0.1 only, on a port it writes into its address file, and
accepts one request per connection: a length-prefixed msgpack map `{"token", "command", "args"}`
answered by `{"ok": true, "result": ...}` or `{"ok": false, "error": TEXT, "kind": KIND}` (KIND
is one of `ERROR_KINDS`). The token is a random secret in `control.token` (mode 0600, removed
at exit) beside the address file, so only a user who can read the testnet's data directory can
steer it.

Whatever arrives, the testnet answers (or, for a peer that resets, just closes) and keeps
serving: a request that is not a map, has unknown fields, wrong types, an unknown command or
the wrong arguments gets an error reply, as do undecodable, oversized and truncated frames. A
connection must deliver its whole request within `PREAUTH_TIMEOUT`; at most `MAX_PREAUTH`
connections wait for theirs at once, and a new one pushes out the oldest, so sockets that
never speak cannot keep the owner out. At most `MAX_RUNNING` authenticated commands run at
once; more are answered `busy`.
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
from vaultnet.filemodes import private_dir, write_private
from vaultnet.identity import IdentityError
from vaultnet.store import StoreError
from vaultnet.testnet import Testnet, TestnetError

TOKEN_FILE = "control.token"
MAX_REQUEST = 64 * 1024
"""Largest request frame: a request is a token, a command and two short arguments."""
MAX_REPLY = 4 * 1024 * 1024
"""Largest reply the client accepts: `status` lists every vault (500 rows fit easily)."""
MAX_ARG = 256
"""Longest argument: a vault name is 128 hex characters, a fault kind a word."""
PREAUTH_TIMEOUT = 2.0
"""Seconds a connection has to deliver its whole request (a real client needs microseconds);
a silent socket is answered `timeout` and closed after this."""
MAX_PREAUTH = 64
"""Connections waiting for their request at once; a new one pushes out the oldest, so idle
sockets cannot fill the port and each costs only one small task while it lasts."""
MAX_RUNNING = 4
"""Authenticated commands running at once (an `add` waits for its vault to join)."""
SEND_TIMEOUT = 2.0
"""Seconds to hand a reply to a peer; one that does not read is dropped."""
CONNECT_TIMEOUT = 5.0
"""Seconds `request` waits to connect to the control port."""
ANSWER_TIMEOUT = 30.0
"""Seconds `request` waits for the answer: an `add` waits until its vault has joined."""
ERROR_KINDS = ("malformed", "timeout", "token", "command", "refused", "busy")
"""`kind` of an error reply: a malformed request or frame, no whole request in time, a wrong
token, an unknown command or wrong arguments, a command the testnet refused, too many
commands running."""
ARGUMENTS: dict[str, tuple[str, ...]] = {
    "status": (), "add": (), "kill": ("NAME",), "restart": ("NAME",), "fault": ("NAME", "KIND"),
}
"""Each command and its arguments (all strings)."""
COMMANDS = tuple(ARGUMENTS)
FIELDS = frozenset({"token", "command", "args"})
COMMAND_FAILURES = (TestnetError, IdentityError, StoreError, OSError)
"""What a command may fail with because of the testnet's state (no such vault, a vault's
files unusable): answered as a refusal, the testnet keeps running."""


class ControlError(Exception):
    """A control request failed: refused, unreachable, or the testnet said no."""


class ControlUnreachable(ControlError):
    """Nothing accepted the connection on the control address."""


class ControlTimeout(ControlError):
    """The control port did not connect or answer in time."""


class ControlClosed(ControlError):
    """The testnet closed or reset the connection without a (readable) answer."""


class ControlRefused(ControlError):
    """The testnet answered with an error reply; `kind` is one of ERROR_KINDS."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class WrongToken(ControlRefused):
    """The token sent is not the running testnet's."""


class RequestError(Exception):
    """A request the server answers with an error reply of `kind` (one of ERROR_KINDS)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    def reply(self) -> dict[str, Any]:
        """The error reply that reports this to the client."""
        return {"ok": False, "error": str(self), "kind": self.kind}


def write_token(directory: Path) -> str:
    """A fresh secret in `directory/control.token`, readable by this user only."""
    private_dir(directory)
    token = secrets.token_hex(32)
    write_private(directory / TOKEN_FILE, (token + "\n").encode())
    return token


def read_token(directory: Path) -> str:
    """The secret a running testnet wrote into `directory`."""
    path = directory / TOKEN_FILE
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ControlError(f"cannot read control token {path}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None


def _vault_row(net: Testnet, name: bytes) -> dict[str, Any]:
    vault = net.vault(name)
    return {"name": vault.name.hex(), "address": vault.address, "peers": len(vault.routing),
            "copies": len(vault.stored()), "silent": vault.silent}


def _usage(command: str) -> str:
    return " ".join((command, *ARGUMENTS[command]))


class Controller:
    """Carries out control commands on one testnet (the server side of `vaultnet ctl`)."""

    def __init__(self, net: Testnet, token: str) -> None:
        self.net = net
        self._token = token.encode()
        self._commands: dict[str, Callable[[list[str]], Awaitable[Any]]] = {
            "status": self._status, "add": self._add, "kill": self._kill,
            "restart": self._restart, "fault": self._fault,
        }

    def check(self, request: object) -> tuple[str, list[str]]:
        """The command and arguments of a well-formed request carrying the right token;
        RequestError otherwise. The token is checked before anything about the command, so a
        caller without it learns nothing but the request's shape."""
        if not isinstance(request, dict):
            raise RequestError("malformed", "a request is a map")
        unknown = sorted(str(k) for k in request if k not in FIELDS)
        if unknown:
            raise RequestError("malformed", f"unknown request field(s): {', '.join(unknown)}")
        token = request.get("token")
        if not isinstance(token, str):
            raise RequestError("malformed", "the token must be a string")
        if not hmac.compare_digest(token.encode(), self._token):
            raise RequestError("token", "wrong control token")
        command, args = request.get("command"), request.get("args", [])
        if not isinstance(command, str):
            raise RequestError("malformed", "the command must be a string")
        if command not in ARGUMENTS:
            raise RequestError("command", f"unknown command {command[:32]!r} (commands: "
                                          f"{', '.join(COMMANDS)})")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise RequestError("malformed", "arguments must be a list of strings")
        if len(args) != len(ARGUMENTS[command]) or any(len(a) > MAX_ARG for a in args):
            raise RequestError("command", f"usage: {_usage(command)} (arguments of at most "
                                          f"{MAX_ARG} characters)")
        return command, args

    async def run(self, command: str, args: list[str]) -> dict[str, Any]:
        """The reply to a checked command: its result, or the testnet's refusal."""
        try:
            return {"ok": True, "result": await self._commands[command](args)}
        except COMMAND_FAILURES as exc:
            return RequestError("refused", str(exc) or type(exc).__name__).reply()

    async def _status(self, args: list[str]) -> Any:
        return {**self.net.summary(),
                "vault_list": [_vault_row(self.net, v.name) for v in self.net.vaults]}

    async def _add(self, args: list[str]) -> Any:
        return _vault_row(self.net, (await self.net.add_vault()).name)

    async def _kill(self, args: list[str]) -> Any:
        name = self.net.vault(args[0]).name
        await self.net.kill_vault(name)
        return {"name": name.hex()}

    async def _restart(self, args: list[str]) -> Any:
        return _vault_row(self.net, (await self.net.restart_vault(args[0])).name)

    async def _fault(self, args: list[str]) -> Any:
        vault = self.net.fault(args[0], args[1])
        return {"name": vault.name.hex(), "fault": args[1]}


class _ClosedEarly(wire.FrameError):
    """The peer closed its side before a whole frame arrived."""


async def _read_frame(stream: trio.abc.Stream, limit: int) -> dict[str, Any]:
    decoder = wire.FrameDecoder(max_frame=limit)
    while (frame := decoder.next_frame()) is None:
        data = await stream.receive_some(64 * 1024)
        if not data:
            raise _ClosedEarly("connection closed before a whole frame arrived")
        decoder.feed(data)
    return frame


async def _send_reply(stream: trio.abc.Stream, reply: dict[str, Any]) -> None:
    with trio.move_on_after(SEND_TIMEOUT):
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(wire.encode_frame(reply))


class _Waiting:
    """The connections still waiting for their request, oldest first, at most MAX_PREAUTH."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._scopes: dict[trio.CancelScope, None] = {}  # insertion order: oldest first

    def admit(self, scope: trio.CancelScope) -> None:
        """Take `scope` in, cancelling (closing) the oldest waiting connection when full."""
        if len(self._scopes) >= self._size:
            oldest = next(iter(self._scopes))
            del self._scopes[oldest]
            oldest.cancel()
        self._scopes[scope] = None

    def release(self, scope: trio.CancelScope) -> None:
        """`scope`'s connection no longer waits (it sent its request, or it is gone)."""
        self._scopes.pop(scope, None)


async def _authenticate(stream: trio.SocketStream,
                        controller: Controller) -> tuple[str, list[str]] | None:
    """Read and check one request within PREAUTH_TIMEOUT; on any fault answer it with an error
    reply (if the peer is still there) and return None."""
    try:
        try:
            with trio.fail_after(PREAUTH_TIMEOUT):
                frame = await _read_frame(stream, MAX_REQUEST)
        except trio.TooSlowError:
            raise RequestError("timeout", f"no whole request within {PREAUTH_TIMEOUT:g} s"
                               ) from None
        except wire.FrameError as exc:
            raise RequestError("malformed", f"bad request frame: {exc}") from None
        return controller.check(frame)
    except RequestError as exc:
        await _send_reply(stream, exc.reply())
    except trio.BrokenResourceError:
        pass  # reset by the peer: nobody to answer
    return None


async def serve(controller: Controller, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Listen on 127.0.0.1 (a free port); `task_status.started` reports "127.0.0.1:PORT"."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    host, port = listeners[0].socket.getsockname()[:2]
    waiting = _Waiting(MAX_PREAUTH)
    running = trio.CapacityLimiter(MAX_RUNNING)

    async def one(stream: trio.SocketStream) -> None:
        async with stream:
            with trio.CancelScope() as scope:
                waiting.admit(scope)
                try:
                    checked = await _authenticate(stream, controller)
                finally:
                    waiting.release(scope)
            if scope.cancelled_caught or checked is None:
                return
            if running.available_tokens == 0:
                reply = RequestError("busy", f"{MAX_RUNNING} commands are already running; "
                                             "try again").reply()
            else:
                async with running:
                    reply = await controller.run(*checked)
            await _send_reply(stream, reply)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, one, listeners)
        task_status.started(f"{host}:{port}")


async def request(address: str, token: str, command: str, args: list[str]) -> Any:
    """Send one command to a testnet's control port; its result, or a ControlError saying
    what went wrong (nothing listening, no answer in time, connection closed, refused)."""
    host, _, port = address.rpartition(":")
    if host != "127.0.0.1" or not port.isdigit():
        raise ControlError(f"refusing control address {address!r}: loopback only")
    try:
        with trio.fail_after(CONNECT_TIMEOUT):
            stream = await trio.open_tcp_stream(host, int(port))
    except trio.TooSlowError:
        raise ControlTimeout(f"could not connect to the testnet's control port {address} "
                             f"within {CONNECT_TIMEOUT:g} s") from None
    except OSError as exc:
        raise ControlUnreachable(f"cannot connect to the testnet's control port {address} "
                                 f"({_os_reason(exc)}); is the testnet still running?"
                                 ) from None
    try:
        async with stream:
            with trio.fail_after(ANSWER_TIMEOUT):
                await stream.send_all(wire.encode_frame(
                    {"token": token, "command": command, "args": args}))
                reply = await _read_frame(stream, MAX_REPLY)
    except trio.TooSlowError:
        raise ControlTimeout(f"no answer from the testnet on {address} within "
                             f"{ANSWER_TIMEOUT:g} s") from None
    except (trio.BrokenResourceError, OSError, _ClosedEarly) as exc:
        raise ControlClosed(f"the testnet on {address} closed the connection without an "
                            f"answer ({_os_reason(exc)})") from None
    except wire.FrameError as exc:
        raise ControlClosed(f"no readable answer from the testnet on {address}: {exc}"
                            ) from None
    return _result(reply)


def _os_reason(exc: BaseException) -> str:
    """The operating system's words for a socket failure ("Connection refused", "Connection
    reset by peer"), found under trio's wrappers; "connection closed" when there are none."""
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if isinstance(current, OSError) and current.errno:
            return os.strerror(current.errno)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current is not None:
            pending.append(current.__cause__)
    return "connection closed"


def _result(reply: dict[str, Any]) -> Any:
    """The result of a reply, or the ControlRefused it reports."""
    if reply.get("ok") is True:
        return reply.get("result")
    kind = reply.get("kind")
    kind = kind if kind in ERROR_KINDS else "refused"
    message = str(reply.get("error", "request refused"))
    if kind == "token":
        raise WrongToken(f"{message}: the token file does not match the running testnet's", kind)
    raise ControlRefused(message, kind)

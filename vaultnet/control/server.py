"""Steering a running testnet from another terminal (`vaultnet ctl ...`).

`vaultnet testnet` listens on its `--host` (127.0.0.1 by default), on a port it writes into its
address file, and accepts one request per connection: a length-prefixed msgpack map `{"token",
"command", "args"}` answered by `{"ok": true, "result": ...}` or `{"ok": false, "error": TEXT,
"kind": KIND}` (KIND is one of `ERROR_KINDS`). The token is a random secret in `control.token`
(mode 0600, removed at exit) beside the address file, so only a user who can read the
testnet's data directory can steer it. Off loopback the token crosses the network unencrypted:
give a testnet a non-loopback `--host` only on a network you trust.

Whatever arrives, the testnet answers (or, for a peer that resets, just closes) and keeps
serving: a request that is not a map, has unknown fields, wrong types, an unknown command or
the wrong arguments gets an error reply, as do undecodable, oversized and truncated frames. A
connection must deliver its whole request within `PREAUTH_TIMEOUT`; at most `MAX_PREAUTH`
connections wait for theirs at once, and a new one pushes out the oldest, so sockets that
never speak cannot keep the owner out. At most `MAX_RUNNING` authenticated commands run at
once; more are answered `busy`.

An attached dashboard (`vaultnet tui --attach`) uses the rest of the commands:

- `subscribe` keeps its connection: after the `ok` reply the testnet streams frames
  `{"records": [...]}`, each record an event as `vaultnet.runtime.events` writes it to a trace. The
  events wait in a buffer of SUBSCRIBER_BUFFER: when the subscriber reads too slowly, newer
  events are dropped and counted, and the next frame carries a record `{"kind":
  "control.dropped", "dropped": TOTAL}`; no vault and no other command ever waits for a
  subscriber. At most MAX_SUBSCRIBERS at once (more are answered `busy`); one that takes no
  frame for SUBSCRIBER_STALL seconds is closed.
- `session` connects the testnet's own dashboard client and its MPIDs alice and bob
  (`vaultnet.control.operations.Operator`, once, shared by every attached dashboard); `read QUERY`
  answers a `vaultnet.control.reading` of the network, the MPIDs' states and the messages they
  received since the last `read`; `put`, `put_unique` (a Put<Unique>: refused if the chunk is
  already stored), `get`, `delete`, `put_version`, `delete_branch`, `send` and `toggle` run the
  dashboard's operations with that client. Their arguments are typed (a chunk's 64-byte name, a
  16-byte trace, a version as `[index, id]`, a query map): anything else is an error reply.
  `put`, `put_unique` and `put_version` send the content as a second frame
  `{"content": BYTES}` (1 byte to MAX_CHUNK_SIZE) after the request; it is read only once the
  token has been checked, so a caller without the token can make the port hold no more than
  MAX_REQUEST a connection.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import trio

from vaultnet import wire
from vaultnet.client.maid import MAX_CHUNK_SIZE, ClientError
from vaultnet.control.operations import Operator, UnknownIdentity
from vaultnet.control.reading import Query, ReadingError, read_network
from vaultnet.filemodes import private_dir, write_private
from vaultnet.identity import IdentityError
from vaultnet.messages import ID_SIZE
from vaultnet.personas.mpid_manager import MAX_BODY
from vaultnet.personas.version_tree import VersionName, VersionTreeError
from vaultnet.runtime import events as ev
from vaultnet.runtime.testnet import Testnet, TestnetError
from vaultnet.runtime.worker_pool import vault_row
from vaultnet.storage.store import StoreError
from vaultnet.xor import NAME_SIZE

TOKEN_FILE = "control.token"
MAX_REQUEST = 64 * 1024
"""Largest request frame: a token, a command and short arguments (a `read` query of 512
chunk names is 33 KiB)."""
MAX_CONTENT_FRAME = MAX_CHUNK_SIZE + 1024
"""Largest content frame (`put`, `put_version`): a chunk and its map; read after the token
is checked, one per connection."""
CONTENT_TIMEOUT = 10.0
"""Seconds an authenticated `put` has to deliver its content frame."""
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
MAX_SUBSCRIBERS = 4
"""Event subscriptions at once: each holds a buffer of up to SUBSCRIBER_BUFFER events (some
3 MiB at ~300 bytes an event) and a frame of SUBSCRIBER_BATCH in flight, so at most some
13 MiB in all; enough for a few dashboards attached to one testnet."""
SUBSCRIBER_BUFFER = 10_000
"""Events waiting for one subscriber (a second or so of a busy 16-vault testnet); newer
ones are dropped and counted while it is full."""
SUBSCRIBER_BATCH = 500
"""Events in one frame of the stream (about 150 KiB)."""
SUBSCRIBER_STALL = 30.0
"""Seconds a subscriber may take to accept one frame before it is closed."""
DESCRIPTORS = 1 + MAX_PREAUTH + MAX_RUNNING + MAX_SUBSCRIBERS
"""Descriptors the control port may hold at once (its listener, waiting, running and
subscribed connections): what `vaultnet testnet` reserves for it besides its vaults."""
DROPPED = "control.dropped"
"""The kind of the stream's record that counts the events dropped so far (an annotation:
`vaultnet.runtime.events.is_annotation`)."""
ERROR_KINDS = ("malformed", "timeout", "token", "command", "refused", "busy")
"""`kind` of an error reply: a malformed request or frame, no whole request in time, a wrong
token, an unknown command or wrong arguments, a command the testnet refused, too many
commands running."""


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    if len(value) > MAX_ARG:
        raise ValueError(f"is longer than {MAX_ARG} characters")
    return value


def _exact_bytes(size: int) -> Callable[[object], bytes]:
    def check(value: object) -> bytes:
        if not isinstance(value, bytes) or len(value) != size:
            raise ValueError(f"must be {size} bytes")
        return value
    return check


def _version(value: object) -> VersionName:
    try:
        return VersionName.from_record(value)
    except VersionTreeError:
        raise ValueError("must be a version [index, 64-byte id]") from None


def _parent(value: object) -> VersionName | None:
    return None if value is None else _version(value)


def _message(value: object) -> bytes:
    if not isinstance(value, bytes) or not 0 < len(value) <= MAX_BODY:
        raise ValueError(f"must be 1 to {MAX_BODY} bytes")
    return value


def _query(value: object) -> Query:
    try:
        return Query.from_record(value)
    except ReadingError as exc:
        raise ValueError(str(exc)) from None


class Argument(NamedTuple):
    """One argument of a command: its name in the usage line and its check, which returns
    the value to use, or raises TypeError (not text where text is due) or ValueError."""

    label: str
    check: Callable[[object], Any]


_NAME, _KIND = Argument("NAME", _text), Argument("KIND", _text)
_CHUNK, _KEY = Argument("CHUNK", _exact_bytes(NAME_SIZE)), Argument("KEY", _exact_bytes(NAME_SIZE))
_TRACE = Argument("TRACE", _exact_bytes(ID_SIZE))
ARGUMENTS: dict[str, tuple[Argument, ...]] = {
    "status": (), "add": (), "kill": (_NAME,), "restart": (_NAME,), "fault": (_NAME, _KIND),
    "subscribe": (), "session": (), "read": (Argument("QUERY", _query),),
    "put": (_TRACE,), "put_unique": (_TRACE,), "get": (_CHUNK,), "delete": (_CHUNK,),
    "put_version": (_KEY, Argument("PARENT", _parent), _TRACE),
    "delete_branch": (_KEY, Argument("TIP", _version), _TRACE),
    "send": (Argument("FROM", _text), Argument("TO", _text), Argument("TEXT", _message),
             _TRACE),
    "toggle": (Argument("MPID", _text), _TRACE),
}
"""Each command and its arguments: text for `vaultnet ctl`'s commands, typed values for the
attached dashboard's."""
WITH_CONTENT = frozenset({"put", "put_unique", "put_version"})
"""Commands followed by a content frame."""
FIELDS = frozenset({"token", "command", "args"})
COMMAND_FAILURES = (TestnetError, IdentityError, StoreError, OSError, ClientError,
                    UnknownIdentity)
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


def _usage(command: str) -> str:
    return " ".join((command, *(a.label for a in ARGUMENTS[command])))


@dataclass
class Checked:
    """A well-formed request with the right token: the command, its checked arguments and,
    for WITH_CONTENT, the content frame's bytes (filled in once read)."""

    command: str
    args: list[Any]
    content: bytes = b""


class Controller:
    """Carries out control commands on one testnet (the server side of `vaultnet ctl`): with
    worker processes (`Testnet(processes=)`), `status` covers their vaults too and `kill`,
    `restart` and `fault` of a vault that ran in a worker (a name or prefix matching exactly
    one there) go to that worker."""

    def __init__(self, net: Testnet, token: str) -> None:
        self.net = net
        self._token = token.encode()
        self._commands: dict[str, Callable[[Checked], Awaitable[Any]]] = {
            "status": self._status, "add": self._add, "kill": self._kill,
            "restart": self._restart, "fault": self._fault, "session": self._session,
            "read": self._read, "put": self._put, "put_unique": self._put_unique,
            "get": self._get, "delete": self._delete,
            "put_version": self._put_version, "delete_branch": self._delete_branch,
            "send": self._send, "toggle": self._toggle,
        }
        self.nursery: trio.Nursery | None = None
        """Where the operator's background tasks run (`serve` sets it)."""
        self._operator: Operator | None = None
        self._opening = trio.Lock()

    def check(self, request: object) -> Checked:
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
                                          f"{', '.join(ARGUMENTS)})")
        if not isinstance(args, list):
            raise RequestError("malformed", "arguments must be a list of strings (or of the "
                                            "typed values a command takes)")
        spec = ARGUMENTS[command]
        usage = (f"usage: {_usage(command)} (arguments of at most {MAX_ARG} characters)"
                 if all(a.check is _text for a in spec) else f"usage: {_usage(command)}")
        if len(args) != len(spec):
            raise RequestError("command", usage)
        values = []
        for argument, value in zip(spec, args, strict=True):
            try:
                values.append(argument.check(value))
            except TypeError:
                raise RequestError("malformed", "arguments must be a list of strings "
                                                f"({argument.label} is not one)") from None
            except ValueError as exc:
                raise RequestError("command", f"{usage}: {argument.label} {exc}") from None
        return Checked(command, values)

    async def run(self, request: Checked) -> dict[str, Any]:
        """The reply to a checked command: its result, or the testnet's refusal."""
        try:
            return {"ok": True, "result": await self._commands[request.command](request)}
        except COMMAND_FAILURES as exc:
            return RequestError("refused", str(exc) or type(exc).__name__).reply()

    async def _status(self, request: Checked) -> Any:
        rows = await self.net.vault_rows()
        return {**self.net.summary(), "vaults": len(rows),
                "connections": sum(row["connections"] for row in rows),
                "messages": sum(row["messages"] for row in rows), "vault_list": rows}

    async def _add(self, request: Checked) -> Any:
        return vault_row(await self.net.add_vault())

    async def _forward(self, request: Checked) -> tuple[bool, Any]:
        """(True, the answer) if the vault `request` names ran in a worker, else (False, None)."""
        workers = self.net.workers
        worker = workers.owner(request.args[0])
        if worker is None:
            return False, None
        return True, await workers.request(worker, request.command, list(request.args))

    async def _kill(self, request: Checked) -> Any:
        forwarded, answer = await self._forward(request)
        if forwarded:
            return answer
        name = self.net.vault(request.args[0]).name
        await self.net.kill_vault(name)
        return {"name": name.hex()}

    async def _restart(self, request: Checked) -> Any:
        forwarded, answer = await self._forward(request)
        if forwarded:
            return answer
        return vault_row(await self.net.restart_vault(request.args[0]))

    async def _fault(self, request: Checked) -> Any:
        forwarded, answer = await self._forward(request)
        if forwarded:
            return answer
        vault = self.net.fault(request.args[0], request.args[1])
        return {"name": vault.name.hex(), "fault": request.args[1]}

    # -- the attached dashboard's commands ----------------------------------------------------

    async def operator(self) -> Operator:
        """The dashboard client and MPIDs of this testnet, connected on first use."""
        async with self._opening:
            if self._operator is None:
                if self.nursery is None:
                    raise TestnetError("the control port is not serving")
                operator = Operator(self.net)
                await operator.open(self.nursery)
                self._operator = operator
        return self._operator

    async def _session(self, request: Checked) -> Any:
        operator = await self.operator()
        return {"transport": self.net.transport, "group_size": self.net.params.group_size,
                "capacity": self.net.capacity, "vaults": len(self.net.vaults),
                "mpids": [m.to_record() for m in operator.states().values()]}

    async def _read(self, request: Checked) -> Any:
        operator = self._operator
        return {"reading": read_network(self.net, request.args[0]).to_record(),
                "mpids": [] if operator is None
                else [m.to_record() for m in operator.states().values()],
                "received": [] if operator is None
                else [[r.recipient, r.sender, r.mid] for r in operator.take_received()]}

    async def _put(self, request: Checked) -> Any:
        return {"name": await (await self.operator()).put(request.content, request.args[0])}

    async def _put_unique(self, request: Checked) -> Any:
        return {"name": await (await self.operator()).put(request.content, request.args[0],
                                                          unique=True)}

    async def _get(self, request: Checked) -> Any:
        return {"size": len(await (await self.operator()).get(request.args[0]))}

    async def _delete(self, request: Checked) -> Any:
        await (await self.operator()).delete(request.args[0])
        return {}

    async def _put_version(self, request: Checked) -> Any:
        key, parent, trace = request.args
        version, chunk_trace = await (await self.operator()).put_version(
            key, parent, request.content, trace)
        return {"version": version.to_record(), "chunk_trace": chunk_trace}

    async def _delete_branch(self, request: Checked) -> Any:
        removed = await (await self.operator()).delete_branch(*request.args)
        return {"removed": [v.to_record() for v in removed]}

    async def _send(self, request: Checked) -> Any:
        sender, recipient, body, trace = request.args
        await (await self.operator()).send(sender, recipient, body, trace)
        return {}

    async def _toggle(self, request: Checked) -> Any:
        return {"online": await (await self.operator()).toggle(*request.args)}


class _ClosedEarly(wire.FrameError):
    """The peer closed its side before a whole frame arrived."""


class _Frames:
    """The frames arriving on one connection, in order (bytes of the next frame that came
    with the previous one are kept for it)."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._decoder = wire.FrameDecoder(max_frame=MAX_REQUEST)

    async def next(self, limit: int) -> dict[str, Any]:
        """The next frame, of at most `limit` bytes."""
        self._decoder.limit(limit)
        while (frame := self._decoder.next_frame()) is None:
            data = await self._stream.receive_some(64 * 1024)
            if not data:
                raise _ClosedEarly("connection closed before a whole frame arrived")
            self._decoder.feed(data)
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


async def _authenticate(stream: trio.SocketStream, frames: _Frames,
                        controller: Controller) -> Checked | None:
    """Read and check one request within PREAUTH_TIMEOUT; on any fault answer it with an error
    reply (if the peer is still there) and return None."""
    try:
        frame = await _next_frame(frames, MAX_REQUEST, PREAUTH_TIMEOUT, "no whole request",
                                  "request")
        return controller.check(frame)
    except RequestError as exc:
        await _send_reply(stream, exc.reply())
    except trio.BrokenResourceError:
        pass  # reset by the peer: nobody to answer
    return None


async def _next_frame(frames: _Frames, limit: int, timeout: float, late: str,
                      what: str) -> dict[str, Any]:
    """The next frame (at most `limit` bytes) within `timeout`; RequestError otherwise
    (`late`: what a timeout says is missing; `what`: the frame's name)."""
    try:
        with trio.fail_after(timeout):
            return await frames.next(limit)
    except trio.TooSlowError:
        raise RequestError("timeout", f"{late} within {timeout:g} s") from None
    except wire.FrameError as exc:
        raise RequestError("malformed", f"bad {what} frame: {exc}") from None


async def _read_content(frames: _Frames) -> bytes:
    """The content frame of an authenticated `put` / `put_version`; RequestError if it is
    not one in time."""
    frame = await _next_frame(frames, MAX_CONTENT_FRAME, CONTENT_TIMEOUT, "no content frame",
                              "content")
    content = frame.get("content")
    if set(frame) != {"content"} or not isinstance(content, bytes):
        raise RequestError("malformed", "a content frame is a map {content: bytes}")
    if not 0 < len(content) <= MAX_CHUNK_SIZE:
        raise RequestError("command", f"content must be 1 to {MAX_CHUNK_SIZE} bytes")
    return content


async def _stream_events(stream: trio.SocketStream, bus: ev.EventBus) -> None:
    """Send the events from now on in frames, dropped ones counted, until the subscriber
    closes its side or takes no frame for SUBSCRIBER_STALL seconds."""
    subscription = bus.subscribe(SUBSCRIBER_BUFFER)
    try:
        await stream.send_all(wire.encode_frame(
            {"ok": True, "result": {"buffer": SUBSCRIBER_BUFFER}}))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_until_closed, stream, nursery.cancel_scope)
            reported = 0
            while True:
                batch = [e.to_record()
                         for e in await subscription.receive_batch(SUBSCRIBER_BATCH)]
                if subscription.dropped != reported:
                    reported = subscription.dropped
                    batch.append({"kind": DROPPED, "dropped": reported})
                with trio.move_on_after(SUBSCRIBER_STALL) as stalled:
                    await stream.send_all(wire.encode_frame({"records": batch}))
                if stalled.cancelled_caught:
                    nursery.cancel_scope.cancel()
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the subscriber went away
    finally:
        subscription.close()


async def _until_closed(stream: trio.SocketStream, scope: trio.CancelScope) -> None:
    """Cancel `scope` once the peer closed its side (what it sends meanwhile is ignored)."""
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        while await stream.receive_some(4096):
            pass
    scope.cancel()


async def serve(controller: Controller, host: str = "127.0.0.1",
                task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Listen on `host` (a free port); `task_status.started` reports "HOST:PORT"."""
    listeners = await trio.open_tcp_listeners(0, host=host)
    host, port = listeners[0].socket.getsockname()[:2]
    waiting = _Waiting(MAX_PREAUTH)
    running = trio.CapacityLimiter(MAX_RUNNING)
    subscribers = trio.CapacityLimiter(MAX_SUBSCRIBERS)

    async def one(stream: trio.SocketStream) -> None:
        async with stream:
            frames = _Frames(stream)
            with trio.CancelScope() as scope:
                waiting.admit(scope)
                try:
                    checked = await _authenticate(stream, frames, controller)
                finally:
                    waiting.release(scope)
            if scope.cancelled_caught or checked is None:
                return
            if checked.command == "subscribe":
                if subscribers.available_tokens == 0:
                    await _send_reply(stream, RequestError(
                        "busy", f"{MAX_SUBSCRIBERS} subscribers already").reply())
                    return
                async with subscribers:
                    await _stream_events(stream, controller.net.bus)
                return
            if running.available_tokens == 0:
                reply = RequestError("busy", f"{MAX_RUNNING} commands are already running; "
                                             "try again").reply()
            else:
                async with running:
                    try:
                        if checked.command in WITH_CONTENT:
                            checked.content = await _read_content(frames)
                        reply = await controller.run(checked)
                    except RequestError as exc:
                        reply = exc.reply()
                    except trio.BrokenResourceError:
                        return  # reset by the peer while it sent its content
            await _send_reply(stream, reply)

    async with trio.open_nursery() as nursery:
        controller.nursery = nursery
        await nursery.start(trio.serve_listeners, one, listeners)
        task_status.started(f"{host}:{port}")


def _check_address(address: str) -> tuple[str, int]:
    """HOST:PORT of a control port, HOST an IP address (a name would be looked up)."""
    host, _, port = address.rpartition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ControlError(f"refusing control address {address!r}: not an IP address and "
                           "port") from None
    if not port.isdigit():
        raise ControlError(f"refusing control address {address!r}: not an IP address and port")
    return host, int(port)


async def _connect(address: str) -> trio.SocketStream:
    """A connection to the control port at `address`, or the ControlError saying why not."""
    host, port = _check_address(address)
    try:
        with trio.fail_after(CONNECT_TIMEOUT):
            return await trio.open_tcp_stream(host, port)
    except trio.TooSlowError:
        raise ControlTimeout(f"could not connect to the testnet's control port {address} "
                             f"within {CONNECT_TIMEOUT:g} s") from None
    except OSError as exc:
        raise ControlUnreachable(f"cannot connect to the testnet's control port {address} "
                                 f"({_os_reason(exc)}); is the testnet still running?"
                                 ) from None


async def request(address: str, token: str, command: str, args: list[Any],
                  content: bytes | None = None) -> Any:
    """Send one command to a testnet's control port (with its content frame, for `put` and
    `put_version`); its result, or a ControlError saying what went wrong (nothing listening,
    no answer in time, connection closed, refused)."""
    stream = await _connect(address)
    try:
        async with stream:
            with trio.fail_after(ANSWER_TIMEOUT):
                await stream.send_all(wire.encode_frame(
                    {"token": token, "command": command, "args": args}))
                if content is not None:
                    await stream.send_all(wire.encode_frame({"content": content}))
                reply = await _Frames(stream).next(MAX_REPLY)
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


class EventStream:
    """The testnet's events, from a `subscribe` connection: `records` yields each frame's
    records (events as trace records, and `DROPPED` counts); ControlError when the stream
    ends or breaks."""

    def __init__(self, address: str, stream: trio.SocketStream) -> None:
        self._address = address
        self._stream = stream
        self._frames = _Frames(stream)

    @classmethod
    async def open(cls, address: str, token: str) -> EventStream:
        """Subscribe at `address` with `token` (ControlError as for `request`)."""
        stream = await _connect(address)
        events = cls(address, stream)
        try:
            with trio.fail_after(ANSWER_TIMEOUT):
                await stream.send_all(wire.encode_frame(
                    {"token": token, "command": "subscribe", "args": []}))
                _result(await events._next())
        except BaseException:
            await stream.aclose()
            raise
        return events

    async def _next(self) -> dict[str, Any]:
        try:
            return await self._frames.next(MAX_REPLY)
        except trio.TooSlowError:
            raise ControlTimeout(f"no answer from the testnet on {self._address} within "
                                 f"{ANSWER_TIMEOUT:g} s") from None
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError,
                _ClosedEarly) as exc:
            raise ControlClosed(f"the testnet on {self._address} closed the event stream "
                                f"({_os_reason(exc)})") from None
        except wire.FrameError as exc:
            raise ControlClosed(f"unreadable event stream from {self._address}: {exc}"
                                ) from None

    async def records(self) -> list[dict[str, Any]]:
        """The records of the next frame."""
        frame = await self._next()
        records = frame.get("records")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ControlClosed(f"malformed event frame from {self._address}")
        return records

    async def aclose(self) -> None:
        """Close the connection (the testnet then ends the subscription)."""
        await self._stream.aclose()

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

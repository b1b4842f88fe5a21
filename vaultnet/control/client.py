"""The caller's side of the control port (`vaultnet ctl`, an attached dashboard): `request`
sends one command and returns its result, `EventStream` follows the testnet's events; every
failure is a `ControlError` that says what went wrong."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

import trio

from vaultnet import wire
from vaultnet.client.errors import ClientError
from vaultnet.control.protocol import ERROR_KINDS, MAX_REPLY, REFUSALS, ClosedEarly, Frames

CONNECT_TIMEOUT = 5.0
"""Seconds `request` waits to connect to the control port."""
ANSWER_TIMEOUT = 30.0
"""Seconds `request` waits for the answer: an `add` waits until its vault has joined."""


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


class OperationRefused(ControlRefused):
    """The testnet's client was refused (its kind is "refused"): `refusal` is the type of the
    failure it raised (`vaultnet.client.errors`: RecordExists, NotRecordOwner, ...)."""

    def __init__(self, message: str, refusal: type[ClientError]) -> None:
        super().__init__(message, "refused")
        self.refusal = refusal


class WrongToken(ControlRefused):
    """The token sent is not the running testnet's."""


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
    """Send one command to a testnet's control port (with its content frame, for the commands
    of `vaultnet.control.commands.CONTENT_SIZES`); its result, or a ControlError saying what
    went wrong (nothing listening, no answer in time, connection closed, refused: an
    OperationRefused when the testnet's client was)."""
    stream = await _connect(address)
    try:
        async with stream:
            with trio.fail_after(ANSWER_TIMEOUT):
                await stream.send_all(wire.encode_frame(
                    {"token": token, "command": command, "args": args}))
                if content is not None:
                    await stream.send_all(wire.encode_frame({"content": content}))
                reply = await Frames(stream).next(MAX_REPLY)
    except trio.TooSlowError:
        raise ControlTimeout(f"no answer from the testnet on {address} within "
                             f"{ANSWER_TIMEOUT:g} s") from None
    except (trio.BrokenResourceError, OSError, ClosedEarly) as exc:
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
        self._frames = Frames(stream)

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
                ClosedEarly) as exc:
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
    """The result of a reply, or the ControlRefused it reports (an OperationRefused if it names
    a client failure this side knows)."""
    if reply.get("ok") is True:
        return reply.get("result")
    kind = reply.get("kind")
    kind = kind if kind in ERROR_KINDS else "refused"
    message = str(reply.get("error", "request refused"))
    if kind == "token":
        raise WrongToken(f"{message}: the token file does not match the running testnet's", kind)
    name = reply.get("refusal")
    refusal = REFUSALS.get(name) if isinstance(name, str) else None
    if kind == "refused" and refusal is not None:
        raise OperationRefused(message, refusal)
    raise ControlRefused(message, kind)

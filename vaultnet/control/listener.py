"""The control port itself: it accepts connections, reads and authenticates one request on each
within its limits, and hands it to the `Controller` (or, for `subscribe`, to the event
streams)."""

from __future__ import annotations

from typing import Any

import trio

from vaultnet import wire
from vaultnet.control import subscriptions
from vaultnet.control.commands import CONTENT_SIZES, Checked
from vaultnet.control.controller import Controller
from vaultnet.control.protocol import (
    MAX_CONTENT_FRAME,
    MAX_REQUEST,
    Frames,
    RequestError,
    send_reply,
)
from vaultnet.transport.waiting import Waiting

CONTENT_TIMEOUT = 10.0
"""Seconds an authenticated `put` has to deliver its content frame."""
PREAUTH_TIMEOUT = 2.0
"""Seconds a connection has to deliver its whole request (a real client needs microseconds);
a silent socket is answered `timeout` and closed after this."""
MAX_PREAUTH = 64
"""Connections waiting for their request at once; a new one pushes out the oldest, so idle
sockets cannot fill the port and each costs only one small task while it lasts."""
MAX_RUNNING = 4
"""Authenticated commands running at once (an `add` waits for its vault to join)."""
DESCRIPTORS = 1 + MAX_PREAUTH + MAX_RUNNING + subscriptions.MAX_SUBSCRIBERS
"""Descriptors the control port may hold at once (its listener, waiting, running and
subscribed connections): what `vaultnet testnet` reserves for it besides its vaults."""


async def _authenticate(stream: trio.SocketStream, frames: Frames,
                        controller: Controller) -> Checked | None:
    """Read and check one request within PREAUTH_TIMEOUT; on any fault answer it with an error
    reply (if the peer is still there) and return None."""
    try:
        frame = await _next_frame(frames, MAX_REQUEST, PREAUTH_TIMEOUT, "no whole request",
                                  "request")
        return controller.check(frame)
    except RequestError as exc:
        await send_reply(stream, exc.reply())
    except trio.BrokenResourceError:
        pass  # reset by the peer: nobody to answer
    return None


async def _next_frame(frames: Frames, limit: int, timeout: float, late: str,
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


async def _read_content(frames: Frames, command: str) -> bytes:
    """The content frame of an authenticated `command` (one of CONTENT_SIZES); RequestError
    if it is not one, of the command's size, in time."""
    frame = await _next_frame(frames, MAX_CONTENT_FRAME, CONTENT_TIMEOUT, "no content frame",
                              "content")
    content = frame.get("content")
    if set(frame) != {"content"} or not isinstance(content, bytes):
        raise RequestError("malformed", "a content frame is a map {content: bytes}")
    least, most = CONTENT_SIZES[command]
    if not least <= len(content) <= most:
        raise RequestError("command", f"{command}'s content must be {least} to {most} bytes")
    return content


async def serve(controller: Controller, host: str = "127.0.0.1",
                task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Listen on `host` (a free port); `task_status.started` reports "HOST:PORT"."""
    listeners = await trio.open_tcp_listeners(0, host=host)
    host, port = listeners[0].socket.getsockname()[:2]
    waiting = Waiting(MAX_PREAUTH)
    running = trio.CapacityLimiter(MAX_RUNNING)
    streams = subscriptions.Subscriptions(controller.net.bus)

    async def one(stream: trio.SocketStream) -> None:
        async with stream:
            frames = Frames(stream)
            with trio.CancelScope() as scope:
                waiting.admit(scope)
                try:
                    checked = await _authenticate(stream, frames, controller)
                finally:
                    waiting.release(scope)
            if scope.cancelled_caught or checked is None:
                return
            if checked.command == "subscribe":
                await streams.serve(stream)
                return
            if running.available_tokens == 0:
                reply = RequestError("busy", f"{MAX_RUNNING} commands are already running; "
                                             "try again").reply()
            else:
                async with running:
                    try:
                        if checked.command in CONTENT_SIZES:
                            checked.content = await _read_content(frames, checked.command)
                        reply = await controller.run(checked)
                    except RequestError as exc:
                        reply = exc.reply()
                    except trio.BrokenResourceError:
                        return  # reset by the peer while it sent its content
            await send_reply(stream, reply)

    async with trio.open_nursery() as nursery:
        controller.nursery = nursery
        await nursery.start(trio.serve_listeners, one, listeners)
        task_status.started(f"{host}:{port}")

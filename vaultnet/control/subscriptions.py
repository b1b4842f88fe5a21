"""The testnet's side of `subscribe`: each subscriber's stream of events, bounded so that no
vault and no other command ever waits for a slow reader."""

from __future__ import annotations

import contextlib

import trio

from vaultnet import wire
from vaultnet.control.protocol import DROPPED, RequestError, send_reply
from vaultnet.runtime import events as ev

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


class Subscriptions:
    """The event streams of one control port: at most MAX_SUBSCRIBERS at once."""

    def __init__(self, bus: ev.EventBus) -> None:
        self._bus = bus
        self._limit = trio.CapacityLimiter(MAX_SUBSCRIBERS)

    async def serve(self, stream: trio.SocketStream) -> None:
        """Stream the events to the subscriber on `stream`, or answer `busy` when
        MAX_SUBSCRIBERS already are."""
        if self._limit.available_tokens == 0:
            await send_reply(stream, RequestError(
                "busy", f"{MAX_SUBSCRIBERS} subscribers already").reply())
            return
        async with self._limit:
            await _stream_events(stream, self._bus)


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

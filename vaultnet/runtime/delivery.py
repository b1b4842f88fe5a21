"""Local delivery: messages for this vault's own personas wait in a bounded inbox and are handed
to its application in order, a batch at a time inside one `Application.batch`, by one pump task
(a handler that sends to its own vault queues behind what waits instead of recursing)."""

from __future__ import annotations

from collections import deque

import trio

from vaultnet.messages import Message, Persona
from vaultnet.runtime import events as ev
from vaultnet.runtime.core import VaultCore
from vaultnet.transport.base import WRITE_BATCH
from vaultnet.wire import FrameError

LOCAL_INBOX = 100_000
"""Messages waiting for local delivery at most; past it one more is dropped with an event."""
LOCAL_BATCH = 256
"""Messages for this vault handled back to back by the local pump, inside one `batch` (the
persona host's: one database transaction for them all instead of one each). Bounded so
that one batch holds the event loop, and the replies of its first message, for a few
milliseconds at most; the pump yields to other tasks between batches."""


class LocalDelivery:
    """The inbox of one vault's own messages, and the pump that hands them to its personas."""

    def __init__(self, core: VaultCore) -> None:
        self.core = core
        self._inbox: deque[Message] = deque()
        self._ready = trio.Event()

    def deliver(self, msg: Message) -> None:
        """Queue `msg` for the local pump (never handled here: a handler that sends to its own
        vault queues behind what is waiting instead of recursing)."""
        if len(self._inbox) >= LOCAL_INBOX:
            self.core.drop(msg, "local inbox full")
            return
        self._inbox.append(msg)
        self._ready.set()

    async def pump(self) -> None:
        """Handle queued local deliveries in order, up to LOCAL_BATCH inside one `batch`."""
        core = self.core
        while True:
            if self._inbox:
                await trio.lowlevel.checkpoint()
            else:
                self._ready = trio.Event()
                await self._ready.wait()
            taken = [self._inbox.popleft() for _ in range(min(LOCAL_BATCH, len(self._inbox)))]
            with WRITE_BATCH.open(), core.application.batch():
                for msg in taken:
                    core.messages_in += 1
                    if core.observed:
                        core.emit(ev.MessageReceived(
                            core.now(), core.name, msg.sender, msg.src.persona.value,
                            msg.dst.persona.value, msg.dst.name, msg.dst.group, msg.action,
                            msg.msg_id, msg.trace_id, msg.hops, msg.src.name))
                    self.dispatch(msg)

    def dispatch(self, msg: Message) -> None:
        """Hand one message to its persona here: Routing's own, or the application's (a
        message for a persona not served here, or one it refuses, is dropped)."""
        persona = msg.dst.persona
        application = self.core.application
        try:
            if persona is Persona.ROUTING:
                routing_action(msg)
            elif persona in application.personas:
                application.handle(persona, msg)
            else:
                self.core.drop(msg, f"no {persona.value} here")
        except FrameError as exc:
            self.core.drop(msg, f"rejected: {exc}")


def routing_action(msg: Message) -> None:
    """Routing-level probes used by tests and the dashboard: delivery is the whole effect."""
    if msg.action not in ("probe",):
        raise FrameError(f"unknown routing action {str(msg.action)!r}")

"""Agreed requests that need content and arrived without it: only the sending group's lead
attaches content, and it may change or die on the way. `WaitingPayloads` keeps each such
request, asks the sending group for it again (`Action.PAYLOAD_WANTED`), and hands the request
back once a copy with content arrives; the sending side's answer is
`GroupPersona.on_payload_wanted`."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.bodies import PayloadWantedBody
from vaultnet.personas.context import Context
from vaultnet.protocol import Action

PAYLOAD_WAIT = 5.0
PAYLOAD_ASKS = 3
"""An agreed request that needs content and arrived without it (the sending group's lead, who
attaches content, changed or died on the way) waits this long before we ask the sending group
for it again, at most this many times."""
WAITING_TTL = 60.0
WAITING_LIMIT = 1_000
"""Agreed requests waiting for their content, per persona: one is forgotten this many seconds
after it was agreed (the last ask goes out after PAYLOAD_WAIT * PAYLOAD_ASKS = 15 s, and its
answer may wait for the sender to fetch the content from a holder or a sibling copy's group,
up to 20 s more), and at most this many wait at once (the oldest is dropped first). Each
holds the message without content: a few hundred bytes."""


@dataclass
class _Waiting:
    msg: Message
    since: float
    asks: int = 0


class WaitingPayloads:
    """One persona's agreed requests waiting for their content, keyed by content key: bounded
    by WAITING_LIMIT entries and WAITING_TTL seconds."""

    def __init__(self) -> None:
        self._waiting: OrderedDict[bytes, _Waiting] = OrderedDict()

    def __len__(self) -> int:
        return len(self._waiting)

    def wait(self, key: bytes, msg: Message, now: float) -> None:
        """`msg` was agreed without the content it needs: keep it until a copy brings it."""
        self._waiting[key] = _Waiting(msg, now)
        while len(self._waiting) > WAITING_LIMIT:
            self._waiting.popitem(last=False)

    def take(self, key: bytes) -> Message | None:
        """The agreed request waiting under `key`, if any, which no longer waits."""
        waiting = self._waiting.pop(key, None)
        return waiting.msg if waiting is not None else None

    def expire(self, now: float) -> None:
        """Forget requests whose last ask for content had its time (WAITING_TTL)."""
        while self._waiting:
            oldest = next(iter(self._waiting.values()))
            if now - oldest.since < WAITING_TTL:
                break
            self._waiting.popitem(last=False)

    def asks(self, persona: Persona, ctx: Context) -> list[Message]:
        """The asks for content due now (every PAYLOAD_WAIT, at most PAYLOAD_ASKS per request),
        each to the group that sent the request."""
        asks = []
        for key, waiting in self._waiting.items():
            if (waiting.asks < PAYLOAD_ASKS
                    and ctx.now() - waiting.since >= PAYLOAD_WAIT * (waiting.asks + 1)):
                waiting.asks += 1
                msg = waiting.msg
                asks.append(Message(
                    src=Authority(ctx.own, persona),
                    dst=Authority(msg.src.name, msg.src.persona, group=True),
                    action=Action.PAYLOAD_WANTED,
                    msg_id=new_id("payload_wanted", key, ctx.own, str(waiting.asks)),
                    trace_id=msg.trace_id, sender=b"",
                    body=PayloadWantedBody(msg.action, msg.msg_id, msg.dst.name,
                                           msg.dst.persona, msg.dst.group, msg.body).encode()))
        return asks

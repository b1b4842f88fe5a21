"""The control port's protocol, what both of its ends share: steering a running testnet from
another terminal (`vaultnet ctl ...`) or an attached dashboard.

`vaultnet testnet` listens on its `--host` (127.0.0.1 by default), on a port it writes into its
address file, and accepts one request per connection: a length-prefixed msgpack map `{"token",
"command", "args"}` answered by `{"ok": true, "result": ...}` or `{"ok": false, "error": TEXT,
"kind": KIND}` (KIND is one of `ERROR_KINDS`); a command the testnet's client was refused also
carries `"refusal": TYPE`, the name of the `vaultnet.client.errors` exception it raised
(`REFUSALS`: RecordExists, NotRecordOwner, StaleVersion, DataExists, ...), so the caller gets
the refusal as a type, not only as words. The token is a random secret in `control.token`
(mode 0600, removed at exit) beside the address file, so only a user who can read the
testnet's data directory can steer it (`vaultnet.control.auth`). Off loopback the token crosses
the network unencrypted: give a testnet a non-loopback `--host` only on a network you trust.

Whatever arrives, the testnet answers (or, for a peer that resets, just closes) and keeps
serving: a request that is not a map, has unknown fields, wrong types, an unknown command or
the wrong arguments gets an error reply, as do undecodable, oversized and truncated frames. A
connection must deliver its whole request within `PREAUTH_TIMEOUT`; at most `MAX_PREAUTH`
connections wait for theirs at once, and a new one pushes out the oldest, so sockets that
never speak cannot keep the owner out. At most `MAX_RUNNING` authenticated commands run at
once; more are answered `busy` (`vaultnet.control.listener`).

An attached dashboard (`vaultnet tui --attach`) uses the rest of the commands
(`vaultnet.control.commands` lists them all, `vaultnet.control.controller` carries them out):

- `subscribe` keeps its connection: after the `ok` reply the testnet streams frames
  `{"records": [...]}`, each record an event as `vaultnet.runtime.events` writes it to a trace. The
  events wait in a buffer of SUBSCRIBER_BUFFER: when the subscriber reads too slowly, newer
  events are dropped and counted, and the next frame carries a record `{"kind":
  "control.dropped", "dropped": TOTAL}`; no vault and no other command ever waits for a
  subscriber. At most MAX_SUBSCRIBERS at once (more are answered `busy`); one that takes no
  frame for SUBSCRIBER_STALL seconds is closed (`vaultnet.control.subscriptions`).
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

The caller's side is `vaultnet.control.client`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import trio

from vaultnet import wire
from vaultnet.client import errors
from vaultnet.client.errors import ClientError
from vaultnet.client.maid import MAX_CHUNK_SIZE

MAX_REQUEST = 64 * 1024
"""Largest request frame: a token, a command and short arguments (a `read` query of 512
chunk names is 33 KiB)."""
MAX_CONTENT_FRAME = MAX_CHUNK_SIZE + 1024
"""Largest content frame (`put`, `put_version`): a chunk and its map; read after the token
is checked, one per connection."""
MAX_REPLY = 4 * 1024 * 1024
"""Largest reply the client accepts: `status` lists every vault (500 rows fit easily)."""
SEND_TIMEOUT = 2.0
"""Seconds to hand a reply to a peer; one that does not read is dropped."""
DROPPED = "control.dropped"
"""The kind of the stream's record that counts the events dropped so far (an annotation:
`vaultnet.runtime.events.is_annotation`)."""
ERROR_KINDS = ("malformed", "timeout", "token", "command", "refused", "busy")
"""`kind` of an error reply: a malformed request or frame, no whole request in time, a wrong
token, an unknown command or wrong arguments, a command the testnet refused, too many
commands running."""


REFUSALS: dict[str, type[ClientError]] = {
    cls.__name__: cls for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, ClientError)}
"""Every failure of a client operation by its name: what an error reply's `refusal` names."""


def refusal_name(failure: ClientError) -> str:
    """The name `failure` crosses the wire as: its own class's, or that of its nearest base
    in REFUSALS (a ClientError defined elsewhere)."""
    return next(cls.__name__ for cls in type(failure).__mro__
                if REFUSALS.get(cls.__name__) is cls)


class RequestError(Exception):
    """A request the server answers with an error reply of `kind` (one of ERROR_KINDS);
    `refusal` names the client failure (REFUSALS) a refused command raised."""

    def __init__(self, kind: str, message: str, refusal: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.refusal = refusal

    def reply(self) -> dict[str, Any]:
        """The error reply that reports this to the client."""
        reply = {"ok": False, "error": str(self), "kind": self.kind}
        if self.refusal is not None:
            reply["refusal"] = self.refusal
        return reply


class ClosedEarly(wire.FrameError):
    """The peer closed its side before a whole frame arrived."""


class Frames:
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
                raise ClosedEarly("connection closed before a whole frame arrived")
            self._decoder.feed(data)
        return frame


async def send_reply(stream: trio.abc.Stream, reply: dict[str, Any]) -> None:
    """Hand `reply` to the peer within SEND_TIMEOUT; a peer that is gone or does not read
    just misses it."""
    with trio.move_on_after(SEND_TIMEOUT):
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(wire.encode_frame(reply))

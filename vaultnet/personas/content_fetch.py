"""A DataManager lead's fetch of a copy's content, for whoever waits for it: a client's get, a
replacement holder's put, a sibling copy's group, an integrity check.

`ContentFetch` owns the outstanding fetches, one `PendingFetch` per copy, each in a
`FetchState`:

- ASKING_HOLDER: a live holder was asked (`Action.FETCH`); on a timeout or content that does
  not match the chunk's name the next holder is asked;
- ASKING_SIBLING: every holder failed and a replacement, a sibling group or an integrity
  check waits, so the
  DataManagers of a sibling copy (the same chunk's other kinds) were asked
  (`Action.SIBLING_FETCH`), one group after another;
- DONE: verified content arrived: the fetch leaves the table and the DataManager hands the
  content to its waiters;
- FAILED: nobody is left to ask: the fetch leaves the table and its clients are told "no live
  holder has the data" (a client falls back to the sibling copies itself).

Sans-IO like the personas: it returns messages in an `Outbox` and reads the time from the
`Context`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from vaultnet.messages import Authority, Message, Persona, new_id
from vaultnet.personas.bodies import CopyBody, GetResponseBody, SiblingFetchBody
from vaultnet.personas.context import Context
from vaultnet.personas.effects import Outbox
from vaultnet.personas.records import CopyRecord
from vaultnet.protocol import Action
from vaultnet.storage.store import CopyKind, chunk_name_of, copy_name
from vaultnet.xor import Name, name_of

FETCH_TIMEOUT = 5.0
SIBLING_TIMEOUT = 3 * FETCH_TIMEOUT
"""A sibling copy's lead may itself have to try its holders one by one before it answers."""


class FetchState(Enum):
    """Where a fetch of one copy's content stands (see the module docstring)."""

    ASKING_HOLDER = "asking a holder"
    ASKING_SIBLING = "asking a sibling copy's group"
    DONE = "done"
    FAILED = "failed"


class ClientWaiter(NamedTuple):
    """A client's get waiting for the content: answered with it, or with a refusal."""

    to: Authority
    request_id: bytes
    trace: bytes


class HolderWaiter(NamedTuple):
    """A holder chosen for the copy, waiting for the content of the put `put_id`."""

    holder: Name
    put_id: bytes


class SiblingWaiter(NamedTuple):
    """A sibling copy's lead `vault` that asked us for the content of its copy `copy`."""

    vault: Name
    copy: Name


class CheckWaiter(NamedTuple):
    """An integrity check of `copy` waiting for the content, to know the right answer."""

    copy: Name


Waiter = ClientWaiter | HolderWaiter | SiblingWaiter | CheckWaiter


@dataclass
class PendingFetch:
    """One copy's fetch: whom it may still ask, whom it asked and since when, and who waits
    for the content (an integrity check only needs it to reach the DataManager)."""

    candidates: list[Name]
    siblings: list[Name]
    state: FetchState = FetchState.ASKING_HOLDER
    asked: Name | None = None
    started: float = 0.0
    clients: list[ClientWaiter] = field(default_factory=list)
    replicate_to: list[HolderWaiter] = field(default_factory=list)
    forward_to: list[SiblingWaiter] = field(default_factory=list)
    checked: bool = False

    def add(self, waiter: Waiter | None) -> None:
        """`waiter` waits for the content too (a holder's put only once)."""
        if isinstance(waiter, ClientWaiter):
            self.clients.append(waiter)
        elif isinstance(waiter, HolderWaiter):
            if waiter not in self.replicate_to:
                self.replicate_to.append(waiter)
        elif isinstance(waiter, SiblingWaiter):
            self.forward_to.append(waiter)
        elif isinstance(waiter, CheckWaiter):
            self.checked = True

    @property
    def timeout(self) -> float:
        """How long the one asked has to answer: a sibling group may try its holders first."""
        return SIBLING_TIMEOUT if self.state is FetchState.ASKING_SIBLING else FETCH_TIMEOUT


def get_response(copy: Name, to: Authority, request_id: bytes, trace: bytes, data: bytes,
                 reason: str) -> Message:
    """A copy's lead's answer to a client's get: the content, or why there is none."""
    return Message(src=Authority(copy, Persona.DATA_MANAGER, group=False), dst=to,
                   action=Action.GET_RESPONSE, msg_id=new_id("get_response", request_id),
                   trace_id=trace, body=GetResponseBody(copy, bool(data), reason).encode(),
                   sender=b"", payload=data)


class ContentFetch:
    """A DataManager's outstanding fetches, at most `limit` (the oldest is dropped first)."""

    def __init__(self, limit: int) -> None:
        self._fetches: OrderedDict[Name, PendingFetch] = OrderedDict()
        self._limit = limit

    def __len__(self) -> int:
        return len(self._fetches)

    def get(self, copy: Name) -> PendingFetch | None:
        """The fetch of `copy`'s content under way, if any."""
        return self._fetches.get(copy)

    def start(self, copy: Name, record: CopyRecord, ctx: Context, out: Outbox, *,
              trace: bytes, waiter: Waiter | None = None) -> None:
        """Fetch `copy`'s content for `waiter` (joining a fetch under way): from its live
        holders by `record`, then, unless a sibling group asked us, from its sibling copies."""
        fetch = self._fetches.get(copy)
        if fetch is not None:
            fetch.add(waiter)
            return
        live = [h for h in record.holders if ctx.is_live(h)]
        kind = record.kind
        chunk = chunk_name_of(copy, kind)
        # A sibling group asking us must not be asked back: that loop would only time out.
        asked_by_sibling = isinstance(waiter, SiblingWaiter)
        siblings = [] if asked_by_sibling else [copy_name(chunk, k) for k in CopyKind
                                                if k != kind]
        fetch = self._fetches[copy] = PendingFetch(candidates=live, siblings=siblings)
        while len(self._fetches) > self._limit:
            self._fetches.popitem(last=False)
        fetch.add(waiter)
        self._ask_next(copy, fetch, ctx, out, trace)

    def _ask_next(self, copy: Name, fetch: PendingFetch, ctx: Context, out: Outbox,
                  trace: bytes) -> None:
        """Ask the next holder, else the next sibling group (only for a replacement, a sibling
        or an integrity check: a client falls back to the siblings itself), else give up.

        An integrity check asks the siblings too: when every holder lost the copy (sweep seed
        102: both holders of a Primary were vaults that lose what they store), a check that
        gave up for want of content never caught them, and the record named them for good."""
        fetch.started = ctx.now()
        if fetch.candidates:
            fetch.state, fetch.asked = FetchState.ASKING_HOLDER, fetch.candidates.pop(0)
            out.send(Message(src=Authority(ctx.own, Persona.DATA_MANAGER), dst=Authority(
                fetch.asked, Persona.PMID_NODE), action=Action.FETCH,
                msg_id=new_id("fetch", copy, fetch.asked, str(ctx.now())), trace_id=trace,
                body=CopyBody(copy).encode(), sender=b""))
        elif fetch.siblings and (fetch.replicate_to or fetch.forward_to or fetch.checked):
            fetch.state, fetch.asked = FetchState.ASKING_SIBLING, fetch.siblings.pop(0)
            out.send(Message(src=Authority(ctx.own, Persona.DATA_MANAGER),
                             dst=Authority(fetch.asked, Persona.DATA_MANAGER, group=True),
                             action=Action.SIBLING_FETCH,
                             msg_id=new_id("sibling_fetch", copy, fetch.asked, str(ctx.now())),
                             trace_id=trace, body=SiblingFetchBody(copy).encode(),
                             sender=b""))
        else:
            fetch.state = FetchState.FAILED
            del self._fetches[copy]
            for to, request_id, client_trace in fetch.clients:
                out.send(get_response(copy, to, request_id, client_trace, b"",
                                      "no live holder has the data"))

    def arrived(self, copy: Name, source: Name, payload: bytes, chunk: Name, ctx: Context,
                out: Outbox, trace: bytes) -> PendingFetch | None:
        """Content for `copy` came from `source` (a holder, or a sibling copy's group): the
        finished fetch if it is what we asked `source` for and hashes to `chunk`, the chunk's
        name (its waiters are the caller's to answer); otherwise None, and content that does
        not match moves the fetch on to the next source."""
        fetch = self._fetches.get(copy)
        if fetch is None or fetch.asked != source:
            return None
        if name_of(payload) != chunk:
            self._ask_next(copy, fetch, ctx, out, trace)
            return None
        return self.supplied(copy)

    def supplied(self, copy: Name) -> PendingFetch | None:
        """Verified content for `copy` is here (from the source asked, or another way: the
        client's put, through our own group, after we committed it on our peers' votes and
        started fetching): the fetch under way, finished, whose waiters the caller answers;
        None if none was under way."""
        fetch = self._fetches.pop(copy, None)
        if fetch is not None:
            fetch.state = FetchState.DONE
        return fetch

    def timeouts(self, ctx: Context, out: Outbox) -> None:
        """Move on from every source that did not answer within its timeout."""
        now = ctx.now()
        for copy, fetch in list(self._fetches.items()):
            if now - fetch.started > fetch.timeout:
                self._ask_next(copy, fetch, ctx, out, bytes(16))

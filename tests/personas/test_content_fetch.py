"""A DataManager lead's content fetch as a state machine, sans-IO: holders are asked one after
another (on a timeout or wrong content), then sibling copies' groups when a replacement waits,
and the fetch ends DONE with its waiters or FAILED with its clients refused."""

from __future__ import annotations

import pytest

from tests.personas.helpers import Ctx
from vaultnet.messages import Authority, Persona
from vaultnet.personas.content_fetch import (
    FETCH_TIMEOUT,
    SIBLING_TIMEOUT,
    CheckWaiter,
    ClientWaiter,
    ContentFetch,
    FetchState,
    HolderWaiter,
    SiblingWaiter,
)
from vaultnet.personas.effects import Outbox
from vaultnet.personas.records import CopyRecord
from vaultnet.protocol import Action
from vaultnet.storage.store import CopyKind, copy_name
from vaultnet.xor import name_of

CONTENT = b"the chunk's content"
CHUNK = name_of(CONTENT)
COPY = copy_name(CHUNK, CopyKind.PRIMARY)
H1, H2 = b"\x11" * 64, b"\x22" * 64
LEAD = b"\x33" * 64
RECORD = CopyRecord(CopyKind.PRIMARY, len(CONTENT), 1, (H1, H2), ())
CLIENT = ClientWaiter(Authority(b"\x44" * 64, Persona.MAID_NODE), b"r" * 16, b"t" * 16)
SIBLINGS = {copy_name(CHUNK, k) for k in CopyKind if k is not CopyKind.PRIMARY}


def started(waiter: ClientWaiter | HolderWaiter | SiblingWaiter | CheckWaiter | None,
            clock: list[float]) -> tuple[ContentFetch, Ctx, Outbox]:
    fetches, ctx, out = ContentFetch(limit=10), Ctx(LEAD, clock), Outbox()
    fetches.start(COPY, RECORD, ctx, out, trace=bytes(16), waiter=waiter)
    return fetches, ctx, out


def asked(out: Outbox) -> list[tuple[str, bytes]]:
    return [(m.action, m.dst.name) for m in out.messages]


def test_the_first_live_holder_is_asked_and_a_second_waiter_joins_without_asking_again() -> None:
    fetches, ctx, out = started(CLIENT, [0.0])
    fetch = fetches.get(COPY)
    assert fetch is not None and fetch.state is FetchState.ASKING_HOLDER and fetch.asked == H1
    assert asked(out) == [(Action.FETCH, H1)]
    again = Outbox()
    fetches.start(COPY, RECORD, ctx, again, trace=bytes(16), waiter=HolderWaiter(H2, b"p" * 16))
    fetches.start(COPY, RECORD, ctx, again, trace=bytes(16), waiter=HolderWaiter(H2, b"p" * 16))
    assert again.messages == [] and fetch.replicate_to == [HolderWaiter(H2, b"p" * 16)]
    assert fetch.clients == [CLIENT]


def test_a_timeout_or_wrong_content_moves_on_to_the_next_holder() -> None:
    clock = [0.0]
    fetches, ctx, _ = started(CLIENT, clock)
    clock[0] = FETCH_TIMEOUT  # not past it yet
    out = Outbox()
    fetches.timeouts(ctx, out)
    assert out.messages == []
    clock[0] = FETCH_TIMEOUT + 0.1
    fetches.timeouts(ctx, out)
    fetch = fetches.get(COPY)
    assert fetch is not None and fetch.state is FetchState.ASKING_HOLDER and fetch.asked == H2
    assert asked(out) == [(Action.FETCH, H2)]
    assert fetches.arrived(COPY, H1, CONTENT, CHUNK, ctx, Outbox(), bytes(16)) is None  # late
    assert fetches.get(COPY) is fetch
    wrong = Outbox()
    assert fetches.arrived(COPY, H2, b"not it", CHUNK, ctx, wrong, bytes(16)) is None
    assert fetch.state is FetchState.FAILED and fetches.get(COPY) is None


def test_with_no_one_left_to_ask_a_client_is_refused() -> None:
    clock = [0.0]
    fetches, ctx, _ = started(CLIENT, clock)
    out = Outbox()
    for _ in range(2):
        clock[0] += FETCH_TIMEOUT + 1
        fetches.timeouts(ctx, out)
    assert fetches.get(COPY) is None and len(fetches) == 0
    refusal = out.messages[-1]
    assert refusal.action == Action.GET_RESPONSE and refusal.dst == CLIENT.to
    assert refusal.body["ok"] is False and refusal.body["reason"] == "no live holder has the data"


@pytest.mark.parametrize("waiter", [HolderWaiter(H2, b"p" * 16), CheckWaiter(COPY)],
                         ids=["replacement", "integrity check"])
def test_a_replacement_or_a_check_waits_on_the_sibling_copies_groups_after_the_holders(
        waiter: HolderWaiter | CheckWaiter) -> None:
    """Sweep seed 102: when every holder lost the copy, an integrity check needs the content
    from a sibling copy's group to catch them."""
    clock = [0.0]
    fetches, ctx, _ = started(waiter, clock)
    out = Outbox()
    for _ in range(2):
        clock[0] += FETCH_TIMEOUT + 1
        fetches.timeouts(ctx, out)
    fetch = fetches.get(COPY)
    assert fetch is not None and fetch.state is FetchState.ASKING_SIBLING
    assert fetch.timeout == SIBLING_TIMEOUT and fetch.asked in SIBLINGS
    sibling = out.messages[-1]
    assert sibling.action == Action.SIBLING_FETCH and sibling.dst.group
    assert sibling.body == {"for": COPY}
    done = fetches.arrived(COPY, fetch.asked, CONTENT, CHUNK, ctx, Outbox(), bytes(16))
    assert done is fetch and done.state is FetchState.DONE and fetches.get(COPY) is None


def test_a_sibling_group_asking_us_is_never_asked_back() -> None:
    clock = [0.0]
    theirs = copy_name(CHUNK, CopyKind.BACKUP)
    fetches, ctx, _ = started(SiblingWaiter(b"\x55" * 64, theirs), clock)
    fetch = fetches.get(COPY)
    assert fetch is not None and fetch.siblings == []
    out = Outbox()
    for _ in range(2):
        clock[0] += FETCH_TIMEOUT + 1
        fetches.timeouts(ctx, out)
    assert fetch.state is FetchState.FAILED and out.messages[-1].action == Action.FETCH


def test_the_right_content_from_the_holder_asked_finishes_the_fetch_with_its_waiters() -> None:
    fetches, ctx, _ = started(CLIENT, [0.0])
    done = fetches.arrived(COPY, H1, CONTENT, CHUNK, ctx, Outbox(), bytes(16))
    assert done is not None and done.state is FetchState.DONE and done.clients == [CLIENT]
    assert fetches.get(COPY) is None

"""Where the runtime reads a body (the relay cache keeps a get_response's content under the copy
it names; the host looks up the group a single sender claims membership of), it reads the
body's record: a well-formed body reads as before, and a body without that field, or with it
malformed, is passed over (nothing cached, no group claimed), never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.bodies import (
    GetResponseBody,
    PayloadWantedBody,
    ReconcileBody,
    SiblingContentBody,
)
from vaultnet.protocol import Action
from vaultnet.runtime.cache import RelayCache, cached_answer
from vaultnet.runtime.host import claimed_group
from vaultnet.xor import name_of

DATA = b"some content"
COPY = name_of(DATA)
"""The Primary copy's name is the chunk's."""
OWN, SENDER, GROUP = name_of(b"us"), name_of(b"a sender"), name_of(b"a group")


def message(action: Action, body: dict[str, Any], payload: bytes = b"",
            src: Authority | None = None) -> Message:
    """A message passing through (or reaching) our vault."""
    return Message(src=src or Authority(SENDER, Persona.DATA_MANAGER),
                   dst=Authority(GROUP, Persona.MAID_NODE), action=action, msg_id=bytes(16),
                   trace_id=bytes(16), body=body, sender=SENDER, payload=payload)


def test_a_get_response_passing_by_is_cached_under_the_copy_it_names() -> None:
    cache = RelayCache()
    body = GetResponseBody(COPY, True, "found").encode()
    assert cached_answer(cache, message(Action.GET_RESPONSE, body, DATA), OWN, 0.0) is None
    assert cache.get(COPY, 0.0) == DATA


@pytest.mark.parametrize("body", [
    {"ok": True, "reason": "found"},
    {"copy": b"short", "ok": True, "reason": "found"},
    {"copy": "a str", "ok": True, "reason": "found"},
    {"copy": COPY, "ok": True},
], ids=["no copy", "a short copy", "a str for copy", "no reason"])
def test_a_malformed_get_response_passing_by_is_not_cached(body: dict[str, Any]) -> None:
    cache = RelayCache()
    assert cached_answer(cache, message(Action.GET_RESPONSE, body, DATA), OWN, 0.0) is None
    assert len(cache) == 0


WANTED = PayloadWantedBody(Action.PUT, bytes(16), GROUP, Persona.DATA_MANAGER, True, {})
CLAIMS = {
    Action.SIBLING_CONTENT: SiblingContentBody(COPY, GROUP),
    Action.RECONCILE: ReconcileBody(GROUP, "keep"),
    Action.PAYLOAD_WANTED: WANTED,
}


@pytest.mark.parametrize("action", CLAIMS)
def test_a_single_sender_claims_the_group_its_body_names(action: Action) -> None:
    assert claimed_group(message(action, CLAIMS[action].encode())) == GROUP


@pytest.mark.parametrize("action", CLAIMS)
def test_a_body_that_is_not_its_record_claims_no_group(action: Action) -> None:
    assert claimed_group(message(action, {})) is None
    wrong = {key: "a str" if value == GROUP else value
             for key, value in CLAIMS[action].encode().items()}
    assert claimed_group(message(action, wrong)) is None


def test_a_group_claims_itself_and_other_single_senders_claim_none() -> None:
    group = Authority(SENDER, Persona.DATA_MANAGER, group=True)
    assert claimed_group(message(Action.GET_RESPONSE, {}, src=group)) == SENDER
    assert claimed_group(message(Action.GET_RESPONSE, {})) is None

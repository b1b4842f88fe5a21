"""Structured data rules, sans-IO: the MaidManager's gate (size, signature), the VersionManager's
commits (duplicate put, owner, version counter, signed delete), reads, and a client's retry
answered from the MaidManagers' firewall."""

from __future__ import annotations

from typing import Any

import pytest

from tests.personas.helpers import MEMBERS, PARAMS, Ctx, from_each
from tests.structured.helpers import NONCE, signed
from vaultnet.identity import Identity
from vaultnet.messages import Authority, Message, Persona, derived_id
from vaultnet.personas.actions import DeleteStructured, PutStructured, UpdateStructured
from vaultnet.personas.bodies import (
    Body,
    DeleteStructuredBody,
    KeyBody,
    StructuredAnswerBody,
    StructuredBody,
    StructuredRequestBody,
)
from vaultnet.personas.effects import Outbox
from vaultnet.personas.maid_manager import MaidManager
from vaultnet.personas.structured_data import (
    MAX_DATA_SIZE,
    StructuredRecord,
    delete_bytes,
)
from vaultnet.personas.version_manager import VersionManager
from vaultnet.protocol import Action, ErrorCode
from vaultnet.storage.records import MemoryRecords
from vaultnet.wire import FrameError
from vaultnet.xor import name_of

OWNER = Identity.generate(b"\x01" * 32)
OTHER = Identity.generate(b"\x02" * 32)
CLIENT = OWNER.name
NAME = name_of(b"a structured record")
REPLY = Authority(CLIENT, Persona.MAID_NODE, relay=MEMBERS[3])
TRACE = bytes(16)


def client_request(action: Action, body: Body, msg_id: bytes = b"r" * 16) -> Message:
    """A client's request to its MaidManagers (unsigned: a persona does not check that)."""
    return Message(src=REPLY, dst=Authority(CLIENT, Persona.MAID_MANAGER, group=True),
                   action=action, msg_id=msg_id, trace_id=TRACE, sender=CLIENT,
                   body=body.encode())


def maid_manager() -> MaidManager:
    manager = MaidManager(PARAMS, MemoryRecords("accounts"), MemoryRecords("chunks"))
    manager.attach(MEMBERS[0])
    return manager


def version_manager() -> VersionManager:
    manager = VersionManager(PARAMS, MemoryRecords("trees"))
    manager.attach(MEMBERS[1])
    return manager


def answer_of(out: Outbox) -> StructuredAnswerBody:
    """The VersionManager's one answer in `out` (sent through the MaidManagers), as read."""
    (result,) = out.messages
    assert result.action == Action.STRUCTURED_RESULT
    assert result.dst.persona is Persona.MAID_MANAGER and result.dst.name == CLIENT
    return StructuredAnswerBody.from_map(result.body["answer"])


def commit(manager: VersionManager, action: PutStructured | UpdateStructured | DeleteStructured,
           ) -> StructuredAnswerBody:
    """Run the agreed `action` at `manager` and read its answer."""
    out = Outbox()
    ctx = Ctx(MEMBERS[1], [0.0])
    if isinstance(action, PutStructured):
        manager.commit_put_structured(NAME, action, ctx, out, TRACE)
    elif isinstance(action, UpdateStructured):
        manager.commit_update_structured(NAME, action, ctx, out, TRACE)
    else:
        manager.commit_delete_structured(NAME, action, ctx, out, TRACE)
    return answer_of(out)


def put(record: StructuredRecord) -> PutStructured:
    return PutStructured(record, b"p" * 16, REPLY)


def update(record: StructuredRecord) -> UpdateStructured:
    return UpdateStructured(record, b"u" * 16, REPLY)


def delete(owner: Identity, version: int, nonce: bytes = NONCE) -> DeleteStructured:
    return DeleteStructured(version, owner.sign(delete_bytes(NAME, nonce, version)), b"d" * 16,
                            REPLY)


def stored(manager: VersionManager) -> dict[str, Any] | None:
    return manager.structured.get(NAME)


# -- the MaidManager's gate ----------------------------------------------------------------------


def test_the_maid_managers_forward_a_signed_record_to_the_group_of_its_name() -> None:
    record = signed(OWNER, NAME, 0, b"hello")
    (forwarded,) = maid_manager().handle(
        client_request(Action.PUT_STRUCTURED, StructuredBody(record)),
        Ctx(MEMBERS[0], [0.0])).messages
    assert forwarded.action == Action.PUT_STRUCTURED
    assert forwarded.dst == Authority(NAME, Persona.VERSION_MANAGER, group=True)
    body = forwarded.typed(StructuredRequestBody)
    assert body.record == record and body.id == b"r" * 16 and body.reply == REPLY


@pytest.mark.parametrize("action", [Action.PUT_STRUCTURED, Action.UPDATE_STRUCTURED])
@pytest.mark.parametrize(("record", "error"), [
    (signed(OWNER, NAME, 0, bytes(MAX_DATA_SIZE + 1)), ErrorCode.DATA_TOO_LARGE),
    # signed by OTHER, claiming OWNER's key
    (StructuredRecord(NAME, OWNER.verify_key, 0, b"forged", NONCE,
                      signed(OTHER, NAME, 0, b"forged").signature), ErrorCode.INVALID_SIGNATURE),
    # OWNER's signature over other data
    (StructuredRecord(NAME, OWNER.verify_key, 1, b"tampered", NONCE,
                      signed(OWNER, NAME, 1, b"original").signature),
     ErrorCode.INVALID_SIGNATURE),
], ids=["over the size limit", "another key's signature", "tampered data"])
def test_the_maid_managers_refuse_what_they_can_tell_alone(
        action: Action, record: StructuredRecord, error: ErrorCode) -> None:
    manager = maid_manager()
    ctx = Ctx(MEMBERS[0], [0.0])
    request = client_request(action, StructuredBody(record))
    (answer,) = manager.handle(request, ctx).messages
    assert answer.action == Action.STRUCTURED_ANSWER and answer.dst.name == CLIENT
    assert answer.msg_id == derived_id(Action.STRUCTURED_ANSWER, b"r" * 16)
    body = answer.typed(StructuredAnswerBody)
    assert not body.ok and body.error is error
    assert manager.handle(request, ctx).messages == [answer]  # a retry: the recorded answer


def test_a_record_at_the_size_limit_is_forwarded() -> None:
    record = signed(OWNER, NAME, 0, bytes(MAX_DATA_SIZE))
    (forwarded,) = maid_manager().handle(
        client_request(Action.PUT_STRUCTURED, StructuredBody(record)),
        Ctx(MEMBERS[0], [0.0])).messages
    assert forwarded.dst.persona is Persona.VERSION_MANAGER


# -- the VersionManager's commits -----------------------------------------------------------------


def test_a_put_creates_version_zero_and_a_second_put_is_data_exists() -> None:
    manager = version_manager()
    first = signed(OWNER, NAME, 0, b"first")
    assert commit(manager, put(first)) == StructuredAnswerBody(True, record=first)
    assert stored(manager) == first.to_record()
    again = commit(manager, put(signed(OTHER, NAME, 0, b"mine now")))
    assert not again.ok and again.error is ErrorCode.DATA_EXISTS
    assert stored(manager) == first.to_record()


def test_a_put_must_be_version_zero() -> None:
    manager = version_manager()
    answer = commit(manager, put(signed(OWNER, NAME, 3, b"late start")))
    assert not answer.ok and answer.error is ErrorCode.STALE_VERSION
    assert stored(manager) is None


def test_an_update_needs_the_owner_key_and_the_next_version() -> None:
    manager = version_manager()
    commit(manager, put(signed(OWNER, NAME, 0, b"v0")))
    refusals = [
        (signed(OTHER, NAME, 1, b"someone else's"), ErrorCode.NOT_OWNER),
        (signed(OWNER, NAME, 0, b"same version"), ErrorCode.STALE_VERSION),
        (signed(OWNER, NAME, 2, b"skips one"), ErrorCode.STALE_VERSION),
    ]
    for record, error in refusals:
        answer = commit(manager, update(record))
        assert not answer.ok and answer.error is error, record
    assert StructuredRecord.from_record(stored(manager)).data == b"v0"
    v1 = signed(OWNER, NAME, 1, b"v1")
    assert commit(manager, update(v1)) == StructuredAnswerBody(True, record=v1)
    stale = commit(manager, update(signed(OWNER, NAME, 1, b"written against v0")))
    assert stale.error is ErrorCode.STALE_VERSION and "at version 1" in (stale.reason or "")
    assert stored(manager) == v1.to_record()


def test_an_update_or_delete_of_no_record_is_no_such_element() -> None:
    manager = version_manager()
    for action in (update(signed(OWNER, NAME, 1, b"v1")), delete(OWNER, 0)):
        answer = commit(manager, action)
        assert not answer.ok and answer.error is ErrorCode.NO_SUCH_ELEMENT


def test_a_delete_needs_the_owner_signature_at_the_stored_version() -> None:
    manager = version_manager()
    commit(manager, put(signed(OWNER, NAME, 0, b"v0")))
    v1 = signed(OWNER, NAME, 1, b"v1")
    commit(manager, update(v1))
    assert commit(manager, delete(OTHER, 1)).error is ErrorCode.NOT_OWNER
    assert commit(manager, delete(OWNER, 0)).error is ErrorCode.STALE_VERSION
    # the owner's signature over another name does not delete this one
    wrong_name = DeleteStructured(1, OWNER.sign(delete_bytes(name_of(b"other"), NONCE, 1)),
                                  b"d" * 16, REPLY)
    assert commit(manager, wrong_name).error is ErrorCode.NOT_OWNER
    assert stored(manager) == v1.to_record()
    assert commit(manager, delete(OWNER, 1)) == StructuredAnswerBody(True, record=v1,
                                                                      deleted=True)
    assert stored(manager) is None


def test_signatures_for_an_earlier_record_at_the_name_do_not_touch_a_new_one() -> None:
    """Signatures seen on the wire for a record since deleted (a version 1 update, the delete
    at version 1, and the delete at version 0 of the record as it was put) are replayed
    against the record put again at the name (a new nonce): none of them deletes it or sets
    the old data on it."""
    manager = version_manager()
    old_update, old_delete_v0 = update(signed(OWNER, NAME, 1, b"old v1")), delete(OWNER, 0)
    commit(manager, put(signed(OWNER, NAME, 0, b"old v0")))
    commit(manager, old_update)
    old_delete_v1 = delete(OWNER, 1)
    assert commit(manager, old_delete_v1).ok
    fresh_nonce = b"\x02" * 16
    new = signed(OWNER, NAME, 0, b"new v0", fresh_nonce)
    assert commit(manager, put(new)).ok
    for replayed, error in ((old_delete_v0, ErrorCode.NOT_OWNER),
                            (old_update, ErrorCode.STALE_VERSION)):
        answer = commit(manager, replayed)
        assert not answer.ok and answer.error is error, replayed
        assert stored(manager) == new.to_record()
    commit(manager, update(signed(OWNER, NAME, 1, b"new v1", fresh_nonce)))
    assert commit(manager, old_delete_v1).error is ErrorCode.NOT_OWNER
    assert StructuredRecord.from_record(stored(manager)).data == b"new v1"
    assert commit(manager, delete(OWNER, 1, fresh_nonce)).ok  # the owner's own delete


def test_a_forwarded_record_must_go_to_the_group_of_its_own_name() -> None:
    manager = version_manager()
    record = signed(OWNER, name_of(b"elsewhere"), 0, b"misrouted")
    msg = Message(src=Authority(CLIENT, Persona.MAID_MANAGER, group=True),
                  dst=Authority(NAME, Persona.VERSION_MANAGER, group=True),
                  action=Action.PUT_STRUCTURED, msg_id=b"m" * 16, trace_id=TRACE,
                  sender=MEMBERS[0],
                  body=StructuredRequestBody(record, b"r" * 16, REPLY).encode())
    with pytest.raises(FrameError, match="its own name"):
        manager.on_put_structured(msg, b"", Ctx(MEMBERS[1], [0.0]), Outbox())


def test_anyone_reads_a_record_from_any_member() -> None:
    manager = version_manager()
    ctx = Ctx(MEMBERS[1], [0.0])
    reader = OTHER.name

    def read(msg_id: bytes) -> StructuredAnswerBody:
        msg = Message(src=Authority(reader, Persona.MAID_NODE, relay=MEMBERS[3]),
                      dst=Authority(NAME, Persona.VERSION_MANAGER, group=True),
                      action=Action.GET_STRUCTURED, msg_id=msg_id, trace_id=TRACE,
                      sender=reader, body=KeyBody(NAME).encode())
        (answer,) = manager.handle(msg, ctx).messages
        assert answer.dst.name == reader and answer.action == Action.STRUCTURED_ANSWER
        assert answer.msg_id == derived_id(Action.STRUCTURED_ANSWER, msg_id)
        return answer.typed(StructuredAnswerBody)

    assert read(b"1" * 16).error is ErrorCode.NO_SUCH_ELEMENT
    record = signed(OWNER, NAME, 0, b"public")
    commit(manager, put(record))
    assert read(b"2" * 16) == StructuredAnswerBody(True, record=record)


def test_the_records_move_with_churn() -> None:
    manager = version_manager()
    assert manager.structured in manager.transfer_stores()
    assert manager.trees in manager.transfer_stores()


# -- a client's retry ----------------------------------------------------------------------------


def test_an_update_retried_after_its_answer_was_lost_gets_that_answer() -> None:
    """Uf: the VersionManagers' agreed answer comes back through the MaidManagers, which
    record it; a retry with the same id is answered from there and not forwarded again."""
    maid = maid_manager()
    ctx = Ctx(MEMBERS[0], [0.0])
    v1 = signed(OWNER, NAME, 1, b"v1")
    request = client_request(Action.UPDATE_STRUCTURED, StructuredBody(v1), b"u" * 16)
    (forwarded,) = maid.handle(request, ctx).messages
    assert forwarded.action == Action.UPDATE_STRUCTURED
    (busy,) = maid.handle(request, ctx).messages
    assert busy.action == Action.SYNCHRONISING

    versions = version_manager()
    commit(versions, put(signed(OWNER, NAME, 0, b"v0")))
    out = Outbox()
    body = forwarded.typed(StructuredRequestBody)
    versions.commit_update_structured(NAME, UpdateStructured(body.record, body.id, body.reply),
                                      Ctx(MEMBERS[1], [0.0]), out, TRACE)
    (result,) = out.messages
    # a quorum of VersionManagers; the MaidManagers also propose charging the stored record
    answer, charge = from_each(maid, result, MEMBERS[1:], ctx)
    assert charge.action == Action.SYNC
    assert answer.action == Action.STRUCTURED_ANSWER and answer.dst.name == CLIENT
    assert answer.msg_id == derived_id(Action.STRUCTURED_ANSWER, b"u" * 16)
    assert answer.typed(StructuredAnswerBody) == StructuredAnswerBody(True, record=v1)
    assert maid.handle(request, ctx).messages == [answer]


def test_a_delete_is_forwarded_with_the_owner_signature() -> None:
    signature = OWNER.sign(delete_bytes(NAME, NONCE, 4))
    (forwarded,) = maid_manager().handle(
        client_request(Action.DELETE_STRUCTURED, DeleteStructuredBody(NAME, 4, signature)),
        Ctx(MEMBERS[0], [0.0])).messages
    assert forwarded.action == Action.DELETE_STRUCTURED
    assert forwarded.dst == Authority(NAME, Persona.VERSION_MANAGER, group=True)
    assert forwarded.body["signature"] == signature and forwarded.body["version"] == 4


def test_a_record_whose_signature_does_not_verify_is_not_believed() -> None:
    record = signed(OWNER, NAME, 2, b"true")
    assert record.signature_ok()
    for field, value in (("data", b"false"), ("version", 3), ("name", name_of(b"x")),
                         ("owner", OTHER.verify_key), ("nonce", b"\x02" * 16)):
        tampered = StructuredRecord.from_record(record.to_record() | {field: value})
        assert not tampered.signature_ok(), field

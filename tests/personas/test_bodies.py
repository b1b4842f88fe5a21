"""Message bodies as typed records: every record round-trips through its map (and the wire)
unchanged, encodes to the map the network always sent, and every malformed field (missing,
mistyped, a name of the wrong length, a string not among its choices) is a FrameError, as is a
record its action does not carry."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, get_type_hints

import pytest

from vaultnet import wire
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas import bodies
from vaultnet.personas.bodies import BODIES, Body
from vaultnet.personas.records import HeldMessage, VaultHealth
from vaultnet.personas.structured_data import StructuredRecord
from vaultnet.personas.tree_access import TreeMode
from vaultnet.personas.version_tree import VersionName
from vaultnet.protocol import Action, ErrorCode, Op
from vaultnet.storage.store import CopyKind
from vaultnet.wire import FrameError

N1, N2 = b"\x01" * 64, b"\x02" * 64
ID = b"\x03" * 16
REPLY = Authority(N1, Persona.MAID_NODE, relay=N2)
V0, V1 = VersionName(0, N1), VersionName(1, N2)
RECORD = StructuredRecord(N1, b"\x05" * 32, 3, b"data", b"\x07" * 16, b"\x06" * 64)
SAMPLES: list[tuple[Action, Body]] = [
    (Action.SYNC, bodies.SyncBody(N1, b"agreed action")),
    (Action.PAYLOAD_WANTED, bodies.PayloadWantedBody(Action.PUT, ID, N1, Persona.PMID_MANAGER,
                                                     True, {"copy": N2})),
    (Action.SYNCHRONISING, bodies.SynchronisingBody(Action.PUT)),
    (Action.REQUEST_EXPIRED, bodies.ExpiredBody(Action.GET, "too old")),
    (Action.STORED, bodies.CopyBody(N1)),
    (Action.PUT, bodies.CopyPutBody(N1, CopyKind.BACKUP, 7, N2, ID, REPLY)),
    (Action.PUT_RESPONSE, bodies.PutResponseBody(N1, N2, REPLY, False, "no vault", ID, 7)),
    (Action.STORE, bodies.HolderPutBody(N1, CopyKind.PRIMARY, 7)),
    (Action.PUT_FAILURE, bodies.NodeFailureBody(N1, CopyKind.SACRIFICIAL, 7, "full")),
    (Action.PUT_FAILURE, bodies.HolderFailureBody(N1, 7, "rank below floor")),
    (Action.DELETE, bodies.CopyDeleteBody(N1, 7)),
    (Action.DELETE, bodies.KindBody(CopyKind.PRIMARY)),
    (Action.CORRECTION, bodies.CorrectionBody(N1, 7, 0, bodies.FAILED_CHECK)),
    (Action.CONTENT_WANTED, bodies.ContentWantedBody(ID, N1, {"copy": N2})),
    (Action.RECONCILE, bodies.ReconcileBody(N1, bodies.KEEP)),
    (Action.EXISTS, bodies.ExistsBody(ID)),
    (Action.EXISTS_ANSWER, bodies.ExistsAnswerBody(ID, True)),
    (Action.GET, bodies.EmptyBody()),
    (Action.GET_RESPONSE, bodies.GetResponseBody(N1, True, "")),
    (Action.SIBLING_FETCH, bodies.SiblingFetchBody(N1)),
    (Action.SIBLING_CONTENT, bodies.SiblingContentBody(N1, N2)),
    (Action.CHALLENGE, bodies.ChallengeBody(N1, b"nonce")),
    (Action.CHALLENGE_RESPONSE, bodies.ChallengeResponseBody(N1, b"")),
    (Action.INTEGRITY_FAILURE, bodies.IntegrityFailureBody(Op.INTEGRITY_FAILED, N1, ID, N2)),
    (Action.PUT, bodies.ClientPutBody(N1, True)),
    (Action.PUT_OK, bodies.NameBody(N1)),
    (Action.PUT_FAILURE, bodies.PutRefusedBody(N1, "exists", ErrorCode.DATA_EXISTS)),
    (Action.DELETE_OK, bodies.DeleteOkBody(N1, True)),
    (Action.PUT_VERSION, bodies.ClientPutVersionBody(N1, None, V1, None, 5, TreeMode.SHARED,
                                                     [N2])),
    (Action.PUT_VERSION, bodies.PutVersionBody(V0, V1, 100, 10, TreeMode.PUBLIC, [], ID, REPLY)),
    (Action.GET_VERSIONS, bodies.KeyBody(N1)),
    (Action.GET_BRANCH, bodies.BranchBody(N1, V1)),
    (Action.DELETE_BRANCH, bodies.DeleteBranchBody(V1, ID, REPLY)),
    (Action.VERSION_ANSWER, bodies.VersionAnswerBody(True, versions=[V0, V1])),
    (Action.VERSION_RESULT, bodies.VersionResultBody(ID, REPLY, {"ok": True})),
    (Action.PUT_STRUCTURED, bodies.StructuredBody(RECORD)),
    (Action.UPDATE_STRUCTURED, bodies.StructuredRequestBody(RECORD, ID, REPLY)),
    (Action.DELETE_STRUCTURED, bodies.DeleteStructuredBody(N1, 3, b"\x06" * 64)),
    (Action.DELETE_STRUCTURED, bodies.DeleteStructuredRequestBody(3, b"\x06" * 64, ID, REPLY)),
    (Action.STRUCTURED_ANSWER, bodies.StructuredAnswerBody(True, record=RECORD)),
    (Action.TRANSFER_QUERY, bodies.TransferQueryBody("accounts", N1)),
    (Action.RECORD_CHECK, bodies.RecordCheckBody(N1, [N2], [ID], True)),
    (Action.TRANSFER, bodies.TransferBody([bodies.TransferItem("accounts", N1 + b"x", b"record")],
                                          [bodies.GroupReflects(N1, [ID])])),
    (Action.SEND, bodies.SendBody(N1, b"hello")),
    (Action.MESSAGE, bodies.HeldMessageBody(N1, ID, b"hello")),
    (Action.ACK, bodies.AckBody(N1, ID)),
    (Action.CHANGE_LIST, bodies.ChangeListBody("block", N1)),
    (Action.DELIVERY, bodies.DeliveryBody(False, N1, ID, ErrorCode.BLOCKED, "blocked")),
    (Action.MPID_ANSWER, bodies.MpidAnswerBody(True, messages=[HeldMessage(N1, ID, b"hi")])),
    (Action.REGISTER_VAULT, bodies.RegisterVaultBody(b"\x05" * 32, b"\x06" * 32, b"\x07" * 64,
                                                     b"\x08" * 64)),
    (Action.UNREGISTER_VAULT, bodies.NameBody(N2)),
    (Action.VAULT_ANSWER, bodies.VaultAnswerBody(False, 1 << 40, ErrorCode.TOO_MANY_VAULTS,
                                                 "at most 16 vaults per client")),
    (Action.CAPACITY, bodies.CapacityBody(1 << 30)),
    (Action.GET_PMID_HEALTH, bodies.EmptyBody()),
    (Action.PMID_HEALTH, bodies.PmidHealthBody(N2, 7, 1, 1 << 30, 0.875)),
    (Action.SEND_ACCOUNT, bodies.AccountPageBody(
        [bodies.AccountEntry(N1, CopyKind.PRIMARY, 7)], True, N2)),
    (Action.PUT_OK, bodies.PutOkBody(N1, [VaultHealth(N2, 7, 1, 1 << 30)])),
]
IDS = [type(body).__name__ for _, body in SAMPLES]


def message(action: Action, body: dict[str, Any]) -> Message:
    return Message(src=Authority(N1, Persona.DATA_MANAGER, group=True),
                   dst=Authority(N2, Persona.PMID_MANAGER, group=True), action=action,
                   msg_id=ID, trace_id=ID, body=body, sender=N1)


def test_every_action_carries_a_record_and_every_record_is_sampled() -> None:
    assert set(BODIES) == set(Action)
    carried = {record for records in BODIES.values() for record in records}
    assert carried == {type(body) for _, body in SAMPLES}


@pytest.mark.parametrize(("action", "body"), SAMPLES, ids=IDS)
def test_round_trip(action: Action, body: Body) -> None:
    raw = body.encode()
    assert type(body).decode(action, raw) == body
    travelled = Message.from_wire(wire.unpack(wire.pack(message(action, raw).to_wire())))
    assert travelled.typed(type(body)) == body


def test_encodes_the_maps_the_network_always_sent() -> None:
    """Same keys, same order, same value types: the same bytes (signatures, message ids and
    sync votes hash them)."""
    sent = [
        (bodies.SyncBody(N1, b"x"), {"k": N1, "a": b"x"}),
        (bodies.HolderPutBody(N1, CopyKind.PRIMARY, 7), {"copy": N1, "kind": "P", "size": 7}),
        (bodies.SiblingContentBody(N1, N2), {"copy": N1, "from": N2}),
        (bodies.PayloadWantedBody(Action.PUT, ID, N1, Persona.PMID_MANAGER, False, {}),
         {"action": "put", "id": ID, "to": N1, "persona": "PmidManager", "group": False,
          "body": {}}),
        (bodies.IntegrityFailureBody(Op.INTEGRITY_FAILED, N1, ID, N2),
         {"op": "integrity_failed", "holder": N1, "nonce": ID, "copy": N2}),
        (bodies.PutResponseBody(N1, N2, REPLY, True, "", ID, 7),
         {"name": N1, "client": N2, "reply": [N1, "MaidNode", False, N2], "ok": True,
          "reason": "", "id": ID, "size": 7}),
        (bodies.ClientPutBody(N1), {"name": N1}),
        (bodies.ClientPutBody(N1, True), {"name": N1, "unique": True}),
        (bodies.ClientPutVersionBody(N1, None, V1, None, None, TreeMode.PUBLIC, []),
         {"key": N1, "parent": None, "version": [1, N2], "max_versions": None,
          "max_branches": None, "mode": "public", "owners": []}),
        (bodies.VersionAnswerBody(False, ErrorCode.NOT_OWNER, "not yours"),
         {"ok": False, "error": "NotOwner", "reason": "not yours"}),
        (bodies.DeliveryBody(True, N1, ID), {"ok": True, "to": N1, "mid": ID}),
        (bodies.MpidAnswerBody(True, whitelist=[N1], blacklist=[]),
         {"ok": True, "whitelist": [N1], "blacklist": []}),
    ]
    for body, legacy in sent:
        assert wire.pack(body.encode()) == wire.pack(legacy)


def may_be_left_out(record: type[Body], key: str) -> bool:
    """A field that may be None (left out, or nil), or a transfer's reflected actions (none)."""
    attr = {"k": "key", "a": "data", "for": "copy", "from": "source"}.get(key, key)
    hint = get_type_hints(record)[attr]
    return key == "reflects" or (isinstance(hint, types.UnionType)
                                 and type(None) in hint.__args__)


def malformed(body: Body) -> list[tuple[str, dict[str, Any]]]:
    """Each required field missing, then each field of a type no field accepts (a flag is
    only ever false)."""
    raw = body.encode()
    missing = [(f"no {key}", {k: v for k, v in raw.items() if k != key}) for key in raw
               if not isinstance(raw[key], bool) and not may_be_left_out(type(body), key)]
    return missing + [(f"{key} a float", raw | {key: 1.5}) for key in raw
                      if not isinstance(raw[key], bool)]


@pytest.mark.parametrize(("action", "body"), SAMPLES, ids=IDS)
def test_malformed_fields_are_frame_errors(action: Action, body: Body) -> None:
    for case, raw in malformed(body):
        with pytest.raises(FrameError):
            type(body).decode(action, raw)
            pytest.fail(case)
        with pytest.raises(FrameError):
            message(action, raw).typed(type(body))


@pytest.mark.parametrize(("record", "field", "value"), [
    (bodies.CopyBody, "copy", b"\x01" * 63),
    (bodies.ExistsBody, "id", b"\x03" * 17),
    (bodies.IntegrityFailureBody, "nonce", b"\x03" * 15),
    (bodies.HolderPutBody, "kind", "X"),
    (bodies.HolderPutBody, "size", -1),
    (bodies.HolderPutBody, "size", True),
    (bodies.ReconcileBody, "verdict", "maybe"),
    (bodies.CorrectionBody, "reason", "felt like it"),
    (bodies.PayloadWantedBody, "persona", "Nobody"),
    (bodies.PayloadWantedBody, "action", "dance"),
    (bodies.CopyPutBody, "reply", [N1, "MaidNode", False]),
    (bodies.ClientPutVersionBody, "max_branches", 0),
    (bodies.ClientPutVersionBody, "owners", [N1[:10]]),
    (bodies.ClientPutVersionBody, "mode", "secret"),
    (bodies.BranchBody, "tip", [1]),
    (bodies.StructuredBody, "record", RECORD.to_record() | {"owner": b"short"}),
    (bodies.StructuredBody, "record", RECORD.to_record() | {"version": -1}),
    (bodies.DeleteStructuredBody, "signature", b"\x06" * 63),
    (bodies.DeleteStructuredBody, "version", 1 << 63),  # not signable as 8 bytes
    (bodies.ChangeListBody, "change", "befriend"),
    (bodies.TransferBody, "reflects", [[N1, [b"short"]]]),
    (bodies.TransferBody, "records", [["accounts", N1]]),
    (bodies.MpidAnswerBody, "messages", [[N1, ID]]),
], ids=lambda value: str(value)[:20])
def test_wrong_values_are_frame_errors(record: type[Body], field: str, value: object) -> None:
    action, body = next((a, b) for a, b in SAMPLES if type(b) is record)
    raw = body.encode()
    key = next(k for k in raw if k == field)
    with pytest.raises(FrameError):
        record.decode(action, raw | {key: value})


def test_a_flag_is_true_only_when_it_says_true() -> None:
    raw = bodies.ExistsAnswerBody(ID, True).encode()
    assert bodies.ExistsAnswerBody.decode(Action.EXISTS_ANSWER, raw | {"exists": 1}).exists is False
    assert bodies.ExistsAnswerBody.decode(Action.EXISTS_ANSWER, {"id": ID}).exists is False


def test_left_out_fields_read_as_none() -> None:
    put = bodies.ClientPutVersionBody.decode(Action.PUT_VERSION, {"key": N1, "version": [1, N2]})
    assert (put.parent, put.max_versions, put.mode, put.owners) == (None, None, None, None)
    assert bodies.ClientPutBody.decode(Action.PUT, {"name": N1}).unique is None
    transfer = {"records": [["accounts", N1, b"record"]], "reflects": [[N1, None]]}
    assert bodies.TransferBody.decode(Action.TRANSFER, transfer).reflects[0].reflects == []


def test_an_action_carries_only_its_records() -> None:
    with pytest.raises(FrameError):
        bodies.CopyBody.decode(Action.SYNC, {"copy": N1})
    with pytest.raises(FrameError):
        message(Action.STORE, {"copy": N1}).typed(bodies.CopyBody)


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        bodies.CopyBody(N1).copy = N2  # type: ignore[misc]

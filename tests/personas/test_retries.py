"""Client retries, sans-IO: a request re-sent with the same id because its answer was lost is
answered again, never swallowed (before: the firewall kept "synchronising" for a get and the
client waited for its whole timeout)."""

from __future__ import annotations

from pathlib import Path

from tests.personas.helpers import GROUP, MEMBERS, PARAMS, Ctx
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.base import Outbox
from vaultnet.personas.data_manager import DataManager
from vaultnet.personas.mpid_manager import MpidManager
from vaultnet.store import Database, RecordStore
from vaultnet.xor import closest

CLIENT = b"\x66" * 64
CONTENT = b"content of the copy at GROUP"


def get(msg_id: bytes) -> Message:
    return Message(src=Authority(CLIENT, Persona.MAID_NODE),
                   dst=Authority(GROUP, Persona.DATA_MANAGER, group=True), action="get",
                   msg_id=msg_id, trace_id=bytes(16), sender=CLIENT, body={})


def test_a_retried_get_is_answered_again(tmp_path: Path) -> None:
    lead = closest(GROUP, MEMBERS, 1)[0]
    manager = DataManager(PARAMS, RecordStore(Database(tmp_path / "dm.db"), "data_manager"))
    manager.attach(lead)
    manager.records.put(GROUP, {"kind": "P", "size": len(CONTENT), "subscribers": 1,
                                "holders": [MEMBERS[-1]], "failed": []})
    manager.stash.put(GROUP, CONTENT)
    ctx = Ctx(lead, [0.0])
    first = manager.handle(get(b"g" * 16), ctx).messages
    retry = manager.handle(get(b"g" * 16), ctx).messages
    assert [m.action for m in first] == ["get_response"] and retry == first
    assert retry[0].payload == CONTENT and retry[0].dst.name == CLIENT
    assert len(manager.firewall) == 0  # a get's answer (up to 1 MiB) is not kept


def change_list(msg_id: bytes) -> Message:
    return Message(src=Authority(CLIENT, Persona.MPID_NODE),
                   dst=Authority(CLIENT, Persona.MPID_MANAGER, group=True),
                   action="change_list", msg_id=msg_id, trace_id=bytes(16), sender=CLIENT,
                   body={"change": "block", "name": b"\x55" * 64})


def test_a_retry_after_an_agreed_answer_gets_that_answer(tmp_path: Path) -> None:
    """Uf on the MpidManager's agreed answers: the retry of a list change whose answer was
    lost is answered with the recorded answer, and nothing is changed twice."""
    own = MEMBERS[1]
    db = Database(tmp_path / "mpid.db")
    manager = MpidManager(PARAMS, RecordStore(db, "accounts"), RecordStore(db, "inbox"),
                          RecordStore(db, "outbox"))
    manager.attach(own)
    ctx = Ctx(own, [0.0])
    first = manager.handle(change_list(b"c" * 16), ctx)
    (vote,) = first.messages  # our vote: the group has not agreed yet
    assert vote.action == "sync"
    assert manager.handle(change_list(b"c" * 16), ctx).messages == []  # synchronising
    out = Outbox()
    manager.commit_change_list(CLIENT, {"change": "block", "name": b"\x55" * 64,
                                        "id": b"c" * 16,
                                        "reply": Authority(CLIENT, Persona.MPID_NODE).to_wire()},
                               ctx, out, bytes(16))
    (answer,) = out.messages
    assert answer.action == "mpid_answer" and answer.body["ok"] is True
    assert manager.handle(change_list(b"c" * 16), ctx).messages == [answer]
    assert manager.account(CLIENT)["blacklist"] == [b"\x55" * 64]

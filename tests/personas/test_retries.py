"""Client retries, sans-IO: a request re-sent with the same id because its answer was lost is
answered again, never swallowed (before: the firewall kept "synchronising" for a get and the
client waited for its whole timeout)."""

from __future__ import annotations

from pathlib import Path

from tests.personas.helpers import GROUP, MEMBERS, PARAMS, Ctx, from_each
from vaultnet.messages import Authority, Message, Persona, derived_id
from vaultnet.personas.actions import DeleteBranch, MpidChangeList
from vaultnet.personas.data_manager import DataManager
from vaultnet.personas.effects import Outbox
from vaultnet.personas.maid_manager import MaidManager
from vaultnet.personas.mpid_manager import MpidManager
from vaultnet.personas.version_manager import VersionManager
from vaultnet.personas.version_tree import VersionName
from vaultnet.storage.store import Database, RecordStore
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
    (busy,) = manager.handle(change_list(b"c" * 16), ctx).messages  # still agreeing
    assert busy.action == "synchronising" and busy.dst.name == CLIENT
    assert busy.msg_id == derived_id("synchronising", b"c" * 16)
    out = Outbox()
    manager.commit_change_list(CLIENT, MpidChangeList("block", b"\x55" * 64, b"c" * 16,
                                                      Authority(CLIENT, Persona.MPID_NODE)),
                               ctx, out, bytes(16))
    (answer,) = out.messages
    assert answer.action == "mpid_answer" and answer.body["ok"] is True
    assert manager.handle(change_list(b"c" * 16), ctx).messages == [answer]
    assert manager.account(CLIENT).blacklist == [b"\x55" * 64]


VERSION_KEY = b"\x44" * 64


def delete_branch(msg_id: bytes) -> Message:
    return Message(src=Authority(CLIENT, Persona.MAID_NODE),
                   dst=Authority(CLIENT, Persona.MAID_MANAGER, group=True),
                   action="delete_branch", msg_id=msg_id, trace_id=bytes(16), sender=CLIENT,
                   body={"key": VERSION_KEY, "tip": [0, b"\x45" * 64]})


def test_a_version_request_retried_after_its_answer_was_lost_gets_that_answer(
        tmp_path: Path) -> None:
    """Uf for requests the MaidManagers forward: the VersionManagers' agreed answer comes back
    through them (`version_result`), so a retry is answered from their firewall; while the
    answer is on its way, a retry is told "synchronising" and not forwarded again."""
    own = MEMBERS[0]
    db = Database(tmp_path / "maid.db")
    maid = MaidManager(PARAMS, RecordStore(db, "accounts"), RecordStore(db, "chunks"))
    maid.attach(own)
    maid.accounts.put(CLIENT, {"used": 1, "allowance": 10})
    ctx = Ctx(own, [0.0])
    (forwarded,) = maid.handle(delete_branch(b"v" * 16), ctx).messages
    assert forwarded.action == "delete_branch"
    assert forwarded.dst.persona is Persona.VERSION_MANAGER
    (busy,) = maid.handle(delete_branch(b"v" * 16), ctx).messages
    assert busy.action == "synchronising"

    versions = VersionManager(PARAMS, RecordStore(Database(tmp_path / "vm.db"), "trees"))
    versions.attach(MEMBERS[1])
    out = Outbox()
    versions.commit_delete_branch(VERSION_KEY,
                                  DeleteBranch(VersionName(0, b"\x45" * 64), b"v" * 16,
                                               Authority.from_wire(forwarded.body["reply"])),
                                  Ctx(MEMBERS[1], [0.0]), out, bytes(16))
    (result,) = out.messages
    assert result.action == "version_result" and result.dst.persona is Persona.MAID_MANAGER
    assert result.body["answer"]["ok"] is False  # no tree at that key

    (answer,) = from_each(maid, result, MEMBERS[1:], ctx)  # a quorum of VersionManagers
    assert answer.action == "version_answer" and answer.dst.name == CLIENT
    assert answer.msg_id == derived_id("version_answer", b"v" * 16)
    assert answer.body == result.body["answer"]
    assert maid.handle(delete_branch(b"v" * 16), ctx).messages == [answer]

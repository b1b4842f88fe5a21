"""Holders refusing a Primary, sans-IO: members of a DataManager group commit the refusals in
their own order (two holders refuse at once; their PmidManagers' failures reach each member in a
different order). Their replacement puts must still be the same messages, or the new holders'
PmidManagers never accumulate them and the put is never answered; and once no vault can hold the
copy, every member must send the MaidManagers the same failure."""

from __future__ import annotations

from pathlib import Path

from tests.personas.helpers import MEMBERS, PARAMS, Ctx
from vaultnet.messages import Authority, Message, Persona
from vaultnet.personas.actions import DataPut, RemoveHolder
from vaultnet.personas.data_manager import HOLDERS_PER_COPY, DataManager
from vaultnet.personas.effects import Outbox
from vaultnet.storage.store import CopyKind, Database, RecordStore, copy_name
from vaultnet.xor import closest, name_of

CONTENT = b"refused everywhere" * 100
COPY = copy_name(name_of(CONTENT), CopyKind.PRIMARY)
FIRST = closest(COPY, MEMBERS, HOLDERS_PER_COPY)
TRACE = bytes(16)


def put_action() -> DataPut:
    return DataPut(CopyKind.PRIMARY, len(CONTENT), b"p" * 16, b"o" * 16, b"c" * 64,
                   Authority(b"c" * 64, Persona.MAID_NODE), b"m" * 64, list(FIRST))


def refusal(holder: bytes) -> RemoveHolder:
    return RemoveHolder(holder, len(CONTENT), "full (0 bytes free)",
                        name_of(b"refused by " + holder)[:16])


def refuse_all(member: bytes, first_order: list[bytes],
               tmp_path: Path) -> tuple[set[tuple[bytes, bytes]], list[Message]]:
    """One member's view: the first holders refuse in `first_order`, then every replacement
    refuses too. Returns the replacement puts (holder, id) it sent and its put responses."""
    manager = DataManager(PARAMS, RecordStore(Database(tmp_path / f"{member.hex()}.db"),
                                              "records"))
    manager.attach(member)
    ctx = Ctx(member, [0.0])
    manager.commit_put(COPY, put_action(), ctx, Outbox(), TRACE)
    out = Outbox()
    for holder in first_order:
        manager.commit_remove_pmid(COPY, refusal(holder), ctx, out, TRACE)
    puts = {(m.dst.name, m.msg_id) for m in out.messages
            if m.action == "put" and m.dst.persona is Persona.PMID_MANAGER}
    while (record := manager.records.get(COPY)) is not None:
        manager.commit_remove_pmid(COPY, refusal(record["holders"][0]), ctx, out, TRACE)
    return puts, [m for m in out.messages if m.action == "put_response"]


def test_members_refused_in_different_orders_send_the_same_puts_and_failure(
        tmp_path: Path) -> None:
    one, other = Ctx(MEMBERS[0], [0.0]).close_group(COPY)[:2]
    puts_one, answers_one = refuse_all(one, FIRST, tmp_path)
    puts_other, answers_other = refuse_all(other, FIRST[::-1], tmp_path)
    assert {holder for holder, _ in puts_one} == set(MEMBERS) - set(FIRST)
    assert puts_one == puts_other
    assert len(answers_one) == len(answers_other) == 1
    assert answers_one[0].body["ok"] is False
    assert answers_one[0].msg_id == answers_other[0].msg_id
    assert answers_one[0].content_key() == answers_other[0].content_key()
